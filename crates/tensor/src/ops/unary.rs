//! Elementwise ops of one tensor (and scalar versions of the binary ops).
//!
//! Each op states its derivative `dy/dx` beside its forward; the backward is
//! `x̄ = ȳ · dy/dx`, written with tensor ops so that it can be differentiated
//! again.
//!
//! Gradient checks: `tests/gradcheck_elementwise.rs`.

use crate::kernels::elementwise::map;
use crate::{Element, Tensor};

impl<T: Element> Tensor<T> {
    /// `f` applied elementwise, recorded as op `name` with the given backward
    /// `x̄ = backward(x, y, ȳ)`. The shared skeleton of the unary ops.
    pub(crate) fn unary_op(
        &self,
        name: &'static str,
        f: impl Fn(T) -> T + Sync,
        backward: impl Fn(&Tensor<T>, &Tensor<T>, &Tensor<T>) -> crate::Result<Tensor<T>> + Send + Sync + 'static,
    ) -> Tensor<T> {
        let out = map(self.read().view(), f);
        Tensor::from_op(name, &[self], out, move |ctx| {
            Ok(vec![Some(backward(ctx.input(0), ctx.output, ctx.grad)?)])
        })
    }

    /// `-self`.
    pub fn neg(&self) -> Tensor<T> {
        // d(−x)/dx = −1
        self.unary_op("neg", |x| -x, |_, _, g| Ok(g.neg()))
    }

    /// `self + c` for a scalar `c`.
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        // d(x + c)/dx = 1
        self.unary_op("add_scalar", move |x| x + c, |_, _, g| Ok(g.clone()))
    }

    /// `self * c` for a scalar `c`.
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        // d(c·x)/dx = c
        self.unary_op("mul_scalar", move |x| x * c, move |_, _, g| Ok(g.mul_scalar(c)))
    }
}
