//! Helpers shared by the gradient-check test files (of this crate, and of
//! `crates/nn/tests`, which include this file by path).
#![allow(dead_code)]

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tensor::Tensor;
use tensor::gradcheck::{GradcheckOptions, gradcheck, gradgradcheck};

/// The seeded RNG every test draws from.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// The bits of each value, to compare floats exactly.
pub fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// A standard-normal f64 tensor.
pub fn randn(shape: &[usize], rng: &mut ChaCha8Rng) -> Tensor<f64> {
    Tensor::randn(shape, 0.0, 1.0, rng).expect("valid shape")
}

/// Uniform values in `[low, high)`.
pub fn uniform(shape: &[usize], low: f64, high: f64, rng: &mut ChaCha8Rng) -> Tensor<f64> {
    Tensor::rand_uniform(shape, low, high, rng).expect("valid range")
}

/// Normal values pushed at least `margin` away from zero (for ops with a
/// kink at 0, such as relu and abs, whose derivative is undefined there).
pub fn away_from_zero(shape: &[usize], margin: f64, rng: &mut ChaCha8Rng) -> Tensor<f64> {
    let t = randn(shape, rng);
    Tensor::from_array(t.array().mapv(|v| if v >= 0.0 { v + margin } else { v - margin }))
}

/// Distinct values, well separated (for max/min, so that no two tie).
pub fn distinct(shape: &[usize], rng: &mut ChaCha8Rng) -> Tensor<f64> {
    use rand::seq::SliceRandom;
    let n: usize = shape.iter().product();
    let mut values: Vec<f64> = (0..n).map(|i| i as f64 * 0.37 - n as f64 * 0.18).collect();
    values.shuffle(rng);
    Tensor::from_vec(values, shape).expect("valid shape")
}

/// Runs gradcheck and gradgradcheck with the default (PyTorch-like)
/// tolerances, panicking with the checker's report on failure.
pub fn check(
    name: &str,
    f: impl Fn(&[Tensor<f64>]) -> tensor::Result<Tensor<f64>> + Copy,
    inputs: &[Tensor<f64>],
) {
    let options = GradcheckOptions::default();
    if let Err(e) = gradcheck(f, inputs, &options) {
        panic!("{name}: first derivative: {e}");
    }
    if let Err(e) = gradgradcheck(f, inputs, &options) {
        panic!("{name}: second derivative: {e}");
    }
}

/// Asserts `actual ≈ expected` elementwise, within `tolerance` relative to
/// `1 + |expected|`.
pub fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance * (1.0 + e.abs()),
            "element {i}: {a} vs {e}"
        );
    }
}

/// BatchNorm's training-mode normalisation composed of plain ops (the
/// reference for the fused `batch_normalize` and the layers built on it).
pub fn composed_batch_normalize(x: &Tensor<f64>, axes: &[usize], eps: f64) -> Tensor<f64> {
    let mean = x.mean_axes(axes, true).unwrap();
    let var = x.var_axes(axes, true, 0).unwrap();
    x.sub(&mean).unwrap().div(&var.add_scalar(eps).sqrt()).unwrap()
}

/// The gradient that reaches `x` from `⟨y, seed⟩`, where `y` was computed
/// from `x` (whose old gradient is cleared first).
pub fn input_grad(x: &Tensor<f64>, y: &Tensor<f64>, seed: &Tensor<f64>) -> Vec<f64> {
    x.zero_grad();
    y.mul(seed).unwrap().sum().backward().unwrap();
    x.grad().unwrap().to_vec()
}

/// Runs `run` twice on a pool of two threads and asserts that both runs give
/// the same bits.
pub fn assert_same_bits_on_two_threads<R: PartialEq + Send>(run: impl Fn() -> R + Sync) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let (a, b) = (pool.install(&run), pool.install(&run));
    assert!(a == b, "two runs on the same thread count differ");
}
