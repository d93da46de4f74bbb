//! `broadcast_to` and `sum_to`: the two halves of broadcasting.
//!
//! They are each other's adjoint. Broadcasting copies a value to many places,
//! so the gradient of the copy is the *sum* of the gradients of the places:
//!
//! ```text
//! y = broadcast_to(x, S)   ⇒   x̄ = sum_to(ȳ, shape(x))
//! y = sum_to(x, S)         ⇒   x̄ = broadcast_to(ȳ, shape(x))
//! ```
//!
//! Every elementwise op with broadcasting ends its backward with `sum_to`, which
//! is how a bias of shape `[F]` added to a batch `[N, F]` gets its gradient
//! summed over the batch.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_shape.rs`.

use crate::kernels::elementwise::{broadcast_map, broadcast_shape, sum_to_shape};
use crate::{Element, Result, Tensor, TensorError};
use ndarray::IxDyn;

impl<T: Element> Tensor<T> {
    /// This tensor repeated (NumPy-style) to `shape`, materialised
    /// (PyTorch's `torch.broadcast_to` / `x.expand(shape)`, which are views).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let own = self.shape();
        if own == shape {
            return Ok(self.clone());
        }
        if broadcast_shape("broadcast_to", &own, shape)? != shape {
            return Err(TensorError::shape(
                "broadcast_to",
                format!("{own:?} cannot be broadcast to {shape:?}"),
            ));
        }
        let out = broadcast_map(self.read().view(), shape, |v| v)?;
        // y = broadcast_to(x)  ⇒  x̄ = sum_to(ȳ, shape(x))
        Ok(Tensor::from_op("broadcast_to", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.sum_to(&own)?)])
        }))
    }

    /// Sums this tensor down to `shape`, which must broadcast to this tensor's
    /// shape: leading extra axes are summed away, and axes where `shape` has
    /// size 1 are summed with the dimension kept. PyTorch's
    /// `x.sum_to_size(shape)` (which keeps the rank; here a shorter `shape`
    /// drops the leading axes).
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let own = self.shape();
        if own == shape {
            return Ok(self.clone());
        }
        if shape.len() > own.len() || broadcast_shape("sum_to", shape, &own)? != own {
            return Err(TensorError::shape(
                "sum_to",
                format!("{own:?} cannot be summed down to {shape:?}"),
            ));
        }
        // The target with `own`'s rank (leading axes as size 1), summed
        // down to in one pass, then given the target's own rank.
        let mut kept = vec![1; own.len() - shape.len()];
        kept.extend_from_slice(shape);
        let summed = sum_to_shape(self.read().view(), &kept)
            .into_shape_with_order(IxDyn(shape))
            .expect("same size");
        // y = sum_to(x)  ⇒  x̄ = broadcast_to(ȳ, shape(x))
        Ok(Tensor::from_op("sum_to", &[self], summed, move |ctx| {
            Ok(vec![Some(ctx.grad.broadcast_to(&own)?)])
        }))
    }
}
