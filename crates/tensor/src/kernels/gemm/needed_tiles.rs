//! Products that compute only the tiles the caller needs.
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

use super::GemmPath;
use super::blocked::{self, Matrix, Out, TileFilter};
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
        let unneeded = (0..rows).fold(u64::MAX, |all, i| all & unsafe { *self.row_masks.add(i0 + i) });
        let touched = (u64::MAX >> (63 - last)) & (u64::MAX << first);
        unneeded & touched != touched
    }
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
