//! Implicit GEMM: products whose `B` is never stored whole.
//!
//! A convolution's product reads a patch matrix (`im2col.rs`): for W2's
//! second convolution, 1024 rows by 784 columns per group of samples,
//! 3.2 MB, larger than a core's level-2 cache. Written out whole, every
//! float of it goes out to the level-3 cache and comes back when the gemm
//! reads it. But the gemm only ever reads `B` one packed sliver at a time
//! (`kc` rows by 48 columns, 48 KB; see `blocked.rs`). A [`PackB`] source
//! writes each sliver straight from the image, into the packing buffer
//! that is still in the level-1/2 cache when the microkernel reads it, and
//! the patch matrix never exists. The blocking, the microkernel and the
//! order of every multiply-add stay as they are, so the product has the
//! same bits as with the patch matrix written out.

use super::GemmPath;
use super::blocked;
use super::operands::{Matrix, Out, PACK_SLACK, SourceB};
use super::simd::Simd;

/// A `B` operand that packs any block of itself on demand, instead of
/// lying in memory.
pub(crate) trait PackB: Sync {
    /// `(k, n)`: the rows and columns of `B`.
    fn shape(&self) -> (usize, usize);

    /// Writes rows `p0..p0 + rows` and columns `j0..j0 + cols` of `B` into
    /// `dst`, row after row, `width` floats apart, with zeros in columns
    /// `cols..width` of each row. It may write up to 8 floats past the end
    /// of a row (rows are written in order, so the next row overwrites
    /// them) and past the end of the last one.
    ///
    /// # Safety
    /// Runs inside a function with AVX2 enabled. The block lies inside `B`;
    /// `width ≥ cols`; `dst` is valid for `rows·width + 8` floats.
    unsafe fn pack(&self, p0: usize, j0: usize, rows: usize, cols: usize, width: usize, dst: *mut f32);
}

/// A [`PackB`] as the blocked loops' `B`: never read in place, each sliver
/// packed by the source.
struct Packer<'a, P>(&'a P);

impl<P> Clone for Packer<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for Packer<'_, P> {}

impl<P: PackB> SourceB for Packer<'_, P> {
    #[inline(always)]
    fn matrix(self) -> Option<Matrix> {
        None
    }

    #[inline(always)]
    fn in_place<S: Simd>(self, _: usize, _: usize, _: usize, _: bool) -> Option<(*const f32, usize)> {
        None
    }

    #[inline(always)]
    unsafe fn pack<S: Simd>(
        self,
        pc: usize,
        jc: usize,
        kc: usize,
        nc: usize,
        nr: usize,
        _one_a_block: bool,
        dst: &mut [f32],
    ) {
        // Sliver `s` at `s·kc·nr`, as `pack_b` lays them out: what one
        // sliver writes past its end lands in the next, packed after it.
        for (s, j0) in (0..nc).step_by(nr).enumerate() {
            let cols = nr.min(nc - j0);
            let width = cols.div_ceil(S::LANES) * S::LANES;
            let at = s * kc * nr;
            assert!(dst.len() >= at + kc * width + PACK_SLACK, "B̂ too short");
            // SAFETY: the block is inside `B` (caller's contract), `dst`
            // has room for the sliver and the slack (checked above), and
            // the caller enabled AVX2 (every `S` implies it).
            unsafe {
                self.0
                    .pack(pc, jc + j0, kc, cols, width, dst.as_mut_ptr().add(at))
            };
        }
    }
}

/// Whether [`sgemm_packed_b`] can run: the engine's own loops are the
/// active path (`matrixmultiply`, the portable path, reads only matrices).
pub(crate) fn packed_b_available() -> bool {
    GemmPath::active() != GemmPath::Portable
}

/// `C ← α·A·B + β·C` in f32 on the calling thread, with `A` (`m × k`) and
/// `C` (`m × n`) row-major slices and `B` packed sliver by sliver by `b`.
/// The same blocking and microkernel as a product of matrices on the
/// active path: with `b` packing what a matrix holds, the same bits.
///
/// # Panics
/// If [`packed_b_available`] is false, or a slice's length does not match
/// `b`'s shape.
pub(crate) fn sgemm_packed_b(alpha: f32, a: &[f32], b: &impl PackB, beta: f32, c: &mut [f32]) {
    assert!(
        packed_b_available(),
        "sgemm_packed_b: the portable path reads only matrices"
    );
    sgemm_packed_b_on(GemmPath::active(), alpha, a, b, beta, c);
}

/// [`sgemm_packed_b`] on `path`, which must be available and not portable.
fn sgemm_packed_b_on(path: GemmPath, alpha: f32, a: &[f32], b: &impl PackB, beta: f32, c: &mut [f32]) {
    assert!(
        path.is_available() && path != GemmPath::Portable,
        "sgemm_packed_b: no {path} path"
    );
    let (k, n) = b.shape();
    let m = c.len().checked_div(n).unwrap_or(0);
    assert_eq!(c.len(), m * n, "sgemm_packed_b: C is not m × {n}");
    assert_eq!(a.len(), m * k, "sgemm_packed_b: A is not {m} × {k}");
    super::sgemm::count_flops(m, k, n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // An empty sum: C ← β·C, without reading C when β = 0.
        c.iter_mut()
            .for_each(|v| *v = if beta == 0.0 { 0.0 } else { beta * *v });
        return;
    }
    let a = Matrix {
        ptr: a.as_ptr(),
        row_stride: k as isize,
        col_stride: 1,
    };
    let c = Out {
        ptr: c.as_mut_ptr(),
        row_stride: n as isize,
        col_stride: 1,
    };
    // SAFETY: the path is available on this CPU (checked above); `a` and
    // `c` are the slices' row-major matrices (lengths checked), which do
    // not overlap (one is borrowed mutably); k > 0.
    unsafe {
        match path {
            GemmPath::Avx512 => blocked::sgemm_avx512(m, k, n, alpha, a, Packer(b), beta, c),
            GemmPath::Avx2 => blocked::sgemm_avx2(m, k, n, alpha, a, Packer(b), beta, c),
            GemmPath::Portable => unreachable!("checked above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{GemmPath, PackB, sgemm_packed_b_on};
    use crate::kernels::gemm::sgemm_on;

    /// A row-major matrix behind the [`PackB`] interface.
    struct Plain {
        values: Vec<f32>,
        k: usize,
        n: usize,
    }

    impl PackB for Plain {
        fn shape(&self) -> (usize, usize) {
            (self.k, self.n)
        }

        unsafe fn pack(&self, p0: usize, j0: usize, rows: usize, cols: usize, width: usize, dst: *mut f32) {
            for p in 0..rows {
                for j in 0..width {
                    let v = if j < cols {
                        self.values[(p0 + p) * self.n + j0 + j]
                    } else {
                        0.0
                    };
                    // SAFETY: row p, column j < width of the block (caller's contract).
                    unsafe { *dst.add(p * width + j) = v };
                }
            }
        }
    }

    /// Values with a fractional part, so that a different order of the
    /// sums would show in the bits.
    fn values(len: usize, salt: u64) -> Vec<f32> {
        let mut state = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The blocked loops with a packing source give the bits they give with
    /// the matrix it packs, on every path the CPU has: one tile, edge tiles,
    /// several blocks of `A` (m > 128) and of `k` (k > 256), β = 0 and β ≠ 0.
    #[test]
    fn a_packing_source_gives_the_matrix_products_bits() {
        let paths: Vec<GemmPath> = [GemmPath::Avx2, GemmPath::Avx512]
            .into_iter()
            .filter(|path| path.is_available())
            .collect();
        for (m, k, n) in [
            (2, 3, 2),
            (8, 16, 48),
            (17, 300, 65),
            (130, 257, 100),
            (128, 1024, 784),
            (9, 600, 2),
        ] {
            let (a, b, c) = (values(m * k, 1), values(k * n, 2), values(m * n, 3));
            let source = Plain {
                values: b.clone(),
                k,
                n,
            };
            for &path in &paths {
                for beta in [0.0, 0.5] {
                    let mut want = c.clone();
                    // SAFETY: row-major m×k, k×n and m×n matrices of these lengths.
                    unsafe {
                        sgemm_on(
                            path,
                            m,
                            k,
                            n,
                            1.5,
                            a.as_ptr(),
                            k as isize,
                            1,
                            b.as_ptr(),
                            n as isize,
                            1,
                            beta,
                            want.as_mut_ptr(),
                            n as isize,
                            1,
                        )
                    };
                    let mut got = c.clone();
                    sgemm_packed_b_on(path, 1.5, &a, &source, beta, &mut got);
                    let same = want.iter().zip(&got).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{m}×{k}×{n} on {path}, β = {beta}");
                }
            }
        }
        if paths.len() < 2 {
            eprintln!("note: this CPU has only {paths:?}; the other path was not run");
        }
    }
}
