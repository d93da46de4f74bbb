//! Matrix products on `matrixmultiply`'s microkernels, split across rayon's
//! threads by blocks of rows or columns.
//!
//! `matrixmultiply` has a threading feature of its own, but on this kind of
//! machine it was unpredictable; giving each rayon worker one block of the
//! output and a single-threaded gemm is steady and, for a fixed thread count,
//! bitwise reproducible (every output element is computed by exactly one call,
//! in the same order).
//!
//! Strides are passed straight to the microkernel, so a transposed view costs
//! no copy.

use crate::Element;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Products with fewer multiply-adds than this stay on one thread.
const PARALLEL_MIN_FLOPS: usize = 1 << 18;

/// Blocks are cut at multiples of this, so that every block but the last
/// fills whole microkernel tiles.
const BLOCK_ALIGN: usize = 16;

/// `c = alpha * a·b + beta * c`.
pub fn gemm_into<T: Element>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert_eq!(k, k2, "gemm: inner dimensions differ (checked by the callers)");
    assert_eq!(c.dim(), (m, n), "gemm: output shape (checked by the callers)");
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    if threads == 1 || m * n * k < PARALLEL_MIN_FLOPS {
        gemm_serial(alpha, a, b, beta, c.view_mut());
        return;
    }
    // Split whichever output dimension is larger, into one block per thread.
    let split_rows = m >= n;
    let len = if split_rows { m } else { n };
    let block = len.div_ceil(threads).div_ceil(BLOCK_ALIGN) * BLOCK_ALIGN;
    if split_rows {
        let pieces: Vec<_> = c
            .axis_chunks_iter_mut(Axis(0), block)
            .zip(a.axis_chunks_iter(Axis(0), block))
            .collect();
        pieces
            .into_par_iter()
            .for_each(|(c, a)| gemm_serial(alpha, a, b, beta, c));
    } else {
        let pieces: Vec<_> = c
            .axis_chunks_iter_mut(Axis(1), block)
            .zip(b.axis_chunks_iter(Axis(1), block))
            .collect();
        pieces
            .into_par_iter()
            .for_each(|(c, b)| gemm_serial(alpha, a, b, beta, c));
    }
}

/// `a·b` as a new row-major array.
pub fn matmul<T: Element>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm_into(T::one(), a, b, T::zero(), c.view_mut());
    c
}

/// One gemm on the calling thread.
pub fn gemm_serial<T: Element>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let sa = a.strides();
    let sb = b.strides();
    let sc = c.strides();
    let (sa, sb, sc) = ((sa[0], sa[1]), (sb[0], sb[1]), (sc[0], sc[1]));
    // SAFETY: the views describe valid m×k, k×n and m×n matrices with these
    // strides; `c` is a unique mutable view, so it aliases neither input.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            sa,
            b.as_ptr(),
            sb,
            beta,
            c.as_mut_ptr(),
            sc,
        )
    }
}
