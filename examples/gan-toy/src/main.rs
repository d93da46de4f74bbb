//! `gan-toy`: small GANs learning 2-D point clouds, drawn frame by frame.
//!
//! ```text
//! gan-toy                                       ring8, the default settings: covers the ring
//! gan-toy --dataset grid25                      another data set, with its own recipe (see --help)
//! gan-toy --noise-dim 16 --no-minibatch-std --pack 1 --seed 1   the pre-#17 defaults: mode collapse
//! gan-toy --noise-dim 16 --no-minibatch-std --pack 1 --d-steps 5 --lr-d 5e-3   a discriminator too strong
//! gan-toy --loss lsgan                          another loss
//! ```
//!
//! (With `cargo run --release -p gan-toy -- <args>` if the binary is not installed.)

use clap::Parser;
use gan::loss::LossKind;
use gan_toy::datasets::Toy;
use gan_toy::noise::{InstanceNoiseSchedule, LatentNoise};
use gan_toy::run::{RunOptions, run};
use gan_toy::train::ToyConfig;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Train a small GAN on 2-D points and watch it, frame by frame: real points
/// (grey), generated points (green), and the discriminator's score as the
/// background (blue: "fake", white: "cannot tell", red: "real").
#[derive(Debug, Parser)]
// args_override_self: a flag given twice takes its last value, so that a
// setting can be spelled out and then varied (chapter 5's screens).
#[command(
    name = "gan-toy",
    version,
    allow_negative_numbers = true,
    args_override_self = true
)]
struct Cli {
    /// The data set. grid25 has its own recipe: the defaults of --steps,
    /// --batch-size, --lr, --loss and --ema marked "grid25" below.
    #[arg(long, value_enum, default_value_t = Toy::Ring8)]
    dataset: Toy,
    /// Generator steps [default: 4000; grid25: 48000].
    #[arg(long)]
    steps: Option<u64>,
    /// A frame every this many steps (and one at the end) [default: 200;
    /// grid25: 400, the same 121 frames as 24,000 steps had].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    frame_every: Option<u64>,
    /// Points per batch [default: 256; grid25: 128].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=65536))]
    batch_size: Option<u64>,
    /// Learning rate of both networks, overridden by --lr-g / --lr-d
    /// [default: 2e-4; grid25: 5e-4].
    #[arg(long)]
    lr: Option<f64>,
    /// The generator's learning rate [default: --lr].
    #[arg(long)]
    lr_g: Option<f64>,
    /// The discriminator's learning rate [default: --lr].
    #[arg(long)]
    lr_d: Option<f64>,
    /// Adam's β₁.
    #[arg(long, default_value_t = 0.5)]
    beta1: f64,
    /// Adam's β₂.
    #[arg(long, default_value_t = 0.999)]
    beta2: f64,
    /// Discriminator steps per generator step.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    d_steps: u64,
    /// bce (non-saturating), lsgan or hinge [default: bce; grid25: lsgan].
    #[arg(long, value_parser = parse_loss)]
    loss: Option<LossKind>,
    /// Units per hidden layer (three hidden layers in each network).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=4096))]
    hidden: u64,
    /// Length of the generator's noise vector (16, with --no-minibatch-std
    /// --pack 1, is the pre-#17 default that collapses).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1024))]
    noise_dim: u64,
    /// The distribution of the noise: normal, N(0, 1), or uniform on
    /// [−1, 1) in each coordinate [default: normal].
    #[arg(long, value_enum)]
    noise: Option<LatentNoise>,
    /// Multiply the noise by this [default: 1].
    #[arg(long, value_name = "SCALE")]
    noise_scale: Option<f64>,
    /// Add Gaussian noise of this standard deviation to every point D sees
    /// (real and fake), falling linearly to 0 over the first
    /// --instance-noise-over of the steps; 0 turns it off [default: off].
    #[arg(long, value_name = "SIGMA")]
    instance_noise: Option<f64>,
    /// The share of the steps over which the instance noise falls to 0,
    /// in (0, 1].
    #[arg(long, value_name = "FRACTION", default_value_t = 0.5)]
    instance_noise_over: f64,
    /// Give the discriminator the batch's spread as a third input: the
    /// default (a collapsed batch is visibly too narrow); the flag is
    /// accepted so that older commands still run.
    #[arg(long, overrides_with = "no_minibatch_std")]
    minibatch_std: bool,
    /// D sees single points only, without the batch's spread: the plain
    /// GAN, which collapses far more often (see docs chapter 5). Of this
    /// and --minibatch-std, the last one given counts.
    #[arg(long, overrides_with = "minibatch_std")]
    no_minibatch_std: bool,
    /// D judges this many points at once, side by side (PacGAN); 1: one at
    /// a time, as before issue #17. The batch size must be a multiple of it.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=64))]
    pack: u64,
    /// The R1 penalty on D with this weight γ: `γ/2 · E‖∇ₓD(x)‖²` over the
    /// real points, every D update (Mescheder et al., 2018).
    #[arg(long, value_name = "GAMMA")]
    r1: Option<f64>,
    /// Both learning rates fall linearly towards 0 over this last share of
    /// the steps, in (0, 1]; 0 keeps them constant [default: 0].
    #[arg(long, value_name = "FRACTION")]
    lr_decay: Option<f64>,
    /// Both learning rates rise linearly from 0 to their set values over
    /// this many first steps; 0 starts them at full size [default: 0].
    #[arg(long, value_name = "STEPS")]
    lr_warmup: Option<u64>,
    /// Draw the frames and the coverage numbers from an exponential moving
    /// average of the generator's weights with this decay, in [0, 1) (the
    /// live generator's coverage is printed beside them); 0 turns it off
    /// [default: off; grid25: 0.999].
    #[arg(long, value_name = "DECAY")]
    ema: Option<f64>,
    /// Seed of every random draw; same seed and threads, same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder of the run's files [default: runs-toy/<dataset>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Side of a frame in pixels (even).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(16..=2048))]
    frame_size: u64,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: Option<u64>,
    /// Print only the final numbers.
    #[arg(long)]
    quiet: bool,
}

/// `--loss`: the toy GANs take the losses whose D scores a single point
/// against fixed targets or margins.
fn parse_loss(s: &str) -> Result<LossKind, String> {
    match s.parse::<LossKind>() {
        Ok(LossKind::WassersteinGp) => Err("the toy GANs take bce, lsgan or hinge, not wgan-gp".into()),
        Ok(kind) => Ok(kind),
        Err(_) => Err(format!("unknown loss `{s}`; expected one of bce, lsgan, hinge")),
    }
}

fn main() -> ExitCode {
    match train(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gan-toy: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn train(cli: Cli) -> Result<(), String> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n as usize)
            .build_global()
            .map_err(|e| format!("cannot start {n} threads: {e}"))?;
    }
    // The data set's recipe, then every flag given on top of it.
    let recipe = ToyConfig::new(cli.dataset);
    let config = ToyConfig {
        steps: cli.steps.unwrap_or(recipe.steps),
        batch_size: cli.batch_size.map_or(recipe.batch_size, |b| b as usize),
        lr_g: cli.lr_g.or(cli.lr).unwrap_or(recipe.lr_g),
        lr_d: cli.lr_d.or(cli.lr).unwrap_or(recipe.lr_d),
        betas: (cli.beta1, cli.beta2),
        d_steps: cli.d_steps as usize,
        loss: cli.loss.unwrap_or(recipe.loss),
        hidden: cli.hidden as usize,
        noise_dim: cli.noise_dim as usize,
        noise: cli.noise.unwrap_or(recipe.noise),
        noise_scale: cli.noise_scale.unwrap_or(recipe.noise_scale),
        instance_noise: match cli.instance_noise {
            Some(0.0) => None,
            Some(sigma) => Some(InstanceNoiseSchedule {
                sigma,
                fraction: cli.instance_noise_over,
            }),
            None => recipe.instance_noise,
        },
        minibatch_std: cli.minibatch_std || !cli.no_minibatch_std,
        pack: cli.pack as usize,
        r1: cli.r1,
        lr_decay: match cli.lr_decay {
            Some(0.0) => None,
            given => given.or(recipe.lr_decay),
        },
        lr_warmup: match cli.lr_warmup {
            Some(0) => None,
            given => given.or(recipe.lr_warmup),
        },
        ema: match cli.ema {
            Some(0.0) => None,
            given => given.or(recipe.ema),
        },
        seed: cli.seed,
        ..recipe
    };
    config.validate().map_err(|e| e.to_string())?;
    let out = cli
        .out
        .unwrap_or_else(|| PathBuf::from("runs-toy").join(cli.dataset.name()));
    let options = RunOptions {
        out: out.clone(),
        // grid25's 48,000 steps would draw 241 frames at 200, and drawing
        // them takes longer than a third of the run.
        frame_every: cli.frame_every.unwrap_or(match cli.dataset {
            Toy::Grid25 => 400,
            _ => 200,
        }),
        frame_size: cli.frame_size as usize,
        verbose: !cli.quiet,
    };
    let start = Instant::now();
    let summary = run(config.clone(), &options)?;
    let seconds = start.elapsed().as_secs_f64();
    let last = summary.last();
    match (&last.modes, config.dataset.modes()) {
        (Some(m), Some(modes)) => {
            let live = last.live_modes.as_ref().map_or(String::new(), |l| {
                format!(
                    " (live generator: {}/{}, {:.1}%)",
                    l.covered,
                    modes.len(),
                    100.0 * l.high_quality
                )
            });
            println!(
                "{}: {} steps in {seconds:.1} s; modes covered {}/{}, high-quality samples {:.1}%{live}",
                config.dataset,
                config.steps,
                m.covered,
                modes.len(),
                100.0 * m.high_quality
            )
        }
        _ => println!(
            "{}: {} steps in {seconds:.1} s; mean distance fake→real {:.3}, real→fake {:.3}",
            config.dataset, config.steps, last.nearest.fake_to_real, last.nearest.real_to_fake
        ),
    }
    println!(
        "wrote {} frames, animation.gif, index.html, strip.png, d_vs_optimal.png, summary.json in {}",
        summary.frame_paths.len(),
        out.display()
    );
    Ok(())
}
