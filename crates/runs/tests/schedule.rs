//! The learning-rate decay (`--lr-decay`): the factor's shape, its
//! validation, that the rates reach the optimizers (weights match a run
//! without decay exactly until the decay starts, and differ after), and
//! exact resumption of a decaying run.

mod common;

use datasets::synthetic_mnist;
use gan::config::TrainConfig;
use gan::models::ModelKind;
use gan::schedule::LinearDecay;
use gan::train::Trainer;
use runs::run::{self, RunOptions};
use tensor::Tensor;

#[test]
fn the_factor_is_one_then_falls_in_a_straight_line() {
    let quarter = LinearDecay { fraction: 0.25 };
    // 40 steps: the last 10 decay, to 10/10, 9/10, …, 1/10.
    let factors: Vec<f64> = (0..40).map(|t| quarter.factor(t, 40)).collect();
    assert!(factors[..30].iter().all(|&f| f == 1.0));
    for (i, &f) in factors[30..].iter().enumerate() {
        assert!((f - (10 - i) as f64 / 10.0).abs() < 1e-12, "step {}: {f}", 30 + i);
    }
    // Never zero, never rising, whatever the length.
    for total in [1, 2, 3, 7, 3750] {
        for fraction in [0.01, 0.3, 1.0] {
            let decay = LinearDecay { fraction };
            let f: Vec<f64> = (0..total).map(|t| decay.factor(t, total)).collect();
            assert!(f.iter().all(|&x| x > 0.0 && x <= 1.0));
            assert!(f.windows(2).all(|w| w[1] <= w[0]));
        }
    }
    // The whole run decaying starts at full rate.
    assert_eq!(LinearDecay { fraction: 1.0 }.factor(0, 3750), 1.0);
}

#[test]
fn a_bad_fraction_is_named() {
    for fraction in [0.0, -0.5, 1.5, f64::NAN] {
        let message = LinearDecay { fraction }.validate().unwrap_err();
        assert!(message.contains("lr-decay"), "{message}");
    }
    let config = TrainConfig {
        lr_decay: Some(LinearDecay { fraction: 2.0 }),
        ..TrainConfig::new(ModelKind::Mlp)
    };
    assert!(config.validate(1000).unwrap_err().to_string().contains("got 2"));
}

fn config(lr_decay: Option<LinearDecay>) -> TrainConfig {
    TrainConfig {
        max_steps: Some(10),
        epochs: 100,
        log_every: 5,
        seed: 3,
        lr_decay,
        ..TrainConfig::new(ModelKind::Mlp)
    }
}

/// Every generator and discriminator weight of the trainer, flattened.
fn weights(trainer: &Trainer) -> Vec<f32> {
    let model = trainer.model();
    let mut all = Vec::new();
    for p in model
        .generator()
        .parameters()
        .iter()
        .chain(&model.discriminator().parameters())
    {
        all.extend(Tensor::to_vec(p));
    }
    all
}

#[test]
fn the_rates_reach_the_optimizers_only_once_the_decay_starts() {
    let data = || synthetic_mnist(640, 2).unwrap();
    let half = Some(LinearDecay { fraction: 0.5 });
    let mut plain = Trainer::new(config(None), data()).unwrap();
    let mut decaying = Trainer::new(config(half), data()).unwrap();
    assert_eq!(decaying.total_steps(), 10);
    let (lr_g, lr_d) = (plain.config().lr_g, plain.config().lr_d);
    // Steps 0–4 run at the full rates: the same weights, bit for bit.
    for _ in 0..5 {
        assert_eq!(decaying.learning_rates(), (lr_g, lr_d));
        plain.step().unwrap();
        decaying.step().unwrap();
    }
    assert_eq!(weights(&plain), weights(&decaying));
    // Step 5 is the first of the last five: full rate still (5/5), step 6 at 4/5.
    plain.step().unwrap();
    decaying.step().unwrap();
    assert_eq!(weights(&plain), weights(&decaying));
    let (g, d) = decaying.learning_rates();
    assert!((g - 0.8 * lr_g).abs() < 1e-15 && (d - 0.8 * lr_d).abs() < 1e-15);
    plain.step().unwrap();
    decaying.step().unwrap();
    assert_ne!(weights(&plain), weights(&decaying));
}

#[test]
fn a_decaying_run_resumes_bit_for_bit() {
    let data = || synthetic_mnist(256, 2).unwrap();
    let config = config(Some(LinearDecay { fraction: 0.6 }));
    let straight = common::scratch_dir("lr-decay-straight");
    run::start(config.clone(), data(), &straight, &RunOptions::default()).unwrap();
    let stopped = common::scratch_dir("lr-decay-stopped");
    let interrupt = RunOptions {
        interrupt_at: Some(7),
        ..RunOptions::default()
    };
    run::start(config.clone(), data(), &stopped, &interrupt).unwrap();
    run::resume(config, data(), &stopped, &RunOptions::default()).unwrap();
    let (a, b) = (common::run_files(&straight), common::run_files(&stopped));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.into_iter().zip(b) {
        assert!(x == y, "{name} differs after resuming");
    }
}
