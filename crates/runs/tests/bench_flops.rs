//! `gan-mnist bench`'s `gemm_gflop_per_step` against the matrix-product
//! work W1's step must do, counted by hand from the layer sizes. A single
//! test in its own binary: the FLOP counter is process-wide, and tests of
//! one binary run side by side.

use gan::models::ModelKind;
use runs::bench::{self, BenchPlan};

/// 2·batch·(in·out) summed over layers given as (in, out).
fn flop(batch: u64, layers: &[(u64, u64)]) -> u64 {
    layers.iter().map(|(i, o)| 2 * batch * i * o).sum()
}

#[test]
fn w1_step_does_exactly_the_products_it_needs() {
    let g = [(100, 256), (256, 512), (512, 1024), (1024, 784)];
    let d = [(784, 512), (512, 256), (256, 1)];
    let b = 64;
    // Discriminator update: G forward (no graph), D forward on real and on
    // fake, then per branch D's weight gradients and the input gradients of
    // its layers 2 and 3 (the images need no gradient).
    let d_update = flop(b, &g) + 2 * flop(b, &d) + 2 * flop(b, &d) + 2 * flop(b, &d[1..]);
    // Generator update: G and D forward, D's input gradients only (its
    // weights are frozen), G's weight gradients and the input gradients of
    // its layers 2–4 (the noise needs no gradient).
    let g_update = flop(b, &g) + flop(b, &d) + flop(b, &d) + flop(b, &g) + flop(b, &g[1..]);
    let plan = BenchPlan {
        warmup_steps: 1,
        chunks: 1,
        steps_per_chunk: 2,
    };
    let report = bench::run(ModelKind::Mlp, plan).expect("W1 runs");
    let measured = (report.gemm_gflop_per_step * 1e9).round() as u64;
    assert_eq!(measured, d_update + g_update, "W1's matrix-product work per step");
    assert_eq!(d_update + g_update, 1_199_177_728);
}
