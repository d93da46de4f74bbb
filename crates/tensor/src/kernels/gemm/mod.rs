//! Matrix products: the engine's own f32 gemm (cache blocking, packing and
//! register-tiled AVX-512 / AVX2 microkernels, chosen at run time), and
//! `matrixmultiply` for f64 and for CPUs without those instruction sets;
//! split across rayon's threads by blocks of rows or columns.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` (this file) | the products of ndarray views, and how a product is cut among threads |
//! | `sgemm.rs` | the raw f32 entry points ([`sgemm`](fn@sgemm), [`sgemm_on`]) and the count of their work |
//! | `isa.rs` | which path runs ([`GemmPath`]), `TENSOR_GEMM` |
//! | `blocked.rs` | the BLIS-style loops around the microkernel: blocking sizes, packing, per-thread buffers |
//! | `operands.rs` | what the loops read and write: the operands, the sources of `A` and `B`, which tiles are computed, when `B` is read in place |
//! | `microkernel.rs` | the register tile, where the multiply-adds happen |
//! | `pack.rs` | copying blocks of `A` and `B` into the order the microkernel reads them |
//! | `simd.rs` | the seven vector instructions the microkernel uses, for AVX-512F and AVX2 |
//! | `skinny.rs` | products with a dimension of 1 (a Linear layer with one output), as plain loops |
//! | `implicit.rs` | products whose `B` packs itself, sliver by sliver, and is never stored whole (a convolution's patches) |
//! | `needed_tiles.rs` | products that compute only the tiles, and the steps of each, the caller needs (the convolutions skip their padding) |
//!
//! Learners: read `microkernel.rs` first, then `blocked.rs`; the book's
//! chapter "How a fast matrix multiply works" walks through both.
//!
//! `matrixmultiply` has a threading feature of its own, but on this kind of
//! machine it was unpredictable; giving each rayon worker one block of the
//! output and a single-threaded gemm is steady and, for a fixed thread count,
//! bitwise reproducible (every output element is computed by exactly one call,
//! in the same order).
//!
//! Which side of the output is cut is chosen from the shape alone (see
//! `split`): columns for the batch-64 products of Linear layers, rows for
//! tall and square ones. New outputs are neither zeroed (the gemm overwrites
//! them) nor left unaligned (see `output`).
//!
//! Strides are passed straight to the packing routines, so a transposed view
//! costs no copy.
//!
//! Speed: `benches/matmul.rs` compares these functions with bare `sgemm` calls.

// The engine's own kernels use x86-64 vector instructions; other CPUs take
// the portable path.
#[cfg(target_arch = "x86_64")]
mod blocked;
#[cfg(target_arch = "x86_64")]
pub(crate) mod implicit;
mod isa;
#[cfg(target_arch = "x86_64")]
mod microkernel;
#[cfg(target_arch = "x86_64")]
pub(crate) mod needed_tiles;
#[cfg(target_arch = "x86_64")]
mod operands;
#[cfg(target_arch = "x86_64")]
mod pack;
mod sgemm;
#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(target_arch = "x86_64")]
mod skinny;

pub use isa::{GEMM_PATH_VAR, GemmPath};
#[cfg(target_arch = "x86_64")]
pub(crate) use pack::transpose8;
pub use sgemm::{f32_flop_count, sgemm, sgemm_on, sgemm_row_major};

use crate::Element;
use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, s};
use std::mem::MaybeUninit;

/// Products with fewer multiply-adds than this stay on one thread: below it
/// the product takes a few microseconds, about what waking a worker costs.
const PARALLEL_MIN_FLOPS: usize = 1 << 18;

/// Blocks are cut at multiples of this, so that every block but the last
/// fills whole microkernel tiles: `matrixmultiply`'s f32 kernels are 16×16
/// with AVX-512 and 8×8 with AVX2/FMA, and a partial tile costs as much as a
/// full one.
const BLOCK_ALIGN: usize = 16;

/// `c = alpha * a·b + beta * c`.
///
/// ```
/// use ndarray::{Array2, array};
/// use tensor::gemm::gemm_into;
/// let (a, b) = (array![[1.0_f32, 2.0], [3.0, 4.0]], array![[1.0_f32], [1.0]]);
/// let mut c = Array2::from_elem((2, 1), 1.0_f32);
/// gemm_into(2.0, a.view(), b.view(), 1.0, c.view_mut()); // c = 2·a·b + c
/// assert_eq!(c, array![[7.0], [15.0]]);
/// ```
pub fn gemm_into<T: Element>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) {
    check_dims(&a, &b, c.dim());
    let out = Out::of(&mut c);
    // SAFETY: `out` describes the m×n view `c`, which we borrow mutably for
    // the whole call, so nothing else reads or writes it meanwhile.
    unsafe { gemm_split(alpha, a, b, beta, out) }
}

/// `a·b` as a new row-major array.
///
/// The output is not zeroed first: with `beta = 0` the gemm writes every
/// element without reading it, and for a large output the zeroing would
/// cost a tenth of the product (a write of the whole output, often into
/// fresh pages). It starts on a cache-line boundary, so that workers writing
/// column blocks side by side do not share cache lines at the seams.
///
/// ```
/// use ndarray::array;
/// use tensor::gemm::matmul;
/// let (a, b) = (array![[1.0_f32, 2.0], [3.0, 4.0]], array![[0.0_f32, 1.0], [1.0, 0.0]]);
/// assert_eq!(matmul(a.view(), b.view()), array![[2.0, 1.0], [4.0, 3.0]]);
/// ```
pub fn matmul<T: Element>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<T> {
    let (m, n) = (a.nrows(), b.ncols());
    check_dims(&a, &b, (m, n));
    let mut c = output::<T>(m * n)
        .into_shape_with_order((m, n))
        .expect("a contiguous m·n buffer takes the shape m×n");
    let out = Out {
        ptr: c.as_mut_ptr().cast::<T>(),
        m,
        n,
        row_stride: n as isize,
        col_stride: 1,
    };
    // SAFETY: `out` describes the freshly allocated row-major m×n array `c`.
    // With beta = 0 the gemm writes every element of it (zeros when k = 0)
    // and reads none, so after the call all of `c` is initialised.
    unsafe {
        gemm_split(T::one(), a, b, T::zero(), out);
        c.assume_init()
    }
}

/// The batched product `a[i]·b[i]` of `[batch, m, k]` and `[batch, k, n]`
/// arrays, as a new `[batch, m, n]` array (not zeroed first, like
/// [`matmul`]).
///
/// ```
/// use ndarray::Array3;
/// use tensor::gemm::matmul_batched;
/// let a = Array3::from_shape_fn((2, 1, 2), |(i, _, j)| (i + j) as f64); // [[0, 1]], [[1, 2]]
/// let b = Array3::from_elem((2, 2, 1), 1.0);
/// assert_eq!(matmul_batched(a.view(), b.view()).iter().copied().collect::<Vec<_>>(), vec![1.0, 3.0]);
/// ```
pub fn matmul_batched<T: Element>(a: ArrayView3<'_, T>, b: ArrayView3<'_, T>) -> Array3<T> {
    let ((batch, m, k), (batch_b, k_b, n)) = (a.dim(), b.dim());
    assert_eq!(
        batch, batch_b,
        "matmul_batched: batch sizes differ (checked by the callers)"
    );
    assert_eq!(
        k, k_b,
        "matmul_batched: inner dimensions differ (checked by the callers)"
    );
    let mut c = output::<T>(batch * m * n)
        .into_shape_with_order((batch, m, n))
        .expect("a contiguous batch·m·n buffer takes the shape batch×m×n");
    let base = c.as_mut_ptr().cast::<T>();
    for (i, (a, b)) in a.outer_iter().zip(b.outer_iter()).enumerate() {
        let out = Out {
            // SAFETY: item i starts i·m·n elements into the row-major array.
            ptr: unsafe { base.add(i * m * n) },
            m,
            n,
            row_stride: n as isize,
            col_stride: 1,
        };
        // SAFETY: as in `matmul`, for the disjoint m×n item i of `c`.
        unsafe { gemm_split(T::one(), a, b, T::zero(), out) };
    }
    // SAFETY: every item was written in full by a beta = 0 gemm.
    unsafe { c.assume_init() }
}

/// Bytes in a cache line.
const CACHE_LINE: usize = 64;

/// An uninitialised buffer of `len` elements for a gemm to write, starting
/// on a cache-line boundary.
///
/// `malloc` only promises 16-byte alignment. When rayon workers each write a
/// block of columns (see [`split`]), the seam between blocks then falls
/// inside a cache line in every row, and the two cores take that line from
/// each other row after row; for the batch-64 products this cost about a
/// tenth of the time on 2 threads. Blocks are cut at multiples of
/// [`BLOCK_ALIGN`] elements (64 bytes for f32), so with an aligned start the
/// seams fall on line boundaries whenever the row length allows it.
///
/// The buffer is a slice of a slightly longer allocation; the few elements
/// before and after it are zeroed, so that the whole allocation is
/// initialised once the gemm has written the slice.
fn output<T: Element>(len: usize) -> Array1<MaybeUninit<T>> {
    let pad = CACHE_LINE / std::mem::size_of::<T>();
    let mut buffer = Array1::<T>::uninit(len + pad);
    let start = buffer.as_ptr().align_offset(CACHE_LINE).min(pad);
    buffer.slice_mut(s![..start]).fill(MaybeUninit::new(T::zero()));
    buffer
        .slice_mut(s![start + len..])
        .fill(MaybeUninit::new(T::zero()));
    buffer.slice_move(s![start..start + len])
}

/// One gemm on the calling thread.
///
/// ```
/// use ndarray::{Array2, array};
/// use tensor::gemm::gemm_serial;
/// let a = array![[1.0_f64, 2.0], [3.0, 4.0]];
/// let mut c = Array2::zeros((2, 2));
/// gemm_serial(1.0, a.view(), a.t(), 0.0, c.view_mut()); // a·aᵀ, the transpose read through strides
/// assert_eq!(c, array![[5.0, 11.0], [11.0, 25.0]]);
/// ```
pub fn gemm_serial<T: Element>(
    alpha: T,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    beta: T,
    mut c: ArrayViewMut2<'_, T>,
) {
    check_dims(&a, &b, c.dim());
    let out = Out::of(&mut c);
    // SAFETY: as in `gemm_into`.
    unsafe { gemm_block(alpha, a, b, beta, out) }
}

/// Panics unless `a` is m×k, `b` is k×n and the output is m×n. The ops check
/// shapes and return errors first, so this guards internal invariants only.
fn check_dims<T>(a: &ArrayView2<'_, T>, b: &ArrayView2<'_, T>, c: (usize, usize)) {
    assert_eq!(
        a.ncols(),
        b.nrows(),
        "gemm: inner dimensions differ (checked by the callers)"
    );
    assert_eq!(
        c,
        (a.nrows(), b.ncols()),
        "gemm: output shape (checked by the callers)"
    );
}

/// Where a gemm writes: an m×n matrix at `ptr` with the given strides, in
/// elements. A raw pointer rather than a view, because the output of
/// [`matmul`] is not initialised yet, and because rayon workers each write
/// their own block of it.
#[derive(Clone, Copy)]
struct Out<T> {
    ptr: *mut T,
    m: usize,
    n: usize,
    row_stride: isize,
    col_stride: isize,
}

// SAFETY: an `Out` is only a description of memory. Whoever builds one owns
// that memory exclusively for the gemm, and the blocks handed to different
// workers (see `gemm_split`) never overlap.
unsafe impl<T: Send> Send for Out<T> {}
unsafe impl<T: Sync> Sync for Out<T> {}

impl<T> Out<T> {
    /// The output described by a mutable view.
    fn of(c: &mut ArrayViewMut2<'_, T>) -> Self {
        let (m, n) = c.dim();
        let (row_stride, col_stride) = (c.strides()[0], c.strides()[1]);
        Out {
            ptr: c.as_mut_ptr(),
            m,
            n,
            row_stride,
            col_stride,
        }
    }

    /// The block of rows (`axis = 0`) or columns (`axis = 1`) from `start`,
    /// `len` long.
    ///
    /// # Safety
    /// `start + len` must not exceed the dimension along `axis`.
    unsafe fn block(self, axis: usize, start: usize, len: usize) -> Self {
        let stride = if axis == 0 {
            self.row_stride
        } else {
            self.col_stride
        };
        Out {
            // SAFETY: the block starts inside the matrix (caller's contract).
            ptr: unsafe { self.ptr.offset(stride * start as isize) },
            m: if axis == 0 { len } else { self.m },
            n: if axis == 0 { self.n } else { len },
            ..self
        }
    }
}

/// How to cut an m×k by k×n product among `threads` workers: the axis of
/// the output to cut (0 for rows, 1 for columns) and the block length along
/// it.
///
/// Each worker's single-threaded gemm packs its block of the cut operand and
/// *all* of the other one, so the two cuts cost different extra work:
/// * cutting rows repeats the packing of `b` (k·n elements) on every worker;
/// * cutting columns repeats the packing of `a` (m·k), and the workers write
///   the same rows of the output side by side. Measured on this machine,
///   sharing the rows costs about as much as packing a quarter of each
///   worker's share of the output again (the cores fight over cache lines
///   and pages at the seams): `(784×64)·(64×1024)` runs 20–30 % faster cut
///   by rows, although by packing alone columns would look cheaper.
///
/// The cut with the smaller extra cost wins: for the batch-64 products of a
/// Linear layer (m = 64) that is columns, for tall or square products rows.
/// If the chosen side is too short to give every worker a block, the other
/// side is cut.
///
/// The split depends only on the shape and the thread count, never on
/// timing, so results are reproducible for a fixed thread count.
fn split(m: usize, k: usize, n: usize, threads: usize) -> (usize, usize) {
    let block_of = |len: usize| len.div_ceil(threads).div_ceil(BLOCK_ALIGN) * BLOCK_ALIGN;
    let pieces = |len: usize| len.div_ceil(block_of(len));
    let len = |axis: usize| if axis == 0 { m } else { n };
    // Extra work per worker in element moves, times 4·threads to stay in
    // integers: rows (t−1)/t·k·n; columns (t−1)/t·m·k + m·n/(4t).
    let extra_rows = 4 * (threads - 1) * k * n;
    let extra_cols = 4 * (threads - 1) * m * k + m * n;
    let mut axis = usize::from(extra_rows > extra_cols);
    if pieces(len(axis)) < threads && pieces(len(1 - axis)) > pieces(len(axis)) {
        axis = 1 - axis;
    }
    (axis, block_of(len(axis)))
}

/// Runs `f(piece)` for every piece in `range`, spread over the rayon pool by
/// halving (`rayon::join`, which costs less than a parallel iterator for the
/// two or three pieces a product is cut into).
fn for_each_piece(range: std::ops::Range<usize>, f: &(impl Fn(usize) + Sync)) {
    if range.len() == 1 {
        f(range.start);
    } else {
        let mid = range.start + range.len() / 2;
        rayon::join(
            || for_each_piece(range.start..mid, f),
            || for_each_piece(mid..range.end, f),
        );
    }
}

/// `out = alpha * a·b + beta * out`, cut into one block per thread of the
/// current rayon pool when the product is big enough.
///
/// # Safety
/// `out` must describe a valid m×n matrix (m = rows of `a`, n = columns of
/// `b`) that nothing else accesses during the call and that overlaps neither
/// `a` nor `b`. With `beta = 0` it may be uninitialised.
unsafe fn gemm_split<T: Element>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, out: Out<T>) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    if threads == 1 || m * n * k < PARALLEL_MIN_FLOPS {
        // SAFETY: forwarded from the caller.
        unsafe { gemm_block(alpha, a, b, beta, out) };
        return;
    }
    let (axis, block) = split(m, k, n, threads);
    let len = if axis == 0 { m } else { n };
    for_each_piece(0..len.div_ceil(block), &|piece| {
        let start = piece * block;
        let size = block.min(len - start);
        let range = start..start + size;
        // SAFETY: `start + size <= len`, and the pieces are disjoint blocks
        // of `out`, so each is written by exactly one worker.
        unsafe {
            let out = out.block(axis, start, size);
            if axis == 0 {
                gemm_block(alpha, a.slice_axis(Axis(0), range.into()), b, beta, out);
            } else {
                gemm_block(alpha, a, b.slice_axis(Axis(1), range.into()), beta, out);
            }
        }
    });
}

/// One single-threaded gemm into `out`.
///
/// # Safety
/// As for [`gemm_split`].
unsafe fn gemm_block<T: Element>(alpha: T, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, out: Out<T>) {
    let (m, k) = a.dim();
    debug_assert_eq!((m, b.ncols()), (out.m, out.n));
    let sa = a.strides();
    let sb = b.strides();
    // SAFETY: the views describe valid m×k and k×n matrices with these
    // strides; `out` is a valid m×n matrix that aliases neither (caller's
    // contract).
    unsafe {
        T::gemm(
            m,
            k,
            out.n,
            alpha,
            a.as_ptr(),
            (sa[0], sa[1]),
            b.as_ptr(),
            (sb[0], sb[1]),
            beta,
            out.ptr,
            (out.row_stride, out.col_stride),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, ShapeBuilder};

    /// The product by the textbook triple loop, in f64.
    fn naive(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
            (0..a.ncols()).map(|p| a[[i, p]] * b[[p, j]]).sum()
        })
    }

    fn filled(m: usize, n: usize, salt: usize) -> Array2<f64> {
        Array2::from_shape_fn((m, n), |(i, j)| ((i * 31 + j * 17 + salt) % 13) as f64 - 6.0)
    }

    /// Shapes below and above the parallel threshold, with partial tiles and
    /// both split axes; the values are small integers, so every result is
    /// exact and must equal the naive product bit for bit.
    #[test]
    fn matmul_matches_naive_product_serial_and_split() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 0, 5),
            (7, 5, 3),
            (70, 90, 33),
            (33, 90, 70),
            (130, 20, 130),
        ] {
            let (a, b) = (filled(m, k, 1), filled(k, n, 2));
            let want = naive(&a, &b);
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let got = pool.install(|| matmul(a.view(), b.view()));
                assert_eq!(got, want, "{m}x{k}x{n} on {threads} threads");
            }
        }
    }

    /// Transposed and column-major operands and outputs are read and written
    /// through their strides; alpha and beta are applied.
    #[test]
    fn gemm_into_handles_strides_alpha_and_beta() {
        let (m, k, n) = (67, 45, 81);
        let a_t = filled(k, m, 3); // a = a_tᵀ, a strided view
        let b = filled(k, n, 4);
        let want = naive(&a_t.t().to_owned(), &b) * 2.0 + 1.0;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let mut c = Array2::from_elem((m, n).f(), 1.0); // column-major output
        pool.install(|| gemm_into(2.0, a_t.t(), b.view(), 1.0, c.view_mut()));
        assert_eq!(c, want);
    }

    #[test]
    fn matmul_batched_matches_items() {
        let a = Array3::from_shape_fn((3, 40, 50), |(i, r, c)| ((i + 2 * r + 3 * c) % 7) as f64);
        let b = Array3::from_shape_fn((3, 50, 60), |(i, r, c)| ((3 * i + r + c) % 5) as f64);
        let c = matmul_batched(a.view(), b.view());
        for i in 0..3 {
            let item = naive(
                &a.index_axis(Axis(0), i).to_owned(),
                &b.index_axis(Axis(0), i).to_owned(),
            );
            assert_eq!(c.index_axis(Axis(0), i), item);
        }
    }

    #[test]
    fn split_picks_the_cheaper_side_in_aligned_blocks() {
        assert_eq!(split(64, 100, 256, 2), (1, 128)); // batch-64 Linear: columns
        assert_eq!(split(64, 1024, 784, 2), (1, 400));
        assert_eq!(split(784, 64, 1024, 2), (0, 400)); // rows, though n > m
        assert_eq!(split(1024, 1024, 1024, 2), (0, 512));
        assert_eq!(split(16, 4096, 4096, 2), (1, 2048)); // one row block only: columns
        assert_eq!(split(4096, 4096, 16, 2), (0, 2048));
        assert_eq!(split(16, 2, 32, 2), (1, 16)); // rows preferred, but only one row block
    }

    #[test]
    fn output_starts_on_a_cache_line() {
        for len in [1, 17, 1000] {
            assert_eq!(output::<f32>(len).as_ptr() as usize % CACHE_LINE, 0);
            assert_eq!(output::<f64>(len).len(), len);
        }
    }
}
