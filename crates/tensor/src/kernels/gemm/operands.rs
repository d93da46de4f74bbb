//! What a product reads and writes, as the loops of `blocked.rs` see it:
//! the operands ([`Matrix`], [`Out`]), where `A` and `B` come from
//! ([`SourceA`], [`SourceB`]: a matrix in memory, or a source that packs
//! its own slivers), which tiles are computed ([`TileFilter`]), and when a
//! sliver of `B` is read where it lies instead of packed
//! ([`reads_b_in_place`], [`lead_columns`]).

use super::pack::{pack_a, pack_b};
use super::simd::Simd;

/// A matrix operand: its first element and its strides in elements.
#[derive(Clone, Copy)]
pub(super) struct Matrix {
    pub ptr: *const f32,
    pub row_stride: isize,
    pub col_stride: isize,
}

impl Matrix {
    /// The address of the element at row `i`, column `j`.
    ///
    /// # Safety
    /// `(i, j)` must lie inside the matrix.
    #[inline(always)]
    pub(super) unsafe fn ptr_at(self, i: usize, j: usize) -> *const f32 {
        // SAFETY: in bounds (caller's contract).
        unsafe {
            self.ptr
                .offset(i as isize * self.row_stride + j as isize * self.col_stride)
        }
    }

    /// The element at row `i`, column `j`.
    ///
    /// # Safety
    /// `(i, j)` must lie inside the matrix.
    #[inline(always)]
    pub(super) unsafe fn at(self, i: usize, j: usize) -> f32 {
        // SAFETY: in bounds (caller's contract).
        unsafe { *self.ptr_at(i, j) }
    }
}

/// Which tiles of the output a product computes: all of them
/// ([`AllTiles`]), or those a caller needs (`needed_tiles.rs`).
pub(super) trait TileFilter: Copy {
    /// Whether the filter takes every tile, whatever its place.
    const ALL: bool;

    /// Whether the tile of rows `i0..i0 + rows` and columns
    /// `j0..j0 + cols` is computed.
    fn computes(self, i0: usize, rows: usize, j0: usize, cols: usize) -> bool;

    /// Of the `kc` steps of the inner dimension from `pc`, those rows
    /// `i0..i0 + rows` need: `(skip, steps)`, steps `pc + skip..pc + skip +
    /// steps`. In the others those rows of `A` must be zero.
    fn steps(self, i0: usize, rows: usize, pc: usize, kc: usize) -> (usize, usize);
}

/// Every tile: a plain product.
#[derive(Clone, Copy)]
pub(super) struct AllTiles;

impl TileFilter for AllTiles {
    const ALL: bool = true;

    #[inline(always)]
    fn computes(self, _: usize, _: usize, _: usize, _: usize) -> bool {
        true
    }

    #[inline(always)]
    fn steps(self, _: usize, _: usize, _: usize, kc: usize) -> (usize, usize) {
        (0, kc)
    }
}

/// Where the `A` of a product comes from: a matrix in memory ([`Matrix`]),
/// or a source that packs its own blocks (`interleaved_patches.rs`).
pub(super) trait SourceA: Copy {
    /// The matrix, if `A` is one.
    fn matrix(self) -> Option<Matrix>;

    /// Packs the `mc × kc` block at `(ic, pc)` into slivers of `MR` rows,
    /// as [`pack_a`] describes, skipping slivers read in place.
    ///
    /// # Safety
    /// As for [`pack_a`].
    unsafe fn pack<const MR: usize>(self, ic: usize, pc: usize, mc: usize, kc: usize, dst: &mut [f32]);

    /// Where the `MR`-row sliver from row `i0`, steps `pc..pc + kc`, lies
    /// if it is already laid out as a packed sliver (each step's `MR`
    /// values side by side, step after step), to be read in place.
    fn in_place<const MR: usize>(self, i0: usize, pc: usize, kc: usize) -> Option<*const f32>;
}

impl SourceA for Matrix {
    #[inline(always)]
    fn matrix(self) -> Option<Matrix> {
        Some(self)
    }

    #[inline(always)]
    unsafe fn pack<const MR: usize>(self, ic: usize, pc: usize, mc: usize, kc: usize, dst: &mut [f32]) {
        // SAFETY: forwarded from the caller.
        unsafe { pack_a::<MR>(self, ic, pc, mc, kc, dst) }
    }

    #[inline(always)]
    fn in_place<const MR: usize>(self, _: usize, _: usize, _: usize) -> Option<*const f32> {
        None
    }
}

/// The output: its first element and strides, in elements.
#[derive(Clone, Copy)]
pub(super) struct Out {
    pub ptr: *mut f32,
    pub row_stride: isize,
    pub col_stride: isize,
}

/// Floats a [`PackB`](super::implicit::PackB) source may write past the
/// last row it packs (see there); `B̂` has this much room to spare.
pub(super) const PACK_SLACK: usize = 8;

/// Where the `B` of a product comes from: a matrix in memory ([`Matrix`]),
/// read in place or packed by [`pack_b`], or a source that packs its own
/// slivers and is never stored whole (`implicit.rs`).
pub(super) trait SourceB: Copy {
    /// The matrix, if `B` is one (products with a dimension of 1 then take
    /// the loops of `skinny.rs`).
    fn matrix(self) -> Option<Matrix>;

    /// Where the `cols`-wide sliver of rows from `pc`, columns from `j`,
    /// lies and its row stride, if the microkernel reads it in place
    /// (`one_a_block`: whether `A` fits in one block). The address is
    /// formed without being dereferenced.
    fn in_place<S: Simd>(
        self,
        pc: usize,
        j: usize,
        cols: usize,
        one_a_block: bool,
    ) -> Option<(*const f32, usize)>;

    /// Packs the `kc × nc` block at `(pc, jc)` into slivers of `nr`
    /// columns, as [`pack_b`] describes, skipping slivers read in place.
    ///
    /// # Safety
    /// As for [`pack_b`], and `dst` has [`PACK_SLACK`] floats to spare.
    #[allow(clippy::too_many_arguments)]
    unsafe fn pack<S: Simd>(
        self,
        pc: usize,
        jc: usize,
        kc: usize,
        nc: usize,
        nr: usize,
        one_a_block: bool,
        dst: &mut [f32],
    );
}

impl SourceB for Matrix {
    #[inline(always)]
    fn matrix(self) -> Option<Matrix> {
        Some(self)
    }

    #[inline(always)]
    fn in_place<S: Simd>(
        self,
        pc: usize,
        j: usize,
        cols: usize,
        one_a_block: bool,
    ) -> Option<(*const f32, usize)> {
        reads_b_in_place::<S>(self, cols, one_a_block).then(|| {
            let at = self
                .ptr
                .wrapping_offset(pc as isize * self.row_stride + j as isize);
            (at, self.row_stride as usize)
        })
    }

    #[inline(always)]
    unsafe fn pack<S: Simd>(
        self,
        pc: usize,
        jc: usize,
        kc: usize,
        nc: usize,
        nr: usize,
        one_a_block: bool,
        dst: &mut [f32],
    ) {
        // SAFETY: forwarded from the caller.
        unsafe { pack_b::<S>(self, pc, jc, kc, nc, nr, one_a_block, dst) }
    }
}

/// Whether the microkernel reads a `cols`-wide sliver of `b` where it lies,
/// instead of from a packed copy: when `b` is row-major with rows going
/// forward (each row of the sliver is then adjacent floats), the sliver is
/// whole registers wide (a cut one would load past its row), and `A` fits
/// in one block (`one_a_block`), so that each sliver is used for one pass
/// of the `ir` loop only.
///
/// Packing such a sliver would only copy it: a row of `B` is already what
/// the microkernel loads, and for a batch-64 product, where each value of
/// `B` feeds just 64 multiply-adds, the copy cost about 5% of the time
/// (`memmove` in `perf`); reading in place, 64×1024×784 went from 99 to 112
/// GFLOP/s. When `A` takes several blocks, each sliver is read again for
/// every block, and the packed copy (adjacent rows, one page) wins:
/// 784×64×1024 read in place went from 106 to 98 GFLOP/s.
#[inline(always)]
pub(super) fn reads_b_in_place<S: Simd>(b: Matrix, cols: usize, one_a_block: bool) -> bool {
    one_a_block && b.col_stride == 1 && b.row_stride > 0 && cols.is_multiple_of(S::LANES)
}

/// How many columns the first sliver of each block of `B` takes, when that
/// is not the usual `NR`: so that the slivers after it, read in place
/// (see [`reads_b_in_place`]), start on a whole vector in every row.
///
/// A buffer from the system's `malloc` is only 16-byte aligned: a large
/// one begins 16 bytes into a 64-byte cache line. Read in place from
/// there, every 16-float AVX-512 load of a row straddles two lines and
/// costs two. When every row starts the same distance into a vector (the
/// row length a multiple of `LANES`), a first sliver of the few columns
/// up to the next vector boundary (packed, as it is narrower than a
/// vector) puts all the others on it. The sums are the same, whichever
/// tile a column falls in.
///
/// Measured on a loop of `sgemm_row_major` with `B` 16 bytes into a line
/// (Intel Xeon, AVX-512, 1 thread, five rounds alternated with the build
/// before), GFLOP/s straddling → with the narrow first sliver:
/// 64×1024×784 167–188 → 179–198, 64×100×256 158–163 → 167–186 and
/// 64×256×512 182–205 → 189–212, faster in every round; 64×784×1024
/// 150–170 → 160–181. Packing every sliver instead was slower still than
/// straddling for 64×1024×784 (175 against 189, one run). With `B` on a
/// line the first sliver is a whole one and nothing changes.
///
/// 0 when the slivers are not read in place, when `B` already starts on a
/// vector, or when its rows start at different distances into one.
#[inline(always)]
pub(super) fn lead_columns<S: Simd>(b: Matrix, one_a_block: bool) -> usize {
    let vector_bytes = S::LANES * size_of::<f32>();
    let into_vector = b.ptr as usize % vector_bytes;
    let rows_alike = b.row_stride > 0 && (b.row_stride as usize).is_multiple_of(S::LANES);
    if !(one_a_block && b.col_stride == 1 && rows_alike) || into_vector == 0 {
        return 0;
    }
    (vector_bytes - into_vector) / size_of::<f32>()
}
