//! Elementwise maps over one or two arrays, with NumPy broadcasting.
//!
//! Contiguous arrays take a fast path over plain slices, split into fixed
//! chunks across rayon's threads when large; anything else (transposed or
//! sliced views, broadcasting) goes through ndarray's `Zip`.

use super::{CHUNK, PARALLEL_THRESHOLD};
use crate::{Element, Result, TensorError};
use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn, Zip};
use rayon::prelude::*;

/// `f` applied to every element of `x`.
pub fn map<T: Element>(x: ArrayViewD<'_, T>, f: impl Fn(T) -> T + Sync) -> ArrayD<T> {
    match x.as_slice() {
        Some(values) => {
            let mut out = vec![T::zero(); values.len()];
            if values.len() >= PARALLEL_THRESHOLD {
                out.par_chunks_mut(CHUNK)
                    .zip(values.par_chunks(CHUNK))
                    .for_each(|(o, v)| o.iter_mut().zip(v).for_each(|(o, &v)| *o = f(v)));
            } else {
                out.iter_mut().zip(values).for_each(|(o, &v)| *o = f(v));
            }
            ArrayD::from_shape_vec(x.raw_dim(), out).expect("same length as the input")
        }
        None => x.map(|&v| f(v)),
    }
}

/// The shape two shapes broadcast to under NumPy's rules: align from the
/// right; each pair of sizes must be equal or one of them 1.
pub fn broadcast_shape(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut shape = vec![0; rank];
    for i in 0..rank {
        let da = if i < rank - a.len() {
            1
        } else {
            a[i - (rank - a.len())]
        };
        let db = if i < rank - b.len() {
            1
        } else {
            b[i - (rank - b.len())]
        };
        shape[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TensorError::shape(
                    op,
                    format!(
                        "shapes {a:?} and {b:?} do not broadcast (dimension {i} from the left of the result: {da} vs {db})"
                    ),
                ));
            }
        };
    }
    Ok(shape)
}

/// `f(a, b)` elementwise over the broadcast of `a` and `b`.
pub fn zip_map<T: Element>(
    op: &'static str,
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    f: impl Fn(T, T) -> T + Sync,
) -> Result<ArrayD<T>> {
    if a.shape() == b.shape()
        && let (Some(x), Some(y)) = (a.as_slice(), b.as_slice())
    {
        let mut out = vec![T::zero(); x.len()];
        if x.len() >= PARALLEL_THRESHOLD {
            out.par_chunks_mut(CHUNK)
                .zip(x.par_chunks(CHUNK).zip(y.par_chunks(CHUNK)))
                .for_each(|(o, (x, y))| {
                    for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                        *o = f(x, y);
                    }
                });
        } else {
            for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
                *o = f(x, y);
            }
        }
        return Ok(ArrayD::from_shape_vec(a.raw_dim(), out).expect("same length as the inputs"));
    }
    let shape = IxDyn(&broadcast_shape(op, a.shape(), b.shape())?);
    let a = a
        .broadcast(shape.clone())
        .expect("shape checked by broadcast_shape");
    let b = b
        .broadcast(shape.clone())
        .expect("shape checked by broadcast_shape");
    let zip = Zip::from(&a).and(&b);
    Ok(if shape.size() >= PARALLEL_THRESHOLD {
        zip.par_map_collect(|&x, &y| f(x, y))
    } else {
        zip.map_collect(|&x, &y| f(x, y))
    })
}
