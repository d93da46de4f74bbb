//! Shape conveniences built on [`reshape`](crate::Tensor::reshape): flatten,
//! squeeze and unsqueeze.
//!
//! Each only renames the shape of the same row-major values, so it is a
//! reshape, and its backward is reshape's: `x̄ = reshape(ȳ, shape(x))`.
//!
//! Gradient checks: `tests/gradcheck_shape.rs`.

use crate::{Element, Result, Tensor, TensorError};

impl<T: Element> Tensor<T> {
    /// Axes `start..=end` (inclusive, like PyTorch) merged into one.
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
    pub fn flatten(&self, start: usize, end: usize) -> Result<Tensor<T>> {
        let shape = self.shape();
        if start > end || end >= shape.len() {
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

    /// The size-1 axis `axis` removed. Fails if that axis is not of size 1.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::zeros(&[3, 1, 4]);
    /// assert_eq!(x.squeeze(1)?.shape(), vec![3, 4]);
    /// assert!(x.squeeze(0).is_err());
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn squeeze(&self, axis: usize) -> Result<Tensor<T>> {
        let mut shape = self.shape();
        match shape.get(axis) {
            Some(1) => {}
            Some(&size) => {
                return Err(TensorError::argument(
                    "squeeze",
                    format!("axis {axis} of shape {shape:?} has size {size}, not 1"),
                ));
            }
            None => {
                return Err(TensorError::argument(
                    "squeeze",
                    format!("axis {axis} is out of range for shape {shape:?}"),
                ));
            }
        }
        shape.remove(axis);
        self.reshape(&shape)
    }

    /// A new size-1 axis inserted at position `axis` (`0..=ndim`).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::zeros(&[3, 4]);
    /// assert_eq!(x.unsqueeze(0)?.shape(), vec![1, 3, 4]);
    /// assert_eq!(x.unsqueeze(2)?.shape(), vec![3, 4, 1]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn unsqueeze(&self, axis: usize) -> Result<Tensor<T>> {
        let mut shape = self.shape();
        if axis > shape.len() {
            return Err(TensorError::argument(
                "unsqueeze",
                format!(
                    "axis {axis} is out of range for shape {shape:?}: a new axis goes at 0..={}",
                    shape.len()
                ),
            ));
        }
        shape.insert(axis, 1);
        self.reshape(&shape)
    }
}
