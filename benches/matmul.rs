//! Matrix-product benchmark: the engine's `Tensor::<f32>::matmul` beside raw
//! `matrixmultiply::sgemm` on the same shapes and the same thread count.
//! The engine's f32 products run on its own AVX-512 or AVX2 kernels where
//! the CPU has them (`tensor::gemm`); the path is printed first
//! and in every JSON line (`"gemm"`), and `TENSOR_GEMM=portable|avx2|avx512`
//! forces one.
//!
//! ```text
//! cargo bench --bench matmul                 # every shape
//! cargo bench --bench matmul -- 64x1024x784  # only shapes whose name contains the filter
//! ```
//!
//! Shapes are written `m×k×n` for `(m×k)·(k×n)`; GFLOP/s = 2·m·k·n / time.
//!
//! What is compared, for 1 and 2 threads (each on its own rayon pool, and
//! every timed loop runs *inside* `pool.install`, so no cross-thread hand-off
//! is timed):
//! * **engine**: `Tensor::matmul` on two tensors, including the allocation of
//!   the output and its wrapping as a `Tensor` (no gradient recording).
//! * **raw**: `matrixmultiply::sgemm` into a preallocated buffer. At 1 thread
//!   that is one direct call. At 2 threads it is the best honest baseline we
//!   can build by hand: `matrixmultiply`'s own `threading` feature is not
//!   enabled in this workspace (and was unreliable on this machine, see
//!   `/work/shared/perf-notes.md`), so the product is cut into one row block
//!   per thread *and*, separately, into one column block per thread (blocks
//!   rounded to whole microkernel tiles), each block's single-threaded sgemm
//!   running on a worker of the same pool. The faster of the two splits is
//!   the baseline. Raw outputs start on a cache line, like the engine's.
//!
//! The machine is shared, so figures drift between runs. To keep the ratios
//! honest, the variants of one shape are measured *interleaved*: each round
//! takes one sample of every variant, and the median over the rounds is
//! reported. Each sample repeats the call enough times to last about 50 ms.
//!
//! The last section measures the backward of the Linear-layer product
//! `(64×1024)·(1024×784)`: it computes `Ā = Ȳ·Bᵀ` and `B̄ = Aᵀ·Ȳ` from
//! transposed *views*, whose strides go straight to the gemm. A counting
//! allocator checks that no operand is copied, and the strided products are
//! timed beside the same products on operands transposed in memory
//! beforehand.

use matrixmultiply::sgemm;
use rayon::ThreadPool;
use rayon::prelude::*;
use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tensor::gemm::{GemmPath, sgemm_row_major};
use tensor::{BackwardOptions, Tensor};

/// Counts the bytes allocated, so the bench can prove that no operand is
/// copied. One relaxed atomic add per allocation costs nothing measurable.
struct CountingAlloc;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Bytes allocated while `f` runs.
fn bytes_allocated_by(f: impl FnOnce()) -> usize {
    let before = ALLOCATED.load(Ordering::Relaxed);
    f();
    ALLOCATED.load(Ordering::Relaxed) - before
}

/// The benchmarked products, `(m, k, n)`: the Linear layers of the MLP GAN at
/// batch 64 (forward, and the weight gradient `Xᵀ·Ȳ` of a 784→1024 layer) and
/// a large square product.
const SHAPES: [(usize, usize, usize); 4] = [
    (64, 100, 256),
    (64, 1024, 784),
    (784, 64, 1024),
    (1024, 1024, 1024),
];

/// How long one sample lasts at least (the call is repeated to fill it).
const SAMPLE: Duration = Duration::from_millis(50);
/// Samples per variant; the median is reported.
const ROUNDS: usize = 9;
/// The raw blocks are rounded to multiples of this: `matrixmultiply`'s f32
/// microkernel tile is 16×16 with AVX-512 (its default `avx512` feature, on a
/// CPU that has it) and 8×8 with AVX2/FMA.
const TILE: usize = 16;

/// A raw pointer that may be sent to rayon workers. Each worker writes a
/// disjoint block of the matrix behind it.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: the blocks written through it are disjoint (see `raw_blocks`).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer. A method, so that closures capture the whole `SendPtr`
    /// (which is `Send`) rather than its raw-pointer field (which is not).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Deterministic values in [-0.5, 0.5): the bench needs no randomness, only
/// data that is not all zeros.
fn values(len: usize, salt: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 + salt * 104_729) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// The `len` elements of `store` (which must hold 16 more) that start on a
/// 64-byte cache line, as the engine's outputs do: when two threads write
/// column blocks side by side, an unaligned start puts every row's seam
/// inside a cache line the two cores then fight over, so the raw baseline
/// gets aligned buffers too.
fn aligned(store: &mut [f32], len: usize) -> &mut [f32] {
    let start = store.as_ptr().align_offset(64);
    &mut store[start..start + len]
}

/// Row-major `c = a·b` by one direct `matrixmultiply::sgemm` call on this
/// thread (the engine's portable path, through its safe front).
fn raw_sgemm(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_row_major(GemmPath::Portable, (m, k, n), a, b, c);
}

/// Row-major `c = a·b` cut into one block of rows (`by_rows`) or of columns
/// per thread of the current pool, each block one single-threaded `sgemm`.
fn raw_blocks(by_rows: bool, m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let threads = rayon::current_num_threads();
    let len = if by_rows { m } else { n };
    let block = len.div_ceil(threads).div_ceil(TILE) * TILE;
    let pieces = len.div_ceil(block);
    let (a, b, c) = (a.as_ptr() as usize, b.as_ptr() as usize, SendPtr(c.as_mut_ptr()));
    (0..pieces).into_par_iter().for_each(|piece| {
        let start = piece * block;
        let size = block.min(len - start);
        let (a, b) = (a as *const f32, b as *const f32);
        // SAFETY: the block lies inside the matrices; blocks are disjoint in c.
        unsafe {
            if by_rows {
                let (a, c) = (a.add(start * k), c.get().add(start * n));
                sgemm(
                    size, k, n, 1.0, a, k as isize, 1, b, n as isize, 1, 0.0, c, n as isize, 1,
                );
            } else {
                let (b, c) = (b.add(start), c.get().add(start));
                sgemm(
                    m, k, size, 1.0, a, k as isize, 1, b, n as isize, 1, 0.0, c, n as isize, 1,
                );
            }
        }
    });
}

/// One thing to time: the pool it runs on and the call.
struct Variant<'a> {
    pool: &'a ThreadPool,
    run: Box<dyn FnMut() + Send + 'a>,
    /// Calls per sample, set by warm-up.
    reps: usize,
    /// Seconds per call, one entry per sample.
    samples: Vec<f64>,
}

impl<'a> Variant<'a> {
    fn new(pool: &'a ThreadPool, run: impl FnMut() + Send + 'a) -> Self {
        Variant {
            pool,
            run: Box::new(run),
            reps: 1,
            samples: Vec::new(),
        }
    }

    /// Warms up (at least 3 calls and 20 ms) and sets `reps` so that a sample
    /// lasts about [`SAMPLE`].
    fn warm_up(&mut self) {
        let run = &mut self.run;
        let per_call = self.pool.install(|| {
            let start = Instant::now();
            let mut calls = 0;
            while calls < 3 || start.elapsed() < Duration::from_millis(20) {
                run();
                calls += 1;
            }
            start.elapsed().as_secs_f64() / calls as f64
        });
        self.reps = ((SAMPLE.as_secs_f64() / per_call).ceil() as usize).max(1);
    }

    /// Takes one sample: `reps` calls inside the pool.
    fn sample(&mut self) {
        let (run, reps) = (&mut self.run, self.reps);
        let seconds = self.pool.install(|| {
            let start = Instant::now();
            for _ in 0..reps {
                run();
            }
            start.elapsed().as_secs_f64()
        });
        self.samples.push(seconds / reps as f64);
    }

    /// Median seconds per call.
    fn median(&self) -> f64 {
        let mut s = self.samples.clone();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    }
}

/// CPU time counters from Linux's `/proc`, in clock ticks: the whole
/// machine's busy and total time, and this process's own time.
#[derive(Clone, Copy)]
struct CpuTicks {
    machine_busy: u64,
    machine_total: u64,
    own: u64,
    cpus: u64,
}

impl CpuTicks {
    /// Reads the counters; `None` where `/proc` is not available.
    fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let mut lines = stat.lines();
        // "cpu  user nice system idle iowait irq softirq steal ..."
        let fields: Vec<u64> = lines
            .next()?
            .split_whitespace()
            .skip(1)
            .map_while(|f| f.parse().ok())
            .collect();
        let cpus = lines.filter(|l| l.starts_with("cpu")).count() as u64;
        let total: u64 = fields.iter().take(8).sum();
        let idle = fields.get(3)? + fields.get(4)?;
        let own_stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the ")" closing the command name; utime and stime
        // are the 14th and 15th fields of the whole line.
        let after_name: Vec<&str> = own_stat.rsplit_once(')')?.1.split_whitespace().collect();
        let own = after_name.get(11)?.parse::<u64>().ok()? + after_name.get(12)?.parse::<u64>().ok()?;
        Some(CpuTicks {
            machine_busy: total - idle,
            machine_total: total,
            own,
            cpus,
        })
    }

    /// How many CPUs other processes kept busy, on average, since `self`.
    fn background_since(self, later: Option<Self>) -> Option<f64> {
        let later = later?;
        let elapsed = (later.machine_total - self.machine_total) as f64 / self.cpus.max(1) as f64;
        let others = (later.machine_busy - self.machine_busy) as f64 - (later.own - self.own) as f64;
        (elapsed > 0.0).then(|| (others / elapsed).max(0.0))
    }
}

/// Warms up every variant, then takes [`ROUNDS`] interleaved samples (each
/// round starting at a different variant). Returns the medians in seconds,
/// and how many CPUs other processes used meanwhile (the machine is shared:
/// a figure above about 0.2 means the numbers, above all the 2-thread ones,
/// are depressed).
fn measure(variants: &mut [Variant<'_>]) -> (Vec<f64>, Option<f64>) {
    let start = CpuTicks::now();
    for v in variants.iter_mut() {
        v.warm_up();
    }
    for round in 0..ROUNDS {
        for i in 0..variants.len() {
            variants[(round + i) % variants.len()].sample();
        }
    }
    let background = start.and_then(|s| s.background_since(CpuTicks::now()));
    (variants.iter().map(Variant::median).collect(), background)
}

/// The background load for printing: "0.05" or "?" where unknown.
fn load_cell(background: Option<f64>) -> String {
    background.map_or_else(|| "?".to_string(), |b| format!("{b:.2}"))
}

fn gflops(flop: f64, seconds: f64) -> f64 {
    flop / seconds / 1e9
}

/// Leaf tensors `a` (m×k) and `b` (k×n) and the same values as plain vectors.
fn operands(m: usize, k: usize, n: usize) -> (Tensor, Tensor, Vec<f32>, Vec<f32>) {
    let (av, bv) = (values(m * k, 1), values(k * n, 2));
    let a = Tensor::from_vec(av.clone(), &[m, k]).expect("m×k values");
    let b = Tensor::from_vec(bv.clone(), &[k, n]).expect("k×n values");
    (a, b, av, bv)
}

/// Engine versus raw sgemm for one shape at 1 and 2 threads; prints the table
/// rows and one JSON line per thread count.
fn bench_shape(pools: &[ThreadPool; 2], (m, k, n): (usize, usize, usize)) {
    let name = format!("{m}x{k}x{n}");
    let flop = 2.0 * (m * k * n) as f64;
    let (a, b, av, bv) = operands(m, k, n);
    let mut stores = [(); 3].map(|_| vec![0.0; m * n + 16]);
    let [c1, c2r, c2c] = stores.each_mut().map(|store| aligned(store, m * n));
    let engine = || {
        black_box(a.matmul(&b).expect("shapes agree"));
    };
    // t[0] engine, t[1] raw at 1 thread; t[2] engine, t[3] raw rows, t[4]
    // raw columns at 2 threads.
    let mut variants = vec![
        Variant::new(&pools[0], engine),
        Variant::new(&pools[0], || raw_sgemm(m, k, n, &av, &bv, c1)),
        Variant::new(&pools[1], engine),
        Variant::new(&pools[1], || raw_blocks(true, m, k, n, &av, &bv, c2r)),
        Variant::new(&pools[1], || raw_blocks(false, m, k, n, &av, &bv, c2c)),
    ];
    let (t, background) = measure(&mut variants);
    drop(variants);
    // The baselines must compute the engine's result, or the comparison is void.
    let want = a.matmul(&b).expect("shapes agree").to_vec();
    for (c, what) in [(c1, "raw1"), (c2r, "raw2_rows"), (c2c, "raw2_cols")] {
        assert_eq!(*c, want[..], "{name}: {what} differs from the engine");
    }
    let (raw2, raw2_split) = if t[3] <= t[4] {
        (t[3], "rows")
    } else {
        (t[4], "cols")
    };
    let speedup = t[0] / t[2];
    for (threads, engine, raw) in [(1, t[0], t[1]), (2, t[2], raw2)] {
        let (ge, gr) = (gflops(flop, engine), gflops(flop, raw));
        let speedup_cell = if threads == 2 {
            format!("{speedup:.2}x")
        } else {
            String::new()
        };
        println!(
            "{name:>16} {threads:>7} {ge:>10.1} {gr:>10.1} {:>8.3} {speedup_cell:>10} {:>8}",
            ge / gr,
            load_cell(background)
        );
        let mut line = json!({
            "bench": "matmul", "shape": name, "m": m, "k": k, "n": n, "threads": threads,
            "gemm": GemmPath::active().name(),
            "engine_gflops": ge, "raw_gflops": gr, "engine_over_raw": ge / gr,
            "engine_ms": engine * 1e3, "raw_ms": raw * 1e3, "background_cpus": background,
        });
        if threads == 2 {
            line["raw_split"] = json!(raw2_split);
            line["raw_rows_gflops"] = json!(gflops(flop, t[3]));
            line["raw_cols_gflops"] = json!(gflops(flop, t[4]));
            line["engine_speedup_2_over_1"] = json!(speedup);
        }
        JSON_LINES.with(|lines| lines.borrow_mut().push(line.to_string()));
    }
}

thread_local! {
    /// JSON lines, printed after the tables so the tables stay readable.
    static JSON_LINES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The backward of the Linear-layer product: its cost relative to the
/// forward, and proof that the transposed operands are not copied.
fn bench_backward(pools: &[ThreadPool; 2], (m, k, n): (usize, usize, usize)) {
    let name = format!("{m}x{k}x{n}");
    let flop = 2.0 * (m * k * n) as f64;
    let (a, b, _, _) = operands(m, k, n);
    let (a, b) = (a.with_requires_grad(), b.with_requires_grad());
    let seed = Tensor::from_vec(values(m * n, 3), &[m, n]).expect("m×n values");

    // The transpose is a view of the same buffer with swapped strides.
    let bt = b.t().expect("2-D");
    assert_eq!(bt.array().as_ptr(), b.array().as_ptr(), "b.t() must be a view");
    assert!(
        !bt.array().is_standard_layout(),
        "b.t() is strided, not contiguous"
    );

    // Bytes allocated by one backward, less what raw sgemm itself allocates
    // (its packing buffers) for the two products, must be just the two
    // gradients plus bookkeeping: a copy of an operand would add ≥ 256 KiB.
    let (gv, av, bv) = (seed.to_vec(), a.to_vec(), b.to_vec());
    let backward_extra = pools[0].install(|| {
        let y = a.matmul(&b).expect("shapes agree");
        let engine = bytes_allocated_by(|| {
            y.backward_with(Some(&seed), BackwardOptions::default())
                .expect("backward");
        });
        let (mut ga, mut gb) = (vec![0.0; m * k], vec![0.0; k * n]);
        let raw = bytes_allocated_by(|| unsafe {
            // Ā = Ȳ·Bᵀ and B̄ = Aᵀ·Ȳ with the transposes given as strides.
            let (k_, n_) = (k as isize, n as isize);
            sgemm(
                m,
                n,
                k,
                1.0,
                gv.as_ptr(),
                n_,
                1,
                bv.as_ptr(),
                1,
                n_,
                0.0,
                ga.as_mut_ptr(),
                k_,
                1,
            );
            sgemm(
                k,
                m,
                n,
                1.0,
                av.as_ptr(),
                1,
                k_,
                gv.as_ptr(),
                n_,
                1,
                0.0,
                gb.as_mut_ptr(),
                n_,
                1,
            );
        });
        engine as i64 - raw as i64
    });
    let gradients = 4 * (m * k + k * n);
    a.zero_grad();
    b.zero_grad();
    let no_copy = backward_extra < (gradients + 64 * 1024) as i64;
    println!(
        "backward {name}: {backward_extra} bytes allocated beyond raw sgemm's own; \
         the gradients take {gradients}: {}",
        if no_copy {
            "no operand copied"
        } else {
            "AN OPERAND WAS COPIED"
        }
    );

    // Ȳ·Bᵀ and Aᵀ·Ȳ from strided views, beside the same products on operands
    // transposed in memory beforehand.
    let (at_mem, bt_mem) = (
        Tensor::from_array(a.t().expect("2-D").array().as_standard_layout().into_owned()),
        Tensor::from_array(bt.array().as_standard_layout().into_owned()),
    );
    let (a0, b0, g) = (a.detach(), b.detach(), seed.clone());
    let (at_view, bt_view) = (a0.t().expect("2-D"), b0.t().expect("2-D"));
    for (threads, pool) in [(1, &pools[0]), (2, &pools[1])] {
        // t[0] forward, t[1] forward + backward, t[2]/t[3] Ȳ·Bᵀ view/copy,
        // t[4]/t[5] Aᵀ·Ȳ view/copy.
        let mut variants = vec![
            Variant::new(pool, || {
                black_box(a.matmul(&b).expect("shapes agree"));
            }),
            Variant::new(pool, || {
                let y = a.matmul(&b).expect("shapes agree");
                y.backward_with(Some(&seed), BackwardOptions::default())
                    .expect("backward");
                a.zero_grad();
                b.zero_grad();
            }),
            Variant::new(pool, || {
                black_box(g.matmul(&bt_view).expect("shapes agree"));
            }),
            Variant::new(pool, || {
                black_box(g.matmul(&bt_mem).expect("shapes agree"));
            }),
            Variant::new(pool, || {
                black_box(at_view.matmul(&g).expect("shapes agree"));
            }),
            Variant::new(pool, || {
                black_box(at_mem.matmul(&g).expect("shapes agree"));
            }),
        ];
        let (t, background) = measure(&mut variants);
        let backward = t[1] - t[0];
        let (fwd, bwd) = (gflops(flop, t[0]), gflops(2.0 * flop, backward));
        let g = |i: usize| gflops(flop, t[i]);
        println!(
            "backward {name} threads={threads}: forward {fwd:.1} GFLOP/s, backward {bwd:.1} GFLOP/s, \
             (forward+backward)/forward = {:.2} (ideal 3.00); \
             Ȳ·Bᵀ view/copy {:.1}/{:.1}, Aᵀ·Ȳ view/copy {:.1}/{:.1} GFLOP/s; background load {}",
            t[1] / t[0],
            g(2),
            g(3),
            g(4),
            g(5),
            load_cell(background)
        );
        let line = json!({
            "bench": "matmul_backward", "shape": name, "threads": threads,
            "forward_gflops": fwd, "backward_gflops": bwd, "fwd_bwd_over_fwd": t[1] / t[0],
            "forward_ms": t[0] * 1e3, "forward_backward_ms": t[1] * 1e3,
            "g_bt_view_gflops": g(2), "g_bt_copy_gflops": g(3),
            "at_g_view_gflops": g(4), "at_g_copy_gflops": g(5),
            "background_cpus": background, "backward_extra_bytes": backward_extra, "gradient_bytes": gradients, "no_copy": no_copy,
        });
        JSON_LINES.with(|lines| lines.borrow_mut().push(line.to_string()));
    }
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is a shape filter.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with("--"));
    let pools = [1, 2].map(|threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a rayon pool")
    });
    let started = Instant::now();
    let path = GemmPath::active();
    println!(
        "matmul f32, GFLOP/s = 2·m·k·n / median time ({ROUNDS} interleaved samples of ≥ 50 ms); \
         engine = the engine's gemm on path {path} (TENSOR_GEMM=portable|avx2|avx512 forces one), \
         raw = matrixmultiply::sgemm"
    );
    println!(
        "{:>16} {:>7} {:>10} {:>10} {:>8} {:>10} {:>8}",
        "m x k x n", "threads", "engine", "raw", "eng/raw", "engine 2/1", "bg load"
    );
    for shape in SHAPES {
        let name = format!("{}x{}x{}", shape.0, shape.1, shape.2);
        if filter.as_ref().is_none_or(|f| name.contains(f.as_str())) {
            bench_shape(&pools, shape);
        }
    }
    let linear = (64, 1024, 784);
    if filter
        .as_ref()
        .is_none_or(|f| "64x1024x784".contains(f.as_str()) || f == "backward")
    {
        bench_backward(&pools, linear);
    }
    JSON_LINES.with(|lines| lines.borrow().iter().for_each(|line| println!("{line}")));
    println!("total {:.1} s", started.elapsed().as_secs_f64());
}
