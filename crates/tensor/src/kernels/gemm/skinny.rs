//! Products with a dimension of 1, which the blocked loops handle badly.
//!
//! A Linear layer with one output (every discriminator's last layer) makes
//! three of them per training step:
//!
//! | product | shape `m×k×n` (W2) | what it is |
//! |---|---|---|
//! | `y = x·wᵀ` | 64×6272×1 | a dot product per row of `x` |
//! | `x̄ = ȳ·w` | 64×1×6272 | an outer product |
//! | `w̄ = ȳᵀ·x` | 1×64×6272 | a weighted sum of the rows of `x` |
//!
//! The blocked path pads them to whole tiles: a 1-column `B` is packed into
//! slivers 48 columns wide, a 1-row `A` into slivers of 8 rows, and each
//! tile does 8×48 multiply-adds per step where one row or one column is
//! real. Timed in `gan-mnist bench --workload dcgan --threads 1` (AMD EPYC
//! Zen 4), the three took 180, 228 and 120 µs per call, 1.5 ms per step,
//! for 1.2 million multiply-adds: each reads about 1.6 MB (`x` or the
//! output) once, which takes about 50–80 µs from the caches. The loops
//! below touch each element of the big operand once, in memory order:
//! 73, 95 and 84 µs in the same step.
//!
//! Each loop gives the same bits as the blocked path: every output element
//! is a chain of fused multiply-adds over `p` in order, restarted from 0 at
//! each slice of [`KC`] steps, and written as the microkernel writes a tile
//! (`α·sum`, then `β·old` fused in; later slices added). So taking these
//! products off the blocked loops changed no training run, and a GAN's
//! trajectory depends on every bit.

use super::blocked::KC;
use super::operands::{Matrix, Out};

/// Rows of `A` whose dot products run side by side in the `n = 1` loop:
/// independent chains, so that no multiply-add waits for the one before.
const ROWS_AT_ONCE: usize = 8;

/// Columns of the output handled per pass of the `m = 1` loop, whose sums
/// stay in the level-1 cache (4 KiB).
const ROW_CHUNK: usize = 1024;

/// `C ← α·A·B + β·C` if the product has a dimension of 1 and the operand
/// read most is contiguous in the direction the loop walks it; returns
/// whether it did.
///
/// # Safety
/// `a` is a valid `m × k` matrix, `b` a valid `k × n` one, `c` a valid
/// writable `m × n` one that overlaps neither (uninitialised is fine when
/// `β = 0`); `m, k, n > 0`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn product(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Matrix,
    b: Matrix,
    beta: f32,
    c: Out,
) -> bool {
    // SAFETY (all three): forwarded from the caller, with the layout each
    // function needs checked here.
    if n == 1 && a.col_stride == 1 && b.row_stride == 1 {
        unsafe { dots(m, k, alpha, a, b.ptr, beta, c) };
        true
    } else if k == 1 && b.col_stride == 1 && c.col_stride == 1 {
        unsafe { outer(m, n, alpha, a, b.ptr, beta, c) };
        true
    } else if m == 1 && b.col_stride == 1 && c.col_stride == 1 {
        unsafe { row_sums(k, n, alpha, a, b, beta, c.ptr) };
        true
    } else {
        false
    }
}

/// `c[i] ← α·(A[i, ..] · b) + β·c[i]` for `i < m`: one dot product per row
/// of `A` (`A`'s rows and `b` contiguous), [`ROWS_AT_ONCE`] rows at a time.
///
/// # Safety
/// As for [`product`], with `n = 1`, `a.col_stride = 1` and `b` `k`
/// contiguous floats.
#[inline(always)]
unsafe fn dots(m: usize, k: usize, alpha: f32, a: Matrix, b: *const f32, beta: f32, c: Out) {
    // SAFETY: `b` holds `k` floats (caller's contract).
    let b = unsafe { std::slice::from_raw_parts(b, k) };
    for first in (0..m).step_by(ROWS_AT_ONCE) {
        let rows = ROWS_AT_ONCE.min(m - first);
        // Past the last row, the last row again (computed, not written).
        let a_rows: [&[f32]; ROWS_AT_ONCE] = std::array::from_fn(|r| {
            let i = first + r.min(rows - 1);
            // SAFETY: row `i < m` of `A` is `k` contiguous floats.
            unsafe { std::slice::from_raw_parts(a.ptr_at(i, 0), k) }
        });
        for p0 in (0..k).step_by(KC) {
            let mut sums = [0.0f32; ROWS_AT_ONCE];
            for p in p0..(p0 + KC).min(k) {
                for (sum, row) in sums.iter_mut().zip(&a_rows) {
                    *sum = row[p].mul_add(b[p], *sum);
                }
            }
            for (r, &sum) in sums.iter().enumerate().take(rows) {
                // SAFETY: (first + r, 0) is inside `c`.
                unsafe {
                    let out = c.ptr.offset((first + r) as isize * c.row_stride);
                    store(out, sum, alpha, if p0 == 0 { beta } else { 1.0 });
                }
            }
        }
    }
}

/// `C[i, j] ← α·(a[i]·b[j]) + β·C[i, j]`: the outer product of `A`'s one
/// column and `B`'s one row (`b` and the rows of `C` contiguous).
///
/// # Safety
/// As for [`product`], with `k = 1`, `b` `n` contiguous floats and
/// `c.col_stride = 1`.
#[inline(always)]
unsafe fn outer(m: usize, n: usize, alpha: f32, a: Matrix, b: *const f32, beta: f32, c: Out) {
    // SAFETY: `b` holds `n` floats (caller's contract).
    let b = unsafe { std::slice::from_raw_parts(b, n) };
    for i in 0..m {
        // SAFETY: (i, 0) is inside `A`.
        let a_i = unsafe { a.at(i, 0) };
        // SAFETY: (i, 0) is inside `C`.
        let row = unsafe { c.ptr.offset(i as isize * c.row_stride) };
        for (j, &b) in b.iter().enumerate() {
            // A one-step chain from 0, as in the microkernel (`a·b + 0`,
            // which turns a product of −0 into +0), written as every tile
            // is. SAFETY: (i, j) is inside `C`, which has unit column
            // stride; it is read only when β ≠ 0.
            unsafe { store(row.add(j), a_i.mul_add(b, 0.0), alpha, beta) };
        }
    }
}

/// `c[j] ← α·Σ_p a[p]·B[p, j] + β·c[j]`: `A`'s one row times `B`, as a sum
/// of `B`'s rows weighted by `a` (`B`'s rows and `c` contiguous). The sums
/// are built [`ROW_CHUNK`] columns at a time in a buffer on the stack, so
/// that they stay in the level-1 cache while `B`'s rows stream past.
///
/// # Safety
/// As for [`product`], with `m = 1`, `b.col_stride = 1` and `c` `n`
/// contiguous floats.
#[inline(always)]
unsafe fn row_sums(k: usize, n: usize, alpha: f32, a: Matrix, b: Matrix, beta: f32, c: *mut f32) {
    let mut sums = [0.0f32; ROW_CHUNK];
    for j0 in (0..n).step_by(ROW_CHUNK) {
        let width = ROW_CHUNK.min(n - j0);
        let sums = &mut sums[..width];
        for p0 in (0..k).step_by(KC) {
            sums.fill(0.0);
            for p in p0..(p0 + KC).min(k) {
                // SAFETY: (0, p) is inside `A`; row `p` of `B` from column
                // `j0` holds `width` contiguous floats.
                let (a_p, b_row) =
                    unsafe { (a.at(0, p), std::slice::from_raw_parts(b.ptr_at(p, j0), width)) };
                sums.iter_mut()
                    .zip(b_row)
                    .for_each(|(s, &b)| *s = a_p.mul_add(b, *s));
            }
            for (j, &sum) in sums.iter().enumerate() {
                // SAFETY: column j0 + j of `c` is inside it.
                unsafe { store(c.add(j0 + j), sum, alpha, if p0 == 0 { beta } else { 1.0 }) };
            }
        }
    }
}

/// `*c ← α·sum + β·*c` as the microkernel writes a tile (`write_tile`):
/// `α·sum` rounded, then `β·old` added in one fused multiply-add; `*c` is
/// not read when `β = 0`. Later slices of `k` pass `β = 1`.
///
/// # Safety
/// `c` is valid for writes (and for reads when `β ≠ 0`).
#[inline(always)]
unsafe fn store(c: *mut f32, sum: f32, alpha: f32, beta: f32) {
    let value = sum * alpha;
    // SAFETY: caller's contract.
    unsafe {
        *c = if beta == 0.0 {
            value
        } else {
            (*c).mul_add(beta, value)
        }
    };
}
