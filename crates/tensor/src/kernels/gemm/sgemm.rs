//! The raw f32 entry points: [`sgemm`] (with `matrixmultiply::sgemm`'s
//! signature, on the active path), [`sgemm_on`] (on a chosen path, which
//! picks the blocked AVX-512 or AVX2 loops of `blocked.rs`, or
//! `matrixmultiply` for the portable one), the safe [`sgemm_row_major`],
//! and the count of the work they did ([`f32_flop_count`]).

use super::GemmPath;
#[cfg(target_arch = "x86_64")]
use super::{blocked, operands};
use std::sync::atomic::{AtomicU64, Ordering};

/// Floating-point operations (2·m·k·n per product) of every f32 product
/// that went through [`sgemm`] (all of the engine's f32 products do), on
/// any thread, since the process started; see [`f32_flop_count`].
static F32_FLOP: AtomicU64 = AtomicU64::new(0);

/// The f32 matrix-product work done so far by this process, in
/// floating-point operations (a multiply-add counts 2). The difference
/// over a training step is the step's matrix-product work, which divided by
/// the core's peak FLOP rate bounds how fast the step can be:
/// `gan-mnist bench` reports it as `gemm_gflop_per_step`.
///
/// ```
/// use ndarray::Array2;
/// use tensor::gemm::{f32_flop_count, matmul};
/// let before = f32_flop_count();
/// let (a, b) = (Array2::<f32>::ones((4, 3)), Array2::<f32>::ones((3, 5)));
/// let _ = matmul(a.view(), b.view());
/// assert!(f32_flop_count() - before >= 2 * 4 * 3 * 5); // other threads may add more
/// ```
pub fn f32_flop_count() -> u64 {
    F32_FLOP.load(Ordering::Relaxed)
}

/// Adds a product's `2·m·k·n` to [`f32_flop_count`].
pub(super) fn count_flops(m: usize, k: usize, n: usize) {
    F32_FLOP.fetch_add(2 * (m * k * n) as u64, Ordering::Relaxed);
}

/// `C ← α·A·B + β·C` in f32, with `matrixmultiply::sgemm`'s signature: `A`
/// is `m × k` at `a` with strides `(rsa, csa)` in elements, `B` is `k × n`,
/// `C` is `m × n`. Runs on the calling thread, on the path
/// [`GemmPath::active`] (see [`sgemm_on`]).
///
/// With `β = 0`, `C` is written without being read (it may be
/// uninitialised).
///
/// When `C`'s columns are not adjacent but its rows are (a column-major
/// output), the product is computed as `Cᵀ = Bᵀ·Aᵀ`, whose rows are then
/// adjacent: the microkernel always writes along rows.
///
/// ```
/// use tensor::gemm::sgemm;
/// let (a, b) = ([1.0_f32, 2.0, 3.0, 4.0], [1.0_f32, 1.0]); // a is 2×2, b is 2×1
/// let mut c = [10.0_f32, 20.0];
/// // c = 2·a·b + 1·c, all row-major
/// unsafe { sgemm(2, 2, 1, 2.0, a.as_ptr(), 2, 1, b.as_ptr(), 1, 1, 1.0, c.as_mut_ptr(), 1, 1) };
/// assert_eq!(c, [16.0, 34.0]);
/// ```
///
/// # Safety
/// The three pointers with their strides describe valid matrices of those
/// shapes; `C` is writable and overlaps neither `A` nor `B`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    count_flops(m, k, n);
    // SAFETY: forwarded from the caller; the active path is available.
    unsafe {
        sgemm_on(
            GemmPath::active(),
            m,
            k,
            n,
            alpha,
            a,
            rsa,
            csa,
            b,
            rsb,
            csb,
            beta,
            c,
            rsc,
            csc,
        )
    }
}

/// `c = a·b` for row-major f32 slices on a chosen path: `a` is `m × k`, `b`
/// is `k × n`, `c` is `m × n`. The safe front of [`sgemm_on`] for tests,
/// benchmarks and the book's figures, which compare the paths on plain
/// matrices.
///
/// ```
/// use tensor::gemm::{GemmPath, sgemm_row_major};
/// let (a, b) = ([1.0_f32, 2.0, 3.0, 4.0], [1.0_f32, 1.0]); // 2×2 and 2×1
/// let mut c = [0.0_f32; 2];
/// sgemm_row_major(GemmPath::best_available(), (2, 2, 1), &a, &b, &mut c);
/// assert_eq!(c, [3.0, 7.0]);
/// ```
///
/// # Panics
/// If a slice is shorter than its matrix.
pub fn sgemm_row_major(
    path: GemmPath,
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    assert!(
        a.len() >= m * k && b.len() >= k * n && c.len() >= m * n,
        "sgemm_row_major: slices of {}, {} and {} floats for a {m}×{k} by {k}×{n} product",
        a.len(),
        b.len(),
        c.len()
    );
    // SAFETY: the slices hold the three row-major matrices (checked above),
    // and `c`, borrowed mutably, overlaps neither of the others.
    unsafe {
        sgemm_on(
            path,
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

/// [`sgemm`] on a chosen path, so that tests and benchmarks can run every
/// path the CPU has in one process. A path the CPU lacks is replaced by
/// [`GemmPath::best_available`].
///
/// # Safety
/// As for [`sgemm`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_on(
    path: GemmPath,
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    let path = if path.is_available() {
        path
    } else {
        GemmPath::best_available()
    };
    if path == GemmPath::Portable {
        // SAFETY: forwarded from the caller.
        unsafe { matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) };
        return;
    }
    if csc != 1 && rsc == 1 {
        // SAFETY: Cᵀ = Bᵀ·Aᵀ describes the same memory with the roles of
        // rows and columns exchanged.
        unsafe { sgemm_on(path, n, k, m, alpha, b, csb, rsb, a, csa, rsa, beta, c, csc, rsc) };
        return;
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // An empty sum: C ← β·C, without reading C when β = 0.
        for i in 0..m {
            for j in 0..n {
                // SAFETY: (i, j) is inside C.
                unsafe {
                    let p = c.offset(i as isize * rsc + j as isize * csc);
                    *p = if beta == 0.0 { 0.0 } else { beta * *p };
                }
            }
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let (a, b) = (
            operands::Matrix {
                ptr: a,
                row_stride: rsa,
                col_stride: csa,
            },
            operands::Matrix {
                ptr: b,
                row_stride: rsb,
                col_stride: csb,
            },
        );
        let c = operands::Out {
            ptr: c,
            row_stride: rsc,
            col_stride: csc,
        };
        // SAFETY: the path is available on this CPU (checked above), k > 0,
        // and the matrices are valid (caller's contract).
        unsafe {
            match path {
                GemmPath::Avx512 => blocked::sgemm_avx512(m, k, n, alpha, a, b, beta, c),
                GemmPath::Avx2 => blocked::sgemm_avx2(m, k, n, alpha, a, b, beta, c),
                GemmPath::Portable => unreachable!("handled above"),
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("only x86-64 has paths other than portable, not {path}");
}
