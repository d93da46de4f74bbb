//! The training workloads W1 (`mlp`) and W2 (`dcgan`) of `shared/workloads.md`
//! at 1 and 2 threads: one JSON line each (ms per step, median of timed
//! chunks; peak RSS), then a table with the fastest chunk and the 2-thread
//! speedup.
//!
//! `cargo bench --bench workloads [-- mlp|dcgan]`

use gan_from_scratch::runs::bench::{self, BenchPlan};

/// The same allocator as the `gan-mnist` binary, so that the bench measures
/// what training costs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use gan_from_scratch::gan::models::ModelKind;

fn main() {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut rows = Vec::new();
    for model in [ModelKind::Mlp, ModelKind::Dcgan] {
        if filter.as_deref().is_some_and(|f| f != model.name()) {
            continue;
        }
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            let report = pool
                .install(|| bench::run(model, BenchPlan::default()))
                .expect("the workload runs");
            println!("{}", serde_json::to_string(&report).expect("serialisable"));
            rows.push(report);
        }
    }
    // The fastest chunk is shown beside the median: on a shared machine it
    // is the steadier figure for comparing two builds.
    println!(
        "\n{:<8} {:>7} {:>12} {:>12} {:>10}",
        "workload", "threads", "ms/step", "min ms/step", "speedup"
    );
    for r in &rows {
        let one = rows
            .iter()
            .find(|o| o.workload == r.workload && o.threads == 1)
            .expect("1-thread row");
        println!(
            "{:<8} {:>7} {:>12.2} {:>12.2} {:>9.2}x",
            r.workload,
            r.threads,
            r.ms_per_step,
            r.ms_per_step_min,
            one.ms_per_step / r.ms_per_step
        );
    }
}
