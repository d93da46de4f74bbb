//! Shape conveniences built on [`reshape`](crate::Tensor::reshape): flatten,
//! squeeze and unsqueeze.
//!
//! Each only renames the shape of the same row-major values, so it is a
//! reshape, and its backward is reshape's: `x̄ = reshape(ȳ, shape(x))`.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_shape.rs`.

use crate::{Dim, Element, Result, Tensor, TensorError};

impl<T: Element> Tensor<T> {
    /// Axes `start..=end` (inclusive, like PyTorch's `x.flatten(start, end)`)
    /// merged into one; a negative axis counts from the back.
    ///
    /// `flatten(1, ndim − 1)` turns a batch of images `[N, C, H, W]` into a
    /// batch of vectors `[N, C·H·W]`, as a Flatten layer does.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::zeros(&[2, 3, 4, 5]);
    /// assert_eq!(x.flatten(1, 3)?.shape(), vec![2, 60]);
    /// assert_eq!(x.flatten(0, 1)?.shape(), vec![6, 4, 5]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn flatten(&self, start: impl Dim, end: impl Dim) -> Result<Tensor<T>> {
        let shape = self.shape();
        let (start, end) = (
            crate::dim::resolve("flatten", start, &shape)?,
            crate::dim::resolve("flatten", end, &shape)?,
        );
        if start > end {
            return Err(TensorError::argument(
                "flatten",
                format!(
                    "axes {start}..={end} are not a range of the {} axes of shape {shape:?}",
                    shape.len()
                ),
            ));
        }
        let merged: usize = shape[start..=end].iter().product();
        let new_shape: Vec<usize> = shape[..start]
            .iter()
            .copied()
            .chain(std::iter::once(merged))
            .chain(shape[end + 1..].iter().copied())
            .collect();
        self.reshape(&new_shape)
    }

    /// The size-1 axis `axis` removed (PyTorch's `x.squeeze(dim)`; a negative
    /// axis counts from the back). Fails if that axis is not of size 1, where
    /// PyTorch would return the tensor unchanged.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::zeros(&[3, 1, 4]);
    /// assert_eq!(x.squeeze(1)?.shape(), vec![3, 4]);
    /// assert!(x.squeeze(0).is_err());
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn squeeze(&self, axis: impl Dim) -> Result<Tensor<T>> {
        let mut shape = self.shape();
        let axis = crate::dim::resolve("squeeze", axis, &shape)?;
        if shape[axis] != 1 {
            return Err(TensorError::argument(
                "squeeze",
                format!("axis {axis} of shape {shape:?} has size {}, not 1", shape[axis]),
            ));
        }
        shape.remove(axis);
        self.reshape(&shape)
    }

    /// A new size-1 axis inserted at position `axis` (`0..=ndim`, or
    /// `-ndim-1..0` counting from the back, as in PyTorch's `x.unsqueeze(dim)`:
    /// `-1` appends).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::zeros(&[3, 4]);
    /// assert_eq!(x.unsqueeze(0)?.shape(), vec![1, 3, 4]);
    /// assert_eq!(x.unsqueeze(2)?.shape(), vec![3, 4, 1]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn unsqueeze(&self, axis: impl Dim) -> Result<Tensor<T>> {
        let mut shape = self.shape();
        let axis = crate::dim::resolve_in("unsqueeze", axis, shape.len() + 1, &shape)?;
        shape.insert(axis, 1);
        self.reshape(&shape)
    }
}
