//! Speed of the four convolutions of workload W2 (the DCGAN, batch 64, f32):
//! forward plus backward (input and weight gradients) through autograd, at 1
//! and 2 threads, with each of the three kernels also timed alone.
//!
//! Run with `cargo bench --bench conv`. Prints a table, then one JSON line per
//! case and thread count.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use tensor::kernels::im2col::{self, Conv2dParams, ConvGeometry, ConvTranspose2dParams};
use tensor::{BackwardOptions, Tensor};

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

/// The geometry of the convolution `C` underlying a case (for a transposed
/// convolution, the one it is the adjoint of).
fn geometry(case: &Case) -> ConvGeometry {
    let [n, c, h, w] = case.input;
    let [a, b, kh, kw] = case.weight;
    let (s, p) = ([2, 2], [1, 1]);
    let out = |size: usize, k: usize| (size + 2 - k) / 2 + 1;
    let up = |size: usize, k: usize| (size - 1) * 2 - 2 + k;
    let (in_channels, out_channels, in_size, out_size) = if case.transpose {
        (b, a, [up(h, kh), up(w, kw)], [h, w])
    } else {
        (c, a, [h, w], [out(h, kh), out(w, kw)])
    };
    ConvGeometry {
        batch: n,
        in_channels,
        out_channels,
        in_size,
        out_size,
        kernel: [kh, kw],
        stride: s,
        padding: p,
        dilation: [1, 1],
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
/// three kernels alone (C, Cxᵀ, Cwᵀ).
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
    // The kernels alone, on the underlying convolution C: x_c [N, C, H, W],
    // w_c [O, C·KH·KW], y_c [N, O, OH, OW].
    let geo = geometry(case);
    let xc = vec![0.5f32; geo.batch * geo.sample_len()];
    let wc = vec![0.01f32; geo.out_channels * geo.patch_len()];
    let yc = vec![0.25f32; geo.batch * geo.out_channels * geo.out_pixels()];
    let k_c = median_ms(|| drop(im2col::conv2d_forward(&geo, &xc, &wc, None)));
    let k_xt = median_ms(|| drop(im2col::conv2d_input_grad(&geo, &yc, &wc, None)));
    let k_wt = median_ms(|| drop(im2col::conv2d_weight_grad(&geo, &xc, &yc)));
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
        let flop = 2.0 * geometry(case).macs() as f64; // per kernel
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
