//! Binary cross-entropy on logits, elementwise, as one op (the loss every
//! GAN here trains with; `nn::loss` adds weights and the reduction).
//!
//! With `p = σ(x)` and a target `y` in [0, 1],
//!
//! ```text
//! l = −[y·log σ(x) + (1−y)·log(1 − σ(x))] = max(x, 0) − x·y + log(1 + e^(−|x|))
//! ```
//!
//! because `log σ(x) = −softplus(−x)` and
//! `softplus(x) = max(x, 0) + log(1 + e^(−|x|))`. The exponential never
//! overflows, and grouping `max(x, 0) − x·y` first keeps the tiny
//! `log(1 + e^(−|x|))` from being rounded away when the prediction is
//! confidently right (x = 100, y = 1 gives e^(−100), not 0).
//!
//! ## The derivative
//!
//! ```text
//! ∂l/∂x = σ(x) − y,   ∂l/∂y = −x
//! ```
//!
//! One fused op rather than relu/abs/softplus pieces: the pieces' kinks at
//! x = 0 would not cancel in the gradient, while the loss itself is smooth.
//! The backward is written with ops (sigmoid, sub, mul), so it can be
//! differentiated again. Gradient checks: `crates/tensor/tests/gradcheck_fused.rs`.

use crate::kernels::elementwise::zip_map;
use crate::{Element, Result, Tensor, TensorError};

impl<T: Element> Tensor<T> {
    /// Binary cross-entropy of logits `self` against targets `y` of the same
    /// shape, per element: `max(x, 0) − x·y + log(1 + e^(−|x|))`, stable for
    /// any `x`.
    ///
    /// PyTorch: `F.binary_cross_entropy_with_logits(x, y, reduction="none")`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![100.0, -100.0], &[2])?;
    /// let y = Tensor::<f32>::from_vec(vec![0.0, 1.0], &[2])?;
    /// // A naive log(1 − sigmoid(100)) would be −inf.
    /// assert_eq!(x.bce_with_logits(&y)?.to_vec(), vec![100.0, 100.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn bce_with_logits(&self, y: &Tensor<T>) -> Result<Tensor<T>> {
        const OP: &str = "binary_cross_entropy_with_logits";
        if self.shape() != y.shape() {
            return Err(TensorError::shape(
                OP,
                format!(
                    "predictions {:?} and targets {:?} must have the same shape",
                    self.shape(),
                    y.shape()
                ),
            ));
        }
        let values = zip_map(OP, self.array().view(), y.array().view(), |x, y| {
            x.max(T::zero()) - x * y + (-x.abs()).exp().ln_1p()
        })?;
        Ok(Tensor::from_op(OP, &[self, y], values, |ctx| {
            let (x, y) = (ctx.input(0), ctx.input(1));
            // ∂l/∂x = σ(x) − y
            let grad_x = if ctx.needs(0) {
                Some(ctx.grad.mul(&x.sigmoid().sub(y)?)?)
            } else {
                None
            };
            // ∂l/∂y = −x
            let grad_y = if ctx.needs(1) {
                Some(ctx.grad.mul(x)?.neg())
            } else {
                None
            };
            Ok(vec![grad_x, grad_y])
        }))
    }
}
