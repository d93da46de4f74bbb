//! Optimizers against values computed by hand from their update equations,
//! and a toy regression that each of them must fit.

// The gradient-check helpers of the tensor crate's tests, shared.
#[path = "../../tensor/tests/common/mod.rs"]
mod common;

use nn::{Adam, AdamConfig, Linear, Module, Optimizer, Sequential, Sgd, SgdConfig, Tanh};
use tensor::Tensor;

/// One scalar parameter `w` and the loss `w²` (gradient `2w`).
fn quadratic_step(w: &Tensor<f64>, optimizer: &mut dyn Optimizer<f64>) {
    optimizer.zero_grad();
    w.mul(w).unwrap().sum().backward().unwrap();
    optimizer.step().unwrap();
}

fn param(value: f64) -> Tensor<f64> {
    Tensor::from_vec(vec![value], &[1]).unwrap().with_requires_grad()
}

#[test]
fn adam_first_step_moves_by_lr() {
    // At step 1, m̂ = g and v̂ = g², so the update is lr·g/(|g| + ε) ≈ lr.
    let w = param(1.0);
    let mut adam = Adam::new(
        vec![("w".into(), w.clone())],
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
    );
    quadratic_step(&w, &mut adam);
    assert!((w.to_vec()[0] - 0.9).abs() < 1e-8, "{}", w.to_vec()[0]);
    let state = adam.param_state("w").unwrap();
    assert_eq!(state.step, 1);
    assert!((state.exp_avg[[0]] - 0.2).abs() < 1e-15, "m = (1 − 0.9)·2");
    assert!((state.exp_avg_sq[[0]] - 0.004).abs() < 1e-15, "v = (1 − 0.999)·4");
}

/// Adam written out for a scalar, straight from the paper's equations.
fn adam_by_hand(mut w: f64, steps: usize, c: AdamConfig) -> f64 {
    let (mut m, mut v, mut vmax) = (0.0, 0.0, 0.0f64);
    for t in 1..=steps {
        let mut g = 2.0 * w;
        if c.decoupled_weight_decay {
            w -= c.lr * c.weight_decay * w;
        } else {
            g += c.weight_decay * w;
        }
        m = c.betas.0 * m + (1.0 - c.betas.0) * g;
        v = c.betas.1 * v + (1.0 - c.betas.1) * g * g;
        vmax = vmax.max(v);
        let m_hat = m / (1.0 - c.betas.0.powi(t as i32));
        let v_hat = if c.amsgrad { vmax } else { v } / (1.0 - c.betas.1.powi(t as i32));
        w -= c.lr * m_hat / (v_hat.sqrt() + c.eps);
    }
    w
}

#[test]
fn adam_adamw_and_amsgrad_match_the_equations() {
    let configs = [
        AdamConfig::gan(),
        AdamConfig {
            lr: 0.05,
            weight_decay: 0.1,
            ..Default::default()
        },
        AdamConfig::adamw(0.05, 0.1),
        AdamConfig {
            lr: 0.05,
            amsgrad: true,
            ..Default::default()
        },
    ];
    for config in configs {
        let w = param(1.5);
        let mut adam = Adam::new(vec![("w".into(), w.clone())], config);
        for _ in 0..7 {
            quadratic_step(&w, &mut adam);
        }
        let expected = adam_by_hand(1.5, 7, config);
        // PyTorch's arrangement of the same formula differs only in rounding.
        assert!(
            (w.to_vec()[0] - expected).abs() < 1e-12,
            "{config:?}: {} vs {expected}",
            w.to_vec()[0]
        );
        assert_eq!(adam.step_count(), 7);
    }
}

#[test]
fn sgd_momentum_and_nesterov_match_the_equations() {
    for nesterov in [false, true] {
        let config = SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.01,
            nesterov,
            ..Default::default()
        };
        let w = param(2.0);
        let mut sgd = Sgd::new(vec![("w".into(), w.clone())], config);
        let (mut expected, mut buffer) = (2.0f64, None::<f64>);
        for _ in 0..5 {
            quadratic_step(&w, &mut sgd);
            let g = 2.0 * expected + 0.01 * expected;
            let b = match buffer {
                None => g,
                Some(b) => 0.9 * b + g,
            };
            buffer = Some(b);
            expected -= 0.1 * if nesterov { g + 0.9 * b } else { b };
        }
        assert!((w.to_vec()[0] - expected).abs() < 1e-12, "nesterov={nesterov}");
        assert_eq!(sgd.step_count(), 5);
        assert!(sgd.momentum_buffer("w").is_some());
    }
}

/// Fits y = sin(2x) on [−1, 1] with a 1→16→1 tanh MLP; returns (initial, final) loss.
fn fit_toy_regression(
    optimizer: impl FnOnce(Vec<(String, Tensor<f32>)>) -> Box<dyn Optimizer<f32>>,
) -> (f32, f32) {
    let mut rng = common::rng(21);
    let net = Sequential::<f32>::new()
        .push(Linear::new(1, 16, &mut rng))
        .push(Tanh)
        .push(Linear::new(16, 1, &mut rng));
    let xs: Vec<f32> = (0..64).map(|i| -1.0 + 2.0 * i as f32 / 63.0).collect();
    let x = Tensor::from_vec(xs.clone(), &[64, 1]).unwrap();
    let y = Tensor::from_vec(xs.iter().map(|v| (2.0 * v).sin()).collect(), &[64, 1]).unwrap();
    let mut optimizer = optimizer(net.named_parameters());
    let mut losses = Vec::new();
    for _ in 0..400 {
        optimizer.zero_grad();
        let loss = nn::loss::mse(&net.forward(&x).unwrap(), &y, nn::loss::Reduction::Mean).unwrap();
        losses.push(loss.item().unwrap());
        loss.backward().unwrap();
        optimizer.step().unwrap();
    }
    (losses[0], *losses.last().unwrap())
}

#[test]
fn every_optimizer_fits_a_toy_regression() {
    let runs: Vec<(&str, (f32, f32))> = vec![
        (
            "sgd",
            fit_toy_regression(|p| {
                Box::new(Sgd::new(
                    p,
                    SgdConfig {
                        lr: 0.1,
                        ..Default::default()
                    },
                ))
            }),
        ),
        (
            "sgd+nesterov",
            fit_toy_regression(|p| {
                Box::new(Sgd::new(
                    p,
                    SgdConfig {
                        lr: 0.05,
                        momentum: 0.9,
                        nesterov: true,
                        ..Default::default()
                    },
                ))
            }),
        ),
        (
            "adam",
            fit_toy_regression(|p| {
                Box::new(Adam::new(
                    p,
                    AdamConfig {
                        lr: 0.01,
                        ..Default::default()
                    },
                ))
            }),
        ),
        (
            "adamw",
            fit_toy_regression(|p| Box::new(Adam::new(p, AdamConfig::adamw(0.01, 0.01)))),
        ),
    ];
    for (name, (first, last)) in runs {
        assert!(last < 0.1 * first && last < 0.02, "{name}: loss {first} → {last}");
    }
}
