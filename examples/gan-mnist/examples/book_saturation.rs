//! Chapter 3 of the book (`docs/03-the-gan-game.md`): the saturating and the
//! non-saturating generator loss, measured on a real run.
//!
//! Trains a model (default `dcgan`, the project's default; `--model mlp`
//! etc.) on real MNIST with the project's `Trainer` (non-saturating loss, as
//! always), and at chosen steps measures, on one fixed batch of noise and
//! the current weights:
//! the mean `D(G(z))`, and the gradient of both generator losses
//!
//! ```text
//! saturating:      L_sat = mean log(1 − σ(a))     ∂L_sat/∂aᵢ = −σ(aᵢ)/B
//! non-saturating:  L_ns  = −mean log σ(a)         ∂L_ns/∂aᵢ  = −(1 − σ(aᵢ))/B
//! ```
//!
//! (`a` the discriminator's logits on the fakes), both with respect to the
//! logits and to the generator's weights (the L2 norm over all of them).
//!
//! ```text
//! cargo run --release -p gan-mnist --example book_saturation -- --data-dir /path/to/mnist
//! ```

#[path = "book_common/mod.rs"]
mod book_common;

use gan::config::TrainConfig;
use gan::models::ModelKind;
use gan::train::Trainer;
use nn::loss::bce_with_logits_to;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tensor::{BackwardOptions, Tensor, grad};

/// What one probe measured.
struct Probe {
    d_fake: f64,
    logit_grad_sat: f64,
    logit_grad_ns: f64,
    weight_grad_sat: f64,
    weight_grad_ns: f64,
}

/// The L2 norm of a list of tensors taken together.
fn norm(tensors: &[Tensor]) -> f64 {
    tensors
        .iter()
        .flat_map(|t| t.to_vec())
        .map(|v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

/// Both losses' gradients for the noise `z`, at the trainer's current weights.
fn probe(trainer: &Trainer, z: &Tensor) -> tensor::Result<Probe> {
    let model = trainer.model();
    let batch = z.shape()[0];
    let labels = vec![0; batch];
    let params = model.generator().parameters();
    let measure = |saturating: bool| -> tensor::Result<(f64, f64, f64)> {
        let logits = model.discriminate(&model.generate(z, &labels)?, &labels)?;
        let loss = if saturating {
            // mean log(1 − σ(a)) = −BCE(a, 0)
            bce_with_logits_to(&logits, 0.0)?.neg()
        } else {
            // −mean log σ(a) = BCE(a, 1)
            bce_with_logits_to(&logits, 1.0)?
        };
        let mut wanted = vec![logits.clone()];
        wanted.extend(params.iter().cloned());
        let grads = grad(&[loss], &wanted, None, BackwardOptions::default())?;
        // Per-sample |∂L/∂aᵢ|·B, averaged: σ(aᵢ) or 1 − σ(aᵢ).
        let logit_grad = grads[0].to_vec().iter().map(|g| f64::from(g.abs())).sum::<f64>();
        let d_fake = f64::from(logits.sigmoid().mean().item()?);
        Ok((d_fake, logit_grad, norm(&grads[1..])))
    };
    let (d_fake, logit_grad_sat, weight_grad_sat) = measure(true)?;
    let (_, logit_grad_ns, weight_grad_ns) = measure(false)?;
    Ok(Probe {
        d_fake,
        logit_grad_sat,
        logit_grad_ns,
        weight_grad_sat,
        weight_grad_ns,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let model = match args.iter().position(|a| a == "--model") {
        Some(i) => args
            .get(i + 1)
            .ok_or("--model needs a name")?
            .parse::<ModelKind>()?,
        None => ModelKind::Dcgan,
    };
    let data = book_common::mnist_train()?;
    let mut trainer = Trainer::new(TrainConfig::new(model), data)?;
    let noise_dim = trainer.model().noise_dim();
    let z = Tensor::randn(&[64, noise_dim], 0.0, 1.0, &mut ChaCha8Rng::seed_from_u64(99))?;
    println!("model {model}, seed 0, batch 64, Adam(2e-4, (0.5, 0.999)); probe: 64 fixed noise vectors");
    println!(
        "| step | mean D(G(z)) | mean σ(a) = ∣∂L_sat/∂a∣·B | mean 1 − σ(a) = ∣∂L_ns/∂a∣·B | ‖∇θ_G L_sat‖ | ‖∇θ_G L_ns‖ | ratio ns/sat |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let probes = [0u64, 25, 50, 100, 200, 300, 400, 500];
    for &at in &probes {
        while trainer.steps_done() < at {
            trainer.step()?;
        }
        let p = probe(&trainer, &z)?;
        println!(
            "| {at} | {:.4} | {:.4} | {:.4} | {:.3e} | {:.3e} | {:.1} |",
            p.d_fake,
            p.logit_grad_sat,
            p.logit_grad_ns,
            p.weight_grad_sat,
            p.weight_grad_ns,
            p.weight_grad_ns / p.weight_grad_sat
        );
    }
    Ok(())
}
