//! `gan-mnist`: train a GAN on MNIST and watch digits appear.
//!
//! ```text
//! gan-mnist                                   train the default model (cgan-global)
//! gan-mnist train --model dcgan --epochs 5    train with options
//! gan-mnist train --resume runs/dcgan         continue a stopped run
//! gan-mnist sample --checkpoint runs/dcgan --out grid.png
//! gan-mnist sample --checkpoint runs/cgan-global --which best --out best.png
//! gan-mnist sample --checkpoint runs/dcgan --n 10000 --out x.npy   all samples as one NumPy array
//! gan-mnist train --r1 10 --spectral-norm     regularise the discriminator
//! gan-mnist train --model cgan                train a class-conditional GAN
//! gan-mnist sample --checkpoint runs/cgan --digit 7 --out sevens.png
//! gan-mnist interpolate --checkpoint runs/dcgan --out walk.png   walks between latent points (+ walk.gif)
//! gan-mnist bench --workload mlp --threads 2  time the workloads, JSON lines
//! gan-mnist eval --checkpoint runs/dcgan      classifier score, Fréchet distance, digit shares
//! gan-mnist classifier train                  train the judge that eval uses
//! ```

mod cli;
mod commands;

use clap::Parser;
use cli::{BenchArgs, ClassifierCommand, Cli, Command, SampleArgs, TrainArgs};
use datasets::{PixelRange, Split};
use gan::config::TrainConfig;
use gan::loss::LossKind;
use gan::models::ModelKind;
use runs::bench::{self, BenchPlan};
use runs::run::{self, RunOptions};
use runs::sample::SampleRequest;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Keeps freed pages for reuse instead of returning each large buffer to
/// the kernel (see Cargo.toml for the measurement).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its number in mimalloc 3's
/// `mimalloc.h`, which `libmimalloc-sys` gives no name).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to give freed pages back to the kernel.
///
/// By default it returns ("purges") pages that stay free for a while. A
/// training step frees everything it allocated and allocates the same again
/// in the next step, so purged pages came straight back as fresh ones, each
/// a page fault and 4 KiB of zeroing by the kernel: 4–7% of a W1 step in
/// `perf` (`clear_page_erms`). Kept, a step after the warm-up takes no fresh
/// pages (`gan-mnist bench` reports `page_faults_per_step`). The peak memory
/// is the same: pages are kept, not added.
fn keep_freed_pages() {
    // SAFETY: sets an option; mimalloc reads it whenever it next considers
    // purging.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

fn main() -> ExitCode {
    keep_freed_pages();
    let cli = Cli::parse();
    let result = set_threads(cli.threads()).and_then(|()| {
        on_a_worker_thread(|| match cli.command {
            Some(Command::Train(args)) => train(*args),
            Some(Command::Sample(args)) => sample(args),
            Some(Command::Bench(args)) => bench(args),
            Some(Command::Interpolate(args)) => commands::interpolate::interpolate(args),
            Some(Command::Eval(args)) => commands::eval::eval(args),
            Some(Command::Classifier(ClassifierCommand::Train(args))) => commands::classifier::train(args),
            None => train(cli.train),
        })
    });
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("gan-mnist: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `work` on one of the worker threads of rayon's global pool, and
/// waits for it.
///
/// Every parallel loop started from a worker thread runs in its own pool
/// directly. Started from `main`'s thread, which is not a worker, each one
/// would be handed to a worker while `main` sleeps until it is done: with
/// `--threads 1` that put two context switches around every parallel loop
/// of a step, for nothing (`perf`: rayon waking and parking threads, about
/// 7% of a W1 step).
fn on_a_worker_thread<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    // `rayon::scope` runs its closure on a worker of the current pool.
    rayon::scope(|_| work())
}

/// Sets rayon's global thread count, if asked.
fn set_threads(threads: Option<usize>) -> Result<(), String> {
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| format!("cannot start {n} threads: {e}"))?;
    }
    Ok(())
}

fn train(args: TrainArgs) -> Result<ExitCode, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::Relaxed) {
            // A second Ctrl-C: the user really wants out.
            std::process::exit(130);
        }
        eprintln!("\ngan-mnist: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)");
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    let options = RunOptions {
        progress: !args.no_progress,
        stop,
        checkpoint_every: args.checkpoint_every,
        interrupt_at: None,
        detect_anomaly: args.detect_anomaly,
        quality_samples: args.quality_samples,
    };

    let (config, dir, resuming) = match &args.resume {
        Some(dir) => (
            args.resumed_config(&run::saved_config(dir).map_err(|e| e.to_string())?),
            dir.clone(),
            true,
        ),
        None => {
            let config = args.config()?;
            let dir = args.run_dir(&config)?;
            (config, dir, false)
        }
    };
    let downloader = config
        .dataset
        .downloader()
        .with_offline(args.offline)
        .with_progress(!args.no_progress);
    let data = datasets::load(
        config.dataset,
        Split::Train,
        args.data_dir.as_deref(),
        &downloader,
    )
    .map_err(|e| e.to_string())?;
    println!(
        "gan-mnist: {} {} on {} ({} images), batch {}, {} epochs, seed {}, {} threads → {}",
        if resuming { "resuming" } else { "training" },
        config.model,
        config.dataset.title(),
        data.len(),
        config.batch_size,
        config.epochs,
        config.seed,
        rayon::current_num_threads(),
        dir.display()
    );
    let (loss, conditional, averaged) = (config.loss, config.model.is_conditional(), config.ema.is_some());
    let summary = if resuming {
        run::resume(config, data, &dir, &options)
    } else {
        run::start(config, data, &dir, &options)
    }
    .map_err(|e| e.to_string())?;

    if let Some(row) = summary.last {
        let s = row.stats;
        println!(
            "step {} (epoch {}): loss_D {:.3}, loss_G {:.3}, D(x) {:.2}, D(G(z)) {:.2}",
            row.step, row.epoch, s.loss_d, s.loss_g, s.d_real, s.d_fake
        );
        if loss == LossKind::WassersteinGp {
            // The critic's scores are raw, not probabilities: their gap is
            // its estimate of the Wasserstein distance (see gan::wasserstein).
            println!("Wasserstein estimate D(x) − D(G(z)): {:.3}", s.d_real - s.d_fake);
        }
        if let Some(q) = row.quality {
            println!(
                "judge on {} samples of the {} generator: classifier score {:.2}, Fréchet distance {:.1}, \
                 {} missing (`gan-mnist eval --checkpoint {}` for the full measure)",
                args.quality_samples,
                if averaged { "averaged" } else { "live" },
                q.classifier_score,
                q.frechet_distance,
                q.missing_digits,
                summary.dir.display()
            );
        }
    }
    let minutes = summary.elapsed.as_secs_f64() / 60.0;
    match runs::bench::peak_rss_mib() {
        Some(mib) => println!(
            "{} steps in {minutes:.1} min; peak memory {mib:.0} MiB.",
            summary.steps
        ),
        None => println!("{} steps in {minutes:.1} min.", summary.steps),
    }
    println!("samples:    {}", summary.dir.join("samples.png").display());
    if conditional {
        println!(
            "rows:       {} (one class per row)",
            summary.dir.join("samples.txt").display()
        );
    }
    println!("per epoch:  {}", summary.dir.join("samples").display());
    println!(
        "losses:     {} and metrics.csv",
        summary.dir.join("loss.svg").display()
    );
    println!("checkpoint: {}", summary.checkpoint.display());
    if summary.interrupted {
        println!(
            "stopped early; continue with: gan-mnist train --resume {}",
            summary.dir.display()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

fn sample(args: SampleArgs) -> Result<ExitCode, String> {
    let request = SampleRequest {
        n: args.n,
        seed: args.seed,
        class: args.digit.map(|d| d as usize),
        which: args.which,
    };
    if args.out.extension().is_some_and(|e| e == "npy") {
        let samples = runs::sample::sample_array(&args.checkpoint, request).map_err(|e| e.to_string())?;
        runs::npy::write_npy(&args.out, &samples.values, &samples.shape)?;
        let (low, high) = match samples.range {
            PixelRange::Symmetric => (-1, 1),
            PixelRange::Unit => (0, 1),
        };
        println!(
            "gan-mnist: {} samples → {} (float32 {:?}, values in [{low}, {high}])",
            samples.shape[0],
            args.out.display(),
            samples.shape
        );
        return Ok(ExitCode::SUCCESS);
    }
    let grids = runs::sample::sample_grids(&args.checkpoint, request).map_err(|e| e.to_string())?;
    let numbered = |i: usize| {
        let stem = args.out.file_stem().unwrap_or_default().to_string_lossy();
        let ext = args.out.extension().unwrap_or_default().to_string_lossy();
        args.out.with_file_name(format!("{stem}-{}.{ext}", i + 1))
    };
    for (i, grid) in grids.iter().enumerate() {
        let out = if grids.len() == 1 {
            args.out.clone()
        } else {
            numbered(i)
        };
        runs::grid::write_png(&grid.image, &out).map_err(|e| e.to_string())?;
        println!(
            "gan-mnist: {} samples from the {} generator of {} → {}",
            grid.count,
            grid.generator,
            grid.checkpoint.display(),
            out.display()
        );
    }
    if let Some(legend) = grids.first().and_then(|g| g.legend.as_ref()) {
        let legend_path = args.out.with_extension("txt");
        std::fs::write(&legend_path, legend).map_err(|e| format!("{}: {e}", legend_path.display()))?;
        print!("{legend}");
        println!("legend:     {}", legend_path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(args: BenchArgs) -> Result<ExitCode, String> {
    // A TENSOR_GEMM this CPU cannot honour is replaced silently by the
    // kernels; a benchmark must say which path it really timed.
    if let Some(warning) = tensor::gemm::GemmPath::forced_but_unavailable() {
        eprintln!("gan-mnist: warning: {warning}");
    }
    let models: Vec<ModelKind> = match args.workload.as_str() {
        "all" => vec![ModelKind::Mlp, ModelKind::Dcgan],
        name => vec![name.parse::<ModelKind>()?],
    };
    for model in models {
        let config = args.penalties.apply(TrainConfig::new(model));
        let report = bench::run_config(config, BenchPlan::for_model(model)).map_err(|e| e.to_string())?;
        println!("{}", serde_json::to_string(&report).expect("a report serialises"));
    }
    Ok(ExitCode::SUCCESS)
}
