//! Chapter 8 of the book (`docs/08-gradients-of-gradients.md`): gradients of
//! gradients in this engine, measured.
//!
//! 1. **Derivatives of any order** of `tanh`, by differentiating the
//!    gradient again and again, against their closed forms.
//! 2. **The Hessian-vector product** `Hv = ∇ₓ⟨∇ₓf(x), v⟩` of a logistic
//!    loss, against its exact Hessian (known in closed form) and against
//!    finite differences of the gradient for step sizes 10⁻¹ … 10⁻¹⁰; its
//!    cost beside a gradient's and a full Hessian's. Draws
//!    `docs/images/book-hvp-error.svg`.
//! 3. **`gradgradcheck`** on the ops a discriminator is built of, on a
//!    small discriminator, on the R1 and WGAN-GP penalties' gradients with
//!    respect to the weights (the derivative training uses), and on an op
//!    whose backward is right in value but not differentiable, which only
//!    the second-order check catches.
//! 4. **The gradient penalties on the Dirac GAN** (Mescheder et al., 2018):
//!    data at 0, a generator that is one number θ, a discriminator
//!    `D(x) = ψ·x`. Plain alternating gradient steps, R1 and WGAN-GP, from
//!    the same start, with every gradient (and the penalties' second
//!    derivatives) computed by the engine. Draws
//!    `docs/images/book-dirac-gan.svg`.
//!
//! ```text
//! cargo run --release -p gan-mnist --example book_double_backward
//! ```
//!
//! Timings are the best of several trials of this thread's CPU time (see
//! `book_common`), on one thread.

#[path = "book_common/mod.rs"]
mod book_common;

use book_common::{Axes, Series, SeriesLabelPosition, best_seconds, images_dir, line_chart};
use gan::r1::r1_penalty;
use gan::wasserstein::gradient_penalty;
use plotters::style::RGBColor;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::error::Error;
use tensor::gradcheck::{GradcheckOptions, gradcheck, gradgradcheck};
use tensor::{BackwardOptions, Conv2dParams, Result, Tensor, grad};

/// `∂output/∂x`, itself differentiable (built with `create_graph`).
fn derivative(output: &Tensor<f64>, x: &Tensor<f64>) -> Result<Tensor<f64>> {
    let mut g = grad(
        &[output.sum()],
        std::slice::from_ref(x),
        None,
        BackwardOptions::create_graph(),
    )?;
    Ok(g.remove(0))
}

fn section_1() -> Result<()> {
    println!("## 1. Derivatives of tanh at x = 0.5, each the derivative of the last\n");
    let x = Tensor::<f64>::scalar(0.5).with_requires_grad();
    let y0 = x.tanh();
    let t = y0.item()?;
    let closed = [
        t,
        1.0 - t * t,
        -2.0 * t * (1.0 - t * t),
        -2.0 * (1.0 - t * t) * (1.0 - 3.0 * t * t),
    ];
    println!("| order | engine | closed form | difference |");
    println!("|---|---|---|---|");
    let mut y = y0;
    for (order, exact) in closed.iter().enumerate() {
        let value = y.item()?;
        println!(
            "| {order} | {value:.15} | {exact:.15} | {:.1e} |",
            (value - exact).abs()
        );
        if order + 1 < closed.len() {
            y = derivative(&y, &x)?;
        }
    }
    println!("\n(closed forms: tanh, 1 − y², −2y(1 − y²), −2(1 − y²)(1 − 3y²) with y = tanh x)\n");
    Ok(())
}

/// The logistic loss `f(x) = Σ_i softplus(a_iᵀx)` and its pieces.
struct Logistic {
    /// `[m, n]`.
    a: Tensor<f64>,
    m: usize,
    n: usize,
}

impl Logistic {
    fn value(&self, x: &Tensor<f64>) -> Result<Tensor<f64>> {
        Ok(self.a.matmul(&x.reshape(&[self.n, 1])?)?.softplus().sum())
    }

    /// `∇f(x)` as a plain vector (no graph kept).
    fn gradient(&self, x: &[f64]) -> Result<Vec<f64>> {
        let x = Tensor::from_vec(x.to_vec(), &[self.n])?.with_requires_grad();
        let g = grad(
            &[self.value(&x)?],
            std::slice::from_ref(&x),
            None,
            BackwardOptions::default(),
        )?;
        Ok(g[0].to_vec())
    }

    /// `Hv` by double backward: the gradient of `⟨∇f(x), v⟩`.
    fn hvp(&self, x: &[f64], v: &Tensor<f64>) -> Result<Vec<f64>> {
        let x = Tensor::from_vec(x.to_vec(), &[self.n])?.with_requires_grad();
        let g = derivative(&self.value(&x)?, &x)?;
        let hv = grad(
            &[g.mul(v)?.sum()],
            std::slice::from_ref(&x),
            None,
            BackwardOptions::default(),
        )?;
        Ok(hv[0].to_vec())
    }

    /// `Hv` from the closed form `H = Aᵀ diag(σ(Ax)(1 − σ(Ax))) A`.
    fn exact_hvp(&self, x: &[f64], v: &[f64]) -> Vec<f64> {
        let a = self.a.to_vec();
        let mut hv = vec![0.0; self.n];
        for i in 0..self.m {
            let row = &a[i * self.n..(i + 1) * self.n];
            let ax: f64 = row.iter().zip(x).map(|(p, q)| p * q).sum();
            let av: f64 = row.iter().zip(v).map(|(p, q)| p * q).sum();
            let s = 1.0 / (1.0 + (-ax).exp());
            for (h, r) in hv.iter_mut().zip(row) {
                *h += r * s * (1.0 - s) * av;
            }
        }
        hv
    }
}

fn relative_error(a: &[f64], exact: &[f64]) -> f64 {
    let diff: f64 = a
        .iter()
        .zip(exact)
        .map(|(p, q)| (p - q).powi(2))
        .sum::<f64>()
        .sqrt();
    diff / exact.iter().map(|q| q * q).sum::<f64>().sqrt()
}

fn section_2() -> std::result::Result<(), Box<dyn Error>> {
    let (m, n) = (200, 50);
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let f = Logistic {
        a: Tensor::randn(&[m, n], 0.0, 0.3, &mut rng)?,
        m,
        n,
    };
    let x = Tensor::<f64>::randn(&[n], 0.0, 1.0, &mut rng)?.to_vec();
    let v_tensor = Tensor::<f64>::randn(&[n], 0.0, 1.0, &mut rng)?;
    let v = v_tensor.to_vec();
    let exact = f.exact_hvp(&x, &v);
    let hvp = f.hvp(&x, &v_tensor)?;
    println!("## 2. The Hessian-vector product of f(x) = Σ softplus(Ax), A: {m}×{n}\n");
    println!(
        "double backward against the closed form Aᵀ diag(σ(1 − σ)) A v: relative error {:.1e}\n",
        relative_error(&hvp, &exact)
    );
    println!("| ε | (∇f(x + εv) − ∇f(x − εv)) / 2ε: relative error |");
    println!("|---|---|");
    let mut fd_curve = Vec::new();
    for k in 1..=10 {
        let eps = 10f64.powi(-k);
        let shifted = |s: f64| -> Vec<f64> { x.iter().zip(&v).map(|(p, q)| p + s * q).collect() };
        let (plus, minus) = (f.gradient(&shifted(eps))?, f.gradient(&shifted(-eps))?);
        let fd: Vec<f64> = plus
            .iter()
            .zip(&minus)
            .map(|(p, q)| (p - q) / (2.0 * eps))
            .collect();
        let error = relative_error(&fd, &exact);
        println!("| 1e-{k} | {error:.1e} |");
        fd_curve.push((eps, error.log10()));
    }
    let hvp_error = relative_error(&hvp, &exact).max(1e-17).log10();
    line_chart(
        &images_dir()?.join("book-hvp-error.svg"),
        &Axes {
            title: "Hessian-vector product: finite differences vs double backward",
            x_desc: "finite-difference step ε",
            y_desc: "log₁₀ relative error",
            x: 1e-10..1.0,
            y: -17.0..0.0,
            log_x: true,
            x_format: Some(|x| format!("{x:.0e}")),
            legend: SeriesLabelPosition::LowerLeft,
        },
        &[
            Series::new(
                "central difference of the gradient",
                RGBColor(200, 60, 40),
                fd_curve,
            ),
            Series::new(
                "double backward (no ε)",
                RGBColor(0, 120, 200),
                vec![(1e-10, hvp_error), (1.0, hvp_error)],
            ),
        ],
    )?;

    // What each costs: a gradient, an HVP, and the whole Hessian as n HVPs.
    let x_tensor = Tensor::from_vec(x.clone(), &[n])?;
    let t_value = best_seconds(|| {
        let _ = tensor::no_grad(|| f.value(&x_tensor));
    });
    let t_grad = best_seconds(|| {
        let _ = f.gradient(&x);
    });
    let t_hvp = best_seconds(|| {
        let _ = f.hvp(&x, &v_tensor);
    });
    let t_hessian = best_seconds(|| {
        for j in 0..n {
            let mut e = vec![0.0; n];
            e[j] = 1.0;
            let e = Tensor::from_vec(e, &[n]).expect("n values");
            let _ = f.hvp(&x, &e);
        }
    });
    println!("\n| computation | CPU time (1 thread) | ÷ f(x) |");
    println!("|---|---|---|");
    for (name, t) in [
        ("f(x)", t_value),
        ("∇f(x) (forward + backward)", t_grad),
        ("Hv (forward + backward with a graph + backward)", t_hvp),
        ("the whole Hessian, n = 50 HVPs", t_hessian),
    ] {
        println!("| {name} | {:.1} µs | {:.1} |", t * 1e6, t / t_value);
    }
    println!();
    Ok(())
}

/// A two-layer discriminator `w₂ᵀ tanh(W₁x + b₁)` on `[B, 2]` points, as a
/// function of its parameters `[W₁ (2×h), b₁ (h), w₂ (h×1)]`.
fn tiny_d(params: &[Tensor<f64>], x: &Tensor<f64>) -> Result<Tensor<f64>> {
    x.matmul(&params[0])?.add(&params[1])?.tanh().matmul(&params[2])
}

fn section_3() -> std::result::Result<(), Box<dyn Error>> {
    println!("## 3. gradgradcheck: second derivatives against finite differences of the first\n");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut randn = |shape: &[usize]| Tensor::<f64>::randn(shape, 0.0, 1.0, &mut rng);
    let options = GradcheckOptions::default();
    println!("| function | first order: entries, largest gap | second order: entries, largest gap |");
    println!("|---|---|---|");
    type F = Box<dyn Fn(&[Tensor<f64>]) -> Result<Tensor<f64>>>;
    let params = vec![randn(&[2, 4])?, randn(&[4])?, randn(&[4, 1])?];
    let points = randn(&[5, 2])?;
    let fakes = randn(&[5, 2])?;
    let weights = Tensor::from_vec(vec![0.1, 0.3, 0.5, 0.7, 0.9], &[5])?;
    let (p1, p2, p3) = (points.clone(), points.clone(), fakes.clone());
    let cases: Vec<(&str, F, Vec<Tensor<f64>>)> = vec![
        ("tanh", Box::new(|x| Ok(x[0].tanh())), vec![randn(&[3, 4])?]),
        ("sigmoid", Box::new(|x| Ok(x[0].sigmoid())), vec![randn(&[3, 4])?]),
        (
            "softplus",
            Box::new(|x| Ok(x[0].softplus())),
            vec![randn(&[3, 4])?],
        ),
        (
            "leaky_relu(0.2)",
            Box::new(|x| Ok(x[0].leaky_relu(0.2))),
            vec![Tensor::from_vec(vec![-1.5, -0.4, 0.3, 2.0], &[4])?],
        ),
        (
            "x·W",
            Box::new(|x| x[0].matmul(&x[1])),
            vec![randn(&[3, 4])?, randn(&[4, 2])?],
        ),
        (
            "log_softmax",
            Box::new(|x| x[0].log_softmax(1)),
            vec![randn(&[2, 5])?],
        ),
        (
            "conv2d 3×3",
            Box::new(|x| x[0].conv2d(&x[1], None, Conv2dParams::default())),
            vec![randn(&[1, 2, 4, 4])?, randn(&[2, 2, 3, 3])?],
        ),
        (
            "batch normalisation (x − mean)/√(var + 1e-5)",
            Box::new(|x| {
                let mean = x[0].mean_axes(&[0], true)?;
                let var = x[0].var_axes(&[0], true, 0)?;
                x[0].sub(&mean)?.div(&var.add_scalar(1e-5).sqrt())
            }),
            vec![randn(&[4, 3])?],
        ),
        (
            "D(x) = w₂ᵀ tanh(W₁x + b₁), in x and the weights",
            Box::new(|x| tiny_d(&x[1..], &x[0])),
            vec![
                points.clone(),
                params[0].clone(),
                params[1].clone(),
                params[2].clone(),
            ],
        ),
        (
            "R1 = mean ‖∇ₓD(x)‖², in the weights",
            Box::new(move |w| r1_penalty(|x| tiny_d(w, x), &p1)),
            params.clone(),
        ),
        (
            "WGAN-GP = mean (‖∇ₓD(x̂)‖ − 1)², in the weights",
            Box::new(move |w| gradient_penalty(|x| tiny_d(w, x), &p2, &p3, &weights)),
            params.clone(),
        ),
    ];
    for (name, f, inputs) in &cases {
        let first = gradcheck(f, inputs, &options)?;
        let second = gradgradcheck(f, inputs, &options)?;
        println!(
            "| {name} | {}, {:.1e} | {}, {:.1e} |",
            first.compared, first.max_abs_error, second.compared, second.max_abs_error
        );
    }
    // x³ whose backward computes 3x² from x's *values*: right in value, but
    // a constant to any later backward.
    let detached_cube = |x: &[Tensor<f64>]| -> Result<Tensor<f64>> {
        Ok(Tensor::from_op(
            "detached_cube",
            &[&x[0]],
            x[0].array().mapv(|v| v * v * v),
            |ctx| {
                let slope = Tensor::from_array(ctx.input(0).array().mapv(|v| 3.0 * v * v));
                Ok(vec![Some(ctx.grad.mul(&slope)?)])
            },
        ))
    };
    let x = Tensor::from_vec(vec![0.5, -1.0, 2.0], &[3])?;
    let first = gradcheck(detached_cube, std::slice::from_ref(&x), &options)?;
    println!(
        "\nx³ with a detached backward: gradcheck passes ({} entries, largest gap {:.1e});",
        first.compared, first.max_abs_error
    );
    match gradgradcheck(detached_cube, &[x], &options) {
        Ok(report) => println!("gradgradcheck passes too ({report:?}): NOT caught\n"),
        Err(e) => println!("gradgradcheck fails: {e}\n"),
    }
    Ok(())
}

/// The Dirac GAN's regulariser.
#[derive(Clone, Copy)]
enum Penalty {
    None,
    /// R1 with weight γ: `γ/2 · (∂D/∂x at the data)²`.
    R1(f64),
    /// WGAN-GP with weight λ, on a point between data and fake.
    WganGp(f64),
}

/// One alternating step of the Dirac GAN at `(θ, ψ)`: D first (gradient
/// ascent on its objective, written as descent on its loss), then G, both
/// with step `h`. Returns the new `(θ, ψ)`.
fn dirac_step(theta: f64, psi: f64, h: f64, penalty: Penalty) -> Result<(f64, f64)> {
    let w = Tensor::<f64>::from_vec(vec![psi], &[1, 1])?.with_requires_grad();
    let real = Tensor::<f64>::zeros(&[1, 1]);
    let fake = Tensor::<f64>::from_vec(vec![theta], &[1, 1])?;
    let d = |x: &Tensor<f64>| x.matmul(&w);
    let loss_d = match penalty {
        // bce: softplus(−D(real)) + softplus(D(fake)).
        Penalty::None | Penalty::R1(_) => {
            let base = d(&real)?
                .neg()
                .softplus()
                .sum()
                .add(&d(&fake)?.softplus().sum())?;
            match penalty {
                Penalty::R1(gamma) => base.add(&r1_penalty(d, &real)?.mul_scalar(gamma / 2.0))?,
                _ => base,
            }
        }
        // WGAN: D(fake) − D(real) + λ·GP, the interpolate halfway.
        Penalty::WganGp(lambda) => {
            let eps = Tensor::from_vec(vec![0.5], &[1])?;
            let gp = gradient_penalty(d, &real, &fake, &eps)?;
            d(&fake)?.sub(&d(&real)?)?.sum().add(&gp.mul_scalar(lambda))?
        }
    };
    let g_psi = grad(
        &[loss_d],
        std::slice::from_ref(&w),
        None,
        BackwardOptions::default(),
    )?[0]
        .item()?;
    let psi = psi - h * g_psi;
    // G's step against the updated D: the non-saturating softplus(−D(θ)),
    // or −D(θ) for WGAN.
    let t = Tensor::<f64>::from_vec(vec![theta], &[1, 1])?.with_requires_grad();
    let score = t.mul_scalar(psi);
    let loss_g = match penalty {
        Penalty::WganGp(_) => score.neg().sum(),
        _ => score.neg().softplus().sum(),
    };
    let g_theta = grad(
        &[loss_g],
        std::slice::from_ref(&t),
        None,
        BackwardOptions::default(),
    )?[0]
        .item()?;
    Ok((theta - h * g_theta, psi))
}

fn section_4() -> std::result::Result<(), Box<dyn Error>> {
    const STEPS: usize = 2000;
    const H: f64 = 0.1;
    println!("## 4. The Dirac GAN: data at 0, G = θ, D(x) = ψ·x; start (θ, ψ) = (1, 1), step {H}\n");
    println!(
        "| training | distance to (0, 0) after 100 | 500 | {STEPS} steps | θ after {STEPS} | ψ after {STEPS} |"
    );
    println!("|---|---|---|---|---|---|");
    let colours = [
        RGBColor(200, 60, 40),
        RGBColor(0, 120, 200),
        RGBColor(40, 150, 60),
    ];
    let mut series = Vec::new();
    for (k, (name, penalty)) in [
        ("no penalty", Penalty::None),
        ("R1, γ = 1", Penalty::R1(1.0)),
        ("WGAN-GP, λ = 1", Penalty::WganGp(1.0)),
    ]
    .into_iter()
    .enumerate()
    {
        let (mut theta, mut psi) = (1.0, 1.0);
        let mut path = vec![(theta, psi)];
        let mut at = Vec::new();
        for step in 1..=STEPS {
            (theta, psi) = dirac_step(theta, psi, H, penalty)?;
            path.push((theta, psi));
            if [100, 500, STEPS].contains(&step) {
                at.push(theta.hypot(psi));
            }
        }
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {theta:.3} | {psi:.3} |",
            at[0], at[1], at[2]
        );
        series.push(Series::new(name, colours[k], path));
    }
    line_chart(
        &images_dir()?.join("book-dirac-gan.svg"),
        &Axes {
            title: "Dirac GAN: (θ, ψ) over 2,000 alternating steps from (1, 1)",
            x_desc: "θ (the generator's point; the data is at 0)",
            y_desc: "ψ (the discriminator's slope)",
            x: -2.5..2.5,
            y: -2.5..2.5,
            log_x: false,
            x_format: None,
            legend: SeriesLabelPosition::UpperLeft,
        },
        &series,
    )?;
    Ok(())
}

fn main() -> std::result::Result<(), Box<dyn Error>> {
    section_1()?;
    section_2()?;
    section_3()?;
    section_4()?;
    Ok(())
}
