//! Picking parts of a tensor, and the reverse: narrow, index_select,
//! index_add_rows and pad.
//!
//! The ops come in adjoint pairs. Picking elements out moves each picked
//! element's gradient back to where it came from and leaves zeros elsewhere;
//! putting elements in (padding, scatter-adding) picks the gradient back out:
//!
//! ```text
//! y = narrow(x, axis, s, len)      ⇒  x̄ = pad(ȳ, (s, size − s − len) on axis)
//! y = pad(x, [(b_a, e_a)]_a)       ⇒  x̄ = narrow(ȳ, a, b_a, size_a) on every axis a
//! y = index_select(x, idx)         ⇒  x̄ = index_add_rows(ȳ, idx, rows(x))
//! y = index_add_rows(x, idx, r)    ⇒  x̄ = index_select(ȳ, idx)
//! ```
//!
//! Since each backward is the other op of its pair, both are differentiable
//! to any order.
//!
//! Gradient checks: `tests/gradcheck_shape.rs`.

use crate::{Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, Axis, IxDyn, Slice};

impl<T: Element> Tensor<T> {
    /// The `len` entries `start..start + len` along `axis`: a view sharing
    /// this tensor's buffer (no element is copied).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[2, 3])?;
    /// assert_eq!(x.narrow(1, 1, 2)?.to_vec(), vec![1.0, 2.0, 4.0, 5.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Tensor<T>> {
        let shape = self.shape();
        let Some(&size) = shape.get(axis) else {
            return Err(TensorError::argument(
                "narrow",
                format!("axis {axis} is out of range for shape {shape:?}"),
            ));
        };
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(TensorError::argument(
                "narrow",
                format!(
                    "entries {start}..{start}+{len} do not fit in axis {axis} (size {size}) of shape {shape:?}"
                ),
            ));
        }
        if start == 0 && len == size {
            return Ok(self.clone());
        }
        // Slicing an ArcArray in place moves its pointer and shrinks its
        // shape: the buffer stays shared.
        let out = self
            .array()
            .slice_axis_move(Axis(axis), Slice::from(start..start + len));
        let mut padding = vec![(0, 0); shape.len()];
        padding[axis] = (start, size - start - len);
        // x̄ = ȳ with zeros put back before and after the narrowed range
        Ok(Tensor::from_op("narrow", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.pad(&padding)?)])
        }))
    }

    /// The rows (entries along axis 0) at `indices`, in that order; an index
    /// may repeat. The result has shape `[indices.len(), rest of self's shape]`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
    /// assert_eq!(x.index_select(&[2, 0, 2])?.to_vec(), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn index_select(&self, indices: &[usize]) -> Result<Tensor<T>> {
        let shape = self.shape();
        let Some(&rows) = shape.first() else {
            return Err(TensorError::argument(
                "index_select",
                "a rank-0 tensor has no rows to select",
            ));
        };
        check_rows("index_select", indices, rows, &shape)?;
        let out = self.read().select(Axis(0), indices);
        let indices = indices.to_vec();
        // y_i = x_{idx_i}  ⇒  x̄_r = Σ_{i : idx_i = r} ȳ_i  (a row picked twice gets both gradients)
        Ok(Tensor::from_op("index_select", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.index_add_rows(&indices, rows)?)])
        }))
    }

    /// Scatter-add by rows: a zero tensor with `rows` rows and this tensor's
    /// other axes, into whose row `indices[i]` row `i` of this tensor is added.
    /// Repeated indices accumulate. This is the adjoint of
    /// [`index_select`](Self::index_select) (and its backward).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3, 1])?;
    /// assert_eq!(x.index_add_rows(&[1, 0, 1], 2)?.to_vec(), vec![2.0, 4.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn index_add_rows(&self, indices: &[usize], rows: usize) -> Result<Tensor<T>> {
        let shape = self.shape();
        if shape.first() != Some(&indices.len()) {
            return Err(TensorError::shape(
                "index_add_rows",
                format!(
                    "{} indices need a tensor of {} rows, got shape {shape:?}",
                    indices.len(),
                    indices.len()
                ),
            ));
        }
        let mut out_shape = shape.clone();
        out_shape[0] = rows;
        check_rows("index_add_rows", indices, rows, &out_shape)?;
        let mut out = ArrayD::<T>::zeros(IxDyn(&out_shape));
        {
            let data = self.read();
            // In index order, on one thread: the sums into a repeated row are
            // always added in the same order, so the result is reproducible.
            for (source, &target) in data.outer_iter().zip(indices) {
                let mut row = out.index_axis_mut(Axis(0), target);
                row += &source;
            }
        }
        let indices = indices.to_vec();
        // y_r = Σ_{i : idx_i = r} x_i  ⇒  x̄_i = ȳ_{idx_i}
        Ok(Tensor::from_op("index_add_rows", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.index_select(&indices)?)])
        }))
    }

    /// Zeros added around the values: `padding[a] = (before, after)` entries
    /// on axis `a`. `padding` has one pair per axis.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[1, 2])?;
    /// let y = x.pad(&[(0, 1), (2, 0)])?;
    /// assert_eq!(y.shape(), vec![2, 4]);
    /// assert_eq!(y.to_vec(), vec![0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn pad(&self, padding: &[(usize, usize)]) -> Result<Tensor<T>> {
        let shape = self.shape();
        if padding.len() != shape.len() {
            return Err(TensorError::argument(
                "pad",
                format!(
                    "{} (before, after) pairs for the {} axes of shape {shape:?}",
                    padding.len(),
                    shape.len()
                ),
            ));
        }
        if padding.iter().all(|&p| p == (0, 0)) {
            return Ok(self.clone());
        }
        let out_shape = shape
            .iter()
            .zip(padding)
            .map(|(&size, &(before, after))| size.checked_add(before)?.checked_add(after))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| {
                TensorError::argument("pad", format!("padding {padding:?} of shape {shape:?} overflows"))
            })?;
        let mut out = ArrayD::<T>::zeros(IxDyn(&out_shape));
        out.slice_each_axis_mut(|ax| {
            let (before, _) = padding[ax.axis.index()];
            Slice::from(before..before + shape[ax.axis.index()])
        })
        .assign(&*self.read());
        let padding = padding.to_vec();
        // x̄ = ȳ with the padding cut off again, axis by axis (each cut is a view)
        Ok(Tensor::from_op("pad", &[self], out, move |ctx| {
            let mut grad = ctx.grad.clone();
            for (axis, (&(before, after), &size)) in padding.iter().zip(&shape).enumerate() {
                if before != 0 || after != 0 {
                    grad = grad.narrow(axis, before, size)?;
                }
            }
            Ok(vec![Some(grad)])
        }))
    }
}

/// Checks that every index picks one of `rows` rows of `shape`.
fn check_rows(op: &'static str, indices: &[usize], rows: usize, shape: &[usize]) -> Result<()> {
    match indices.iter().enumerate().find(|&(_, &r)| r >= rows) {
        Some((position, &index)) => Err(TensorError::argument(
            op,
            format!(
                "index {index} (position {position} of the indices) is out of range for {rows} rows of shape {shape:?}"
            ),
        )),
        None => Ok(()),
    }
}
