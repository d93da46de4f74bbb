//! Reductions that add: sum, mean and variance, over all elements or over
//! chosen axes.
//!
//! A sum adds many inputs into one output, so each input's gradient is the
//! output's gradient, copied back (broadcast) to every input it came from:
//!
//! ```text
//! y = Σ_i x_i        ⇒   x̄_i = ȳ
//! y = (1/n) Σ_i x_i  ⇒   x̄_i = ȳ / n
//! ```
//!
//! Variance is built from ops that are already differentiable (mean, sub,
//! mul, sum), so its gradient and every higher derivative come for free. With
//! `μ = mean(x)` over `n` elements and a correction `c` (0 for the population
//! variance that BatchNorm uses, 1 for the unbiased estimate):
//!
//! ```text
//! y = Σ_i (x_i − μ)² / (n − c)   ⇒   x̄_i = ȳ · 2(x_i − μ) / (n − c)
//! ```
//!
//! (the `∂μ/∂x_i` term drops out because `Σ_i (x_i − μ) = 0`).
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_reduce.rs`.

use crate::kernels::elementwise::sum_to_shape;
use crate::{Dim, Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, IxDyn};

/// Checks `axes` against `shape`: in range (negative ones counting from the
/// back), no repeats. Returns them resolved and sorted.
pub(crate) fn checked_axes(op: &'static str, shape: &[usize], axes: &[impl Dim]) -> Result<Vec<usize>> {
    let mut sorted = crate::dim::resolve_all(op, axes, shape)?;
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != axes.len() {
        return Err(TensorError::argument(op, format!("axes {axes:?} repeat an axis")));
    }
    Ok(sorted)
}

/// The shape after reducing `axes` of `shape`, with those axes kept as size 1.
pub(crate) fn keepdim_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect()
}

impl<T: Element> Tensor<T> {
    /// The sum of all elements, as a rank-0 tensor (PyTorch's `x.sum()`).
    pub fn sum(&self) -> Tensor<T> {
        let total: T = self.read().sum();
        let shape = self.shape();
        // y = Σ x  ⇒  x̄ = ȳ broadcast to shape(x)
        Tensor::from_op("sum", &[self], ArrayD::from_elem(IxDyn(&[]), total), move |ctx| {
            Ok(vec![Some(ctx.grad.broadcast_to(&shape)?)])
        })
    }

    /// The sum over `axes`; with `keepdim` the reduced axes stay as size 1.
    /// PyTorch's `x.sum(dim, keepdim)`; a negative axis counts from the back.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::ones(&[2, 3, 4]);
    /// assert_eq!(x.sum_axes(&[0, -1], false)?.to_vec(), vec![8.0; 3]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn sum_axes(&self, axes: &[impl Dim], keepdim: bool) -> Result<Tensor<T>> {
        let shape = self.shape();
        let axes = checked_axes("sum_axes", &shape, axes)?;
        let kept = keepdim_shape(&shape, &axes);
        let summed = sum_to_shape(self.read().view(), &kept)
            .into_shape_with_order(IxDyn(&out_shape(&kept, &axes, keepdim)))
            .expect("same size");
        // y = Σ_axes x  ⇒  x̄ = ȳ (axes restored as size 1) broadcast to shape(x)
        Ok(Tensor::from_op("sum_axes", &[self], summed, move |ctx| {
            Ok(vec![Some(ctx.grad.reshape(&kept)?.broadcast_to(&shape)?)])
        }))
    }

    /// The mean of all elements, as a rank-0 tensor (PyTorch's `x.mean()`).
    pub fn mean(&self) -> Tensor<T> {
        let count = T::from_f64(self.numel().max(1) as f64);
        // y = (1/n) Σ x  ⇒  x̄ = ȳ / n (through sum's backward)
        self.sum().mul_scalar(T::one() / count)
    }

    /// The mean over `axes`; with `keepdim` the reduced axes stay as size 1.
    /// PyTorch's `x.mean(dim, keepdim)`; a negative axis counts from the back.
    pub fn mean_axes(&self, axes: &[impl Dim], keepdim: bool) -> Result<Tensor<T>> {
        let shape = self.shape();
        let count: usize = checked_axes("mean_axes", &shape, axes)?
            .iter()
            .map(|&a| shape[a])
            .product();
        Ok(self
            .sum_axes(axes, keepdim)?
            .mul_scalar(T::one() / T::from_f64(count.max(1) as f64)))
    }
}

impl<T: Element> Tensor<T> {
    /// The variance of all elements, as a rank-0 tensor: `Σ (x − μ)² / (n − correction)`
    /// (PyTorch's `torch.var(x, correction=…)`).
    ///
    /// `correction = 0` gives the population (biased) variance that batch
    /// normalisation uses; `correction = 1` the unbiased sample variance.
    /// Fails if the tensor has no more than `correction` elements.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[4])?;
    /// assert_eq!(x.var(0)?.item()?, 3.5); // (4 + 1 + 0 + 9) / 4
    /// assert!((x.var(1)?.item()? - 14.0 / 3.0).abs() < 1e-12);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn var(&self, correction: usize) -> Result<Tensor<T>> {
        let all: Vec<usize> = (0..self.ndim()).collect();
        self.variance("var", &all, false, correction)
    }

    /// The variance over `axes` (see [`var`](Self::var) for `correction`);
    /// with `keepdim` the reduced axes stay as size 1. PyTorch's
    /// `x.var(dim, keepdim=…, correction=…)`; a negative axis counts from the back.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 3.0, 2.0, 2.0], &[2, 2])?;
    /// assert_eq!(x.var_axes(&[1], false, 0)?.to_vec(), vec![1.0, 0.0]);
    /// assert_eq!(x.var_axes(&[0], true, 1)?.shape(), vec![1, 2]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn var_axes(&self, axes: &[impl Dim], keepdim: bool, correction: usize) -> Result<Tensor<T>> {
        self.variance("var_axes", axes, keepdim, correction)
    }

    /// The shared body of `var` and `var_axes`, reporting errors as `op`.
    fn variance(
        &self,
        op: &'static str,
        axes: &[impl Dim],
        keepdim: bool,
        correction: usize,
    ) -> Result<Tensor<T>> {
        let shape = self.shape();
        let axes = checked_axes(op, &shape, axes)?;
        let count: usize = axes.iter().map(|&a| shape[a]).product();
        if count <= correction {
            return Err(TensorError::argument(
                op,
                format!(
                    "the variance of {count} element(s) (axes {axes:?} of shape {shape:?}) \
                     with correction {correction} divides by {count} − {correction} ≤ 0"
                ),
            ));
        }
        // y = Σ_axes (x − μ)² / (n − c), with μ kept as size-1 axes so that
        // it broadcasts against x. Every step is a differentiable op, so
        // x̄ = ȳ · 2(x − μ)/(n − c) (and its derivatives) follow by the chain rule.
        let centred = self.sub(&self.mean_axes(&axes, true)?)?;
        let scale = T::one() / T::from_f64((count - correction) as f64);
        Ok(centred.mul(&centred)?.sum_axes(&axes, keepdim)?.mul_scalar(scale))
    }
}

/// `kept` without the reduced axes unless `keepdim`.
fn out_shape(kept: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    kept.iter()
        .enumerate()
        .filter(|(i, _)| keepdim || !axes.contains(i))
        .map(|(_, &d)| d)
        .collect()
}
