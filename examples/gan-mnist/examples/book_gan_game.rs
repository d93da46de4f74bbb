//! Chapter 3 of the book (`docs/03-the-gan-game.md`): the optimal
//! discriminator `D*(x) = p_data(x) / (p_data(x) + p_g(x))` for two 1-D
//! distributions, a discriminator trained with the project's `nn` that
//! approaches it, and the identity `V(G, D*) = −log 4 + 2·JSD(p_data ‖ p_g)`
//! checked by numerical integration. Writes `docs/images/book-dstar.svg`.
//!
//! ```text
//! cargo run --release -p gan-mnist --example book_gan_game
//! ```

#[path = "book_common/mod.rs"]
mod book_common;

use book_common::{Axes, Series, SeriesLabelPosition, images_dir, line_chart};
use nn::loss::bce_with_logits_to;
use nn::{Adam, AdamConfig, LeakyReLU, Linear, Module, Optimizer, Sequential};
use plotters::style::{BLACK, BLUE, GREEN, RED};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::{Tensor, no_grad};

/// The density of `N(mean, std²)` at `x`.
fn normal(x: f64, mean: f64, std: f64) -> f64 {
    let z = (x - mean) / std;
    (-0.5 * z * z).exp() / (std * (2.0 * std::f64::consts::PI).sqrt())
}

/// The "data": an even mixture of N(−1.5, 0.5²) and N(1.5, 0.5²).
fn p_data(x: f64) -> f64 {
    0.5 * normal(x, -1.5, 0.5) + 0.5 * normal(x, 1.5, 0.5)
}

/// The "generator": one wide bump, N(0, 1.2²), that covers both modes badly.
fn p_g(x: f64) -> f64 {
    normal(x, 0.0, 1.2)
}

/// `n` draws from `p_data` (`real`) or `p_g`, as a `[n, 1]` tensor.
fn draw(n: usize, real: bool, rng: &mut ChaCha8Rng) -> tensor::Result<Tensor> {
    let values: Vec<f32> = (0..n)
        .map(|_| {
            let z: f64 = rand_distr_normal(rng);
            if real {
                let centre = if rng.random_bool(0.5) { -1.5 } else { 1.5 };
                (centre + 0.5 * z) as f32
            } else {
                (1.2 * z) as f32
            }
        })
        .collect();
    Tensor::from_vec(values, &[n, 1])
}

/// A standard normal draw (Box–Muller), from the seeded `rng`.
fn rand_distr_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Numerical integration on a fine grid (trapezoid rule).
    let (lo, hi, n) = (-7.0, 7.0, 14_001);
    let dx = (hi - lo) / (n - 1) as f64;
    let xs: Vec<f64> = (0..n).map(|i| lo + i as f64 * dx).collect();
    let integrate = |f: &dyn Fn(f64) -> f64| -> f64 {
        xs.iter()
            .enumerate()
            .map(|(i, &x)| if i == 0 || i == n - 1 { 0.5 * f(x) } else { f(x) })
            .sum::<f64>()
            * dx
    };
    let d_star = |x: f64| p_data(x) / (p_data(x) + p_g(x));
    // V(G, D) = E_data[log D(x)] + E_g[log(1 − D(x))], at D = D*.
    let value = integrate(&|x| p_data(x) * d_star(x).ln() + p_g(x) * (1.0 - d_star(x)).ln());
    let mixture = |x: f64| 0.5 * (p_data(x) + p_g(x));
    let kl = |p: &dyn Fn(f64) -> f64| integrate(&|x| p(x) * (p(x) / mixture(x)).ln());
    let jsd = 0.5 * kl(&p_data) + 0.5 * kl(&p_g);
    println!("p_data = ½N(−1.5, 0.5²) + ½N(1.5, 0.5²), p_g = N(0, 1.2²):");
    println!("  V(G, D*)          = {value:.6}");
    println!(
        "  −log 4 + 2·JSD    = {:.6}   (JSD = {jsd:.6} nats)",
        -(4f64.ln()) + 2.0 * jsd
    );
    println!("  −log 4 (p_g = p_data) = {:.6}", -(4f64.ln()));

    // A discriminator trained on samples, with BCE on logits and Adam.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let d = Sequential::<f32>::new()
        .push(Linear::new(1, 32, &mut rng))
        .push(LeakyReLU::new(0.2))
        .push(Linear::new(32, 32, &mut rng))
        .push(LeakyReLU::new(0.2))
        .push(Linear::new(32, 1, &mut rng));
    let mut opt = Adam::new(
        d.named_parameters(),
        AdamConfig {
            lr: 2e-3,
            ..AdamConfig::default()
        },
    );
    let steps = 4000;
    for _ in 0..steps {
        let (real, fake) = (draw(256, true, &mut rng)?, draw(256, false, &mut rng)?);
        opt.zero_grad();
        let loss = bce_with_logits_to(&d.forward(&real)?, 1.0)?
            .add(&bce_with_logits_to(&d.forward(&fake)?, 0.0)?)?;
        loss.backward()?;
        opt.step()?;
    }
    let plot_xs: Vec<f64> = (0..=400).map(|i| -4.0 + 8.0 * f64::from(i) / 400.0).collect();
    let grid = Tensor::from_vec(plot_xs.iter().map(|&x| x as f32).collect(), &[plot_xs.len(), 1])?;
    let learned = no_grad(|| d.forward(&grid))?.sigmoid().to_vec();
    // Compare where either density has mass (elsewhere D* is 0/0-like and
    // no sample ever constrains D).
    let gap = plot_xs
        .iter()
        .zip(&learned)
        .filter(|&(&x, _)| p_data(x) + p_g(x) > 0.05)
        .map(|(&x, &l)| (f64::from(l) - d_star(x)).abs())
        .fold(0.0, f64::max);
    println!(
        "  trained D (MLP 1-32-32-1, {steps} Adam steps, 256 + 256 samples each): \
         max |σ(D(x)) − D*(x)| where p_data + p_g > 0.05 = {gap:.3}"
    );

    let curve = |f: &dyn Fn(f64) -> f64| plot_xs.iter().map(|&x| (x, f(x))).collect::<Vec<_>>();
    let path = images_dir()?.join("book-dstar.svg");
    line_chart(
        &path,
        &Axes {
            title: "The optimal discriminator D* = p_data / (p_data + p_g)",
            x_desc: "x",
            y_desc: "density / probability",
            x: -4.0..4.0,
            y: 0.0..1.05,
            log_x: false,
            x_format: None,
            legend: SeriesLabelPosition::UpperRight,
        },
        &[
            Series::new("p_data", BLACK, curve(&p_data)),
            Series::new("p_g", GREEN, curve(&p_g)),
            Series::new("D*(x)", RED, curve(&d_star)),
            Series::new(
                "trained D: σ(D(x))",
                BLUE,
                plot_xs
                    .iter()
                    .zip(&learned)
                    .map(|(&x, &l)| (x, f64::from(l)))
                    .collect(),
            ),
        ],
    )?;
    Ok(())
}
