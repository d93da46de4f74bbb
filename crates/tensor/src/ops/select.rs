//! Picking parts of a tensor, and the reverse: narrow, slice (strided),
//! index_select, index_add_rows and pad.
//!
//! The ops come in adjoint pairs. Picking elements out moves each picked
//! element's gradient back to where it came from and leaves zeros elsewhere;
//! putting elements in (padding, scatter-adding) picks the gradient back out:
//!
//! ```text
//! y = narrow(x, axis, s, len)      ⇒  x̄ = pad(ȳ, (s, size − s − len) on axis)
//! y = slice(x, axis, s, e, k)      ⇒  x̄ = ȳ with k − 1 zeros after each entry, padded as narrow's
//! y = pad(x, [(b_a, e_a)]_a)       ⇒  x̄ = narrow(ȳ, a, b_a, size_a) on every axis a
//! y = index_select(x, a, idx)      ⇒  x̄ = index_add(ȳ, a, idx, size_a(x))
//! y = index_add(x, a, idx, r)      ⇒  x̄ = index_select(ȳ, a, idx)
//! ```
//!
//! Since each backward is the other op of its pair, both are differentiable
//! to any order.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_shape.rs` and (for the PyTorch forms) `crates/tensor/tests/gradcheck_pytorch_semantics.rs`.

use crate::{Dim, Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, Axis, IxDyn, Slice};

impl<T: Element> Tensor<T> {
    /// The `len` entries `start..start + len` along `axis`: a view sharing
    /// this tensor's buffer (no element is copied). PyTorch's
    /// `x.narrow(dim, start, length)`; a negative axis counts from the back.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[2, 3])?;
    /// assert_eq!(x.narrow(1, 1, 2)?.to_vec(), vec![1.0, 2.0, 4.0, 5.0]);
    /// assert_eq!(x.narrow(-1, 1, 2)?.to_vec(), vec![1.0, 2.0, 4.0, 5.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn narrow(&self, axis: impl Dim, start: usize, len: usize) -> Result<Tensor<T>> {
        let shape = self.shape();
        let axis = crate::dim::resolve("narrow", axis, &shape)?;
        let size = shape[axis];
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

    /// Every `step`-th entry of `start..end` along `axis`: PyTorch's
    /// `x[..., start:end:step]` on that axis (`end` past the size is cut to
    /// it, as in Python; `step ≥ 1`, as PyTorch requires). A view sharing
    /// this tensor's buffer.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec((0..8).map(f64::from).collect(), &[1, 8])?;
    /// assert_eq!(x.slice(1, 1, 7, 2)?.to_vec(), vec![1.0, 3.0, 5.0]); // x[:, 1:7:2]
    /// assert_eq!(x.slice(-1, 6, 100, 4)?.to_vec(), vec![6.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn slice(&self, axis: impl Dim, start: usize, end: usize, step: usize) -> Result<Tensor<T>> {
        let shape = self.shape();
        let axis = crate::dim::resolve("slice", axis, &shape)?;
        let size = shape[axis];
        if step == 0 {
            return Err(TensorError::argument(
                "slice",
                format!("the step must be at least 1; axis {axis} of shape {shape:?}"),
            ));
        }
        let end = end.min(size);
        let start = start.min(end);
        if step == 1 {
            return self.narrow(axis, start, end - start);
        }
        let picked = (end - start).div_ceil(step);
        let out = self.array().slice_axis_move(
            Axis(axis),
            Slice::new(start as isize, Some(end as isize), step as isize),
        );
        // y_i = x_{start + i·step}  ⇒  x̄ = ȳ spread out with step − 1 zeros
        // after each entry, then zeros before `start` and after the last one.
        // Built from unsqueeze, pad, reshape and narrow, whose backwards pick
        // the entries out again: differentiable to any order.
        Ok(Tensor::from_op("slice", &[self], out, move |ctx| {
            let g = ctx.grad;
            let mut grad_shape = g.shape();
            if picked == 0 {
                return Ok(vec![Some(Tensor::zeros(&shape))]);
            }
            let mut spread = vec![(0, 0); grad_shape.len() + 1];
            spread[axis + 1] = (0, step - 1);
            grad_shape[axis] = picked * step;
            let taken = (picked * step).min(size - start);
            let mut around = vec![(0, 0); shape.len()];
            around[axis] = (start, size - start - taken);
            let grad = g
                .unsqueeze(axis + 1)?
                .pad(&spread)?
                .reshape(&grad_shape)?
                .narrow(axis, 0, taken)?
                .pad(&around)?;
            Ok(vec![Some(grad)])
        }))
    }

    /// The entries at `indices` along `axis`, in that order; an index may
    /// repeat. The result has `indices.len()` entries on that axis. PyTorch's
    /// `x.index_select(dim, index)`; a negative axis counts from the back.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
    /// assert_eq!(x.index_select(0, &[2, 0, 2])?.to_vec(), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    /// assert_eq!(x.index_select(-1, &[1])?.to_vec(), vec![2.0, 4.0, 6.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn index_select(&self, axis: impl Dim, indices: &[usize]) -> Result<Tensor<T>> {
        let shape = self.shape();
        if shape.is_empty() {
            return Err(TensorError::argument(
                "index_select",
                "a rank-0 tensor has no axis to select along",
            ));
        }
        let axis = crate::dim::resolve("index_select", axis, &shape)?;
        let size = shape[axis];
        check_rows("index_select", indices, size, &shape)?;
        let out = self.read().select(Axis(axis), indices);
        let indices = indices.to_vec();
        // y_i = x_{idx_i} along the axis  ⇒  x̄_r = Σ_{i : idx_i = r} ȳ_i
        // (an entry picked twice gets both gradients)
        Ok(Tensor::from_op("index_select", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.index_add_axis(axis, &indices, size)?)])
        }))
    }

    /// Scatter-add by rows: a zero tensor with `rows` rows and this tensor's
    /// other axes, into whose row `indices[i]` row `i` of this tensor is added.
    /// Repeated indices accumulate. This is the adjoint of
    /// [`index_select`](Self::index_select) on axis 0 (and its backward);
    /// PyTorch's `torch.zeros(rows, …).index_add(0, index, x)`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3, 1])?;
    /// assert_eq!(x.index_add_rows(&[1, 0, 1], 2)?.to_vec(), vec![2.0, 4.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn index_add_rows(&self, indices: &[usize], rows: usize) -> Result<Tensor<T>> {
        if self.ndim() == 0 {
            return Err(TensorError::shape(
                "index_add_rows",
                format!(
                    "{} indices need a tensor of {} rows, got a rank-0 tensor",
                    indices.len(),
                    indices.len()
                ),
            ));
        }
        self.index_add_axis(0, indices, rows)
    }

    /// [`index_add_rows`](Self::index_add_rows) along any (resolved) axis:
    /// the adjoint of `index_select` on that axis.
    fn index_add_axis(&self, axis: usize, indices: &[usize], size: usize) -> Result<Tensor<T>> {
        const OP: &str = "index_add_rows";
        let shape = self.shape();
        if shape[axis] != indices.len() {
            return Err(TensorError::shape(
                OP,
                format!(
                    "{} indices need a tensor of {} entries along axis {axis}, got shape {shape:?}",
                    indices.len(),
                    indices.len()
                ),
            ));
        }
        let mut out_shape = shape.clone();
        out_shape[axis] = size;
        check_rows(OP, indices, size, &out_shape)?;
        let mut out = ArrayD::<T>::zeros(IxDyn(&out_shape));
        {
            let data = self.read();
            // In index order, on one thread: the sums into a repeated entry
            // are always added in the same order, so the result is reproducible.
            for (source, &target) in data.axis_iter(Axis(axis)).zip(indices) {
                let mut row = out.index_axis_mut(Axis(axis), target);
                row += &source;
            }
        }
        let indices = indices.to_vec();
        // y_r = Σ_{i : idx_i = r} x_i  ⇒  x̄_i = ȳ_{idx_i}
        Ok(Tensor::from_op(OP, &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.index_select(axis, &indices)?)])
        }))
    }

    /// Zeros added around the values: `padding[a] = (before, after)` entries
    /// on axis `a`. `padding` has one pair per axis, first axis first; PyTorch's
    /// `F.pad(x, pad)` lists the pairs the other way round, last axis first,
    /// flattened: `pad(&[(0, 1), (2, 0)])` is `F.pad(x, (2, 0, 0, 1))`.
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
                "index {index} (position {position} of the indices) is out of range for {rows} entries (shape {shape:?})"
            ),
        )),
        None => Ok(()),
    }
}
