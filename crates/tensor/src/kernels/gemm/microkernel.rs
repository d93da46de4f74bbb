//! The microkernel: the innermost loop of a fast matrix multiply, where
//! nearly all of its arithmetic happens.
//!
//! # What it computes
//! One *tile* of the output: `MR` rows by `NR = NV·LANES` columns of
//! `C ← α·A·B + β·C`, from a `MR × kc` sliver of `A` and a `kc × NR` sliver
//! of `B`, both already *packed* (copied into the order this loop reads
//! them, see `blocked.rs`).
//!
//! # The register tile
//! The whole `MR × NR` tile of sums stays in vector registers for all `kc`
//! steps: it is read from memory never, and written once at the end. Each
//! step `p` is an outer product of a column of the `A` sliver and a row of
//! the `B` sliver:
//!
//! ```text
//!              b[p, 0..NR]  =  NV registers, loaded
//!            ┌──────┬──────┬──────┐
//!   a[0, p] →│ acc  │ acc  │ acc  │   each box is one register of LANES sums;
//!   a[1, p] →│ acc  │ acc  │ acc  │   a[i, p] is broadcast to every lane and
//!     ...    │      │      │      │   multiplied into the row's NV registers
//!  a[MR-1,p]→│ acc  │ acc  │ acc  │   with one fused multiply-add each
//!            └──────┴──────┴──────┘
//! ```
//!
//! Per step that is `NV` loads, `MR` broadcasts and `MR·NV` fused
//! multiply-adds. The shape is chosen so that
//! * the tile fits the register file with room for the `NV` loaded values
//!   and one broadcast: AVX-512 has 32 registers, and an 8×48 tile is
//!   8·3 = 24 accumulators + 3 + 1 = 28; AVX2 has 16, and a 6×16 tile is
//!   6·2 = 12 + 2 + 1 = 15;
//! * there are many more multiply-adds than memory reads (24 against 11
//!   for AVX-512, 12 against 8 for AVX2), so the two load ports keep the
//!   two FMA units busy;
//! * there are enough independent accumulators to hide the FMA latency (4
//!   cycles, 2 units: at least 8 sums must be in flight; 24 and 12 are).
//!
//! A learner can check the arithmetic: 8×48 = 384 sums, each updated `kc`
//! times, from `(8 + 48)·kc` packed floats: every float read feeds about 7
//! multiply-adds. The textbook triple loop reads two floats per
//! multiply-add, one lane at a time: it runs 30 to 90 times slower than
//! this kernel for n = 64 … 512 (chapter 7 of the book, measured by
//! `examples/gan-mnist/examples/book_gemm.rs`).

use super::simd::Simd;

/// Where a tile goes: the output's top-left element of the tile, its row
/// stride (in elements) and column stride, and how many of the tile's rows
/// and columns are real (the tiles at the bottom and right edges are cut);
/// `prefetch`: whether to ask the caches for the tile's lines before its
/// steps (see [`prefetch_tile`]; `blocked.rs` decides).
#[derive(Clone, Copy)]
pub(super) struct TileOut {
    pub ptr: *mut f32,
    pub row_stride: isize,
    pub col_stride: isize,
    pub rows: usize,
    pub cols: usize,
    pub prefetch: bool,
}

/// What one tile reads: `a`, the packed `MR × kc` sliver of `A` (`kc`
/// columns of `MR` floats); `b`, the `kc × NV·LANES` sliver of `B` (`kc`
/// rows of `NV·LANES` adjacent floats, `b_row_stride` floats apart); and
/// `prefetch_b`, rows of the next sliver to fetch meanwhile, if any.
#[derive(Clone, Copy)]
pub(super) struct Slivers {
    pub a: *const f32,
    pub b: *const f32,
    pub b_row_stride: usize,
    pub prefetch_b: Option<NextRows>,
}

/// A tile's share of the next `B` sliver, to be fetched into the level-2
/// cache while the tile runs: `count` rows of `width` floats, the first at
/// `first`, `row_stride` floats apart (see "Prefetching" in `blocked.rs`).
#[derive(Clone, Copy)]
pub(super) struct NextRows {
    pub first: *const f32,
    pub count: usize,
    pub width: usize,
    pub row_stride: usize,
}

impl NextRows {
    /// No rows: nothing to fetch.
    const NONE: NextRows = NextRows {
        first: std::ptr::null(),
        count: 0,
        width: 0,
        row_stride: 0,
    };
}

/// `C_tile ← α·(Â·B̂) + β·C_tile` for one `MR × NV·LANES` tile, from its [`Slivers`]:
/// `a` is the packed `MR × kc` sliver (`kc` columns of `MR` floats) and `b`
/// the `kc × NV·LANES` sliver of `B`: `kc` rows of `NV·LANES` adjacent
/// floats, `b_row_stride` floats apart (`NV·LANES` when packed; the row
/// length of `B` when it is read in place, see `blocked.rs`).
///
/// `prefetch_b`, when given, is this tile's share of the `B` sliver the
/// next pass will read: the passes of the `kc` loop then also ask the
/// level-2 cache for those rows, a few per pass (see "Prefetching" in
/// `blocked.rs`).
///
/// With `β = 0` the output is written without being read (it may hold
/// anything, even uninitialised memory or NaN), as BLAS specifies.
///
/// # Safety
/// Runs only inside a function with `S`'s instruction set enabled. `a`
/// holds `kc·MR` floats and `b` the `kc` rows above; `out` describes `rows ≤ MR`
/// by `cols ≤ NV·LANES` writable floats that overlap neither.
#[inline(always)]
pub(super) unsafe fn tile<S: Simd, const MR: usize, const NV: usize>(
    kc: usize,
    slivers: Slivers,
    alpha: f32,
    beta: f32,
    out: TileOut,
) {
    // A short tile has too few multiply-adds to hide the fetch behind, and
    // the prefetches would only add instructions (see `prefetch_tile`).
    if out.prefetch && kc >= PREFETCH_TILE_MIN_KC {
        prefetch_tile(out);
    }
    let Slivers {
        a,
        b,
        b_row_stride,
        prefetch_b,
    } = slivers;
    let next = prefetch_b.unwrap_or(NextRows::NONE);
    // SAFETY: forwarded from the caller's contract.
    let acc = unsafe { sums::<S, MR, NV>(kc, a, b, b_row_stride, next) };
    // SAFETY: forwarded from the caller's contract.
    unsafe { write_tile::<S, MR, NV>(&acc, alpha, beta, out) }
}

/// The `kc` outer products of [`tile`], summed in registers. The passes of
/// the loop also fetch the `next.count` rows at `next.first` into the
/// level-2 cache, `⌈count / passes⌉` rows per pass until all are asked for
/// (none for [`NextRows::NONE`]: its branch is then never taken).
///
/// The steps go [`UNROLL`] at a time, then one at a time for the last
/// `kc % UNROLL`.
///
/// # Safety
/// As for [`tile`]. `next` need not point at valid memory: a prefetch is a
/// hint that never faults, and its addresses are formed with wrapping
/// arithmetic, without dereferencing.
#[inline(always)]
unsafe fn sums<S: Simd, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    b_row_stride: usize,
    next: NextRows,
) -> [[S::Vector; NV]; MR] {
    let (next_bytes, next_row_bytes) = (next.width * size_of::<f32>(), next.row_stride * size_of::<f32>());
    let passes = kc / UNROLL;
    let rows_per_pass = next.count.div_ceil(passes.max(1));
    // SAFETY: the loads stay inside the packed slivers (caller's contract),
    // and the instructions are enabled (likewise).
    unsafe {
        let mut acc = [[S::zero(); NV]; MR];
        let (mut a, mut b) = (a, b);
        let (mut next_row, mut rows_left) = (next.first.cast::<i8>(), next.count);
        for _ in 0..passes {
            if rows_left > 0 {
                let rows = rows_per_pass.min(rows_left);
                for _ in 0..rows {
                    prefetch_lines::<{ L2 }>(next_row, next_bytes);
                    next_row = next_row.wrapping_add(next_row_bytes);
                }
                rows_left -= rows;
            }
            // A loop of constant length: the compiler writes its steps out.
            for u in 0..UNROLL {
                step::<S, MR, NV>(&mut acc, a.add(u * MR), b.add(u * b_row_stride));
            }
            // Wrapping: after the last step these point one row past the
            // sliver, which for a `B` read in place lies past its matrix.
            a = a.wrapping_add(UNROLL * MR);
            b = b.wrapping_add(UNROLL * b_row_stride);
        }
        for _ in 0..kc % UNROLL {
            step::<S, MR, NV>(&mut acc, a, b);
            a = a.wrapping_add(MR);
            b = b.wrapping_add(b_row_stride);
        }
        acc
    }
}

/// Steps of the inner dimension per pass of the loop in [`sums`].
///
/// Written one step per pass, the loop's code is one outer product and the
/// processor overlaps the next step's loads with this step's multiply-adds
/// only as far as its reordering reaches. Four steps per pass give the
/// compiler room to issue each step's `B` loads among the previous step's
/// multiply-adds, so a load that misses the level-1 cache (an 8×48 sliver
/// of 256 steps is 48 KiB, as large as that cache) has longer to arrive.
/// Measured on the Intel Xeon (AVX-512), 1 thread, the same products
/// alternated in one process, mean GFLOP/s of 5 rounds, one step / four:
/// 64×1024×784 150.2 / 160.7, 64×784×1024 131.2 / 144.3, 1024³ 158.0 /
/// 165.6, 784×64×1024 147.2 / 148.3, 64×100×256 165.5 / 168.1; the AVX2
/// kernel on the same machine 91.5 / 96.9 on 64×1024×784. Two steps gained
/// less and eight nothing (151.2 on 64×1024×784).
const UNROLL: usize = 4;

/// One step `p` of [`sums`]: `acc[i][v] += a[i] · b[v]`, where `a` holds
/// the `MR` values of column `p` of the `A` sliver and `b` row `p` of the
/// `B` sliver (`NV` vectors).
///
/// # Safety
/// As for [`tile`]: `a` holds `MR` floats and `b` `NV·LANES`.
#[inline(always)]
unsafe fn step<S: Simd, const MR: usize, const NV: usize>(
    acc: &mut [[S::Vector; NV]; MR],
    a: *const f32,
    b: *const f32,
) {
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        let mut b_row = [S::zero(); NV];
        for (v, lanes) in b_row.iter_mut().enumerate() {
            *lanes = S::load(b.add(v * S::LANES));
        }
        for (i, acc_row) in acc.iter_mut().enumerate() {
            let a_ip = S::broadcast(a.add(i));
            for (sum, &b_lanes) in acc_row.iter_mut().zip(&b_row) {
                *sum = S::mul_add(a_ip, b_lanes, *sum);
            }
        }
    }
}

/// The fewest steps `kc` for which a tile prefetches its output lines.
const PREFETCH_TILE_MIN_KC: usize = 48;

/// Asks the caches for every line of the output tile, before the `kc`
/// steps that compute it.
///
/// The output of a product is usually a fresh buffer that is in no cache:
/// writing a tile then waits for its lines to come from memory (a store
/// must first fetch the line it writes into), at the end of every
/// microkernel call, with nothing else to overlap. Asked for now, the lines
/// arrive while the multiply-adds run. In W1 at one thread (batch-64
/// products into fresh outputs) this made the step about 4% faster
/// (`gan-mnist bench --workload mlp --threads 1` alternated six times with
/// the build before, AMD EPYC Zen 4: median 15.0 against 15.6 ms); W2,
/// whose convolutions write into reused, cached buffers, did not change.
///
/// Tiles with fewer than [`PREFETCH_TILE_MIN_KC`] steps skip it: in
/// `book_gemm`'s square products of n = 16 and 32, where one tile is the
/// whole product, the prefetches cost 7–19% and hid nothing (with them
/// 30.9 and 72.6 GFLOP/s, without 38.1 and 78.3).
///
/// So do the tiles of products whose `A` takes several blocks (see
/// "Prefetching" in `blocked.rs`): in 784×64×1024, whose output is larger
/// than the level-2 cache, the core stalled on a tile's 24 prefetches
/// (8×48), most likely waiting for free line-fill buffers, instead of
/// overlapping them with anything.
#[inline(always)]
fn prefetch_tile(out: TileOut) {
    for i in 0..out.rows {
        let row = out.ptr.wrapping_offset(i as isize * out.row_stride).cast::<i8>();
        prefetch_lines::<{ L1 }>(row, out.cols * size_of::<f32>());
    }
}

/// The hint of `prefetcht0`: fetch into the level-1 cache (and level 2).
const L1: i32 = std::arch::x86_64::_MM_HINT_T0;
/// The hint of `prefetcht1`: fetch into the level-2 cache only.
const L2: i32 = std::arch::x86_64::_MM_HINT_T1;

/// Prefetches every 64-byte line of the `bytes` bytes from `start` into
/// the cache `HINT` names ([`L1`] or [`L2`]): one per 64 bytes from the
/// start, and the line of the last byte (a range not starting on a line
/// boundary touches one more).
///
/// `start` may point anywhere: a prefetch is a hint that never faults and
/// changes no memory, and the addresses are formed with wrapping
/// arithmetic, without dereferencing. (A plain `while` loop: written as
/// `step_by(64).chain(…)`, the output-tile prefetches gained less in one
/// comparison.)
#[inline(always)]
fn prefetch_lines<const HINT: i32>(start: *const i8, bytes: usize) {
    use std::arch::x86_64::_mm_prefetch;
    let mut at = 0;
    while at < bytes {
        // SAFETY: a prefetch never faults, whatever the address.
        unsafe { _mm_prefetch::<HINT>(start.wrapping_add(at)) };
        at += 64;
    }
    // SAFETY: as above.
    unsafe { _mm_prefetch::<HINT>(start.wrapping_add(bytes - 1)) };
}

/// Writes the sums of a tile into the output: `α·acc + β·C`, reading `C`
/// only when `β ≠ 0`.
///
/// When the output's columns are adjacent in memory (a row-major `C`, the
/// usual case) each row is written with vector stores, masked for a cut
/// last register. Otherwise the tile goes through a small array on the
/// stack and is scattered element by element.
///
/// # Safety
/// As for [`tile`].
#[inline(always)]
unsafe fn write_tile<S: Simd, const MR: usize, const NV: usize>(
    acc: &[[S::Vector; NV]; MR],
    alpha: f32,
    beta: f32,
    out: TileOut,
) {
    let lanes = S::LANES;
    // SAFETY: every pointer below addresses one of the `rows × cols`
    // elements of `out` (caller's contract); masked operations touch only
    // their first `count` lanes.
    unsafe {
        if out.col_stride == 1 {
            let (alpha, beta_v) = (S::splat(alpha), S::splat(beta));
            for (i, acc_row) in acc.iter().enumerate().take(out.rows) {
                let row = out.ptr.offset(i as isize * out.row_stride);
                for (v, &sum) in acc_row.iter().enumerate() {
                    let first = v * lanes;
                    if first >= out.cols {
                        break;
                    }
                    let count = (out.cols - first).min(lanes);
                    let p = row.add(first);
                    let mut value = S::mul(sum, alpha);
                    if beta != 0.0 {
                        let old = if count == lanes {
                            S::load(p)
                        } else {
                            S::load_first(p, count)
                        };
                        value = S::mul_add(old, beta_v, value);
                    }
                    if count == lanes {
                        S::store(p, value);
                    } else {
                        S::store_first(p, value, count);
                    }
                }
            }
        } else {
            // At most 8 rows of 48 columns: the largest tile of any kernel.
            let mut spill = [0.0_f32; 8 * 48];
            let nr = NV * lanes;
            debug_assert!(MR * nr <= spill.len());
            for (i, acc_row) in acc.iter().enumerate() {
                for (v, &sum) in acc_row.iter().enumerate() {
                    S::store(spill.as_mut_ptr().add(i * nr + v * lanes), sum);
                }
            }
            for i in 0..out.rows {
                for j in 0..out.cols {
                    let p = out
                        .ptr
                        .offset(i as isize * out.row_stride + j as isize * out.col_stride);
                    let value = alpha * spill[i * nr + j];
                    *p = if beta == 0.0 { value } else { value + beta * *p };
                }
            }
        }
    }
}
