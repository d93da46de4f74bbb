//! Making tensors: constants, ranges, the identity, and random tensors drawn
//! from a seeded RNG that the caller passes in (there is no global RNG).
//!
//! Creation ops have no inputs, so they have no backward.

use crate::{Element, Result, Tensor, TensorError};
use ndarray::{Array1, Array2, ArrayD, IxDyn};
use rand::Rng;

impl<T: Element> Tensor<T> {
    /// A tensor of the given shape filled with `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Self::from_array(ArrayD::from_elem(IxDyn(shape), value))
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// Zeros of this tensor's shape.
    pub fn zeros_like(&self) -> Self {
        Self::zeros(&self.shape())
    }

    /// Ones of this tensor's shape.
    pub fn ones_like(&self) -> Self {
        Self::ones(&self.shape())
    }

    /// `start, start + step, …` up to but excluding `end`, as a 1-D tensor.
    pub fn arange(start: T, end: T, step: T) -> Result<Self> {
        if step == T::zero() || (end - start) / step < T::zero() {
            return Err(TensorError::argument(
                "arange",
                format!("step {step} never leads from {start} to {end}"),
            ));
        }
        let count = ((end - start) / step).ceil().to_usize().unwrap_or(0);
        let values: Array1<T> = (0..count).map(|i| start + step * T::from_f64(i as f64)).collect();
        Ok(Self::from_array(values.into_dyn()))
    }

    /// The `n×n` identity matrix.
    pub fn eye(n: usize) -> Self {
        Self::from_array(Array2::eye(n).into_dyn())
    }

    /// Values drawn uniformly from `[low, high)` with the given RNG.
    pub fn rand_uniform<R: Rng + ?Sized>(shape: &[usize], low: T, high: T, rng: &mut R) -> Result<Self> {
        if low.partial_cmp(&high) != Some(std::cmp::Ordering::Less) {
            return Err(TensorError::argument(
                "rand_uniform",
                format!("the range [{low}, {high}) is empty"),
            ));
        }
        let dist = rand_distr::Uniform::new(low, high)
            .map_err(|e| TensorError::argument("rand_uniform", e.to_string()))?;
        let count = shape.iter().product();
        let values = (0..count).map(|_| rng.sample(&dist)).collect();
        Self::from_vec(values, shape)
    }

    /// Values drawn from the normal distribution N(mean, std²) with the given RNG.
    pub fn randn<R: Rng + ?Sized>(shape: &[usize], mean: T, std: T, rng: &mut R) -> Result<Self> {
        if std < T::zero() || !std.is_finite() {
            return Err(TensorError::argument(
                "randn",
                format!("standard deviation {std} must be finite and non-negative"),
            ));
        }
        let count = shape.iter().product();
        let values = (0..count)
            .map(|_| mean + std * T::sample_standard_normal(rng))
            .collect();
        Self::from_vec(values, shape)
    }
}
