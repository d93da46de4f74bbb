//! The engine's f32 matrix multiply: cache blocking and packing around the
//! register-tiled microkernel (`microkernel.rs`), in the manner of BLIS
//! (Van Zee and van de Geijn, 2015).
//!
//! # Why blocking and packing
//! The microkernel keeps an `MR × NR` tile of `C` in registers and streams
//! a sliver of `A` and one of `B` through it. It runs at full speed only if
//! those slivers come from the nearest caches, in exactly the order it
//! reads them. So the product is cut three more times around it:
//!
//! ```text
//! for jc in 0..n step NC:                  B block: kc × NC   (level-3 cache)
//!   for pc in 0..k step KC:
//!     pack B[pc.., jc..] into B̂            one kc-row slice at a time
//!     for ic in 0..m step MC:              A block: MC × kc   (level-2 cache)
//!       pack A[ic.., pc..] into Â
//!       for jr in 0..NC step NR:           B̂ sliver: kc × NR  (level-1/2)
//!         for ir in 0..MC step MR:         Â sliver: MR × kc  (level-1)
//!           microkernel: C[ic+ir.., jc+jr..] (+)= Â sliver · B̂ sliver
//! ```
//!
//! * **Packing** copies a block into the order the microkernel reads it: Â
//!   as `MR`-row slivers stored column by column (the `MR` values of one
//!   column side by side, ready to broadcast), B̂ as `NR`-column slivers
//!   stored row by row (one row of `NR` values is `NV` vector loads). Each
//!   copied value is then read `MR` or `NR` times from contiguous,
//!   cache-resident memory, whatever the strides of the original (a
//!   transposed view costs nothing more than a plain one). Slivers at the
//!   edges are padded with zeros, so the microkernel never needs a special
//!   case for a short sliver; only the final write is cut to the real size.
//! * **`KC`** (256) sets how long a sliver is. One `B̂` sliver is
//!   `256 × 48 × 4 B = 48 KiB` and one `Â` sliver `256 × 8 × 4 B = 8 KiB`.
//!   The `ir` loop passes the same `B̂` sliver to each of the `MC/MR`
//!   `Â` slivers of the block; at 48 KiB it is larger than a 32 KiB
//!   level-1 cache, so each pass streams it from level 2, at about
//!   9 bytes per cycle, well under what level 2 delivers (the AVX2 sliver,
//!   `256 × 16 × 4 B = 16 KiB`, does stay in level 1). A longer `KC` would
//!   spend the write of the `C` tile over more multiply-adds, but would
//!   push the slivers and the `Â` block out of their caches.
//! * **`MC`** (`16·MR`) sets the `Â` block, `128 × 256 × 4 B = 128 KiB`,
//!   which stays in the level-2 cache (1–2 MiB per core) while every `B̂`
//!   sliver of the block passes over it.
//! * **`NC`** (`64·NR`) bounds the `B̂` block (3 MiB for AVX-512, in the
//!   shared level-3 cache). The products of this project's models have
//!   `n ≤ 1024`, so `B` is packed once per `kc` slice.
//! * When `A` fits in one block (`m ≤ MC`, every batch-64 product), each
//!   `B̂` sliver serves one pass of the `ir` loop only. It is then packed
//!   just before that pass, into a sliver-sized buffer that is still in the
//!   level-1/2 cache when the microkernel reads it, instead of packing the
//!   whole `kc × n` block first (800 KB for W1's 64×1024×784 forward, which
//!   went out to level 3 and came back): W1's forward products with
//!   `k ≥ 256` went from 74–90 to 78–93 GFLOP/s in the training step (the
//!   smallest, 64×100×256, measured 70 and 60, within its noise).
//! * When `B` is row-major and `A` fits in one block, whole slivers of `B`
//!   are not packed at all: the microkernel reads them where they lie
//!   (see [`reads_b_in_place`](super::operands::reads_b_in_place)), in
//!   slivers that start on whole vectors where `B` allows it (see
//!   [`lead_columns`]).
//!
//! # Prefetching
//! Packing and blocking keep the microkernel's operands in the caches once
//! they are there; the first touch of each still comes from memory. In a
//! training step that is most of them: Adam has just streamed every
//! parameter and its two moments through the caches, and outputs are fresh
//! buffers. Two software prefetches (`prefetcht0` and `prefetcht1`, hints
//! that never fault) ask for data early enough to arrive while the
//! multiply-adds run:
//!
//! * the output tile's lines, at the start of each microkernel call
//!   (`microkernel.rs`), for the stores at its end, when `A` fits in one
//!   block (every batch-64 product). When it takes several (a weight
//!   gradient such as W1's 784×64×1024, or 1024³) the prefetches cost
//!   more than they hid. 784×64×1024's output (3.2 MB) is larger than the
//!   level-2 cache, and `perf annotate` of a loop of it put 11% of the
//!   samples on the instructions just after them (most likely the core
//!   waiting for free line-fill buffers). Without them that product ran
//!   13% faster (Intel Xeon, AVX-512, 1 thread, six alternated trials of
//!   a loop of `sgemm_row_major`: 200.7–203.9 against 177.8–179.2
//!   GFLOP/s), while 64×100×256, 64×1024×784, 64×784×1024 and 1024³ and
//!   the steps of W1 and W2 did not change beyond their noise;
//! * when `B` is read in place, the next sliver, into the level-2 cache
//!   (`prefetcht1`), while the current pass runs: each tile of the pass
//!   asks for its share of the rows (8 tiles of a batch-64 product: 32
//!   rows each, one row per four steps), so that the next pass's first
//!   tile reads its sliver from level 2 rather than memory.
//!
//! Timed product by product inside `gan-mnist bench --workload mlp
//! --threads 1` (Zen 4), prefetching the next sliver at all took W1's
//! in-place products (`x̄ = Ȳ·W`) from 83–93 to 85–110 GFLOP/s (four of
//! the five faster). It was first done by the pass's first tile alone,
//! one row per step, into level 1 (`prefetcht0`): that tile then fetched
//! two slivers at once, its own from level 2 and the next from further
//! out, and the next one, at 48 KiB as large as the level-1 cache, most
//! likely pushed lines of the current sliver out of it while the seven
//! tiles after were still reading it. `perf annotate` of a loop of
//! 64×1024×784 put 18.5% of the samples on that first tile, for 12.5% of
//! the multiply-adds. Shared out among the tiles and fetched into level 2
//! only, measured on the Intel Xeon (AVX-512, 1 thread, the two ways
//! alternated product by product in one process; that machine runs at
//! one of two speeds for minutes at a time, see the README's Speed):
//! 64×1024×784 ran 2.6–5.9% faster and 64×784×1024 5.2–8.9% in 4 rounds
//! at the faster speed, −0.3 to +1.3% and −1.6 to +4.8% in 9 rounds at
//! the slower one. W1's step at 2 threads ran about 3% faster (5 of 6
//! rounds alternated with the build before), W2's did not change. Shared
//! out into level 1 gained less (0.3–2.1% and 4.0–5.0% in the 4 faster
//! rounds); `prefetcht1` from the first tile alone, nothing.
//!
//! The buffers for `Â` and `B̂` belong to each thread and are kept between
//! calls (see [`PackBuffers`]), so a product allocates nothing once a
//! thread has seen its largest shape.

use super::microkernel::{NextRows, Slivers, TileOut, tile};
use super::operands::{AllTiles, Matrix, Out, PACK_SLACK, SourceA, SourceB, TileFilter, lead_columns};
use super::simd::Simd;
use super::simd::{Avx2, Avx512};
use super::skinny;
use std::cell::Cell;

/// The length of a sliver, in steps of the inner dimension.
pub(super) const KC: usize = 256;
/// Rows of `A` per block, in microkernel tiles.
const MC_TILES: usize = 16;
/// Columns of `B` per block, in microkernel tiles.
const NC_TILES: usize = 64;

/// `C ← α·A·B + β·C` with the AVX-512F microkernel (8×48 tiles).
///
/// # Safety
/// The CPU has AVX-512F; `a` is a valid `m × k` matrix, `b` a valid `k × n`
/// one (or a source of one), `c` a valid writable `m × n` one with unit column stride that
/// overlaps neither (uninitialised is fine when `β = 0`); `k > 0`.
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn sgemm_avx512<B: SourceB>(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Matrix,
    b: B,
    beta: f32,
    c: Out,
) {
    // SAFETY: forwarded; AVX-512F is enabled in this function.
    unsafe { sgemm_blocked::<Avx512, 8, 3, Matrix, B, _>(m, k, n, alpha, a, b, beta, c, AllTiles) }
}

/// `C ← α·A·B + β·C` with the AVX2 + FMA microkernel (6×16 tiles).
///
/// # Safety
/// As for [`sgemm_avx512`], with AVX2 and FMA instead of AVX-512F.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn sgemm_avx2<B: SourceB>(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: Matrix,
    b: B,
    beta: f32,
    c: Out,
) {
    // SAFETY: forwarded; AVX2 and FMA are enabled in this function.
    unsafe { sgemm_blocked::<Avx2, 6, 2, Matrix, B, _>(m, k, n, alpha, a, b, beta, c, AllTiles) }
}

/// `C ← A·B` for the tiles `filter` asks for; the tiles it declines are
/// not written at all. AVX-512F with 8×32 tiles: 32 columns divide the 64
/// of a W2 kernel tap, so a tap's columns are whole tiles (see
/// `needed_tiles.rs`); on Zen 4 the narrower tile cost about 1% (every
/// product of W2's step run with it, `gan-mnist bench --workload dcgan
/// --threads 1`, 125.1 against 123.8 ms/step).
///
/// # Safety
/// As for [`sgemm_avx512`], with `β = 0`.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn sgemm_filtered_avx512<F: TileFilter>(
    (m, k, n): (usize, usize, usize),
    a: Matrix,
    b: Matrix,
    c: Out,
    filter: F,
) {
    // SAFETY: forwarded; AVX-512F is enabled in this function.
    unsafe { sgemm_blocked::<Avx512, 8, 2, Matrix, Matrix, F>(m, k, n, 1.0, a, b, 0.0, c, filter) }
}

/// [`sgemm_filtered_avx512`] with the AVX2 + FMA microkernel (6×16 tiles).
///
/// # Safety
/// As for [`sgemm_avx2`], with `β = 0`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sgemm_filtered_avx2<F: TileFilter>(
    (m, k, n): (usize, usize, usize),
    a: Matrix,
    b: Matrix,
    c: Out,
    filter: F,
) {
    // SAFETY: forwarded; AVX2 and FMA are enabled in this function.
    unsafe { sgemm_blocked::<Avx2, 6, 2, Matrix, Matrix, F>(m, k, n, 1.0, a, b, 0.0, c, filter) }
}

/// `C ← A·B` with `A` from a [`SourceA`] and only the steps of the inner
/// dimension `filter` says each tile's rows need: AVX-512F, 8×48 tiles.
///
/// # Safety
/// As for [`sgemm_avx512`], with `β = 0`, and `A` zero in the steps the
/// filter skips.
#[target_feature(enable = "avx512f,avx2,fma")]
pub(super) unsafe fn sgemm_steps_avx512<A: SourceA, F: TileFilter>(
    (m, k, n): (usize, usize, usize),
    a: A,
    b: Matrix,
    c: Out,
    filter: F,
) {
    // SAFETY: forwarded; AVX-512F is enabled in this function.
    unsafe { sgemm_blocked::<Avx512, 8, 3, A, Matrix, F>(m, k, n, 1.0, a, b, 0.0, c, filter) }
}

/// The five loops above, for tiles of `MR × NV·S::LANES`, skipping the
/// tiles `filter` declines (products with a dimension of 1 take
/// `skinny.rs` only if the filter takes every tile). Inlined into each
/// `#[target_feature]` entry point, so that packing and the microkernel
/// are compiled for that instruction set.
///
/// # Safety
/// As for [`sgemm_avx512`], with `S`'s instruction set.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm_blocked<S: Simd, const MR: usize, const NV: usize, A: SourceA, B: SourceB, F: TileFilter>(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: A,
    b: B,
    beta: f32,
    c: Out,
    filter: F,
) {
    const { assert!(NV >= 1 && NV <= 3 && MR <= 8) };
    // A dimension of 1 (a Linear layer with one output) has loops of its own.
    if let (Some(a), Some(b)) = (a.matrix(), b.matrix())
        && F::ALL
    {
        // SAFETY: forwarded from the caller.
        if unsafe { skinny::product(m, k, n, alpha, a, b, beta, c) } {
            return;
        }
    }
    let nr = NV * S::LANES;
    let (mc_max, nc_max) = (MC_TILES * MR, NC_TILES * nr);
    // Not a closure: a closure is a function of its own, compiled without
    // this function's `#[target_feature]`s, and the vector instructions in
    // it could then not be inlined. `B̂` has room for the 8 floats a
    // [`PackB`] source may write past its last row.
    let mut buffers = PackBuffers::take(KC * mc_max, KC * nc_max + PACK_SLACK);
    let (a_packed, b_packed) = buffers.floats();
    // With one block of A, each B̂ sliver is used by one pass of the ir
    // loop only: it is packed just before that pass (below), into the
    // first sliver's place, where it is still in the level-1/2 cache when
    // the microkernel reads it. With several blocks the whole B̂ block is
    // packed once, in the pc loop, and read by every block.
    let one_a_block = m <= mc_max;
    // A narrow first sliver, so that the slivers read in place start on
    // whole vectors (see `lead_columns`). Filtered products keep their
    // slivers where the filter expects them.
    let lead = match b.matrix() {
        Some(b) if F::ALL => lead_columns::<S>(b, one_a_block),
        _ => 0,
    };
    // Only with one block of A, whose slivers are packed one at a time:
    // the numbering of a packed B̂ block's slivers stays `jr / nr`.
    debug_assert!(lead == 0 || one_a_block);
    for jc in (0..n).step_by(nc_max) {
        let nc = nc_max.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            if !one_a_block {
                // SAFETY: the block lies inside `b`; `b_packed` holds
                // KC·nc_max floats (and the slack), enough for any block.
                unsafe { b.pack::<S>(pc, jc, kc, nc, nr, one_a_block, b_packed) };
            }
            for ic in (0..m).step_by(mc_max) {
                let mc = mc_max.min(m - ic);
                // SAFETY: as for B, with KC·mc_max floats.
                unsafe { a.pack::<MR>(ic, pc, mc, kc, a_packed) };
                for (sliver_b, (jr, cols)) in slivers(nc, nr, lead).enumerate() {
                    let width = cols.div_ceil(S::LANES) * S::LANES;
                    let (b_sliver, b_row_stride) =
                        if let Some(in_place) = b.in_place::<S>(pc, jc + jr, cols, one_a_block) {
                            in_place
                        } else if one_a_block {
                            // SAFETY: the sliver lies inside `b`; its packed
                            // copy takes KC·nr ≤ KC·nc_max floats.
                            unsafe { b.pack::<S>(pc, jc + jr, kc, cols, nr, one_a_block, b_packed) };
                            (b_packed.as_ptr(), width)
                        } else {
                            (b_packed[sliver_b * kc * nr..].as_ptr(), width)
                        };
                    // The next sliver, if it too is read in place: the
                    // tiles of this pass fetch it, each its share of the
                    // rows (see "Prefetching" above). A tile the filter
                    // skips fetches nothing: a hint lost, not an error.
                    let next_jr = jr + cols;
                    let next_cols = nr.min(nc.saturating_sub(next_jr));
                    let next_in_place = (next_cols > 0)
                        .then(|| b.in_place::<S>(pc, jc + next_jr, next_cols, one_a_block))
                        .flatten();
                    let tiles = mc.div_ceil(MR);
                    for (sliver_a, ir) in (0..mc).step_by(MR).enumerate() {
                        let rows = MR.min(mc - ir);
                        if !filter.computes(ic + ir, rows, jc + jr, cols) {
                            continue;
                        }
                        // The steps of this slice of k the tile's rows
                        // need, `skip..skip + steps` (all of them but for a
                        // filter that knows better). The first slice with
                        // any writes the tile with β, later ones add to it;
                        // a tile that needs no step at all still writes
                        // β·C, in the last slice.
                        let (skip, steps) = filter.steps(ic + ir, rows, pc, kc);
                        let first = (0..pc)
                            .step_by(KC)
                            .all(|earlier| filter.steps(ic + ir, rows, earlier, KC).1 == 0);
                        if steps == 0 && !(first && pc + kc == k) {
                            continue;
                        }
                        let beta = if first { beta } else { 1.0 };
                        let prefetch_b = next_in_place.map(|(next, row_stride)| {
                            let rows = prefetch_share(sliver_a, tiles, kc);
                            NextRows {
                                first: next.wrapping_add(rows.start * row_stride),
                                count: rows.len(),
                                width: next_cols,
                                row_stride,
                            }
                        });
                        let a_sliver = a
                            .in_place::<MR>(ic + ir, pc, kc)
                            .unwrap_or_else(|| a_packed[sliver_a * kc * MR..].as_ptr())
                            .wrapping_add(skip * MR);
                        let out = TileOut {
                            // SAFETY: (ic+ir, jc+jr) is inside `c`.
                            ptr: unsafe {
                                c.ptr.offset(
                                    (ic + ir) as isize * c.row_stride + (jc + jr) as isize * c.col_stride,
                                )
                            },
                            row_stride: c.row_stride,
                            col_stride: c.col_stride,
                            rows,
                            cols,
                            // See "Prefetching" above: only a one-block
                            // product gains from fetching its tiles early.
                            prefetch: one_a_block,
                        };
                        let slivers = Slivers {
                            a: a_sliver,
                            b: b_sliver.wrapping_add(skip * b_row_stride),
                            b_row_stride,
                            prefetch_b,
                        };
                        // SAFETY: the A sliver holds kc·MR floats, packed
                        // or where they lie (the source's `in_place`
                        // contract), the B sliver kc rows of vectors·LANES
                        // floats, b_row_stride apart; the tile reads both
                        // from step `skip` for `steps` steps; the tile is
                        // inside `c`; the ISA is enabled.
                        unsafe {
                            match cols.div_ceil(S::LANES) {
                                1 => tile::<S, MR, 1>(steps, slivers, alpha, beta, out),
                                2 => tile::<S, MR, 2>(steps, slivers, alpha, beta, out),
                                _ => tile::<S, MR, NV>(steps, slivers, alpha, beta, out),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The rows of the next `B` sliver that tile `tile` of a pass of `tiles`
/// fetches (see "Prefetching" above): `kc` rows cut into `tiles` shares
/// of `⌈kc / tiles⌉`, in tile order (the last ones shorter or empty).
fn prefetch_share(tile: usize, tiles: usize, kc: usize) -> std::ops::Range<usize> {
    let share = kc.div_ceil(tiles);
    (tile * share).min(kc)..((tile + 1) * share).min(kc)
}

/// The slivers of a block of `nc` columns of `B`, as (first column, width):
/// a first one `lead` wide if `lead > 0`, then `nr` wide, the last cut to
/// what is left.
#[inline(always)]
fn slivers(nc: usize, nr: usize, lead: usize) -> impl Iterator<Item = (usize, usize)> {
    let lead = lead.min(nc);
    let first = (lead > 0).then_some((0, lead));
    first
        .into_iter()
        .chain((lead..nc).step_by(nr).map(move |j| (j, nr.min(nc - j))))
}

/// The packing buffers of one thread, kept for the life of the thread.
///
/// A product takes them out of the thread's slot ([`PackBuffers::take`])
/// and puts them back when it is done (on drop), so the first product on a
/// thread allocates them and later ones reuse them, growing them only for a
/// larger shape. (Should a product ever start another on the same thread,
/// the inner one would find the slot empty and use buffers of its own.)
/// Zeroed when grown, so that every float is initialised. The storage is
/// in 64-byte lines, so the packed slivers start on cache-line boundaries.
struct PackBuffers {
    a: Vec<CacheLine>,
    b: Vec<CacheLine>,
    /// Floats wanted from `a` and `b` by the current product.
    lens: (usize, usize),
}

/// 16 floats, 64-byte aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct CacheLine([f32; 16]);

thread_local! {
    /// The thread's slot: the two buffers while no product holds them.
    static PACK_BUFFERS: Cell<(Vec<CacheLine>, Vec<CacheLine>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

impl PackBuffers {
    /// This thread's buffers, to hold `a_len` and `b_len` floats.
    fn take(a_len: usize, b_len: usize) -> Self {
        let (a, b) = PACK_BUFFERS.take();
        PackBuffers {
            a,
            b,
            lens: (a_len, b_len),
        }
    }

    /// The two buffers as float slices of the lengths asked for.
    fn floats(&mut self) -> (&mut [f32], &mut [f32]) {
        let (a_len, b_len) = self.lens;
        (floats(&mut self.a, a_len), floats(&mut self.b, b_len))
    }
}

impl Drop for PackBuffers {
    fn drop(&mut self) {
        let buffers = (std::mem::take(&mut self.a), std::mem::take(&mut self.b));
        // `try_with`: during thread teardown the slot may be gone already;
        // the buffers are then simply freed.
        let _ = PACK_BUFFERS.try_with(|slot| slot.set(buffers));
    }
}

/// The first `len` floats of `lines`, grown (with zeros) if it is shorter.
fn floats(lines: &mut Vec<CacheLine>, len: usize) -> &mut [f32] {
    let needed = len.div_ceil(16);
    if lines.len() < needed {
        lines.resize(needed, CacheLine([0.0; 16]));
    }
    // SAFETY: `CacheLine` is `repr(C)` over 16 f32, so `lines` is
    // `16·lines.len() ≥ len` initialised, contiguous floats.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<f32>(), len) }
}

#[cfg(test)]
mod tests {
    use super::prefetch_share;

    /// The tiles of a pass fetch every row of the next sliver, each once,
    /// in order, whatever the number of tiles and the sliver's length.
    #[test]
    fn the_prefetch_shares_cover_the_next_sliver_once() {
        for tiles in 1..=20 {
            for kc in 1..=300 {
                let rows: Vec<usize> = (0..tiles).flat_map(|t| prefetch_share(t, tiles, kc)).collect();
                assert_eq!(rows, (0..kc).collect::<Vec<_>>(), "{tiles} tiles, kc = {kc}");
            }
        }
    }
}
