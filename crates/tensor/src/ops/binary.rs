//! Elementwise binary ops with NumPy broadcasting: add, sub, mul, div, pow,
//! maximum, minimum.
//!
//! For `y = f(a, b)` on broadcast shapes, the chain rule gives each input the
//! output's gradient times the partial derivative, *summed back to the
//! input's own shape* (see [`broadcast`](super::broadcast)):
//!
//! ```text
//! ā = sum_to(ȳ · ∂f/∂a, shape(a))      b̄ = sum_to(ȳ · ∂f/∂b, shape(b))
//! ```
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_elementwise.rs` and (for the PyTorch forms) `crates/tensor/tests/gradcheck_pytorch_semantics.rs`.

use crate::kernels::elementwise::zip_map;
use crate::{Element, Result, Tensor};

/// The gradient for input `index` of a broadcasting op, reduced to its shape,
/// if that input needs one.
fn reduced<T: Element>(
    ctx: &crate::BackwardCtx<'_, T>,
    index: usize,
    grad: impl FnOnce() -> Result<Tensor<T>>,
) -> Result<Option<Tensor<T>>> {
    if !ctx.needs(index) {
        return Ok(None);
    }
    Ok(Some(grad()?.sum_to(&ctx.input(index).shape())?))
}

impl<T: Element> Tensor<T> {
    /// `self + other`, broadcasting.
    pub fn add(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        let out = zip_map("add", self.read().view(), other.read().view(), |a, b| a + b)?;
        // ∂(a+b)/∂a = 1, ∂(a+b)/∂b = 1
        Ok(Tensor::from_op("add", &[self, other], out, |ctx| {
            Ok(vec![
                reduced(ctx, 0, || Ok(ctx.grad.clone()))?,
                reduced(ctx, 1, || Ok(ctx.grad.clone()))?,
            ])
        }))
    }

    /// `self - other`, broadcasting.
    pub fn sub(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        let out = zip_map("sub", self.read().view(), other.read().view(), |a, b| a - b)?;
        // ∂(a−b)/∂a = 1, ∂(a−b)/∂b = −1
        Ok(Tensor::from_op("sub", &[self, other], out, |ctx| {
            Ok(vec![
                reduced(ctx, 0, || Ok(ctx.grad.clone()))?,
                reduced(ctx, 1, || Ok(ctx.grad.neg()))?,
            ])
        }))
    }

    /// `self * other` elementwise, broadcasting.
    pub fn mul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        let out = zip_map("mul", self.read().view(), other.read().view(), |a, b| a * b)?;
        // ∂(ab)/∂a = b, ∂(ab)/∂b = a
        Ok(Tensor::from_op("mul", &[self, other], out, |ctx| {
            let (a, b) = (ctx.input(0), ctx.input(1));
            Ok(vec![
                reduced(ctx, 0, || ctx.grad.mul(b))?,
                reduced(ctx, 1, || ctx.grad.mul(a))?,
            ])
        }))
    }

    /// `self / other` elementwise, broadcasting.
    pub fn div(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        let out = zip_map("div", self.read().view(), other.read().view(), |a, b| a / b)?;
        // ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b² = −y/b
        Ok(Tensor::from_op("div", &[self, other], out, |ctx| {
            let b = ctx.input(1);
            Ok(vec![
                reduced(ctx, 0, || ctx.grad.div(b))?,
                reduced(ctx, 1, || Ok(ctx.grad.mul(ctx.output)?.div(b)?.neg()))?,
            ])
        }))
    }

    /// `self ** exponent` elementwise, broadcasting: PyTorch's `torch.pow(a, b)`
    /// with a tensor exponent (for a scalar one, [`powf`](Self::powf)).
    /// A negative base with a non-integer exponent gives NaN, as in PyTorch.
    ///
    /// As in PyTorch, the gradient in `a` is 0 where `b = 0` (rather than
    /// `0·0⁻¹`), and the gradient in `b` is 0 where `a = 0` and `b ≥ 0`
    /// (rather than `0·ln 0`).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let a = Tensor::<f64>::from_vec(vec![2.0, 3.0], &[2])?;
    /// let b = Tensor::<f64>::from_vec(vec![3.0, 0.5], &[2])?.with_requires_grad();
    /// let y = a.pow(&b)?;
    /// y.sum().backward()?;
    /// assert_eq!(y.to_vec()[0], 8.0);
    /// assert!((b.grad().unwrap().to_vec()[0] - 8.0 * 2f64.ln()).abs() < 1e-12); // aᵇ ln a
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn pow(&self, exponent: &Tensor<T>) -> Result<Tensor<T>> {
        let out = zip_map("pow", self.read().view(), exponent.read().view(), |a, b| {
            a.powf(b)
        })?;
        // ∂(aᵇ)/∂a = b·aᵇ⁻¹,  ∂(aᵇ)/∂b = aᵇ·ln a = y·ln a
        //
        // PyTorch's special cases are taken by substituting the base by 1
        // where the term must vanish: with a constant mask m,
        // a' = a·m + (1 − m) is a where m = 1 and 1 where m = 0, so
        // b·a'ᵇ⁻¹ with m = [b ≠ 0] is 0 where b = 0, and y·ln a' with
        // m = [a ≠ 0 or b < 0] is 0 where a = 0 ≤ b; both stay finite and
        // differentiable (a mask times 0·∞ would be NaN).
        Ok(Tensor::from_op("pow", &[self, exponent], out, |ctx| {
            let (a, b) = (ctx.input(0), ctx.input(1));
            let masked_base = |keep: fn(T, T) -> bool| -> Result<Tensor<T>> {
                let m = Tensor::from_array(zip_map("pow", a.read().view(), b.read().view(), |a, b| {
                    if keep(a, b) { T::one() } else { T::zero() }
                })?);
                a.mul(&m)?.add(&m.rsub_scalar(T::one()))
            };
            Ok(vec![
                reduced(ctx, 0, || {
                    let base = masked_base(|_, b| b != T::zero())?;
                    ctx.grad.mul(&b.mul(&base.pow(&b.sub_scalar(T::one()))?)?)
                })?,
                reduced(ctx, 1, || {
                    let base = masked_base(|a, b| a != T::zero() || b < T::zero())?;
                    ctx.grad.mul(&ctx.output.mul(&base.log())?)
                })?,
            ])
        }))
    }

    /// The larger of `self` and `other` elementwise, broadcasting.
    ///
    /// The gradient goes to whichever input is larger; at ties (where the op
    /// is not differentiable) it goes to `self`.
    pub fn maximum(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.select_by("maximum", other, |a, b| a >= b)
    }

    /// The smaller of `self` and `other` elementwise, broadcasting.
    ///
    /// The gradient goes to whichever input is smaller; at ties it goes to `self`.
    pub fn minimum(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        self.select_by("minimum", other, |a, b| a <= b)
    }

    /// `where(pick_self(a, b), a, b)`: the shared body of maximum and minimum.
    fn select_by(
        &self,
        op: &'static str,
        other: &Tensor<T>,
        pick_self: fn(T, T) -> bool,
    ) -> Result<Tensor<T>> {
        let (a, b) = (self.read().view().to_shared(), other.read().view().to_shared());
        let out = zip_map(op, a.view(), b.view(), |x, y| if pick_self(x, y) { x } else { y })?;
        // mask = 1 where `self` was picked. ∂y/∂a = mask, ∂y/∂b = 1 − mask.
        // The mask is a constant: its derivative is zero wherever it is defined.
        let mask = Tensor::from_array(zip_map(op, a.view(), b.view(), |x, y| {
            if pick_self(x, y) { T::one() } else { T::zero() }
        })?);
        Ok(Tensor::from_op(op, &[self, other], out, move |ctx| {
            Ok(vec![
                reduced(ctx, 0, || ctx.grad.mul(&mask))?,
                reduced(ctx, 1, || ctx.grad.mul(&mask.neg().add_scalar(T::one())))?,
            ])
        }))
    }
}
