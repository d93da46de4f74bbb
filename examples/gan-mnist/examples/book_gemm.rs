//! Chapter 7 of the book (`docs/07-how-a-fast-matrix-multiply-works.md`):
//! how fast an f32 matrix product runs, from the textbook triple loop to the
//! engine's register-tiled kernels, beside the machine's peak.
//!
//! On one thread, for square products `n × n × n`, it measures
//! * the triple loop in the `i, j, p` order of the textbook (only up to
//!   [`NAIVE_MAX_N`], where one product already takes about a second);
//! * the same loop in `i, p, j` order, which walks both `B` and `C` along
//!   rows (the first step of the chapter's story);
//! * `matrixmultiply::sgemm` (the engine's portable path);
//! * the engine's AVX2 (6×16 tile) and AVX-512 (8×48 tile) kernels, each
//!   only if the CPU has the instruction set (said in the output if not);
//! * the machine's peak: a loop of independent fused multiply-adds on
//!   registers, with no memory traffic at all.
//!
//! It prints a markdown table, the same for the products of the MLP GAN's
//! Linear layers, and draws `docs/images/book-gemm-gflops.svg`.
//!
//! ```text
//! cargo run --release -p gan-mnist --example book_gemm
//! ```
//!
//! # Timing
//! GFLOP/s = 2·m·k·n / time. Each variant is timed in trials of at least
//! [`MIN_TRIAL_SECONDS`], each repeating the product enough times, and the
//! best trial counts: on a shared machine the other processes only ever
//! slow a trial down, so the best one is the nearest to what the code can do.
//! The time is the thread's own CPU time (`CLOCK_THREAD_CPUTIME_ID` on
//! Linux), not the wall clock: while the scheduler runs another process on
//! the core, this thread's clock stands still. (Another process can still
//! evict our data from the shared cache; that cost is counted.)

#[path = "book_common/mod.rs"]
mod book_common;

use book_common::{
    Axes, MIN_TRIAL_SECONDS, Series, SeriesLabelPosition, TRIALS, best_seconds, images_dir, line_chart,
};
use plotters::style::RGBColor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::error::Error;
use std::hint::black_box;
use tensor::gemm::{GemmPath, sgemm_row_major};

/// The square sizes of the figure.
const SIZES: [usize; 7] = [16, 32, 64, 128, 256, 512, 1024];
/// The textbook loop stops here: at n = 1024 one product takes many seconds.
const NAIVE_MAX_N: usize = 512;
/// The products of the MLP GAN's 784→1024 Linear layer at batch 64, as
/// `(m, k, n)`: forward `x·W` is 64×784×1024, the input gradient `ȳ·Wᵀ` is
/// 64×1024×784 and the weight gradient `xᵀ·ȳ` is 784×64×1024; and the
/// first layer's forward, 64×100×256 (the shapes of issue 13's targets,
/// with 1024×1024×1024 from the square sizes). Here all operands are plain
/// row-major matrices.
const WORKLOADS: [(usize, usize, usize); 4] =
    [(64, 784, 1024), (64, 1024, 784), (784, 64, 1024), (64, 100, 256)];
/// `c = a·b` for row-major `a` (m×k), `b` (k×n), `c` (m×n), by the textbook
/// triple loop: `c[i][j]` is the dot product of row `i` of `a` and column
/// `j` of `b`, summed in `p` order. The walk down a column of `b` jumps `n`
/// floats at every step.
fn triple_loop_ijp(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0;
            for p in 0..k {
                sum += a[i * k + p] * b[p * n + j];
            }
            c[i * n + j] = sum;
        }
    }
}

/// The same product with the two inner loops exchanged: row `i` of `c`
/// gathers `a[i][p]` times row `p` of `b`, so every inner step walks `b`
/// and `c` along a row, and the compiler can use vector instructions.
fn triple_loop_ipj(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    for (c_row, a_row) in c.chunks_exact_mut(n).zip(a.chunks_exact(k)).take(m) {
        c_row.fill(0.0);
        for (&a_ip, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            for (c_ij, &b_pj) in c_row.iter_mut().zip(b_row) {
                *c_ij += a_ip * b_pj;
            }
        }
    }
}

/// `c = a·b`, row-major, on one of the engine's gemm paths.
fn engine(path: GemmPath, m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_row_major(path, (m, k, n), a, b, c);
}

/// One way of multiplying, as the table and the figure name it.
#[derive(Clone, Copy)]
enum Variant {
    Ijp,
    Ipj,
    Path(GemmPath),
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::Ijp => "triple loop (i, j, p)",
            Variant::Ipj => "triple loop (i, p, j)",
            Variant::Path(GemmPath::Portable) => "matrixmultiply",
            Variant::Path(GemmPath::Avx2) => "engine, AVX2 6×16",
            Variant::Path(GemmPath::Avx512) => "engine, AVX-512 8×48",
        }
    }

    fn color(self) -> RGBColor {
        match self {
            Variant::Ijp => RGBColor(214, 39, 40),
            Variant::Ipj => RGBColor(255, 127, 14),
            Variant::Path(GemmPath::Portable) => RGBColor(44, 160, 44),
            Variant::Path(GemmPath::Avx2) => RGBColor(31, 119, 180),
            Variant::Path(GemmPath::Avx512) => RGBColor(148, 103, 189),
        }
    }

    /// Runs the product once.
    fn run(self, (m, k, n): (usize, usize, usize), a: &[f32], b: &[f32], c: &mut [f32]) {
        match self {
            Variant::Ijp => triple_loop_ijp(m, k, n, a, b, c),
            Variant::Ipj => triple_loop_ipj(m, k, n, a, b, c),
            Variant::Path(path) => engine(path, m, k, n, a, b, c),
        }
    }
}

/// GFLOP/s of `variant` on the product of shape `(m, k, n)`, with operands
/// drawn from `rng`, each starting on a cache line (see [`LineAligned`]).
fn gflops(variant: Variant, shape: (usize, usize, usize), rng: &mut ChaCha8Rng) -> f64 {
    let (m, k, n) = shape;
    let a = LineAligned::new(&random(m * k, rng));
    let b = LineAligned::new(&random(k * n, rng));
    let mut c = LineAligned::new(&vec![0.0_f32; m * n]);
    let seconds = best_seconds(|| {
        variant.run(
            shape,
            black_box(a.floats()),
            black_box(b.floats()),
            c.floats_mut(),
        );
        black_box(c.floats_mut());
    });
    2.0 * (m * k * n) as f64 / seconds / 1e9
}

/// Bytes in a cache line.
const CACHE_LINE: usize = 64;

/// Floats that start on a 64-byte cache line, as the operands of a product
/// are in a training step of `gan-mnist` (it allocates through mimalloc,
/// and the gemm aligns its outputs; a probe found every `B` of W1's and
/// W2's products on a line) and in PyTorch (every tensor is 64-byte
/// aligned): the two things this example's figures are compared with.
///
/// A plain `Vec<f32>` of this size comes from the system's `malloc`, which
/// promises 16 bytes: here its buffers started 16 bytes into a line. Then
/// a 16-float vector load or store of a row straddles two lines and costs
/// about two. The engine cuts its slivers of `B` so that the loads it
/// reads in place do not straddle (chapter 7.4), but the stores into `C`
/// still do: a loop of `sgemm_row_major` with all three operands 16 bytes
/// into a line ran 64×100×256 at 166–184 GFLOP/s, against 183–202 with
/// them on a line (Intel Xeon, AVX-512, 1 thread, four alternated rounds,
/// 2026-12-01). Before that cut, the straddling loads cost 64×1024×784
/// about 10% more.
struct LineAligned {
    storage: Vec<f32>,
    start: usize,
    len: usize,
}

impl LineAligned {
    /// A copy of `values`, starting on a cache line.
    fn new(values: &[f32]) -> Self {
        let line_floats = CACHE_LINE / size_of::<f32>();
        let mut storage = vec![0.0_f32; values.len() + line_floats];
        // At most 15 floats in: `Vec<f32>` is 4-byte aligned.
        let start = storage.as_ptr().align_offset(CACHE_LINE).min(line_floats);
        storage[start..start + values.len()].copy_from_slice(values);
        LineAligned {
            storage,
            start,
            len: values.len(),
        }
    }

    /// The floats.
    fn floats(&self) -> &[f32] {
        &self.storage[self.start..self.start + self.len]
    }

    /// The floats, to write.
    fn floats_mut(&mut self) -> &mut [f32] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// `len` values uniform in [-1, 1).
fn random(len: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// The machine's peak: fused multiply-adds on registers only, enough
/// independent ones in flight to cover the FMA units' latency. Each returns
/// a sum of its accumulators, so that the compiler cannot drop the work.
// The AVX-512 intrinsics are stable since Rust 1.89, above the workspace's
// 1.85; the `tensor` crate this example builds on needs 1.89 already.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::incompatible_msrv)]
mod peak {
    use std::arch::x86_64::*;

    /// 24 independent chains of `acc ← acc·0.999999 + 1e-6` on 16-lane
    /// registers (26 of the 32 zmm registers with the two constants),
    /// `steps` times: `steps·24·16·2` flops.
    ///
    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(steps: usize) -> f32 {
        let (mul, add) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-6));
        // Different starting values, so that no two chains are the same
        // computation (the compiler would merge them), and none at the fixed
        // point 1 of the step (the compiler would take that chain out of the
        // loop).
        let mut acc: [__m512; 24] = std::array::from_fn(|i| _mm512_set1_ps(i as f32 + 2.0));
        for _ in 0..steps {
            for sum in acc.iter_mut() {
                *sum = _mm512_fmadd_ps(*sum, mul, add);
            }
        }
        _mm512_reduce_add_ps(acc.iter().fold(_mm512_setzero_ps(), |t, &x| _mm512_add_ps(t, x)))
    }

    /// 12 independent chains on 8-lane registers (14 of the 16 ymm
    /// registers), `steps` times: `steps·12·8·2` flops.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(steps: usize) -> f32 {
        let (mul, add) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-6));
        let mut acc: [__m256; 12] = std::array::from_fn(|i| _mm256_set1_ps(i as f32 + 2.0));
        for _ in 0..steps {
            for sum in acc.iter_mut() {
                *sum = _mm256_fmadd_ps(*sum, mul, add);
            }
        }
        let mut lanes = [0.0_f32; 8];
        let total = acc.iter().fold(_mm256_setzero_ps(), |t, &x| _mm256_add_ps(t, x));
        // SAFETY: `lanes` holds 8 floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), total) };
        lanes.iter().sum()
    }
}

/// The peak GFLOP/s of `path`'s instruction set, or `None` for the
/// portable path or a CPU without the set.
fn peak_gflops(path: GemmPath) -> Option<f64> {
    const STEPS: usize = 100_000;
    if !path.is_available() {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let (run, flops): (unsafe fn(usize) -> f32, usize) = match path {
            GemmPath::Avx512 => (peak::avx512, STEPS * 24 * 16 * 2),
            GemmPath::Avx2 => (peak::avx2, STEPS * 12 * 8 * 2),
            GemmPath::Portable => return None,
        };
        // SAFETY: the CPU has the instruction set (checked above).
        let seconds = best_seconds(|| {
            black_box(unsafe { run(black_box(STEPS)) });
        });
        Some(flops as f64 / seconds / 1e9)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// The CPU as `/proc/cpuinfo` names it: the first `model name`, with the
/// family and model numbers, which name the core (family 25 is AMD's Zen 3
/// and Zen 4; the model tells them apart).
fn cpu_name() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |key: &str| {
        info.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim() == key)
            .map(|(_, value)| value.trim().to_string())
    };
    match (field("model name"), field("cpu family"), field("model")) {
        (Some(name), Some(family), Some(model)) => format!("{name} (family {family}, model {model})"),
        (Some(name), _, _) => name,
        _ => format!("an unknown {} CPU", std::env::consts::ARCH),
    }
}

/// A number for the table, or a dash.
fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_string(), |v| format!("{v:.1}"))
}

fn main() -> Result<(), Box<dyn Error>> {
    let cpu = cpu_name();
    let paths = [GemmPath::Portable, GemmPath::Avx2, GemmPath::Avx512];
    let available: Vec<GemmPath> = paths.into_iter().filter(|p| p.is_available()).collect();
    println!("CPU: {cpu}");
    println!(
        "gemm paths this CPU has: {}; the engine's default: {}",
        available.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "),
        GemmPath::best_available()
    );
    for path in paths.iter().filter(|p| !p.is_available()) {
        println!("not measured: the {path} kernel (this CPU lacks the instruction set)");
    }
    println!(
        "1 thread; best of up to {TRIALS} trials of ≥ {} ms of this thread's CPU time each\n",
        MIN_TRIAL_SECONDS * 1e3
    );

    let mut variants = vec![Variant::Ijp, Variant::Ipj];
    variants.extend(available.iter().map(|&p| Variant::Path(p)));
    let mut rng = ChaCha8Rng::seed_from_u64(7);

    // Every variant must compute the same product before its speed means
    // anything: compare each with the f64 triple loop on one size.
    check_agreement(&variants, &mut rng);

    let peaks: Vec<(GemmPath, f64)> = [GemmPath::Avx2, GemmPath::Avx512]
        .into_iter()
        .filter_map(|p| peak_gflops(p).map(|g| (p, g)))
        .collect();
    for (path, g) in &peaks {
        println!("peak, {path} FMA loop on registers: {g:.1} GFLOP/s");
    }
    println!();

    // The square sizes.
    let mut table: Vec<Vec<Option<f64>>> = Vec::new();
    for &n in &SIZES {
        let row = variants
            .iter()
            .map(|&v| {
                let skip = matches!(v, Variant::Ijp) && n > NAIVE_MAX_N;
                (!skip).then(|| gflops(v, (n, n, n), &mut rng))
            })
            .collect();
        table.push(row);
    }
    let header: Vec<&str> = variants.iter().map(|v| v.label()).collect();
    println!("GFLOP/s, square products n×n×n:\n");
    println!("| n | {} |", header.join(" | "));
    println!("|---:|{}", "---:|".repeat(header.len()));
    for (n, row) in SIZES.iter().zip(&table) {
        let cells: Vec<String> = row.iter().map(|&v| cell(v)).collect();
        println!("| {n} | {} |", cells.join(" | "));
    }
    if let Some(&(_, best_peak)) = peaks.iter().max_by(|x, y| x.1.total_cmp(&y.1)) {
        let last = table.last().expect("at least one size");
        for (v, g) in variants.iter().zip(last) {
            if let Some(g) = g {
                println!(
                    "  at n = {}: {} reaches {:.0}% of the peak",
                    SIZES[SIZES.len() - 1],
                    v.label(),
                    100.0 * g / best_peak
                );
            }
        }
    }

    // The Linear layer's products (no textbook loop: too slow to matter).
    let fast: Vec<Variant> = variants
        .iter()
        .copied()
        .filter(|v| matches!(v, Variant::Path(_)))
        .collect();
    println!("\nGFLOP/s, the MLP GAN's Linear-layer products at batch 64 (m×k×n, row-major):\n");
    let labels: Vec<&str> = fast.iter().map(|v| v.label()).collect();
    println!("| m×k×n | {} |", labels.join(" | "));
    println!("|---|{}", "---:|".repeat(labels.len()));
    for &(m, k, n) in &WORKLOADS {
        let cells: Vec<String> = fast
            .iter()
            .map(|&v| cell(Some(gflops(v, (m, k, n), &mut rng))))
            .collect();
        println!("| {m}×{k}×{n} | {} |", cells.join(" | "));
    }
    println!();

    draw(&cpu, &variants, &table, &peaks)
}

/// Runs every variant on one 100×130×70 product and prints the largest
/// difference from the f64 triple loop; fails if one is off by more than
/// f32 rounding allows.
fn check_agreement(variants: &[Variant], rng: &mut ChaCha8Rng) {
    let shape @ (m, k, n) = (100, 130, 70);
    let (a, b) = (random(m * k, rng), random(k * n, rng));
    let want: Vec<f64> = (0..m * n)
        .map(|ij| {
            let (i, j) = (ij / n, ij % n);
            (0..k)
                .map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]))
                .sum()
        })
        .collect();
    let mut worst: Vec<String> = Vec::new();
    for &v in variants {
        let mut c = vec![0.0_f32; m * n];
        v.run(shape, &a, &b, &mut c);
        let error = c
            .iter()
            .zip(&want)
            .map(|(&g, &w)| (f64::from(g) - w).abs())
            .fold(0.0, f64::max);
        // |a|, |b| ≤ 1: each term is at most 1, so a k-term f32 sum is off
        // by at most about k·ε·k.
        assert!(
            error <= (k * k) as f64 * f64::from(f32::EPSILON),
            "{} is wrong",
            v.label()
        );
        worst.push(format!("{} {error:.1e}", v.label()));
    }
    println!(
        "check, {m}×{k}×{n} against the f64 triple loop, largest difference: {}",
        worst.join("; ")
    );
}

/// The figure: GFLOP/s against n (on a log₂ axis labelled with the
/// powers of two themselves), one curve per variant, the peaks as
/// horizontal lines.
fn draw(
    cpu: &str,
    variants: &[Variant],
    table: &[Vec<Option<f64>>],
    peaks: &[(GemmPath, f64)],
) -> Result<(), Box<dyn Error>> {
    let log2 = |n: usize| (n as f64).log2();
    let x_range = log2(SIZES[0])..log2(SIZES[SIZES.len() - 1]);
    let mut series: Vec<Series> = variants
        .iter()
        .enumerate()
        .map(|(col, v)| {
            let points = SIZES
                .iter()
                .zip(table)
                .filter_map(|(&n, row)| row[col].map(|g| (log2(n), g)))
                .collect();
            Series::new(v.label(), v.color(), points)
        })
        .collect();
    for &(path, g) in peaks {
        let color = match path {
            GemmPath::Avx512 => RGBColor(90, 90, 90),
            _ => RGBColor(170, 170, 170),
        };
        let label = format!("peak, {path} FMAs on registers");
        series.push(Series::new(
            label,
            color,
            vec![(x_range.start, g), (x_range.end, g)],
        ));
    }
    let top = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    let title = format!(
        "f32 matrix product, 1 thread — {cpu}, {}",
        GemmPath::best_available()
    );
    line_chart(
        &images_dir()?.join("book-gemm-gflops.svg"),
        &Axes {
            title: &title,
            x_desc: "n (the product of two n×n matrices)",
            y_desc: "GFLOP/s",
            x: x_range,
            // Room above the peak for the legend, over the small sizes.
            y: 0.0..top * 1.4,
            log_x: false,
            x_format: Some(|x| format!("{}", x.exp2().round())),
            legend: SeriesLabelPosition::UpperLeft,
        },
        &series,
    )
}
