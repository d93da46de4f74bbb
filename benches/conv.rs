//! Speed of the four convolutions of workload W2 (the DCGAN, batch 64, f32):
//! forward plus backward (input and weight gradients) through autograd, at 1
//! and 2 threads, with each of the three kernels also timed alone.
//!
//! Run with `cargo bench --bench conv`. Prints a table, then one JSON line per
//! case and thread count.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use tensor::{BackwardOptions, Conv2dParams, ConvTranspose2dParams, Tensor};

/// Timed repetitions per measurement (after warm-up); the median is reported.
const REPS: usize = 15;
/// Untimed repetitions first.
const WARMUP: usize = 3;

/// One convolution of the workload.
struct Case {
    name: &'static str,
    transpose: bool,
    input: [usize; 4],
    weight: [usize; 4],
}

const CASES: [Case; 4] = [
    Case {
        name: "D conv2d 1->64 k4s2p1 [64,1,28,28]",
        transpose: false,
        input: [64, 1, 28, 28],
        weight: [64, 1, 4, 4],
    },
    Case {
        name: "D conv2d 64->128 k4s2p1 [64,64,14,14]",
        transpose: false,
        input: [64, 64, 14, 14],
        weight: [128, 64, 4, 4],
    },
    Case {
        name: "G convT 128->64 k4s2p1 [64,128,7,7]",
        transpose: true,
        input: [64, 128, 7, 7],
        weight: [128, 64, 4, 4],
    },
    Case {
        name: "G convT 64->1 k4s2p1 [64,64,14,14]",
        transpose: true,
        input: [64, 64, 14, 14],
        weight: [64, 1, 4, 4],
    },
];

/// The convolution `C` underlying a case (for a transposed convolution, the
/// one it is the adjoint of): the shapes of its input `[N, C, H, W]`, weight
/// `[O, C, KH, KW]` and output `[N, O, OH, OW]`.
struct Underlying {
    input: [usize; 4],
    weight: [usize; 4],
    output: [usize; 4],
}

impl Underlying {
    fn of(case: &Case) -> Self {
        let [n, c, h, w] = case.input;
        let [a, b, kh, kw] = case.weight;
        // Stride 2, padding 1: sizes down for conv2d, up for its transpose.
        let down = |size: usize, k: usize| (size + 2 - k) / 2 + 1;
        let up = |size: usize, k: usize| (size - 1) * 2 - 2 + k;
        if case.transpose {
            // conv_transpose2d(x [N, Cin, h, w], w [Cin, Cout, KH, KW]) is Cxᵀ
            // of the conv from [N, Cout, H, W] to [N, Cin, h, w].
            Underlying {
                input: [n, b, up(h, kh), up(w, kw)],
                weight: [a, b, kh, kw],
                output: [n, a, h, w],
            }
        } else {
            Underlying {
                input: [n, c, h, w],
                weight: [a, c, kh, kw],
                output: [n, a, down(h, kh), down(w, kw)],
            }
        }
    }

    /// Multiply-adds of one of the three kernels: `N·O·OH·OW·C·KH·KW`.
    fn macs(&self) -> usize {
        let [n, o, oh, ow] = self.output;
        let [_, c, kh, kw] = self.weight;
        n * o * oh * ow * c * kh * kw
    }
}

/// Median wall time of `f` in milliseconds.
fn median_ms(mut f: impl FnMut()) -> f64 {
    for _ in 0..WARMUP {
        f();
    }
    let mut times: Vec<f64> = (0..REPS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[REPS / 2]
}

/// Milliseconds for: forward+backward via autograd, forward alone, and the
/// three kernels alone (C, Cxᵀ, Cwᵀ: `conv2d`, `conv_transpose2d` and
/// `conv2d_weight_grad` with no graph recorded).
fn measure(case: &Case) -> [f64; 5] {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x = Tensor::<f32>::randn(&case.input, 0.0, 1.0, &mut rng)
        .unwrap()
        .with_requires_grad();
    let w = Tensor::<f32>::randn(&case.weight, 0.0, 0.05, &mut rng)
        .unwrap()
        .with_requires_grad();
    let forward = || {
        if case.transpose {
            x.conv_transpose2d(&w, None, ConvTranspose2dParams::new(2, 1))
                .unwrap()
        } else {
            x.conv2d(&w, None, Conv2dParams::new(2, 1)).unwrap()
        }
    };
    let seed = Tensor::<f32>::randn(&forward().shape(), 0.0, 1.0, &mut rng).unwrap();
    let step = median_ms(|| {
        x.zero_grad();
        w.zero_grad();
        forward()
            .backward_with(Some(&seed), BackwardOptions::default())
            .unwrap();
        assert!(x.grad().is_some() && w.grad().is_some());
    });
    let fwd = median_ms(|| {
        drop(tensor::no_grad(forward));
    });
    // The three kernels alone, each as its op with nothing recorded, on the
    // underlying convolution C: x_c [N, C, H, W], w_c [O, C, KH, KW],
    // y_c [N, O, OH, OW].
    let under = Underlying::of(case);
    let xc = Tensor::<f32>::full(&under.input, 0.5);
    let wc = Tensor::<f32>::full(&under.weight, 0.01);
    let yc = Tensor::<f32>::full(&under.output, 0.25);
    let conv = Conv2dParams::new(2, 1);
    let k_c = median_ms(|| drop(tensor::no_grad(|| xc.conv2d(&wc, None, conv).unwrap())));
    let k_xt = median_ms(|| {
        let z = tensor::no_grad(|| yc.conv_transpose2d(&wc, None, ConvTranspose2dParams::new(2, 1)));
        assert_eq!(z.unwrap().shape(), under.input);
    });
    let kernel = [under.weight[2], under.weight[3]];
    let k_wt = median_ms(|| {
        drop(tensor::no_grad(|| {
            xc.conv2d_weight_grad(&yc, kernel, conv).unwrap()
        }))
    });
    [step, fwd, k_c, k_xt, k_wt]
}

fn main() {
    let mut json = Vec::new();
    println!(
        "{:<40} {:>3} {:>10} {:>8} {:>8} | {:>14} {:>14} {:>14}",
        "case (f32, batch 64)",
        "thr",
        "fwd+bwd ms",
        "GFLOP/s",
        "fwd ms",
        "C ms (GF/s)",
        "Cxᵀ ms (GF/s)",
        "Cwᵀ ms (GF/s)"
    );
    for case in &CASES {
        let flop = 2.0 * Underlying::of(case).macs() as f64; // per kernel
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let [step, fwd, c, xt, wt] = pool.install(|| measure(case));
            let gflops = |flop: f64, ms: f64| flop / (ms * 1e6);
            println!(
                "{:<40} {:>3} {:>10.2} {:>8.1} {:>8.2} | {:>6.2} ({:>5.1}) {:>6.2} ({:>5.1}) {:>6.2} ({:>5.1})",
                case.name,
                threads,
                step,
                gflops(3.0 * flop, step),
                fwd,
                c,
                gflops(flop, c),
                xt,
                gflops(flop, xt),
                wt,
                gflops(flop, wt)
            );
            json.push(serde_json::json!({
                "bench": "conv",
                "case": case.name,
                "threads": threads,
                "fwd_bwd_median_ms": step,
                "fwd_bwd_gflops": gflops(3.0 * flop, step),
                "fwd_median_ms": fwd,
                "kernel_ms": {"conv": c, "input_grad": xt, "weight_grad": wt},
                "flop_per_kernel": flop,
            }));
        }
    }
    for line in json {
        println!("{line}");
    }
}
