//! Gather and scatter-add by flat (row-major) index: a pair of mutually
//! adjoint linear maps. Max pooling routes its gradient with them.
//!
//! For a fixed index list `idx` (one entry per element of the gathered
//! result), with `x` and `y` read as flat row-major vectors:
//!
//! ```text
//! G(x)[i] = x[idx[i]]                     (gather_flat)
//! S(y)[k] = Σ_{i : idx[i] = k} y[i]       (scatter_add_flat)
//! ```
//!
//! `⟨G(x), y⟩ = Σ_i x[idx[i]]·y[i] = ⟨x, S(y)⟩`, so each is the other's
//! adjoint, and since both are linear, each one's backward is the other:
//!
//! ```text
//! y = G(x)   ⇒   x̄ = S(ȳ)          z = S(y)   ⇒   ȳ = G(z̄)
//! ```
//!
//! The indices are a constant of the op (for max pooling, the arg-max found
//! in the forward pass), so second derivatives need nothing more.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_conv.rs`.

use crate::kernels::{CHUNK, PARALLEL_THRESHOLD};
use crate::{Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;
use std::sync::Arc;

/// Checks the index list against the source length and the result shape.
fn check(op: &'static str, indices: &[usize], count: usize, bound: usize, what: &str) -> Result<()> {
    if indices.len() != count {
        return Err(TensorError::shape(
            op,
            format!("{} indices given for {what} of {count} elements", indices.len()),
        ));
    }
    if let Some((i, &k)) = indices.iter().enumerate().find(|(_, k)| **k >= bound) {
        return Err(TensorError::argument(
            op,
            format!("index {k} (entry {i}) is out of range for {bound} elements"),
        ));
    }
    Ok(())
}

impl<T: Element> Tensor<T> {
    /// Picks elements by flat row-major index: the result has shape
    /// `out_shape` and element `i` (in row-major order) is
    /// `self.flat[indices[i]]`. An index may repeat; its gradient then sums.
    /// In PyTorch: `x.flatten()[index].reshape(out_shape)` (or `torch.take`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![10.0, 20.0, 30.0, 40.0], &[2, 2])?;
    /// let y = x.gather_flat(Arc::from(vec![3, 0, 3]), &[3])?;
    /// assert_eq!(y.to_vec(), vec![40.0, 10.0, 40.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn gather_flat(&self, indices: Arc<[usize]>, out_shape: &[usize]) -> Result<Tensor<T>> {
        let count = out_shape.iter().product();
        check(
            "gather_flat",
            &indices,
            count,
            self.numel(),
            &format!("a result of shape {out_shape:?}"),
        )?;
        Ok(self.gather_unchecked(indices, out_shape))
    }

    /// Adds each element into a zero tensor of shape `out_shape` at a flat
    /// row-major index: `result.flat[indices[i]] += self.flat[i]`, in order of
    /// `i` (so the result never depends on threads). In PyTorch:
    /// `torch.zeros(n).index_add(0, index, x.flatten()).reshape(out_shape)`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tensor::Tensor;
    /// let y = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3])?;
    /// let z = y.scatter_add_flat(Arc::from(vec![3, 0, 3]), &[2, 2])?;
    /// assert_eq!(z.to_vec(), vec![2.0, 0.0, 0.0, 4.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn scatter_add_flat(&self, indices: Arc<[usize]>, out_shape: &[usize]) -> Result<Tensor<T>> {
        let bound = out_shape.iter().product();
        check(
            "scatter_add_flat",
            &indices,
            self.numel(),
            bound,
            &format!("a source of shape {:?}", self.shape()),
        )?;
        Ok(self.scatter_unchecked(indices, out_shape))
    }

    /// [`gather_flat`](Self::gather_flat) with indices known to be valid.
    pub(crate) fn gather_unchecked(&self, indices: Arc<[usize]>, out_shape: &[usize]) -> Tensor<T> {
        let shape = self.shape();
        let mut out = vec![T::zero(); indices.len()];
        {
            let data = self.read();
            let source = data.as_standard_layout();
            let source = source.as_slice().expect("standard layout is contiguous");
            let pick = |(o, &k): (&mut T, &usize)| *o = source[k];
            if out.len() >= PARALLEL_THRESHOLD {
                out.par_chunks_mut(CHUNK)
                    .zip(indices.par_chunks(CHUNK))
                    .for_each(|(o, k)| o.iter_mut().zip(k).for_each(pick));
            } else {
                out.iter_mut().zip(indices.iter()).for_each(pick);
            }
        }
        let out = ArrayD::from_shape_vec(IxDyn(out_shape), out).expect("one value per index");
        // y = G(x)  ⇒  x̄ = S(ȳ)
        Tensor::from_op("gather_flat", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.scatter_unchecked(indices.clone(), &shape))])
        })
    }

    /// [`scatter_add_flat`](Self::scatter_add_flat) with indices known to be valid.
    pub(crate) fn scatter_unchecked(&self, indices: Arc<[usize]>, out_shape: &[usize]) -> Tensor<T> {
        let shape = self.shape();
        let mut out = vec![T::zero(); out_shape.iter().product()];
        {
            let data = self.read();
            let source = data.as_standard_layout();
            let source = source.as_slice().expect("standard layout is contiguous");
            // Serial on purpose: indices may collide, and a fixed order keeps
            // the sums reproducible. One pass of adds, cheap next to its producer.
            for (&v, &k) in source.iter().zip(indices.iter()) {
                out[k] += v;
            }
        }
        let out = ArrayD::from_shape_vec(IxDyn(out_shape), out).expect("sized from out_shape");
        // z = S(y)  ⇒  ȳ = G(z̄)
        Tensor::from_op("scatter_add_flat", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.gather_unchecked(indices.clone(), &shape))])
        })
    }
}
