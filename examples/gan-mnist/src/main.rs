//! `gan-mnist`: train a GAN on MNIST and watch digits appear.
//!
//! ```text
//! gan-mnist                                   train the default model
//! gan-mnist train --model dcgan --epochs 5    train with options
//! gan-mnist train --resume runs/dcgan         continue a stopped run
//! gan-mnist sample --checkpoint runs/dcgan --out grid.png
//! gan-mnist sample --checkpoint runs/dcgan --n 10000 --out x.npy   all samples as one NumPy array
//! gan-mnist train --r1 10 --spectral-norm     regularise the discriminator
//! gan-mnist train --model cgan                train a class-conditional GAN
//! gan-mnist sample --checkpoint runs/cgan --digit 7 --out sevens.png
//! gan-mnist bench --workload mlp --threads 2  time the workloads, JSON lines
//! gan-mnist eval --checkpoint runs/dcgan      classifier score, Fréchet distance, digit shares
//! gan-mnist classifier train                  train the judge that eval uses
//! ```

mod cli;
mod commands;

use clap::Parser;
use cli::{BenchArgs, ClassifierCommand, Cli, Command, SampleArgs, TrainArgs};
use gan::bench::{self, BenchPlan};
use gan::data::{self, PixelRange, Split};
use gan::models::ModelKind;
use gan::objective::LossKind;
use gan::run::{self, RunOptions};
use gan::sample::SampleRequest;
use gan::train::TrainConfig;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Keeps freed pages for reuse instead of returning each large buffer to
/// the kernel (see Cargo.toml for the measurement).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Train(args)) => train(*args),
        Some(Command::Sample(args)) => sample(args),
        Some(Command::Bench(args)) => bench(args),
        Some(Command::Eval(args)) => commands::eval::eval(args),
        Some(Command::Classifier(ClassifierCommand::Train(args))) => commands::classifier::train(args),
        None => train(cli.train),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("gan-mnist: error: {message}");
            ExitCode::FAILURE
        }
    }
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
    set_threads(args.threads)?;
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
    let data = data::load(
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
    let (loss, conditional) = (config.loss, config.model.is_conditional());
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
        if loss == LossKind::WganGp {
            // The critic's scores are raw, not probabilities: their gap is
            // its estimate of the Wasserstein distance (see gan::wasserstein).
            println!("Wasserstein estimate D(x) − D(G(z)): {:.3}", s.d_real - s.d_fake);
        }
        if let Some(q) = row.quality {
            println!(
                "judge on {} samples: classifier score {:.2}, Fréchet distance {:.1}, {} missing \
                 (`gan-mnist eval --checkpoint {}` for the full measure)",
                args.quality_samples,
                q.classifier_score,
                q.frechet_distance,
                q.missing_digits,
                summary.dir.display()
            );
        }
    }
    let minutes = summary.elapsed.as_secs_f64() / 60.0;
    match gan::bench::peak_rss_mib() {
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
    };
    if args.out.extension().is_some_and(|e| e == "npy") {
        let samples = gan::sample::sample_array(&args.checkpoint, request).map_err(|e| e.to_string())?;
        gan::npy::write_npy(&args.out, &samples.values, &samples.shape)?;
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
    let grids = gan::sample::sample_grids(&args.checkpoint, request).map_err(|e| e.to_string())?;
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
        gan::grid::write_png(&grid.image, &out).map_err(|e| e.to_string())?;
        println!("gan-mnist: {} samples → {}", grid.count, out.display());
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
    set_threads(args.threads)?;
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
