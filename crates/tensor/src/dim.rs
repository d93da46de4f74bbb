//! Dimension indices as PyTorch takes them: `0..ndim` counts from the front
//! and `-ndim..0` from the back, so `-1` is the last dimension.
//!
//! Every op that takes a dimension (or a list of them) is generic over
//! [`Dim`], implemented for the integer types; `x.softmax(-1)` and
//! `x.sum_axes(&[0, -1], false)` read as in PyTorch, and a `usize` computed
//! elsewhere can be passed as it is.

use crate::{Result, TensorError};

/// A dimension index: non-negative counts from the front, negative from the
/// back (`-1` is the last). Implemented for `usize`, `isize`, `i32` and `i64`.
pub trait Dim: Copy + std::fmt::Debug {
    /// The index as a signed number.
    fn signed(self) -> i64;
}

// usize and isize fit in i64 wherever a tensor could have that many
// dimensions; a larger value is out of range anyway, and stays so.
impl Dim for usize {
    fn signed(self) -> i64 {
        i64::try_from(self).unwrap_or(i64::MAX)
    }
}

impl Dim for isize {
    fn signed(self) -> i64 {
        i64::try_from(self).unwrap_or(i64::MAX)
    }
}

impl Dim for i32 {
    fn signed(self) -> i64 {
        i64::from(self)
    }
}

impl Dim for i64 {
    fn signed(self) -> i64 {
        self
    }
}

/// `dim` as an index into a shape of `ndim` dimensions: `ndim + dim` for a
/// negative `dim`. Fails, naming `op`, `dim` and `shape`, outside
/// `-ndim..ndim`.
pub(crate) fn resolve(op: &'static str, dim: impl Dim, shape: &[usize]) -> Result<usize> {
    resolve_in(op, dim, shape.len(), shape)
}

/// Like [`resolve`], for a position among `positions` slots (`ndim + 1` for
/// ops that insert a dimension, such as unsqueeze and stack).
pub(crate) fn resolve_in(
    op: &'static str,
    dim: impl Dim,
    positions: usize,
    shape: &[usize],
) -> Result<usize> {
    let signed = dim.signed();
    let n = positions as i64;
    let index = if signed < 0 { signed + n } else { signed };
    if (0..n).contains(&index) {
        Ok(index as usize)
    } else {
        Err(TensorError::argument(
            op,
            format!(
                "axis {signed} is out of range for shape {shape:?} (valid: {}..={})",
                -n,
                n - 1
            ),
        ))
    }
}

/// Every entry of `dims` resolved with [`resolve`].
pub(crate) fn resolve_all(op: &'static str, dims: &[impl Dim], shape: &[usize]) -> Result<Vec<usize>> {
    dims.iter().map(|&d| resolve(op, d, shape)).collect()
}
