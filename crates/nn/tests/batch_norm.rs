//! BatchNorm layers on the fused normalisation op (`Tensor::batch_normalize`,
//! checked on its own in `crates/tensor/tests/gradcheck_fused.rs`): first- and
//! second-derivative checks with γ and β, the layer against the same
//! computation composed of plain ops on large inputs (the parallel paths),
//! its running estimates, and bitwise reproducibility on two threads.

// The gradient-check helpers of the tensor crate's tests, shared.
#[path = "../../tensor/tests/common/mod.rs"]
mod common;

use common::{
    assert_close, assert_same_bits_on_two_threads, check, composed_batch_normalize, input_grad, randn, rng,
};
use nn::{BatchNorm1d, BatchNorm2d, Module};
use tensor::{Tensor, no_grad};

#[test]
fn fused_batch_norm_first_and_second_derivatives() {
    let mut r = rng(42);
    let inputs = [
        randn(&[3, 2, 2, 3], &mut r),
        randn(&[2], &mut r),
        randn(&[2], &mut r),
    ];
    check(
        "BatchNorm2d",
        |xs| BatchNorm2d::with_affine(xs[1].clone(), xs[2].clone())?.forward(&xs[0]),
        &inputs,
    );
    // Without the affine part, and through a nonlinearity so that the
    // second derivative of the normalisation itself is exercised.
    check(
        "BatchNorm1d [N, C, L] then tanh",
        |xs| {
            let bn = BatchNorm1d::with_affine(Tensor::ones(&[3]), Tensor::zeros(&[3]))?;
            bn.forward(&xs[0])?.tanh().mul(&xs[1])
        },
        &[randn(&[4, 3, 2], &mut r), randn(&[4, 3, 2], &mut r)],
    );
}

#[test]
fn fused_batch_norm_matches_the_composed_ops_on_large_inputs() {
    // Large enough for the parallel paths; f64 so the comparison is tight.
    let mut r = rng(43);
    let x = randn(&[16, 24, 9, 11], &mut r).with_requires_grad();
    let seed = randn(&[16, 24, 9, 11], &mut r);
    let bn = BatchNorm2d::<f64>::new(24);
    let fused = bn.forward(&x).unwrap();
    let composed = composed_batch_normalize(&x, &[0, 2, 3], 1e-5);
    assert_close(&fused.to_vec(), &composed.to_vec(), 1e-10);
    assert_close(
        &input_grad(&x, &fused, &seed),
        &input_grad(&x, &composed, &seed),
        1e-9,
    );
    // Running statistics: mean and unbiased variance, momentum 0.1.
    let n = (16 * 9 * 11) as f64;
    let var = x.var_axes(&[0, 2, 3], false, 0).unwrap().to_vec();
    let expected: Vec<f64> = var.iter().map(|v| 0.9 + 0.1 * v * n / (n - 1.0)).collect();
    assert_close(&bn.running_var().to_vec(), &expected, 1e-12);
}

#[test]
fn fast_paths_are_bitwise_reproducible_on_two_threads() {
    assert_same_bits_on_two_threads(|| {
        let mut r = rng(46);
        let x = Tensor::<f32>::randn(&[64, 128, 7, 7], 0.0, 1.0, &mut r)
            .unwrap()
            .with_requires_grad();
        let bn = BatchNorm2d::<f32>::new(128);
        let y = bn.forward(&x).unwrap().leaky_relu(0.2);
        let s = no_grad(|| y.sum_axes(&[0, 2, 3], false).unwrap());
        y.sum().backward().unwrap();
        (y.to_vec(), s.to_vec(), x.grad().unwrap().to_vec())
    });
}
