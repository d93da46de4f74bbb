//! Joining tensors: concat (along an existing axis) and stack (along a new
//! one).
//!
//! Concatenation places each input in its own range of the output along the
//! axis, so each input's gradient is the gradient of its range:
//!
//! ```text
//! y = concat(x₀, x₁, …; axis)   ⇒   x̄_i = narrow(ȳ, axis, o_i, n_i)
//! ```
//!
//! where `o_i = n₀ + … + n_{i−1}` is where input `i` starts and `n_i` its size
//! along the axis. Narrow is a view, so this backward copies nothing.
//! `stack` is `unsqueeze` on every input followed by `concat`, and gets its
//! gradient from those two.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_shape.rs`.

use crate::{Dim, Element, Result, Tensor, TensorError};
use ndarray::Axis;

impl<T: Element> Tensor<T> {
    /// The tensors joined along an existing `axis`. They must have the same
    /// rank and the same sizes on every other axis. PyTorch's
    /// `torch.cat(tensors, dim)`; a negative axis counts from the back.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let a = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[1, 2])?;
    /// let b = Tensor::<f64>::from_vec(vec![3.0, 4.0, 5.0, 6.0], &[2, 2])?;
    /// let y = Tensor::concat(&[&a, &b], 0)?;
    /// assert_eq!(y.shape(), vec![3, 2]);
    /// assert_eq!(y.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn concat(tensors: &[&Tensor<T>], axis: impl Dim) -> Result<Tensor<T>> {
        let Some(first) = tensors.first() else {
            return Err(TensorError::argument(
                "concat",
                "needs at least one tensor, got none",
            ));
        };
        // Cheap clones of the shared buffers: no lock is held while copying.
        let arrays: Vec<_> = tensors.iter().map(|t| t.array()).collect();
        let first_shape = arrays[0].shape();
        // (tensor 0's shape; `stack` joins along a new axis)
        let axis = crate::dim::resolve("concat", axis, first_shape)?;
        for (index, array) in arrays.iter().enumerate().skip(1) {
            let shape = array.shape();
            let fits = shape.len() == first_shape.len()
                && shape
                    .iter()
                    .zip(first_shape)
                    .enumerate()
                    .all(|(a, (x, y))| a == axis || x == y);
            if !fits {
                return Err(TensorError::shape(
                    "concat",
                    format!(
                        "tensor {index} has shape {shape:?}, which does not match tensor 0's {first_shape:?} \
                         on the axes other than {axis}"
                    ),
                ));
            }
        }
        if tensors.len() == 1 {
            return Ok((*first).clone());
        }
        let sizes: Vec<usize> = arrays.iter().map(|a| a.shape()[axis]).collect();
        let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
        let out = ndarray::concatenate(Axis(axis), &views)
            .map_err(|e| TensorError::shape("concat", e.to_string()))?;
        // x̄_i = narrow(ȳ, axis, o_i, n_i), with o_i the sum of the sizes before i
        Ok(Tensor::from_op("concat", tensors, out, move |ctx| {
            let mut offset = 0;
            let mut grads = Vec::with_capacity(sizes.len());
            for (i, &size) in sizes.iter().enumerate() {
                grads.push(if ctx.needs(i) {
                    Some(ctx.grad.narrow(axis, offset, size)?)
                } else {
                    None
                });
                offset += size;
            }
            Ok(grads)
        }))
    }

    /// The tensors, which must all have the same shape, joined along a new
    /// axis inserted at position `axis` (`0..=ndim`, or negative from the back
    /// as in PyTorch's `torch.stack(tensors, dim)`).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let a = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])?;
    /// let b = Tensor::<f64>::from_vec(vec![3.0, 4.0], &[2])?;
    /// assert_eq!(Tensor::stack(&[&a, &b], 0)?.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(Tensor::stack(&[&a, &b], 1)?.to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn stack(tensors: &[&Tensor<T>], axis: impl Dim) -> Result<Tensor<T>> {
        let Some(first) = tensors.first() else {
            return Err(TensorError::argument(
                "stack",
                "needs at least one tensor, got none",
            ));
        };
        let first_shape = first.shape();
        let axis = crate::dim::resolve_in("stack", axis, first_shape.len() + 1, &first_shape)?;
        for (index, tensor) in tensors.iter().enumerate().skip(1) {
            let shape = tensor.shape();
            if shape != first_shape {
                return Err(TensorError::shape(
                    "stack",
                    format!("tensor {index} has shape {shape:?}, but tensor 0 has {first_shape:?}"),
                ));
            }
        }
        // stack = concat of the inputs, each with a new size-1 axis: the
        // gradient flows back through concat's narrow and unsqueeze's reshape.
        let expanded = tensors
            .iter()
            .map(|t| t.unsqueeze(axis))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&Tensor<T>> = expanded.iter().collect();
        Tensor::concat(&refs, axis)
    }
}
