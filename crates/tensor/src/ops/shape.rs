//! Ops that change how values are arranged, not the values: reshape,
//! permute and transpose.
//!
//! Each moves every element somewhere else, one-to-one, so its backward is the
//! inverse arrangement applied to the gradient:
//!
//! ```text
//! y = reshape(x, S)      ⇒  x̄ = reshape(ȳ, shape(x))
//! y = permute(x, p)      ⇒  x̄ = permute(ȳ, p⁻¹)
//! ```
//!
//! Permute and transpose are views: no element is copied.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_shape.rs`.

use crate::{Dim, Element, Result, Tensor, TensorError};
use ndarray::IxDyn;

impl<T: Element> Tensor<T> {
    /// The same values in a new shape with the same number of elements
    /// (row-major order). Copies only if the tensor is not contiguous.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let own = self.shape();
        if own.iter().product::<usize>() != shape.iter().product::<usize>() {
            return Err(TensorError::shape(
                "reshape",
                format!(
                    "cannot reshape {own:?} ({} elements) to {shape:?} ({} elements)",
                    own.iter().product::<usize>(),
                    shape.iter().product::<usize>()
                ),
            ));
        }
        if own == shape {
            return Ok(self.clone());
        }
        let data = self.array();
        let data = if data.is_standard_layout() {
            data
        } else {
            data.as_standard_layout().into_owned().into_shared()
        };
        let out = data
            .into_shape_with_order(IxDyn(shape))
            .expect("sizes checked above");
        // x̄ = reshape(ȳ, shape(x))
        Ok(Tensor::from_op("reshape", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.reshape(&own)?)])
        }))
    }

    /// The axes reordered: axis `i` of the result is axis `axes[i]` of `self`
    /// (PyTorch's `x.permute(dims)`; a negative axis counts from the back).
    pub fn permute(&self, axes: &[impl Dim]) -> Result<Tensor<T>> {
        let shape = self.shape();
        let ndim = shape.len();
        let axes = crate::dim::resolve_all("permute", axes, &shape)?;
        let mut seen = vec![false; ndim];
        let valid = axes.len() == ndim && axes.iter().all(|&a| !std::mem::replace(&mut seen[a], true));
        if !valid {
            return Err(TensorError::argument(
                "permute",
                format!("{axes:?} is not a permutation of the {ndim} axes of shape {shape:?}"),
            ));
        }
        let out = self.array().permuted_axes(IxDyn(&axes));
        let mut inverse = vec![0; ndim];
        for (i, &a) in axes.iter().enumerate() {
            inverse[a] = i;
        }
        // x̄ = permute(ȳ, p⁻¹)
        Ok(Tensor::from_op("permute", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.permute(&inverse)?)])
        }))
    }

    /// Axes `a` and `b` swapped (a view). PyTorch's `x.transpose(a, b)`; a
    /// negative axis counts from the back.
    pub fn transpose(&self, a: impl Dim, b: impl Dim) -> Result<Tensor<T>> {
        let shape = self.shape();
        let (a, b) = (
            crate::dim::resolve("transpose", a, &shape)?,
            crate::dim::resolve("transpose", b, &shape)?,
        );
        let mut axes: Vec<usize> = (0..shape.len()).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }

    /// The last two axes swapped: the matrix transpose, batched (PyTorch's
    /// `x.mT`; its `x.t()` takes 2-D tensors only).
    pub fn t(&self) -> Result<Tensor<T>> {
        let ndim = self.ndim();
        if ndim < 2 {
            return Err(TensorError::argument(
                "t",
                format!("needs at least 2 dimensions, got shape {:?}", self.shape()),
            ));
        }
        self.transpose(ndim - 2, ndim - 1)
    }
}
