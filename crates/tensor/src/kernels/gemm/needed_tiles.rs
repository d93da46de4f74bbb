//! Products that compute only the tiles the caller needs, and of each tile
//! only the steps of the inner dimension it needs.
//!
//! The input gradient of a convolution (`channels_last_col2im.rs`) is the
//! product `ȳᵀ·W`: a row per output pixel, a column per (kernel tap,
//! channel). An entry whose tap reaches into the padding lands outside the
//! image and is thrown away. For W2's 14→7 layer (kernel 4, stride 2,
//! padding 1) a pixel on the top row has the 4 taps of the kernel's top row
//! in the padding, a corner pixel 7 of its 16: 13.8% of the product's
//! multiply-adds, all thrown away.
//!
//! The microkernel computes `MR × NR` tiles, so work can be skipped a tile
//! at a time: a tile is skipped when each of its rows has the taps of all
//! its columns in the padding. Two things make that happen often:
//!
//! * **Rows that agree.** The caller orders the rows so that each sliver
//!   of `MR` rows holds pixels with the same taps in the padding: the same
//!   pixel of `MR` different samples ([`tile_rows`] tells the caller
//!   `MR`).
//! * **Columns that agree.** The tile is 32 columns wide (8×32 on
//!   AVX-512, `blocked::sgemm_filtered_avx512`; AVX2's 6×16 already is
//!   narrow), so W2's 64 channels of one tap are two whole tiles.
//!
//! A skipped tile is not written: its entries keep whatever was there, and
//! the caller must not read them. The entries computed are those of a
//! plain product, bit for bit (the same sums in the same order).
//!
//! The forward convolution (`interleaved_patches.rs`) has its padding in
//! the inner dimension instead: its product, turned round too, has a row
//! per output pixel and a step per (tap, channel), and the taps that read
//! padding are zeros in `A`. There each tile sums only the steps its rows
//! need ([`sgemm_interleaved`], `TileFilter::steps` in `operands.rs`): with
//! the steps ordered tap by tap, a kernel row of taps is one slice of 256
//! steps for W2, and a pixel on the border skips a whole slice (the top
//! row) or a tap at either end of each (the left and right columns).

use super::GemmPath;
use super::blocked;
use super::operands::{Matrix, Out, SourceA, TileFilter};
use ndarray::ArrayView2;

/// The tiles whose rows need some of their columns: bit `t` of
/// `row_masks[i]` set means row `i` does not need columns
/// `t·group_width..(t + 1)·group_width`. Groups from 64 on are always needed.
#[derive(Clone, Copy)]
struct NeededColumns {
    row_masks: *const u64,
    group_width: usize,
}

impl TileFilter for NeededColumns {
    const ALL: bool = false;

    #[inline(always)]
    fn computes(self, i0: usize, rows: usize, j0: usize, cols: usize) -> bool {
        let (first, last) = (j0 / self.group_width, (j0 + cols - 1) / self.group_width);
        if last >= 64 {
            return true;
        }
        // SAFETY: rows i0..i0 + rows are the product's, one mask each
        // (checked by `sgemm_needed_tiles`).
        let unneeded = unsafe { unneeded_by_all(self.row_masks, i0, rows) };
        let touched = (u64::MAX >> (63 - last)) & (u64::MAX << first);
        unneeded & touched != touched
    }

    #[inline(always)]
    fn steps(self, _: usize, _: usize, _: usize, kc: usize) -> (usize, usize) {
        (0, kc)
    }
}

/// The groups that none of rows `i0..i0 + rows` needs: the AND of their
/// masks (a tile may skip a group only if every one of its rows does).
///
/// # Safety
/// `row_masks` points at a mask for each of those rows.
#[inline(always)]
unsafe fn unneeded_by_all(row_masks: *const u64, i0: usize, rows: usize) -> u64 {
    // SAFETY: rows i0..i0 + rows have masks (caller's contract).
    (0..rows).fold(u64::MAX, |all, i| all & unsafe { *row_masks.add(i0 + i) })
}

/// The rows of a tile on the active path, to which a caller of
/// [`sgemm_needed_tiles`] aligns rows that agree; `None` where the
/// engine's own loops do not run (the portable path).
pub(crate) fn tile_rows() -> Option<usize> {
    match GemmPath::active() {
        GemmPath::Avx512 => Some(8),
        GemmPath::Avx2 => Some(6),
        GemmPath::Portable => None,
    }
}

/// `C = A·B` in f32 on the calling thread, computing only the tiles some
/// row of which needs some of their columns: bit `t` of `row_masks[i]` set
/// means row `i` does not need columns `t·group_width..(t + 1)·group_width`
/// (groups from 64 on are always needed). Entries of the other tiles are
/// left as they were. `A` is `m × k` (any strides), `B` `k × n` row-major
/// (any row stride), `C` `m × n`, a row-major slice.
///
/// # Panics
/// If [`tile_rows`] is `None`, `B` is not row-major, or a length does not
/// match.
pub(crate) fn sgemm_needed_tiles(
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    (row_masks, group_width): (&[u64], usize),
    c: &mut [f32],
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    assert!(
        tile_rows().is_some(),
        "sgemm_needed_tiles: the portable path has no tiles"
    );
    assert_eq!(
        b.nrows(),
        k,
        "sgemm_needed_tiles: A is {m} × {k}, B has {} rows",
        b.nrows()
    );
    assert!(
        b.strides()[1] == 1 && b.strides()[0] >= n as isize,
        "sgemm_needed_tiles: B is not row-major"
    );
    assert_eq!(row_masks.len(), m, "sgemm_needed_tiles: one mask per row");
    assert_eq!(c.len(), m * n, "sgemm_needed_tiles: C is not {m} × {n}");
    assert!(group_width > 0, "sgemm_needed_tiles: empty column groups");
    super::sgemm::count_flops(m, k, n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        c.fill(0.0);
        return;
    }
    let a = Matrix {
        ptr: a.as_ptr(),
        row_stride: a.strides()[0],
        col_stride: a.strides()[1],
    };
    let b = Matrix {
        ptr: b.as_ptr(),
        row_stride: b.strides()[0],
        col_stride: 1,
    };
    let c = Out {
        ptr: c.as_mut_ptr(),
        row_stride: n as isize,
        col_stride: 1,
    };
    let filter = NeededColumns {
        row_masks: row_masks.as_ptr(),
        group_width,
    };
    // SAFETY: the path is available (it is the active one); `a` and `b`
    // are the views' matrices, `c` the slice's, which overlaps neither (it
    // is borrowed mutably); there is a mask per row (checked above); β = 0
    // and k > 0.
    unsafe {
        match GemmPath::active() {
            GemmPath::Avx512 => blocked::sgemm_filtered_avx512((m, k, n), a, b, c, filter),
            GemmPath::Avx2 => blocked::sgemm_filtered_avx2((m, k, n), a, b, c, filter),
            GemmPath::Portable => unreachable!("checked above"),
        }
    }
}

/// The steps of the inner dimension each row needs: bit `t` of
/// `row_masks[i]` set means row `i` of `A` is zero in steps
/// `t·group_width..(t + 1)·group_width`, which a tile skips if all its rows
/// have them. Groups from 64 on are always needed.
#[derive(Clone, Copy)]
struct NeededSteps {
    row_masks: *const u64,
    group_width: usize,
}

impl TileFilter for NeededSteps {
    const ALL: bool = false;

    #[inline(always)]
    fn computes(self, _: usize, _: usize, _: usize, _: usize) -> bool {
        true
    }

    #[inline(always)]
    fn steps(self, i0: usize, rows: usize, pc: usize, kc: usize) -> (usize, usize) {
        // SAFETY: rows i0..i0 + rows are the product's, one mask each
        // (checked by `sgemm_interleaved`).
        let unneeded = unsafe { unneeded_by_all(self.row_masks, i0, rows) };
        let w = self.group_width;
        let (first, last) = (pc / w, (pc + kc - 1) / w);
        // The groups of this slice that are in the masks, and which of
        // them the rows need.
        let window = if first > 63 {
            0
        } else {
            (u64::MAX >> (63 - last.min(63))) & (u64::MAX << first)
        };
        let needed = !unneeded & window;
        let low = if needed != 0 {
            needed.trailing_zeros() as usize
        } else if last >= 64 {
            first.max(64)
        } else {
            return (0, 0);
        };
        let high = if last >= 64 {
            last
        } else {
            63 - needed.leading_zeros() as usize
        };
        let (start, end) = ((low * w).max(pc), ((high + 1) * w).min(pc + kc));
        (start - pc, end - start)
    }
}

/// The patch matrix of `interleaved_patches.rs` as the `A` of a product:
/// row `r` is lane `r mod 8` (a sample) of output pixel `⌊r/8⌋ mod P` of
/// chunk `⌊r/(8·P)⌋`; step `k` is channel `k mod C` of kernel tap
/// `⌊k/C⌋`; the value lies at `chunk·chunk_len + windows[pixel] +
/// taps[tap] + 8·channel + lane` in `images`.
#[derive(Clone, Copy)]
pub(crate) struct InterleavedRows<'a> {
    /// The chunks' images, `[H', W', C, 8]` each.
    pub images: &'a [f32],
    /// Floats per chunk.
    pub chunk_len: usize,
    /// Where each output pixel's window starts in a chunk.
    pub windows: &'a [usize],
    /// Where each kernel tap reads, relative to a window.
    pub taps: &'a [usize],
    /// `C`.
    pub channels: usize,
}

/// [`InterleavedRows`] by raw pointers, as the blocked loops take sources
/// (by copy, without lifetimes).
#[derive(Clone, Copy)]
struct InterleavedSource {
    images: *const f32,
    chunk_len: usize,
    windows: *const usize,
    pixels: usize,
    taps: *const usize,
    channels: usize,
}

impl InterleavedSource {
    /// Where row `r`'s step `k` lies in the images.
    ///
    /// # Safety
    /// `r` and `k` are inside the matrix.
    #[inline(always)]
    unsafe fn at(self, r: usize, k: usize) -> usize {
        let (chunk, within) = (r / (8 * self.pixels), r % (8 * self.pixels));
        let (tap, channel) = (k / self.channels, k % self.channels);
        // SAFETY: pixel and tap are inside their tables (caller's contract).
        unsafe {
            chunk * self.chunk_len
                + *self.windows.add(within / 8)
                + *self.taps.add(tap)
                + 8 * channel
                + within % 8
        }
    }
}

impl SourceA for InterleavedSource {
    #[inline(always)]
    fn matrix(self) -> Option<Matrix> {
        None
    }

    /// A sliver of 8 rows that start on a pixel is a packed sliver already
    /// when the slice's taps lie one after another (`8·C` floats apart):
    /// the taps of one kernel row, with no dilation. For W2 each slice of
    /// 256 steps is one kernel row (4 taps of 64 channels), 2048 adjacent
    /// floats of the images, which the microkernel reads where they lie.
    #[inline(always)]
    fn in_place<const MR: usize>(self, i0: usize, pc: usize, kc: usize) -> Option<*const f32> {
        let (first, last) = (pc / self.channels, (pc + kc - 1) / self.channels);
        // SAFETY: the taps of the slice are inside the table (the caller
        // asks for slices of the matrix).
        let follow =
            (first..last).all(|t| unsafe { *self.taps.add(t + 1) == *self.taps.add(t) + 8 * self.channels });
        // SAFETY: row i0 and step pc are inside the matrix; every value
        // lies inside the images (checked by `sgemm_interleaved`).
        (MR == 8 && i0.is_multiple_of(8) && follow).then(|| unsafe { self.images.add(self.at(i0, pc)) })
    }

    /// With 8-row slivers that start on a pixel (every sliver of an
    /// AVX-512 block), each step's 8 values are adjacent, and a tap's
    /// steps are one run: copied run by run, or not at all if the slice's
    /// taps follow one another in the images (see `in_place`). Otherwise
    /// value by value.
    #[inline(always)]
    unsafe fn pack<const MR: usize>(self, ic: usize, pc: usize, mc: usize, kc: usize, dst: &mut [f32]) {
        for (s, sliver) in dst.chunks_exact_mut(MR * kc).take(mc.div_ceil(MR)).enumerate() {
            let i0 = ic + s * MR;
            let rows = MR.min(ic + mc - i0);
            if rows == MR && self.in_place::<MR>(i0, pc, kc).is_some() {
                continue;
            }
            if MR == 8 && rows == 8 && i0.is_multiple_of(8) {
                let mut k = pc;
                while k < pc + kc {
                    let run = (self.channels - k % self.channels).min(pc + kc - k);
                    // SAFETY: the run's steps are one tap's channels, whose
                    // 8 lanes each lie side by side in the images (the
                    // entry point checked that every value lies inside),
                    // and its packed place is inside the sliver.
                    unsafe {
                        let from = self.images.add(self.at(i0, k));
                        std::ptr::copy_nonoverlapping(from, sliver.as_mut_ptr().add((k - pc) * 8), run * 8);
                    }
                    k += run;
                }
                continue;
            }
            if rows < MR {
                sliver.fill(0.0);
            }
            for p in 0..kc {
                for i in 0..rows {
                    // SAFETY: as above, value by value.
                    sliver[p * MR + i] = unsafe { *self.images.add(self.at(i0 + i, pc + p)) };
                }
            }
        }
    }
}

/// `C = A·B` in f32 on the calling thread for `A` the interleaved patch
/// matrix (`m` rows, `k = taps·C` steps), `B` `k × n` (any strides) and
/// `C` an `m × n` row-major slice, each tile summing only the taps its
/// rows need: bit `t` of `row_masks[i]` set means row `i` reads padding
/// (zeros) through tap `t`. Each entry is the plain product's sum in the
/// same order, without the terms skipped (products with zero: the same
/// value, but for the sign of a zero and for weights that are not finite).
///
/// # Panics
/// If the active path is not AVX-512, a value of `A` lies outside its
/// images, or a length does not match.
pub(crate) fn sgemm_interleaved(
    a: InterleavedRows<'_>,
    m: usize,
    b: ArrayView2<'_, f32>,
    row_masks: &[u64],
    c: &mut [f32],
) {
    let (k, n) = b.dim();
    assert_eq!(
        GemmPath::active(),
        GemmPath::Avx512,
        "sgemm_interleaved: AVX-512 only"
    );
    assert!(
        a.channels > 0 && k == a.taps.len() * a.channels,
        "sgemm_interleaved: B has {k} rows"
    );
    assert_eq!(row_masks.len(), m, "sgemm_interleaved: one mask per row");
    assert_eq!(c.len(), m * n, "sgemm_interleaved: C is not {m} × {n}");
    let pixels = a.windows.len();
    assert!(
        pixels > 0 && m.is_multiple_of(8 * pixels),
        "sgemm_interleaved: whole chunks"
    );
    // The farthest value: the last chunk's farthest window, tap and lane.
    let reach = (m / (8 * pixels)).saturating_sub(1) * a.chunk_len
        + a.windows.iter().max().unwrap_or(&0)
        + a.taps.iter().max().unwrap_or(&0)
        + 8 * a.channels;
    assert!(
        m == 0 || reach <= a.images.len(),
        "sgemm_interleaved: A past its images"
    );
    super::sgemm::count_flops(m, k, n);
    if m == 0 || n == 0 {
        return;
    }
    let source = InterleavedSource {
        images: a.images.as_ptr(),
        chunk_len: a.chunk_len,
        windows: a.windows.as_ptr(),
        pixels,
        taps: a.taps.as_ptr(),
        channels: a.channels,
    };
    let b = Matrix {
        ptr: b.as_ptr(),
        row_stride: b.strides()[0],
        col_stride: b.strides()[1],
    };
    let c = Out {
        ptr: c.as_mut_ptr(),
        row_stride: n as isize,
        col_stride: 1,
    };
    let filter = NeededSteps {
        row_masks: row_masks.as_ptr(),
        group_width: a.channels,
    };
    // SAFETY: AVX-512 is the active path, so the CPU has it; every value
    // of `A` lies in its images (checked above); `b` is the view's matrix,
    // `c` the slice's, which overlaps neither (it is borrowed mutably); a
    // mask per row; β = 0 and k > 0 (taps and channels are not empty).
    unsafe { blocked::sgemm_steps_avx512((m, k, n), source, b, c, filter) }
}

#[cfg(test)]
mod tests {
    use super::{sgemm_needed_tiles, tile_rows};
    use crate::kernels::gemm::{GemmPath, sgemm_row_major};

    /// Values with fractional parts, so that another order of the sums
    /// shows in the bits.
    fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + salt * 104_729) % 1999) as f32 / 997.0 - 1.0)
            .collect()
    }

    /// Wherever a row needs its column, the entry has the bits of the plain
    /// product; only tiles no row of which needs any of their columns stay
    /// unwritten, and some do; with every column needed, the whole product.
    /// `A` column-major (as the input gradient passes it) and row-major.
    #[test]
    fn only_the_needed_tiles_are_computed() {
        let Some(mr) = tile_rows() else {
            eprintln!("note: the portable path is active; sgemm_needed_tiles does not run");
            return;
        };
        // (rows, k, n, group width): W2's block, edge tiles, groups that
        // straddle tiles, more than one block of k.
        for (m, k, n, width) in [
            (128, 128, 1024, 64),
            (21, 300, 70, 16),
            (13, 7, 45, 5),
            (40, 9, 700, 10),
        ] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let mut want = vec![0.0; m * n];
            sgemm_row_major(GemmPath::active(), (m, k, n), &a, &b, &mut want);
            // The same A stored column-major, with 3 floats between columns.
            let stride = m + 3;
            let mut a_columns = vec![0.0; stride * k];
            for i in 0..m {
                for p in 0..k {
                    a_columns[i + p * stride] = a[i * k + p];
                }
            }
            let a_columns = ndarray::ArrayView2::from_shape(
                ndarray::ShapeBuilder::strides((m, k), (1, stride)),
                &a_columns[..],
            )
            .unwrap();
            let a_rows = ndarray::ArrayView2::from_shape((m, k), &a[..]).unwrap();
            let b = ndarray::ArrayView2::from_shape((k, n), &b[..]).unwrap();
            // Masks that agree within slivers of `mr` rows, and some that do not.
            let masks: Vec<u64> = (0..m)
                .map(|i| {
                    if i % (3 * mr) < 2 * mr {
                        !(0b11 << (2 * (i / mr % 5)))
                    } else {
                        1 << (i % 4)
                    }
                })
                .collect();
            let needed = |i: usize, j: usize| j / width >= 64 || masks[i] >> (j / width) & 1 == 0;
            for a in [a_columns, a_rows] {
                let mut got = vec![f32::NAN; m * n];
                sgemm_needed_tiles(a, b, (&masks, width), &mut got);
                let mut skipped = 0;
                for i in 0..m {
                    for j in 0..n {
                        let (g, w) = (got[i * n + j], want[i * n + j]);
                        if g.is_nan() {
                            assert!(!needed(i, j), "{m}×{k}×{n}: ({i}, {j}) needed but not written");
                            skipped += 1;
                        } else {
                            assert_eq!(g.to_bits(), w.to_bits(), "{m}×{k}×{n}: ({i}, {j})");
                        }
                    }
                }
                assert!(skipped > 0, "{m}×{k}×{n}: no tile was skipped");
                let all = vec![0u64; m];
                let mut got = vec![f32::NAN; m * n];
                sgemm_needed_tiles(a, b, (&all, width), &mut got);
                let same = got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits());
                assert!(same, "{m}×{k}×{n}: all needed");
            }
        }
    }
}
