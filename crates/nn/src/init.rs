//! Weight initialisation, always from an RNG the caller passes in.
//!
//! PyTorch's conventions: for a weight of shape `[out, in, k…]`,
//! `fan_in = in·Πk` and `fan_out = out·Πk`. (For a transposed convolution,
//! whose weight is `[in, out, k…]`, this makes "fan_in" the number of output
//! channels times the kernel size, exactly as PyTorch computes it.)

use crate::module::Module;
use rand::Rng;
use tensor::{Element, Result, Tensor, TensorError};

/// `(fan_in, fan_out)` of a weight shape, as PyTorch computes them.
pub fn fans(shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() < 2 {
        return Err(TensorError::argument(
            "init::fans",
            format!("fans need a weight with at least 2 dimensions, got shape {shape:?}"),
        ));
    }
    let receptive: usize = shape[2..].iter().product();
    Ok((shape[1] * receptive, shape[0] * receptive))
}

/// Values drawn from U(−bound, bound).
pub fn uniform<T: Element, R: Rng + ?Sized>(shape: &[usize], bound: f64, rng: &mut R) -> Result<Tensor<T>> {
    Tensor::rand_uniform(shape, T::from_f64(-bound), T::from_f64(bound), rng)
}

/// Values drawn from N(mean, std²).
pub fn normal<T: Element, R: Rng + ?Sized>(
    shape: &[usize],
    mean: f64,
    std: f64,
    rng: &mut R,
) -> Result<Tensor<T>> {
    Tensor::randn(shape, T::from_f64(mean), T::from_f64(std), rng)
}

/// The gain of leaky_relu with negative slope `a`: `√(2 / (1 + a²))`.
fn leaky_relu_gain(a: f64) -> f64 {
    (2.0 / (1.0 + a * a)).sqrt()
}

/// Kaiming (He) uniform: U(−b, b) with `b = gain·√(3 / fan_in)`,
/// `gain = √(2 / (1 + a²))`. With `a = √5` this is PyTorch's default for
/// Linear and Conv weights, which works out to `b = 1/√fan_in`.
pub fn kaiming_uniform<T: Element, R: Rng + ?Sized>(
    shape: &[usize],
    a: f64,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let (fan_in, _) = fans(shape)?;
    uniform(shape, leaky_relu_gain(a) * (3.0 / fan_in as f64).sqrt(), rng)
}

/// Kaiming (He) normal: N(0, std²) with `std = gain / √fan_in`.
pub fn kaiming_normal<T: Element, R: Rng + ?Sized>(
    shape: &[usize],
    a: f64,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let (fan_in, _) = fans(shape)?;
    normal(shape, 0.0, leaky_relu_gain(a) / (fan_in as f64).sqrt(), rng)
}

/// Xavier (Glorot) uniform: U(−b, b) with `b = gain·√(6 / (fan_in + fan_out))`.
pub fn xavier_uniform<T: Element, R: Rng + ?Sized>(
    shape: &[usize],
    gain: f64,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let (fan_in, fan_out) = fans(shape)?;
    uniform(shape, gain * (6.0 / (fan_in + fan_out) as f64).sqrt(), rng)
}

/// Xavier (Glorot) normal: N(0, std²) with `std = gain·√(2 / (fan_in + fan_out))`.
pub fn xavier_normal<T: Element, R: Rng + ?Sized>(
    shape: &[usize],
    gain: f64,
    rng: &mut R,
) -> Result<Tensor<T>> {
    let (fan_in, fan_out) = fans(shape)?;
    normal(shape, 0.0, gain * (2.0 / (fan_in + fan_out) as f64).sqrt(), rng)
}

/// The bias initialisation PyTorch pairs with its default weights:
/// U(−1/√fan_in, 1/√fan_in).
pub fn default_bias<T: Element, R: Rng + ?Sized>(
    len: usize,
    fan_in: usize,
    rng: &mut R,
) -> Result<Tensor<T>> {
    uniform(&[len], 1.0 / (fan_in.max(1) as f64).sqrt(), rng)
}

/// The DCGAN paper's scheme, applied to every parameter of `module` in place:
/// weights of rank ≥ 2 (linear, convolution) from N(0, 0.02²); rank-1
/// weights (BatchNorm's scale γ) from N(1, 0.02²) with the matching bias
/// (BatchNorm's shift β) set to 0. Other biases keep their values.
pub fn dcgan<T: Element, R: Rng + ?Sized>(module: &dyn Module<T>, rng: &mut R) -> Result<()> {
    let parameters = module.named_parameters();
    for (name, p) in &parameters {
        let Some(owner) = name.strip_suffix("weight") else {
            continue;
        };
        let shape = p.shape();
        if shape.len() >= 2 {
            p.set_array(normal::<T, R>(&shape, 0.0, 0.02, rng)?.array())?;
        } else {
            p.set_array(normal::<T, R>(&shape, 1.0, 0.02, rng)?.array())?;
            let bias_name = format!("{owner}bias");
            if let Some((_, bias)) = parameters.iter().find(|(n, _)| *n == bias_name) {
                bias.set_array(Tensor::<T>::zeros(&bias.shape()).array())?;
            }
        }
    }
    Ok(())
}
