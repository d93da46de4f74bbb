//! Chapter 2 of the book (`docs/02-layers-losses-adam.md`): the numbers
//! behind Linear, convolution, BatchNorm's backward, BCE on logits and Adam's
//! bias correction, and the figure `docs/images/book-adam-bias.svg`.
//!
//! ```text
//! cargo run --release -p gan-mnist --example book_layers
//! ```

#[path = "book_common/mod.rs"]
mod book_common;

use book_common::{Axes, Series, SeriesLabelPosition, images_dir, line_chart};
use nn::loss::{Reduction, binary_cross_entropy, binary_cross_entropy_with_logits};
use nn::{Adam, AdamConfig, BatchNorm1d, Linear, Module, Optimizer};
use plotters::style::{BLUE, RED};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tensor::gradcheck::{GradcheckOptions, gradcheck};
use tensor::{Conv2dParams, Tensor};

/// The largest `|a − b|` over two equal-length slices.
fn max_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Linear is `x·Wᵀ + b`: the layer against the matrix product, forward and
/// backward (`W̄ = ȳᵀ·x`, `b̄ = Σₙ ȳₙ`, `x̄ = ȳ·W`).
fn linear(rng: &mut ChaCha8Rng) -> Result<(), Box<dyn std::error::Error>> {
    let layer = Linear::<f64>::new(3, 2, rng);
    let x = Tensor::<f64>::randn(&[4, 3], 0.0, 1.0, rng)?.with_requires_grad();
    let y = layer.forward(&x)?;
    let bias = layer.bias.as_ref().ok_or("Linear::new has a bias")?;
    let by_hand = x
        .detach()
        .matmul(&layer.weight.detach().t()?)?
        .add(&bias.detach())?;
    // Seed the backward with a random ȳ so that every entry matters.
    let seed = Tensor::<f64>::randn(&[4, 2], 0.0, 1.0, rng)?;
    y.backward_with(Some(&seed), Default::default())?;
    let w_bar = seed.t()?.matmul(&x.detach())?; // ȳᵀ·x, [2, 3]
    let b_bar = seed.sum_axes(&[0], false)?; // Σₙ ȳₙ
    let x_bar = seed.matmul(&layer.weight.detach())?; // ȳ·W, [4, 3]
    let grad = |t: &Tensor<f64>| t.grad().map(|g| g.to_vec()).unwrap_or_default();
    println!("Linear(3 → 2) on a batch of 4, against the matrix products:");
    println!(
        "  forward  |layer − (x·Wᵀ + b)|  = {:.1e}",
        max_gap(&y.to_vec(), &by_hand.to_vec())
    );
    println!(
        "  W̄        |autodiff − ȳᵀ·x|     = {:.1e}",
        max_gap(&grad(&layer.weight), &w_bar.to_vec())
    );
    println!(
        "  b̄        |autodiff − Σₙ ȳₙ|    = {:.1e}",
        max_gap(&grad(bias), &b_bar.to_vec())
    );
    println!(
        "  x̄        |autodiff − ȳ·W|      = {:.1e}",
        max_gap(&grad(&x), &x_bar.to_vec())
    );
    Ok(())
}

/// A convolution is im2col + one matrix product: the columns built here by
/// hand, multiplied by the weights, against `conv2d`.
fn convolution(rng: &mut ChaCha8Rng) -> Result<(), Box<dyn std::error::Error>> {
    let (c, h, w, o, k) = (2, 5, 5, 3, 3);
    let x = Tensor::<f64>::randn(&[1, c, h, w], 0.0, 1.0, rng)?;
    let weight = Tensor::<f64>::randn(&[o, c, k, k], 0.0, 1.0, rng)?;
    let y = x.conv2d(&weight, None, Conv2dParams::new(1, 0))?;
    let (oh, ow) = (h - k + 1, w - k + 1);
    // cols[(c, kh, kw), (oh, ow)] = x[c, oh + kh, ow + kw]
    let xs = x.to_vec();
    let mut cols = vec![0.0; c * k * k * oh * ow];
    for ci in 0..c {
        for kh in 0..k {
            for kw in 0..k {
                let row = (ci * k + kh) * k + kw;
                for i in 0..oh {
                    for j in 0..ow {
                        cols[row * oh * ow + i * ow + j] = xs[(ci * h + i + kh) * w + j + kw];
                    }
                }
            }
        }
    }
    let cols = Tensor::from_vec(cols, &[c * k * k, oh * ow])?;
    let gemm = weight.reshape(&[o, c * k * k])?.matmul(&cols)?;
    println!(
        "conv2d [1, {c}, {h}, {w}] * [{o}, {c}, {k}, {k}]: W[{o}, {}] · cols[{}, {}]; |conv2d − gemm| = {:.1e}",
        c * k * k,
        c * k * k,
        oh * ow,
        max_gap(&y.to_vec(), &gemm.to_vec())
    );
    Ok(())
}

/// BatchNorm's closed-form backward (one fused op) against the same
/// normalisation composed of mean, variance, sub and div, whose gradient
/// the engine derives op by op.
fn batch_norm(rng: &mut ChaCha8Rng) -> Result<(), Box<dyn std::error::Error>> {
    let x = Tensor::<f64>::randn(&[8, 3], 1.0, 2.0, rng)?;
    let seed = Tensor::<f64>::randn(&[8, 3], 0.0, 1.0, rng)?;
    let layer = BatchNorm1d::<f64>::new(3);
    let fused_x = x.detach().with_requires_grad();
    layer
        .forward(&fused_x)?
        .backward_with(Some(&seed), Default::default())?;
    let composed_x = x.detach().with_requires_grad();
    let mean = composed_x.mean_axes(&[0], true)?;
    let var = composed_x.var_axes(&[0], true, 0)?;
    let composed = composed_x.sub(&mean)?.div(&var.add_scalar(1e-5).sqrt())?;
    composed.backward_with(Some(&seed), Default::default())?;
    let g = |t: &Tensor<f64>| t.grad().map(|g| g.to_vec()).unwrap_or_default();
    println!(
        "BatchNorm1d(3), batch 8: |fused x̄ − composed x̄| = {:.1e}",
        max_gap(&g(&fused_x), &g(&composed_x))
    );
    let report = gradcheck(
        |xs| BatchNorm1d::<f64>::new(3).forward(&xs[0])?.mul(&seed),
        std::slice::from_ref(&x),
        &GradcheckOptions::default(),
    )?;
    println!(
        "  gradcheck of the fused op: {} Jacobian entries, largest error {:.1e}",
        report.compared, report.max_abs_error
    );
    Ok(())
}

/// BCE on probabilities after a sigmoid, and BCE on logits, in f32, at
/// logits where the sigmoid rounds to 0 or 1.
fn bce() -> Result<(), Box<dyn std::error::Error>> {
    println!("BCE in f32, loss and ∂loss/∂x, for logit x and target y:");
    println!("  |    x |  y | sigmoid→BCE loss | its ∂/∂x | BCE on logits | its ∂/∂x | exact loss |");
    for (x, y) in [
        (100.0f32, 1.0f32),
        (100.0, 0.0),
        (-100.0, 1.0),
        (20.0, 1.0),
        (-20.0, 1.0),
        (2.0, 1.0),
    ] {
        let run = |fused: bool| -> Result<(f32, f32), Box<dyn std::error::Error>> {
            let logit = Tensor::<f32>::from_vec(vec![x], &[1])?.with_requires_grad();
            let target = Tensor::<f32>::from_vec(vec![y], &[1])?;
            let loss = if fused {
                binary_cross_entropy_with_logits(&logit, &target, None, Reduction::Mean)?
            } else {
                binary_cross_entropy(&logit.sigmoid(), &target, None, Reduction::Mean)?
            };
            loss.backward()?;
            let slope = logit.grad().ok_or("a gradient")?.item()?;
            Ok((loss.item()?, slope))
        };
        let ((composed, composed_slope), (fused, fused_slope)) = (run(false)?, run(true)?);
        // The exact value in f64: softplus(x) − x·y.
        let (xd, yd) = (f64::from(x), f64::from(y));
        let exact = xd.max(0.0) - xd * yd + (-xd.abs()).exp().ln_1p();
        println!(
            "  | {x:>4} | {y} | {composed:>16.6e} | {composed_slope:>8.1e} | {fused:>13.6e} | {fused_slope:>8.1e} | {exact:>10.4e} |"
        );
    }
    Ok(())
}

/// Adam's step size over its first steps, with and without bias correction,
/// for a constant gradient: measured on the project's Adam (the update it
/// makes), and computed from the moments it keeps (what the update would be
/// without the correction).
fn adam() -> Result<(), Box<dyn std::error::Error>> {
    let config = AdamConfig::gan(); // lr 2e-4, betas (0.5, 0.999)
    let w = Tensor::<f64>::zeros(&[1]).with_requires_grad();
    let mut opt = Adam::new(vec![("w".to_string(), w.clone())], config);
    let mut corrected = Vec::new();
    let mut uncorrected = Vec::new();
    let steps = 3000;
    for t in 1..=steps {
        opt.zero_grad();
        // L = w, so the gradient is 1 at every step.
        w.sum().backward()?;
        let before = w.item()?;
        opt.step()?;
        let taken = (before - w.item()?) / config.lr;
        let state = opt.param_state("w").ok_or("Adam keeps state for w")?;
        let (m, v) = (state.exp_avg[[0]], state.exp_avg_sq[[0]]);
        let raw = m / (v.sqrt() + config.eps);
        corrected.push((t as f64, taken));
        uncorrected.push((t as f64, raw));
    }
    println!("Adam(lr 2e-4, betas (0.5, 0.999)), gradient 1 at every step: step size / lr");
    println!("  | step | with bias correction | without |");
    for t in [1usize, 2, 10, 100, 1000, 3000] {
        println!(
            "  | {t:>4} | {:>20.4} | {:>7.3} |",
            corrected[t - 1].1,
            uncorrected[t - 1].1
        );
    }
    let path = images_dir()?.join("book-adam-bias.svg");
    line_chart(
        &path,
        &Axes {
            title: "Adam(2e-4, β = (0.5, 0.999)), constant gradient",
            x_desc: "step t",
            y_desc: "step size / lr",
            x: 1.0..steps as f64,
            y: 0.0..17.0,
            log_x: true,
            x_format: None,
            legend: SeriesLabelPosition::UpperRight,
        },
        &[
            Series::new("with bias correction (the project's Adam)", BLUE, corrected),
            Series::new("without: m / (√v + ε) from the same m, v", RED, uncorrected),
        ],
    )?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    linear(&mut rng)?;
    println!();
    convolution(&mut rng)?;
    println!();
    batch_norm(&mut rng)?;
    println!();
    bce()?;
    println!();
    adam()
}
