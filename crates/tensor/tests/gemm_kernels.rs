//! The engine's f32 gemm against an f64 reference, on every path this CPU
//! has: shapes at and around every edge of the microkernel tiles (8×48 for
//! AVX-512, 6×16 for AVX2) and of the cache blocks (KC = 256), transposed
//! and strided operands, column-major and strided outputs, α and β
//! (including β = 0 over NaN, which must not be read).
//!
//! Paths the CPU lacks are listed on stderr as not run, and one test fails
//! if the CPU has a path that `GemmPath::best_available` does not pick.

mod common;

use common::bits;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tensor::gemm::{GemmPath, sgemm_on, sgemm_row_major};

const PATHS: [GemmPath; 3] = [GemmPath::Portable, GemmPath::Avx2, GemmPath::Avx512];

/// The paths this CPU can run; the others are named on stderr.
fn available_paths() -> Vec<GemmPath> {
    PATHS
        .into_iter()
        .filter(|path| {
            let ok = path.is_available();
            if !ok {
                eprintln!("gemm path {path} not run: this CPU lacks it");
            }
            ok
        })
        .collect()
}

/// A matrix stored in a buffer with arbitrary strides (in elements).
struct Strided {
    data: Vec<f32>,
    offset: usize,
    row_stride: isize,
    col_stride: isize,
}

impl Strided {
    /// A rows×cols matrix in one of four layouts: row-major, column-major,
    /// row-major with padded rows, or every other element of a wider row
    /// (column stride 2); values uniform in [-1, 1].
    fn random(rows: usize, cols: usize, layout: usize, rng: &mut ChaCha8Rng) -> Self {
        let (row_stride, col_stride, len) = match layout % 4 {
            0 => (cols as isize, 1, rows * cols),
            1 => (1, rows as isize, rows * cols),
            2 => (cols as isize + 3, 1, rows * (cols + 3)),
            _ => (2 * cols as isize + 1, 2, rows * (2 * cols + 1)),
        };
        let data = (0..len.max(1)).map(|_| rng.random_range(-1.0..1.0)).collect();
        Strided {
            data,
            offset: 0,
            row_stride,
            col_stride,
        }
    }

    fn index(&self, i: usize, j: usize) -> usize {
        (self.offset as isize + i as isize * self.row_stride + j as isize * self.col_stride) as usize
    }

    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[self.index(i, j)]
    }
}

/// Runs `c ← α·a·b + β·c` on `path` and checks every element against the
/// same product in f64, within the f32 rounding bound of a k-term sum.
fn check(
    path: GemmPath,
    (m, k, n): (usize, usize, usize),
    layouts: [usize; 3],
    alpha: f32,
    beta: f32,
    seed: u64,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = Strided::random(m, k, layouts[0], &mut rng);
    let b = Strided::random(k, n, layouts[1], &mut rng);
    let mut c = Strided::random(m, n, layouts[2], &mut rng);
    if beta == 0.0 {
        // β = 0 means C is not read: NaN there must not leak into the result.
        c.data.fill(f32::NAN);
    }
    let before: Vec<f32> = c.data.clone();
    // SAFETY: the three buffers hold the matrices with these strides, and
    // c's buffer is separate from a's and b's.
    unsafe {
        sgemm_on(
            path,
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.row_stride,
            a.col_stride,
            b.data.as_ptr(),
            b.row_stride,
            b.col_stride,
            beta,
            c.data.as_mut_ptr(),
            c.row_stride,
            c.col_stride,
        );
    }
    let mut touched = vec![false; c.data.len()];
    for i in 0..m {
        for j in 0..n {
            let (mut sum, mut magnitude) = (0.0_f64, 0.0_f64);
            for p in 0..k {
                let term = f64::from(a.at(i, p)) * f64::from(b.at(p, j));
                sum += term;
                magnitude += term.abs();
            }
            let idx = c.index(i, j);
            touched[idx] = true;
            let old = if beta == 0.0 { 0.0 } else { f64::from(before[idx]) };
            let want = f64::from(alpha) * sum + f64::from(beta) * old;
            let bound = 2.0
                * (k as f64 + 2.0)
                * f64::from(f32::EPSILON)
                * (f64::from(alpha.abs()) * magnitude + f64::from(beta.abs()) * old.abs())
                + 1e-30;
            let got = f64::from(c.data[idx]);
            assert!(
                (got - want).abs() <= bound,
                "{path}: {m}x{k}x{n} layouts {layouts:?} α={alpha} β={beta}: c[{i},{j}] = {got}, want {want} (bound {bound})"
            );
        }
    }
    // Elements outside the m×n view (the padding of strided layouts) are
    // left exactly as they were.
    for (idx, (&after, &was)) in c.data.iter().zip(&before).enumerate() {
        if !touched[idx] {
            assert!(
                after.to_bits() == was.to_bits(),
                "{path}: {m}x{k}x{n} layouts {layouts:?}: element {idx} outside the output was written"
            );
        }
    }
}

/// Sizes on both sides of every tile edge (6, 8, 16, 48) and of a 256-step
/// cache block, plus the workloads' own.
const EDGE_SIZES: [usize; 16] = [1, 2, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33, 47, 49, 63, 65];

#[test]
fn every_path_matches_f64_on_tile_edges() {
    for path in available_paths() {
        for (t, &m) in EDGE_SIZES.iter().enumerate() {
            for (u, &n) in EDGE_SIZES.iter().enumerate() {
                let k = EDGE_SIZES[(t + 2 * u) % EDGE_SIZES.len()];
                check(path, (m, k, n), [0, 0, 0], 1.0, 0.0, (t * 100 + u) as u64);
            }
        }
    }
}

#[test]
fn every_path_matches_f64_across_cache_blocks() {
    for path in available_paths() {
        for &(m, k, n) in &[
            (64, 100, 256),
            (64, 784, 512),
            (129, 255, 97),
            (9, 257, 49),
            (200, 513, 161),
            (31, 1, 31),
            (3, 600, 3),
        ] {
            check(path, (m, k, n), [0, 0, 0], 1.0, 0.0, (m + k + n) as u64);
        }
    }
}

#[test]
fn every_path_reads_transposed_and_strided_operands_and_writes_strided_outputs() {
    for path in available_paths() {
        for layouts in 0..64 {
            let layouts = [layouts % 4, (layouts / 4) % 4, layouts / 16];
            check(path, (19, 37, 53), layouts, 1.0, 0.0, 7 + layouts[0] as u64);
        }
        // A Linear layer's products: x·Wᵀ, ȳ·W and xᵀ·ȳ.
        check(path, (64, 784, 512), [0, 1, 0], 1.0, 0.0, 1);
        check(path, (64, 512, 784), [0, 0, 0], 1.0, 0.0, 2);
        check(path, (784, 64, 512), [1, 0, 0], 1.0, 0.0, 3);
    }
}

/// A `B` that starts anywhere in a cache line (as a buffer from the
/// system's `malloc` does) gives the bits of the same `B` on a line: the
/// kernels then read it in slivers cut differently (`blocked.rs`,
/// `lead_columns`), which must not change a sum. Shapes whose slivers are
/// cut that way (one block of `A`, rows a multiple of 16 floats), with `n`
/// below, at and above one sliver, and two that keep the usual cut
/// (several blocks of `A`; rows of 100 floats, which start at different
/// places in their lines).
#[test]
fn every_path_gives_the_same_bits_wherever_b_starts_in_a_cache_line() {
    const LINE_FLOATS: usize = 16;
    let shapes = [
        (64, 100, 256),
        (64, 37, 784),
        (7, 300, 48),
        (128, 20, 16),
        (3, 5, 1024),
        (200, 30, 64),
        (64, 10, 100),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for path in available_paths() {
        for (m, k, n) in shapes {
            let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut storage = vec![0.0_f32; k * n + 2 * LINE_FLOATS];
            let line_start = storage.as_ptr().align_offset(64).min(LINE_FLOATS);
            let mut product_with_b_at = |shift: usize| {
                let start = line_start + shift;
                storage[start..start + k * n].copy_from_slice(&b);
                let mut c = vec![0.0_f32; m * n];
                sgemm_row_major(path, (m, k, n), &a, &storage[start..start + k * n], &mut c);
                c
            };
            let on_a_line = product_with_b_at(0);
            for shift in 1..LINE_FLOATS {
                assert_eq!(
                    bits(&product_with_b_at(shift)),
                    bits(&on_a_line),
                    "{path}: {m}x{k}x{n} with B {shift} floats into a cache line"
                );
            }
        }
    }
}

/// Products with a dimension of 1 (a Linear layer with one output; they
/// have loops of their own, `skinny.rs`): every layout, with and without
/// α and β, lengths on both sides of the 16-lane and 1024-column chunks.
#[test]
fn every_path_handles_a_dimension_of_one() {
    for path in available_paths() {
        for &(m, k, n) in &[
            (64, 6272, 1),
            (64, 1, 6272),
            (1, 64, 6272),
            (33, 17, 1),
            (5, 1, 15),
            (1, 3, 1025),
            (1, 1, 1),
        ] {
            for layouts in 0..64 {
                let layouts = [layouts % 4, (layouts / 4) % 4, layouts / 16];
                let seed = (m + k + n + layouts[0]) as u64;
                check(path, (m, k, n), layouts, 1.0, 0.0, seed);
                check(path, (m, k, n), layouts, -0.5, 2.0, seed + 1);
            }
        }
    }
}

/// The loops for a dimension of 1 must give the blocked loops' bits (a
/// training run depends on every bit): the same product with operands laid
/// out so that it takes one or the other, compared bit for bit, including
/// `k` past one 256-step slice.
#[test]
fn the_dimension_of_one_loops_give_the_blocked_loops_bits() {
    for path in available_paths().into_iter().filter(|p| *p != GemmPath::Portable) {
        for &(m, k, n) in &[
            (64, 6272, 1),
            (64, 1, 6272),
            (1, 64, 6272),
            (9, 600, 1),
            (1, 600, 70),
            (13, 1, 5),
        ] {
            for &(alpha, beta) in &[(1.0, 0.0), (-0.5, 2.0)] {
                let mut rng = ChaCha8Rng::seed_from_u64((m * k + n) as u64);
                let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
                let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
                let c0: Vec<f32> = (0..m * n).map(|_| rng.random_range(-1.0..1.0)).collect();
                // Row-major operands take the loops for a dimension of 1;
                // every other element of a wider buffer (column stride 2)
                // the blocked loops.
                let run = |stride: usize| {
                    let spread = |v: &[f32], cols: usize| -> Vec<f32> {
                        let mut out = vec![0.0; v.len() * stride];
                        for (i, x) in v.iter().enumerate() {
                            out[(i / cols) * cols * stride + (i % cols) * stride] = *x;
                        }
                        out
                    };
                    let (a, b) = (spread(&a, k), spread(&b, n));
                    let mut c = c0.clone();
                    // SAFETY: a is m×k and b k×n with these strides; c is m×n row-major.
                    unsafe {
                        sgemm_on(
                            path,
                            m,
                            k,
                            n,
                            alpha,
                            a.as_ptr(),
                            (k * stride) as isize,
                            stride as isize,
                            b.as_ptr(),
                            (n * stride) as isize,
                            stride as isize,
                            beta,
                            c.as_mut_ptr(),
                            n as isize,
                            1,
                        );
                    }
                    c
                };
                let (skinny, blocked) = (run(1), run(2));
                for (i, (x, y)) in skinny.iter().zip(&blocked).enumerate() {
                    assert!(
                        x.to_bits() == y.to_bits(),
                        "{path}: {m}x{k}x{n} α={alpha} β={beta}: c[{i}] = {x} vs the blocked loops' {y}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_path_applies_alpha_and_beta() {
    for path in available_paths() {
        for &(alpha, beta) in &[(1.0, 1.0), (2.5, 0.0), (-0.5, 3.0), (0.0, 1.0), (1.0, -1.0)] {
            for &(m, k, n) in &[(17, 300, 50), (8, 48, 48), (1, 1, 1)] {
                check(path, (m, k, n), [0, 0, 0], alpha, beta, 11);
                check(path, (m, k, n), [2, 1, 1], alpha, beta, 12);
            }
        }
    }
}

#[test]
fn an_empty_inner_dimension_scales_c_by_beta() {
    for path in available_paths() {
        for beta in [0.0_f32, 2.0] {
            let mut c = vec![if beta == 0.0 { f32::NAN } else { 1.5 }; 6];
            // SAFETY: k = 0, so a and b are never read; c is 2×3 row-major.
            unsafe {
                sgemm_on(
                    path,
                    2,
                    0,
                    3,
                    1.0,
                    [].as_ptr(),
                    0,
                    1,
                    [].as_ptr(),
                    3,
                    1,
                    beta,
                    c.as_mut_ptr(),
                    3,
                    1,
                );
            }
            assert_eq!(c, vec![if beta == 0.0 { 0.0 } else { 3.0 }; 6], "{path}");
        }
    }
}

/// On an x86-64 CPU with AVX-512F or AVX2, the default path must be the
/// engine's kernel for it, not the portable fallback.
#[test]
fn the_best_path_is_picked() {
    let best = GemmPath::best_available();
    eprintln!(
        "best gemm path on this CPU: {best}; active: {}",
        GemmPath::active()
    );
    for path in [GemmPath::Avx512, GemmPath::Avx2] {
        if path.is_available() {
            assert!(
                best == path || best == GemmPath::Avx512,
                "{path} is available but {best} was picked"
            );
        }
    }
}

/// The engine's kernels give bitwise the same result for the same inputs
/// (no dependence on buffer reuse or on earlier calls).
#[test]
fn every_path_is_deterministic() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (m, k, n) = (70, 300, 100);
    let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
    for path in available_paths() {
        let run = || {
            let mut c = vec![0.0_f32; m * n];
            sgemm_row_major(path, (m, k, n), &a, &b, &mut c);
            c
        };
        let first = run();
        // A different shape in between reuses (and grows) the buffers.
        check(path, (300, 600, 700), [0, 0, 0], 1.0, 0.0, 9);
        assert_eq!(bits(&run()), bits(&first), "{path}");
    }
}
