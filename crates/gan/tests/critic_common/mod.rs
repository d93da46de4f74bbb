//! The tiny f64 critic the penalty gradient checks (WGAN-GP, R1) share.
#![allow(dead_code)] // each test file uses a different subset

use rand::SeedableRng;
use tensor::Conv2dParams;
use tensor::Tensor;
use tensor::gradcheck::{GradcheckMode, GradcheckOptions, gradcheck};

/// A standard-normal f64 tensor drawn from `seed`.
pub fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, 0.0, 1.0, &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed)).unwrap()
}

/// A tiny critic shaped like the real one: conv (2 channels, 3×3, stride 2,
/// padding 1) → LeakyReLU(0.2) → flatten → linear → score, on 1×5×5 images.
/// `weights` = [conv weight [2, 1, 3, 3], conv bias [2], linear weight [18, 1]].
pub fn tiny_critic(x: &Tensor<f64>, weights: &[Tensor<f64>]) -> tensor::Result<Tensor<f64>> {
    let h = x
        .conv2d(&weights[0], Some(&weights[1]), Conv2dParams::new(2, 1))?
        .leaky_relu(0.2);
    let batch = h.shape()[0];
    h.reshape(&[batch, 18])?.matmul(&weights[2])
}

/// Weights for [`tiny_critic`], drawn from seeds 1–3, requiring gradients.
pub fn tiny_critic_weights() -> Vec<Tensor<f64>> {
    vec![
        randn(&[2, 1, 3, 3], 1).with_requires_grad(),
        randn(&[2], 2).with_requires_grad(),
        randn(&[18, 1], 3).mul_scalar(0.5).with_requires_grad(),
    ]
}

/// Checks the gradient of `penalty` (a function of the tiny critic's
/// weights) with respect to every weight against finite differences, at
/// [`tiny_critic_weights`], where the penalty must be far from 0 (so that
/// the check is not of a flat function).
pub fn check_penalty_gradient(penalty: impl Fn(&[Tensor<f64>]) -> tensor::Result<Tensor<f64>>) {
    let weights = tiny_critic_weights();
    let value = penalty(&weights).unwrap().item().unwrap();
    assert!(value > 0.1, "penalty {value}");
    let options = GradcheckOptions {
        mode: GradcheckMode::Full,
        ..GradcheckOptions::default()
    };
    let report = gradcheck(penalty, &weights, &options).unwrap();
    assert_eq!(report.compared, 18 + 2 + 18);
}
