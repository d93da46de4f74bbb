//! The command line, declared with clap: flags, defaults, help texts, and the
//! checks clap cannot do (ranges, run-folder names).

use clap::{Args, Parser, Subcommand};
use datasets::Dataset;
use gan::config::TrainConfig;
use gan::loss::LossKind;
use gan::models::ModelKind;
use runs::interpolate::LatentPath;
use runs::sample::Which;
use std::path::{Path, PathBuf};

/// Epochs of a run when --epochs is not given, for the models without a
/// recipe of their own (`cgan-global`, `dcgan-global` and `tutorial` take
/// their recipe's, `gan::models::RECIPE` and `gan::models::TUTORIAL_RECIPE`).
pub const DEFAULT_EPOCHS: usize = 2;

/// Train GANs on MNIST with a deep-learning engine written from scratch.
///
/// With no subcommand, trains the default model (same flags as `train`).
#[derive(Debug, Parser)]
#[command(
    name = "gan-mnist",
    version,
    args_conflicts_with_subcommands = true,
    allow_negative_numbers = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Training flags when no subcommand is given.
    #[command(flatten)]
    pub train: TrainArgs,
}

impl Cli {
    /// The `--threads` of the command that runs (`None`: one per core).
    pub fn threads(&self) -> Option<usize> {
        match &self.command {
            Some(Command::Train(args)) => args.threads,
            Some(Command::Sample(_)) | Some(Command::Interpolate(_)) => None,
            Some(Command::Bench(args)) => args.threads,
            Some(Command::Eval(args)) => args.threads,
            Some(Command::Classifier(ClassifierCommand::Train(args))) => args.threads,
            None => self.train.threads,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a GAN (or continue one with --resume).
    #[command(allow_negative_numbers = true)]
    Train(Box<TrainArgs>),
    /// Draw a grid of samples from a trained generator.
    Sample(SampleArgs),
    /// Walk between pairs of latent points: a grid (one walk per row) as a
    /// PNG, and the walks as an animated GIF.
    Interpolate(InterpolateArgs),
    /// Time the workloads W1 (mlp), W2 (dcgan) or wgan-gp: one JSON line each.
    Bench(BenchArgs),
    /// Measure a trained generator: classifier score, Fréchet distance,
    /// share of each digit, against real test images.
    Eval(EvalArgs),
    /// The judge classifier that `eval` measures samples with.
    #[command(subcommand)]
    Classifier(ClassifierCommand),
}

/// `gan-mnist classifier …`.
#[derive(Debug, Subcommand)]
pub enum ClassifierCommand {
    /// Train the judge on the training images and report its test accuracy.
    Train(ClassifierTrainArgs),
}

/// `gan-mnist classifier train`.
#[derive(Debug, Args)]
pub struct ClassifierTrainArgs {
    /// mnist or fashion.
    #[arg(long, default_value = "mnist")]
    pub dataset: Dataset,
    /// Passes over the training images (the learning rate halves after each).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub epochs: u64,
    /// Seed of the weights and the data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The safetensors file to write [default: judge-DATASET.safetensors].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the dataset files are (default: $MNIST_DIR / $FASHION_MNIST_DIR, then ./data/…).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download; say which files to put where instead.
    #[arg(long)]
    pub offline: bool,
}

/// `gan-mnist eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A run folder (its newest checkpoint) or one checkpoint folder.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// How many samples to draw (and real training images for the ceiling).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    pub n: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Which checkpoint of a run folder: latest, or best (lowest Fréchet
    /// distance at an epoch end).
    #[arg(long, default_value = "latest")]
    pub which: Which,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where the dataset files are (default: $MNIST_DIR / $FASHION_MNIST_DIR, then ./data/…).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download; say which files to put where instead.
    #[arg(long)]
    pub offline: bool,
}

/// `gan-mnist train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Which GAN: cgan-global (the default: class-conditional, it draws the
    /// digit it is asked for, and sample/eval ask for each digit in turn;
    /// dcgan-global's networks with the class projected onto the
    /// discriminator's whole-digit features), dcgan-global (unconditional:
    /// W2 widened, its discriminator judging the whole digit); both train
    /// with the quality recipe: --batch-size 32 --lr-g 4e-4 --lr-d 1e-4
    /// --label-smoothing 0.1 --ema 0.999. Or mlp (W1), dcgan (W2), tutorial
    /// (the Keras tutorial's model, fixed; its defaults: --epochs 15
    /// --label-smoothing 0.1 --ema 0.999), cgan / cgan-conv
    /// (class-conditional mlp / dcgan), or wgan-gp (dcgan with a BatchNorm-free critic; its defaults are the
    /// WGAN-GP paper's: --loss wgan-gp --lr 1e-4 --beta1 0 --beta2 0.9 --d-steps 5).
    #[arg(long, default_value = "cgan-global")]
    pub model: ModelKind,
    /// mnist or fashion.
    #[arg(long, default_value = "mnist")]
    pub dataset: Dataset,
    /// Passes over the 60,000 training images [default: 2; 15 for
    /// tutorial; cgan-global, dcgan-global: 2 at batch 32].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Stop after this many generator steps in all.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Images per batch [default: 64; 32 for cgan-global, dcgan-global].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate of both networks (overridden by --lr-g / --lr-d)
    /// [default: 2e-4; 1e-4 for wgan-gp].
    #[arg(long)]
    pub lr: Option<f64>,
    /// The generator's learning rate.
    #[arg(long)]
    pub lr_g: Option<f64>,
    /// The discriminator's learning rate.
    #[arg(long)]
    pub lr_d: Option<f64>,
    /// Adam's β₁ [default: 0.5; 0 for wgan-gp].
    #[arg(long)]
    pub beta1: Option<f64>,
    /// Adam's β₂ [default: 0.999; 0.9 for wgan-gp].
    #[arg(long)]
    pub beta2: Option<f64>,
    /// Discriminator steps per generator step [default: 1; 5 for wgan-gp].
    #[arg(long)]
    pub d_steps: Option<usize>,
    /// One-sided label smoothing (0.1 makes real targets 0.9) [default: 0;
    /// 0.1 for cgan-global, dcgan-global and tutorial].
    #[arg(long)]
    pub label_smoothing: Option<f64>,
    /// bce (non-saturating), lsgan, hinge or wgan-gp [default: bce; wgan-gp for wgan-gp].
    #[arg(long)]
    pub loss: Option<LossKind>,
    /// Seed of every random draw; same seed and threads, same bits.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Folder that holds the run folders.
    #[arg(long, default_value = "runs")]
    pub out: PathBuf,
    /// The run's folder name inside --out (default: the model's name, numbered if taken).
    #[arg(long)]
    pub name: Option<String>,
    /// Continue the run in this folder from its newest checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// Where the dataset files are (default: $MNIST_DIR, then ./data/mnist; downloaded if missing).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download; say which files to put where instead.
    #[arg(long)]
    pub offline: bool,
    /// A row in metrics.csv every this many steps.
    #[arg(long, default_value_t = 50)]
    pub log_every: u64,
    /// Also checkpoint every this many steps (epoch ends always do).
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Check every op's output and gradients for NaN and infinity, and stop
    /// at the first op that produces one, naming it and its shapes (like
    /// PyTorch's anomaly detection). For debugging: training is slower.
    #[arg(long)]
    pub detect_anomaly: bool,
    /// Samples measured by the judge at each epoch end (classifier score,
    /// Fréchet distance, missing digits in metrics.csv; the lowest distance
    /// marks the best checkpoint); 0 turns it off.
    #[arg(long, default_value_t = runs::run::DEFAULT_QUALITY_SAMPLES)]
    pub quality_samples: usize,
    // ── Recipe features ──
    /// Average the generator's weights (exponential moving average with
    /// this decay, warmed up) and draw every grid, per-epoch check, sample
    /// and eval from the average; 0 turns it off [default: 0; 0.999 for
    /// cgan-global, dcgan-global and tutorial].
    #[arg(long, value_name = "DECAY")]
    pub ema: Option<f64>,
    /// Lower both learning rates in a straight line towards zero over the
    /// last FRACTION of the run's steps (0.5: the second half), so that
    /// the players settle instead of circling [default: none].
    #[arg(long, value_name = "FRACTION")]
    pub lr_decay: Option<f64>,
    /// The discriminator's regularisers (R1, spectral norm).
    #[command(flatten)]
    pub penalties: PenaltyArgs,
}

/// Regularisers of the discriminator, for every model and loss.
#[derive(Debug, Args)]
pub struct PenaltyArgs {
    /// Add the R1 penalty γ/2·E‖∇ₓD(x)‖² on real images to D's loss
    /// (Mescheder et al., 2018): D stays smooth where the data is.
    #[arg(long, value_name = "GAMMA")]
    pub r1: Option<f64>,
    /// Apply R1 on every K-th discriminator update only, scaled by K (lazy
    /// regularisation, as in StyleGAN2).
    #[arg(long, value_name = "K", default_value_t = 1, requires = "r1")]
    pub r1_every: u64,
    /// Spectral normalisation of every Linear and Conv2d layer of the
    /// discriminator (Miyato et al., 2018).
    #[arg(long)]
    pub spectral_norm: bool,
}

impl PenaltyArgs {
    /// `config` with these regularisers.
    pub fn apply(&self, config: TrainConfig) -> TrainConfig {
        TrainConfig {
            r1: self.r1.map(|gamma| gan::r1::R1 {
                gamma,
                every: self.r1_every,
            }),
            spectral_norm: self.spectral_norm,
            ..config
        }
    }
}

/// `gan-mnist sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// A run folder (its newest checkpoint) or one checkpoint folder.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// How many samples [default: 64; for a conditional model without
    /// --digit, 80: one row of 8 per class (then a multiple of 10)]. More
    /// than one grid holds (1024) makes several PNG files, or one .npy.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub n: Option<u64>,
    /// Draw only this digit (or Fashion-MNIST class, 0–9); conditional models only.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=9))]
    pub digit: Option<u64>,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Which checkpoint of a run folder: latest, or best (lowest Fréchet
    /// distance at an epoch end).
    #[arg(long, default_value = "latest")]
    pub which: Which,
    /// The PNG to write (and, for a grid of one row per class, the legend
    /// beside it with the extension .txt; several grids: x-1.png, x-2.png,
    /// …). A name ending in .npy writes every sample as one float32 NumPy
    /// array [n, 1, H, W] in the model's pixel range ([-1, 1]; [0, 1] for
    /// tutorial), a conditional model's sample i of class i mod 10.
    #[arg(long)]
    pub out: PathBuf,
}

/// `gan-mnist interpolate`.
#[derive(Debug, Args)]
pub struct InterpolateArgs {
    /// A run folder (its newest checkpoint) or one checkpoint folder.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Walks, one per row of the grid.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=runs::interpolate::MAX_PAIRS as u64))]
    pub pairs: u64,
    /// Points per walk, both end points included (the grid's columns and
    /// the GIF's frames).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=runs::interpolate::MAX_STEPS as u64))]
    pub steps: u64,
    /// spherical (slerp: stays where the Gaussian noise lives) or linear
    /// (the straight line, which passes closer to 0).
    #[arg(long, default_value = "spherical")]
    pub path: LatentPath,
    /// Conditional models: walk every row with this digit (or
    /// Fashion-MNIST class, 0–9) [default: row r draws class r mod 10].
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=9))]
    pub digit: Option<u64>,
    /// Seed of the end points.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Which checkpoint of a run folder: latest, or best (lowest Fréchet
    /// distance at an epoch end).
    #[arg(long, default_value = "latest")]
    pub which: Which,
    /// The PNG to write; the animation goes beside it with the extension
    /// .gif (and a conditional model's row legend with .txt).
    #[arg(long)]
    pub out: PathBuf,
}

/// `gan-mnist bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// mlp (W1), dcgan (W2), wgan-gp (the dcgan networks trained as WGAN-GP,
    /// milliseconds per generator step), dcgan-global (the default model at
    /// its recipe's batch of 32, not a workload), or all (W1 and W2).
    #[arg(long, default_value = "all", value_parser = ["mlp", "dcgan", "wgan-gp", "dcgan-global", "all"])]
    pub workload: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Time the step with these regularisers of the discriminator.
    #[command(flatten)]
    pub penalties: PenaltyArgs,
}

impl TrainArgs {
    /// The configuration these flags describe, checked. Flags not given
    /// take the model's defaults (`TrainConfig::new`).
    pub fn config(&self) -> Result<TrainConfig, String> {
        let defaults = TrainConfig::new(self.model);
        let lr = |specific: Option<f64>, default: f64| specific.or(self.lr).unwrap_or(default);
        let config = TrainConfig {
            model: self.model,
            dataset: self.dataset,
            epochs: self.epochs.unwrap_or(match self.model {
                ModelKind::DcganGlobal | ModelKind::CganGlobal | ModelKind::Tutorial => defaults.epochs,
                _ => DEFAULT_EPOCHS,
            }),
            max_steps: self.max_steps,
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            lr_g: lr(self.lr_g, defaults.lr_g),
            lr_d: lr(self.lr_d, defaults.lr_d),
            betas: (
                self.beta1.unwrap_or(defaults.betas.0),
                self.beta2.unwrap_or(defaults.betas.1),
            ),
            d_steps: self.d_steps.unwrap_or(defaults.d_steps),
            label_smoothing: self.label_smoothing.unwrap_or(defaults.label_smoothing),
            loss: self.loss.unwrap_or(defaults.loss),
            seed: self.seed,
            log_every: self.log_every,
            // `--ema 0` turns the average off.
            ema: self
                .ema
                .map_or(defaults.ema, |decay| (decay != 0.0).then_some(decay)),
            lr_decay: self
                .lr_decay
                .map(|fraction| gan::schedule::LinearDecay { fraction })
                .or(defaults.lr_decay),
            ..self.penalties.apply(defaults)
        };
        // The dataset size is checked again once it is loaded.
        config.validate(usize::MAX).map_err(|e| e.to_string())?;
        if config.epochs == 0 {
            return Err("--epochs must be at least 1".into());
        }
        Ok(config)
    }

    /// A resumed run keeps its saved configuration; only --epochs and
    /// --max-steps may extend it (other flags would break exact resumption).
    pub fn resumed_config(&self, saved: &TrainConfig) -> TrainConfig {
        let mut config = saved.clone();
        if let Some(epochs) = self.epochs {
            config.epochs = epochs;
        }
        if self.max_steps.is_some() {
            config.max_steps = self.max_steps;
        }
        config
    }

    /// `--out/--name`, or the first free `--out/<model>[-N]`.
    pub fn run_dir(&self, config: &TrainConfig) -> Result<PathBuf, String> {
        if let Some(name) = &self.name {
            if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
                return Err(format!("--name {name:?} must be a plain folder name"));
            }
            return Ok(self.out.join(name));
        }
        let base = config.model.name();
        let taken = |dir: &Path| dir.join("config.json").exists();
        (1..)
            .map(|i| match i {
                1 => self.out.join(base),
                i => self.out.join(format!("{base}-{i}")),
            })
            .find(|dir| !taken(dir))
            .ok_or_else(|| "no free run folder name".to_string())
    }
}
