//! Softmax and log-softmax along one axis.
//!
//! Along the chosen axis, each lane `x` (a vector) becomes
//!
//! ```text
//! softmax(x)_i     = eˣⁱ / Σ_k eˣᵏ
//! log_softmax(x)_i = x_i − ln Σ_k eˣᵏ
//! ```
//!
//! # Backward, derived
//!
//! Softmax: write `y = softmax(x)` and `S = Σ_k eˣᵏ`. By the quotient rule,
//! `∂y_i/∂x_j = (δ_ij eˣⁱ S − eˣⁱ eˣʲ) / S² = y_i (δ_ij − y_j)`. The chain rule
//! sums over every output of the lane:
//!
//! ```text
//! x̄_j = Σ_i ȳ_i ∂y_i/∂x_j = Σ_i ȳ_i y_i (δ_ij − y_j) = y_j ȳ_j − y_j Σ_i ȳ_i y_i
//!     = y_j (ȳ_j − ⟨ȳ, y⟩)          i.e.  x̄ = y ⊙ (ȳ − Σ_axis(ȳ ⊙ y))
//! ```
//!
//! Log-softmax: `∂y_i/∂x_j = δ_ij − eˣʲ/S = δ_ij − softmax(x)_j`, so
//!
//! ```text
//! x̄_j = Σ_i ȳ_i (δ_ij − softmax(x)_j) = ȳ_j − softmax(x)_j Σ_i ȳ_i
//!                                    i.e.  x̄ = ȳ − softmax(x) ⊙ Σ_axis ȳ
//! ```
//!
//! and `softmax(x) = e^y` comes from the output for the price of one `exp`.
//! Both backwards are tensor ops (`sum_axes` with `keepdim`, then
//! broadcasting), using the output `y` as a node of the graph, so they can be
//! differentiated again.
//!
//! # Numerical stability
//!
//! Both are unchanged when a constant is added to the whole lane (it cancels
//! between numerator and `S`). The forward subtracts the lane's maximum `m`
//! first: every exponent `x_k − m` is then `≤ 0`, so nothing overflows, and
//! the largest term is `e⁰ = 1`, so `S ≥ 1` and its logarithm is finite. The
//! shift is a constant of the derivation above, so the backward never sees it.
//!
//! Lanes are independent and each is reduced serially, so the parallel
//! forward (for large tensors) is bitwise deterministic.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_elementwise.rs`.

use crate::kernels::PARALLEL_THRESHOLD;
use crate::{Dim, Element, Result, Tensor};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMut1, Axis, Zip};

/// Softmax (or log-softmax) of every lane of `x` along `axis`.
fn softmax_lanes<T: Element>(x: ArrayViewD<'_, T>, axis: usize, log: bool) -> ArrayD<T> {
    let mut out = x.to_owned();
    let lane = |mut lane: ArrayViewMut1<'_, T>| {
        let max = lane.iter().fold(T::neg_infinity(), |m, &v| m.max(v));
        if log {
            // y_i = (x_i − m) − ln Σ_k e^(x_k − m)
            let sum: T = lane.iter().map(|&v| (v - max).exp()).sum();
            let log_sum = sum.ln();
            lane.mapv_inplace(|v| (v - max) - log_sum);
        } else {
            // y_i = e^(x_i − m) / Σ_k e^(x_k − m)
            lane.mapv_inplace(|v| (v - max).exp());
            let sum: T = lane.iter().copied().sum();
            lane.mapv_inplace(|v| v / sum);
        }
    };
    let lanes = out.lanes_mut(Axis(axis));
    if x.len() >= PARALLEL_THRESHOLD {
        Zip::from(lanes).par_for_each(lane);
    } else {
        Zip::from(lanes).for_each(lane);
    }
    out
}

impl<T: Element> Tensor<T> {
    /// Checks that `axis` is an axis of this tensor; returns it resolved.
    fn check_softmax_axis(&self, op: &'static str, axis: impl Dim) -> Result<usize> {
        crate::dim::resolve(op, axis, &self.shape())
    }

    /// The softmax along `axis`: every lane along it becomes positive values
    /// summing to 1. Stable for any finite input. PyTorch's
    /// `torch.softmax(x, dim)`; a negative axis counts from the back.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1000.0, 1001.0], &[1, 2])?;
    /// let y = x.softmax(1)?.to_vec();
    /// assert!((y[0] - 0.26894142).abs() < 1e-6 && (y[1] - 0.7310586).abs() < 1e-6);
    /// assert!(x.softmax(2).is_err());
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn softmax(&self, axis: impl Dim) -> Result<Tensor<T>> {
        let axis = self.check_softmax_axis("softmax", axis)?;
        let out = softmax_lanes(self.read().view(), axis, false);
        // x̄ = y ⊙ (ȳ − Σ_axis(ȳ ⊙ y))   (derived in the module documentation)
        Ok(Tensor::from_op("softmax", &[self], out, move |ctx| {
            let y = ctx.output;
            let dot = ctx.grad.mul(y)?.sum_axes(&[axis], true)?;
            Ok(vec![Some(y.mul(&ctx.grad.sub(&dot)?)?)])
        }))
    }

    /// The logarithm of the softmax along `axis`, computed directly (so it
    /// stays finite where `softmax` underflows to 0). PyTorch's
    /// `torch.log_softmax(x, dim)`; a negative axis counts from the back.
    pub fn log_softmax(&self, axis: impl Dim) -> Result<Tensor<T>> {
        let axis = self.check_softmax_axis("log_softmax", axis)?;
        let out = softmax_lanes(self.read().view(), axis, true);
        // x̄ = ȳ − softmax(x) ⊙ Σ_axis ȳ, with softmax(x) = e^y
        Ok(Tensor::from_op("log_softmax", &[self], out, move |ctx| {
            let total = ctx.grad.sum_axes(&[axis], true)?;
            Ok(vec![Some(ctx.grad.sub(&ctx.output.exp().mul(&total)?)?)])
        }))
    }
}
