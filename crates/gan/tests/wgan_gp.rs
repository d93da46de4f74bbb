//! WGAN-GP: the gradient penalty's own gradient (a second derivative of the
//! critic) against finite differences, and the critic's Wasserstein estimate
//! falling during a short real run on MNIST.

#[path = "../../datasets/tests/common/mod.rs"]
mod common;
mod critic_common;

use critic_common::{check_penalty_gradient, randn, tiny_critic};
use datasets::{Dataset, Downloader, Split};
use gan::config::TrainConfig;
use gan::models::ModelKind;
use gan::train::Trainer;
use gan::wasserstein::gradient_penalty;
use std::time::Instant;
use tensor::Tensor;

#[test]
fn the_penalty_gradient_matches_finite_differences() {
    let real = randn(&[3, 1, 5, 5], 4);
    let fake = randn(&[3, 1, 5, 5], 5);
    let eps = Tensor::from_vec(vec![0.2, 0.55, 0.9], &[3]).unwrap();
    let penalty = |ws: &[Tensor<f64>]| gradient_penalty(|x| tiny_critic(x, ws), &real, &fake, &eps);
    check_penalty_gradient(penalty);
}

#[test]
fn the_penalty_is_zero_for_a_unit_gradient_critic() {
    // D(x) = ⟨w, x⟩ with ‖w‖ = 1 is 1-Lipschitz with gradient norm exactly 1.
    let w = Tensor::<f64>::from_vec(vec![0.6, 0.0, -0.8, 0.0], &[4, 1]).unwrap();
    let real = randn(&[5, 4], 6);
    let fake = randn(&[5, 4], 7);
    let eps = Tensor::from_vec(vec![0.1, 0.3, 0.5, 0.7, 0.9], &[5]).unwrap();
    let gp = gradient_penalty(|x| x.matmul(&w), &real, &fake, &eps).unwrap();
    assert!(gp.item().unwrap().abs() < 1e-10);
    let err = gradient_penalty(|x| x.matmul(&w), &real, &fake, &eps.narrow(0, 0, 4).unwrap()).unwrap_err();
    assert!(err.to_string().contains("gradient_penalty"), "{err}");
}

/// Mean of `values`.
fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The `wgan-gp` model and loss on real MNIST. The critic's estimate of the
/// Wasserstein distance, `mean D(x) − mean D(G(z))`, first rises while the
/// critic learns to tell the untrained generator's noise from digits, peaks,
/// then falls as the generator's images come closer to the data. At the
/// paper's lr 1e-4 the peak takes over a hundred steps; lr 5e-4 and batch 16
/// play the same game faster, so rise and fall fit in 50 steps (about 30 s
/// in the dev profile on 2 threads). Measured at seed 1: the mean is about
/// 21 over steps 10–29 and 12 over steps 40–49.
#[test]
fn the_wasserstein_estimate_falls_on_real_mnist() {
    const STEPS: usize = 50;
    let dir = common::shared_data().join("mnist");
    let data = datasets::load(Dataset::Mnist, Split::Train, Some(&dir), &Downloader::offline()).unwrap();
    let config = TrainConfig {
        batch_size: 16,
        lr_g: 5e-4,
        lr_d: 5e-4,
        seed: 1,
        ..TrainConfig::new(ModelKind::DcganCritic)
    };
    assert_eq!((config.d_steps, config.betas), (5, (0.0, 0.9)));
    let mut trainer = Trainer::new(config, data).unwrap();
    let started = Instant::now();
    let estimates: Vec<f64> = (0..STEPS)
        .map(|_| {
            let s = trainer.step().unwrap();
            s.d_real - s.d_fake
        })
        .collect();
    eprintln!("{STEPS} steps in {:.1?}: {estimates:.2?}", started.elapsed());
    assert!(estimates.iter().all(|e| e.is_finite()));
    let (first, peak, late) = (
        mean(&estimates[..2]),
        mean(&estimates[10..30]),
        mean(&estimates[40..]),
    );
    eprintln!("first {first:.3}, steps 10–29 {peak:.3}, steps 40–49 {late:.3}");
    assert!(
        peak > 2.0 * first,
        "the critic did not learn: first {first}, then {peak}"
    );
    assert!(
        late < 0.75 * peak,
        "the estimate did not fall: {peak} then {late}"
    );
}
