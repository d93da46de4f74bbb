//! Packing: copying a block of `A` or `B` into the order the microkernel
//! reads it (see `blocked.rs` for why).
//!
//! * `Â` is stored as slivers of `MR` rows, column by column: for each step
//!   `p`, the `MR` values `A[i, p]` side by side.
//! * `B̂` is stored as slivers of `NR` columns, row by row: for each step
//!   `p`, the `NR` values `B[p, j]` side by side.
//!
//! Half the time that is a plain copy (`B` row-major, `A` column-major) and
//! half the time a transpose (`A` row-major, as every activation is; `B` a
//! transposed view, as a Linear layer's `Wᵀ` is). With batches of 64 rows,
//! each packed value of `B` feeds only 64 multiply-adds, so a slow
//! element-by-element transpose costs a quarter of the product. Transposes
//! are therefore done 8×8 floats at a time in registers ([`transpose8`]):
//! eight loads, 24 shuffles, eight stores for 64 values.

use super::operands::{Matrix, reads_b_in_place};
use super::simd::Simd;
use std::arch::x86_64::*;

/// Packs the `mc × kc` block of `a` at `(ic, pc)` into `MR`-row slivers:
/// sliver `s` holds, for each `p` in `0..kc`, the `MR` values
/// `a[ic + s·MR + i, pc + p]`, zero where the block ends before `MR` rows.
///
/// # Safety
/// Runs inside a function with AVX2 enabled. The block lies inside `a`;
/// `dst` holds at least `mc.div_ceil(MR)·MR·kc` floats.
#[inline(always)]
pub(super) unsafe fn pack_a<const MR: usize>(
    a: Matrix,
    ic: usize,
    pc: usize,
    mc: usize,
    kc: usize,
    dst: &mut [f32],
) {
    const { assert!(MR <= 8) };
    for (s, sliver) in dst.chunks_exact_mut(MR * kc).take(mc.div_ceil(MR)).enumerate() {
        let i0 = ic + s * MR;
        let rows = MR.min(ic + mc - i0);
        if rows < MR {
            sliver.fill(0.0);
        }
        let mut done = 0;
        if a.row_stride == 1 {
            // Column-major (a transposed view): each column of the sliver
            // is adjacent in memory already.
            // One (masked) vector load and store per step of p: a slice
            // copy would call `memcpy` for 32 bytes, and on the weight
            // gradients of W1 those calls showed in `perf`.
            for (p, column) in sliver.chunks_exact_mut(MR).enumerate() {
                // SAFETY: rows i0 .. i0 + rows of column pc + p are inside
                // the block and adjacent; `column` holds MR ≥ rows floats;
                // AVX2 is enabled (caller's contract).
                unsafe { copy_lanes(a.ptr_at(i0, pc + p), column.as_mut_ptr(), rows) };
            }
            done = kc;
        } else if a.col_stride == 1 {
            // Row-major: transpose 8 steps of p at a time. The rows past
            // `rows` read as zero rows.
            while done + 8 <= kc {
                // SAFETY: each loaded row is 8 adjacent floats inside the
                // block; AVX2 is enabled (caller's contract).
                unsafe {
                    let mut block = [_mm256_setzero_ps(); 8];
                    for (i, row) in block.iter_mut().enumerate().take(rows) {
                        *row = _mm256_loadu_ps(a.ptr_at(i0 + i, pc + done));
                    }
                    let columns = transpose8(block);
                    for (q, column) in columns.iter().enumerate() {
                        store_lanes(sliver.as_mut_ptr().add((done + q) * MR), *column, MR);
                    }
                }
                done += 8;
            }
        }
        for p in done..kc {
            for i in 0..rows {
                // SAFETY: (i0 + i, pc + p) is inside the block.
                sliver[p * MR + i] = unsafe { a.at(i0 + i, pc + p) };
            }
        }
    }
}

/// Packs the `kc × nc` block of `b` at `(pc, jc)` into slivers of `nr`
/// columns: sliver `s` holds, for each `p` in `0..kc`, the values
/// `b[pc + p, jc + s·nr + j]`. The last sliver is only as wide as the
/// whole registers it needs, zero-padded. Slivers the microkernel reads in
/// place ([`reads_b_in_place`], given whether `A` fits in one block) are
/// skipped.
///
/// # Safety
/// Runs inside a function with AVX2 enabled. The block lies inside `b`;
/// `dst` holds at least `nc.div_ceil(nr)·nr·kc` floats.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn pack_b<S: Simd>(
    b: Matrix,
    pc: usize,
    jc: usize,
    kc: usize,
    nc: usize,
    nr: usize,
    one_a_block: bool,
    dst: &mut [f32],
) {
    for (s, j0) in (0..nc).step_by(nr).enumerate() {
        let cols = nr.min(nc - j0);
        let width = cols.div_ceil(S::LANES) * S::LANES;
        if reads_b_in_place::<S>(b, cols, one_a_block) {
            continue;
        }
        let sliver = &mut dst[s * kc * nr..s * kc * nr + kc * width];
        if b.col_stride == 1 {
            // Row-major: each row of the sliver is adjacent in memory.
            // Whole vector registers, the last one loaded partially and
            // zero-filled (no `memcpy` call per row of 48 floats).
            for (p, row) in sliver.chunks_exact_mut(width).enumerate() {
                for v in (0..width).step_by(S::LANES) {
                    let count = S::LANES.min(cols - v);
                    // SAFETY: row pc + p, columns jc + j0 + v .. + count are
                    // inside the block and adjacent; `row` holds `width`
                    // floats, a multiple of LANES; the caller enabled the
                    // instruction set of `S`.
                    unsafe {
                        let src = b.ptr_at(pc + p, jc + j0 + v);
                        let lanes = if count == S::LANES {
                            S::load(src)
                        } else {
                            S::load_first(src, count)
                        };
                        S::store(row.as_mut_ptr().add(v), lanes);
                    }
                }
            }
            continue;
        }
        if cols < width {
            sliver.fill(0.0);
        }
        let mut done_cols = 0;
        if b.row_stride == 1 {
            // A transposed view (each column adjacent in memory): transpose
            // 8×8 blocks, 8 columns and 8 steps of p at a time.
            while done_cols + 8 <= cols {
                let mut p = 0;
                while p + 8 <= kc {
                    // SAFETY: each load is 8 adjacent floats of one column
                    // inside the block; each store 8 floats inside the
                    // sliver; AVX2 is enabled (caller's contract).
                    unsafe {
                        let mut block = [_mm256_setzero_ps(); 8];
                        for (j, column) in block.iter_mut().enumerate() {
                            *column = _mm256_loadu_ps(b.ptr_at(pc + p, jc + j0 + done_cols + j));
                        }
                        for (q, row) in transpose8(block).iter().enumerate() {
                            _mm256_storeu_ps(sliver.as_mut_ptr().add((p + q) * width + done_cols), *row);
                        }
                    }
                    p += 8;
                }
                for p in p..kc {
                    for j in done_cols..done_cols + 8 {
                        // SAFETY: (pc + p, jc + j0 + j) is inside the block.
                        sliver[p * width + j] = unsafe { b.at(pc + p, jc + j0 + j) };
                    }
                }
                done_cols += 8;
            }
        }
        for j in done_cols..cols {
            for p in 0..kc {
                // SAFETY: (pc + p, jc + j0 + j) is inside the block.
                sliver[p * width + j] = unsafe { b.at(pc + p, jc + j0 + j) };
            }
        }
    }
}

/// The transpose of an 8×8 block of floats held as 8 registers of rows:
/// returns its 8 columns.
///
/// Three rounds of shuffles, each doubling the size of the pieces that are
/// in place: `unpacklo/hi` interleave pairs of rows element by element,
/// `shuffle_ps` moves pairs of elements, and `permute2f128` swaps the
/// 128-bit halves.
///
/// # Safety
/// Runs inside a function with AVX enabled.
#[inline(always)]
pub(crate) unsafe fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    // SAFETY: AVX is enabled (caller's contract); no memory is touched.
    unsafe {
        // [a0 b0 a1 b1 | a4 b4 a5 b5], [a2 b2 a3 b3 | a6 b6 a7 b7], …
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        // [a0 b0 c0 d0 | a4 b4 c4 d4], [a1 b1 c1 d1 | a5 b5 c5 d5], …
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        // [a0 b0 c0 d0 e0 f0 g0 h0], …: the low halves give columns 0–3,
        // the high halves columns 4–7.
        [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ]
    }
}

/// Copies `count` (≤ 8) adjacent floats from `src` to `dst` with one
/// vector load and store, masked when `count < 8`.
///
/// # Safety
/// Runs inside a function with AVX enabled; `src` and `dst` are valid for
/// `count` floats.
#[inline(always)]
unsafe fn copy_lanes(src: *const f32, dst: *mut f32, count: usize) {
    // SAFETY: AVX is enabled and both pointers are valid for `count` floats
    // (caller's contract); masked lanes are neither read nor written.
    unsafe {
        if count == 8 {
            _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
        } else {
            let mask = lane_mask(count);
            _mm256_maskstore_ps(dst, mask, _mm256_maskload_ps(src, mask));
        }
    }
}

/// A mask whose first `count` (≤ 8) 32-bit lanes are all ones.
///
/// # Safety
/// Runs inside a function with AVX enabled.
#[inline(always)]
unsafe fn lane_mask(count: usize) -> __m256i {
    // SAFETY: AVX is enabled (caller's contract); no memory is touched.
    unsafe {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(count as i32), lane)
    }
}

/// Stores the first `count` (≤ 8) lanes of `v` at `p`.
///
/// # Safety
/// Runs inside a function with AVX enabled; `p` is valid for `count`
/// floats.
#[inline(always)]
unsafe fn store_lanes(p: *mut f32, v: __m256, count: usize) {
    // SAFETY: AVX is enabled and `p` is valid for `count` floats (caller's
    // contract); the masked store touches only those.
    unsafe {
        if count == 8 {
            _mm256_storeu_ps(p, v);
        } else {
            let mut lanes = [0.0_f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(lanes.as_ptr(), p, count);
        }
    }
}
