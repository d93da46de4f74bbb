//! Timing the training workloads of `shared/workloads.md`: W1 (`mlp`) and W2
//! (`dcgan`), batch 64, BCE on logits, Adam(2e-4, (0.5, 0.999)), one
//! discriminator and one generator update per step — exactly
//! [`Trainer::step`](gan::train::Trainer::step). Any other model is timed
//! with its defaults ([`TrainConfig::new`]): a `wgan-gp` step is five critic
//! updates, each with the gradient penalty's double backward, and one
//! generator update, so its plan ([`BenchPlan::for_model`]) times fewer steps.
//!
//! The images are random MNIST-shaped bytes (the time of a step does not
//! depend on the pixel values), so the bench needs no dataset. It reports the
//! median over several timed chunks after a warm-up, as the workloads ask.

use crate::Result;
use datasets::synthetic_mnist;
use gan::config::TrainConfig;
use gan::models::ModelKind;
use gan::train::Trainer;
use serde::Serialize;
use std::time::Instant;
use tensor::gemm::{GemmPath, f32_flop_count};

/// How long to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchPlan {
    /// Untimed steps first (caches, allocator, page faults).
    pub warmup_steps: usize,
    /// Timed chunks; the report gives their median.
    pub chunks: usize,
    /// Steps per chunk.
    pub steps_per_chunk: usize,
}

impl BenchPlan {
    /// The default plan, or a shorter one (1 warm-up step, 5 chunks of 2)
    /// for models whose steps take several discriminator updates.
    pub fn for_model(model: ModelKind) -> Self {
        if TrainConfig::new(model).d_steps > 1 {
            BenchPlan {
                warmup_steps: 1,
                chunks: 5,
                steps_per_chunk: 2,
            }
        } else {
            BenchPlan::default()
        }
    }
}

impl Default for BenchPlan {
    fn default() -> Self {
        BenchPlan {
            warmup_steps: 5,
            chunks: 7,
            steps_per_chunk: 10,
        }
    }
}

/// One workload's result, printed as a JSON line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// `mlp` (W1), `dcgan` (W2), or another model's name.
    pub workload: String,
    /// Rayon threads.
    pub threads: usize,
    /// Median milliseconds per (generator) step over the timed chunks.
    pub ms_per_step: f64,
    /// Fastest and slowest chunk, per step.
    pub ms_per_step_min: f64,
    /// See `ms_per_step_min`.
    pub ms_per_step_max: f64,
    /// Steps timed in all.
    pub steps: usize,
    /// Peak resident memory of the process so far, in MiB (Linux `VmHWM`).
    pub peak_rss_mib: Option<f64>,
    /// Which f32 matrix-multiply path ran (`avx512`, `avx2` or `portable`;
    /// see `tensor::gemm::GemmPath`).
    pub gemm: String,
    /// Fresh pages the process took from the kernel per timed step (Linux
    /// minor page faults). After the warm-up a step should reuse the memory
    /// of the previous one: every fresh page costs a fault and the zeroing of
    /// 4 KiB.
    pub page_faults_per_step: Option<f64>,
    /// Matrix-product work per timed step, in GFLOP (2·m·k·n summed over
    /// every f32 product; see `tensor::gemm::f32_flop_count`).
    /// Divided by the core's peak rate it is a floor on the step's time.
    pub gemm_gflop_per_step: f64,
}

/// Times `model`'s training step on the current rayon thread pool.
pub fn run(model: ModelKind, plan: BenchPlan) -> Result<BenchReport> {
    run_config(TrainConfig::new(model), plan)
}

/// Times the training step of `config` (its model, loss, batch size and
/// regularisers; epochs and seed aside). The workload is named after the
/// model, with `+r1(γ, every K)` and `+spectral-norm` when those are on.
pub fn run_config(config: TrainConfig, plan: BenchPlan) -> Result<BenchReport> {
    let mut workload = config.model.name().to_string();
    if let Some(r1) = config.r1 {
        workload += &format!("+r1({}, every {})", r1.gamma, r1.every);
    }
    if config.spectral_norm {
        workload += "+spectral-norm";
    }
    let mut trainer = Trainer::new(config, synthetic_mnist(1024, 1)?)?;
    for _ in 0..plan.warmup_steps {
        trainer.step()?;
    }
    let mut per_step = Vec::with_capacity(plan.chunks);
    let faults_before = minor_page_faults();
    let flop_before = f32_flop_count();
    for _ in 0..plan.chunks {
        let start = Instant::now();
        for _ in 0..plan.steps_per_chunk {
            trainer.step()?;
        }
        per_step.push(start.elapsed().as_secs_f64() * 1e3 / plan.steps_per_chunk as f64);
    }
    let steps = plan.chunks * plan.steps_per_chunk;
    let gemm_gflop_per_step = (f32_flop_count() - flop_before) as f64 / 1e9 / steps as f64;
    let page_faults_per_step = faults_before
        .zip(minor_page_faults())
        .map(|(before, after)| after.saturating_sub(before) as f64 / steps as f64);
    per_step.sort_by(f64::total_cmp);
    Ok(BenchReport {
        workload,
        threads: rayon::current_num_threads(),
        ms_per_step: per_step[per_step.len() / 2],
        ms_per_step_min: per_step[0],
        ms_per_step_max: per_step[per_step.len() - 1],
        steps,
        peak_rss_mib: peak_rss_mib(),
        gemm: GemmPath::active().name().to_string(),
        page_faults_per_step,
        gemm_gflop_per_step,
    })
}

/// The process's peak resident set size in MiB, from `/proc/self/status`
/// (`None` where that file does not exist).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The minor page faults of the process so far, from `/proc/self/stat`
/// (field 10, `minflt`; `None` where that file does not exist).
pub fn minor_page_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields after its closing parenthesis, where field 3 starts.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(7)?.parse().ok()
}
