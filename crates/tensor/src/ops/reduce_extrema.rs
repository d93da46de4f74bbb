//! Reductions that pick one element: maximum and minimum (and their
//! arg-versions).
//!
//! Max and min pick one input per output, so the whole gradient goes to the
//! picked element and none to the others:
//!
//! ```text
//! y = max_i x_i   ⇒   x̄_i = ȳ · [i = argmax x]
//! ```
//!
//! At a tie the function has no derivative; by convention the gradient goes to
//! the *first* of the tied elements (in row-major order, or along the axis).
//! The one-hot mask is a constant built from the forward data, so the backward
//! `x̄ = mask ⊙ ȳ` is itself differentiable (its own derivative in `x` is zero,
//! as it should be for a piecewise-linear function).
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_reduce.rs`.

use super::reduce::keepdim_shape;
use crate::{Dim, Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, Axis, IxDyn, Zip};

/// Which extremum an op looks for.
#[derive(Clone, Copy)]
enum Extremum {
    Max,
    Min,
}

impl Extremum {
    /// Whether `candidate` should replace `best`. Strict comparison keeps the
    /// first of equal values; a NaN wins over any number, so that NaN
    /// propagates (as in PyTorch) instead of being silently skipped.
    fn beats<T: Element>(self, candidate: T, best: T) -> bool {
        if candidate.is_nan() {
            return !best.is_nan();
        }
        match self {
            Extremum::Max => candidate > best,
            Extremum::Min => candidate < best,
        }
    }

    /// The value of the extremum of no elements (the identity of max or min).
    fn identity<T: Element>(self) -> T {
        match self {
            Extremum::Max => T::neg_infinity(),
            Extremum::Min => T::infinity(),
        }
    }
}

/// The index and value of the first extremum of `values` (`None` if there
/// are none).
fn arg_extremum<'a, T: Element>(
    which: Extremum,
    values: impl IntoIterator<Item = &'a T>,
) -> Option<(usize, T)> {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in values.into_iter().enumerate() {
        if best.is_none_or(|(_, b)| which.beats(v, b)) {
            best = Some((i, v));
        }
    }
    best
}

impl<T: Element> Tensor<T> {
    /// The largest element, as a rank-0 tensor (PyTorch's `x.max()`, `x.amax()`); NaN if any element is NaN,
    /// −∞ for an empty tensor.
    ///
    /// The gradient goes to the largest element; at a tie, to the first one in
    /// row-major order.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 5.0, 5.0, -2.0], &[2, 2])?.with_requires_grad();
    /// let y = x.max();
    /// y.backward()?;
    /// assert_eq!(y.item()?, 5.0);
    /// assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0]); // first of the tie
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn max(&self) -> Tensor<T> {
        self.extremum_all("max", Extremum::Max)
    }

    /// The smallest element, as a rank-0 tensor; NaN if any element is NaN,
    /// +∞ for an empty tensor. At a tie the gradient goes to the first one.
    pub fn min(&self) -> Tensor<T> {
        self.extremum_all("min", Extremum::Min)
    }

    /// The largest element along `axis`; with `keepdim` that axis stays as
    /// size 1. PyTorch's `torch.amax(x, dim, keepdim)` (the values of
    /// `x.max(dim)`); a negative axis counts from the back. At a tie the gradient goes to the element with the lowest index
    /// along `axis`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 7.0, 3.0, 4.0, 0.0, 9.0], &[2, 3])?;
    /// assert_eq!(x.max_axis(1, false)?.to_vec(), vec![7.0, 9.0]);
    /// assert_eq!(x.max_axis(0, true)?.shape(), vec![1, 3]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn max_axis(&self, axis: impl Dim, keepdim: bool) -> Result<Tensor<T>> {
        self.extremum_axis("max_axis", Extremum::Max, axis, keepdim)
    }

    /// The smallest element along `axis` (PyTorch's `torch.amin(x, dim, keepdim)`);
    /// see [`max_axis`](Self::max_axis).
    pub fn min_axis(&self, axis: impl Dim, keepdim: bool) -> Result<Tensor<T>> {
        self.extremum_axis("min_axis", Extremum::Min, axis, keepdim)
    }

    /// The index along `axis` of the largest element of each lane (the first
    /// on ties), in row-major order of the other axes (PyTorch's
    /// `x.argmax(dim)`, flattened). Not differentiable:
    /// indices are plain numbers. Used, for example, to turn class scores into
    /// predicted labels.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let scores = Tensor::<f32>::from_vec(vec![0.1, 0.7, 0.2, 0.5, 0.3, 0.2], &[2, 3])?;
    /// assert_eq!(scores.argmax_axis(1)?, vec![1, 0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn argmax_axis(&self, axis: impl Dim) -> Result<Vec<usize>> {
        Ok(self
            .arg_extremum_axis("argmax_axis", Extremum::Max, axis)?
            .1
            .iter()
            .map(|&(i, _)| i)
            .collect())
    }

    /// The index along `axis` of the smallest element of each lane (the first
    /// on ties); see [`argmax_axis`](Self::argmax_axis).
    pub fn argmin_axis(&self, axis: impl Dim) -> Result<Vec<usize>> {
        Ok(self
            .arg_extremum_axis("argmin_axis", Extremum::Min, axis)?
            .1
            .iter()
            .map(|&(i, _)| i)
            .collect())
    }

    /// `max` or `min` over all elements.
    fn extremum_all(&self, op: &'static str, which: Extremum) -> Tensor<T> {
        // `iter` walks in row-major order whatever the memory layout, so `k`
        // is a row-major position.
        let found = arg_extremum(which, self.read().iter());
        let value = found.map_or(which.identity(), |(_, v)| v);
        let position = found.map(|(k, _)| k);
        let shape = self.shape();
        let out = ArrayD::from_elem(IxDyn(&[]), value);
        // y = x_k with k = argmax  ⇒  x̄ = ȳ · one_hot(k), ȳ broadcast from rank 0.
        Tensor::from_op(op, &[self], out, move |ctx| {
            let mut mask = ArrayD::<T>::zeros(IxDyn(&shape));
            if let Some(k) = position {
                mask.as_slice_mut().expect("a new array is contiguous")[k] = T::one();
            }
            Ok(vec![Some(ctx.grad.mul(&Tensor::from_array(mask))?)])
        })
    }

    /// For each lane along `axis`, the index and value of its extremum, as an
    /// array of the shape with `axis` removed.
    fn arg_extremum_axis(
        &self,
        op: &'static str,
        which: Extremum,
        axis: impl Dim,
    ) -> Result<(usize, ArrayD<(usize, T)>)> {
        let data = self.read();
        let shape = data.shape();
        let axis = crate::dim::resolve(op, axis, shape)?;
        if shape[axis] == 0 {
            return Err(TensorError::argument(
                op,
                format!("axis {axis} of shape {shape:?} is empty: it has no extremum"),
            ));
        }
        let found = Zip::from(data.lanes(Axis(axis)))
            .map_collect(|lane| arg_extremum(which, lane).expect("the lane is not empty"));
        Ok((axis, found))
    }

    /// `max_axis` or `min_axis`.
    fn extremum_axis(
        &self,
        op: &'static str,
        which: Extremum,
        axis: impl Dim,
        keepdim: bool,
    ) -> Result<Tensor<T>> {
        let (axis, found) = self.arg_extremum_axis(op, which, axis)?;
        let indices = found.mapv(|(i, _)| i);
        let values = found.mapv(|(_, v)| v);
        let shape = self.shape();
        let kept = keepdim_shape(&shape, &[axis]);
        let values = if keepdim {
            values.insert_axis(Axis(axis))
        } else {
            values
        };
        // y_j = x_{j, k_j} with k_j = argmax along the axis
        //   ⇒  x̄ = one_hot(k) ⊙ ȳ, with ȳ's axis restored as size 1 and broadcast.
        Ok(Tensor::from_op(op, &[self], values, move |ctx| {
            let mut mask = ArrayD::<T>::zeros(IxDyn(&shape));
            Zip::from(mask.lanes_mut(Axis(axis)))
                .and(&indices)
                .for_each(|mut lane, &i| lane[i] = T::one());
            Ok(vec![Some(
                ctx.grad.reshape(&kept)?.mul(&Tensor::from_array(mask))?,
            )])
        }))
    }
}
