//! A training run on disk: `runs/<name>/` with the config, `metrics.csv`,
//! sample grids, checkpoints and the loss plot, around the loop of
//! [`Trainer::step`].
//!
//! ```text
//! runs/<name>/
//!     config.json           the TrainConfig
//!     metrics.csv           step, epoch, loss_d, loss_g, d_real, d_fake, and at
//!                           epoch ends classifier_score, frechet_distance, missing_digits
//!                           (of the averaged generator if the run keeps one, `ema.rs`)
//!     samples/epoch_001.png an 8×8 grid from the same fixed noise every epoch
//!                           (drawn, like samples.png, by the averaged generator with --ema)
//!                           (class-conditional models: 10 rows × 8, one row per class)
//!     samples.png           the grid at the end of the run
//!     samples.txt           which class each row shows (class-conditional models)
//!     loss.svg              the curves of metrics.csv
//!     report.html           all of the above on one page (see `report.rs`)
//!     checkpoint/           see `checkpoint.rs`; best.json names the best (`best.rs`)
//! ```

use crate::best;
use crate::checkpoint;
use crate::error::{Error, Result, write_atomically};
use crate::grid;
use crate::metrics::{self, EpochQuality, MetricsRow, RunningMean};
use crate::plot;
use crate::report;
use crate::sample;
use datasets::ImageSet;
use gan::config::TrainConfig;
use gan::streams::{self, stream_rng};
use gan::train::{StepStats, Trainer};
use indicatif::{ProgressBar, ProgressStyle};
use judge::{Reference, judge::Judge};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tensor::Tensor;

/// How many samples an unconditional model's grid shows (8 × 8).
pub const GRID_SAMPLES: usize = 64;

/// The columns of every grid of a run: 8 × 8 samples, or 8 per class.
pub const GRID_COLUMNS: usize = 8;

/// How many samples the judge measures at each epoch end by default: enough
/// for the curves to show the trend, cheap enough (about a second for
/// `dcgan`) to leave the run's time alone.
pub const DEFAULT_QUALITY_SAMPLES: usize = 1000;

/// How a run behaves, beyond its [`TrainConfig`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Show a progress bar on the terminal.
    pub progress: bool,
    /// Set (e.g. by Ctrl-C) to stop after the current step and save a checkpoint.
    pub stop: Arc<AtomicBool>,
    /// Also checkpoint every this many steps (epoch ends always checkpoint).
    pub checkpoint_every: Option<u64>,
    /// Stop, exactly as Ctrl-C would, once this many steps are done (for
    /// testing interruption and resumption deterministically).
    pub interrupt_at: Option<u64>,
    /// Stop at the first op that produces NaN or infinity, naming it
    /// ([`tensor::anomaly`]; slows training down).
    pub detect_anomaly: bool,
    /// At each epoch end, draw this many samples (at most as many as there
    /// are training images) and write the judge's verdict on them into
    /// `metrics.csv`; 0 turns the check off. See [`DEFAULT_QUALITY_SAMPLES`].
    pub quality_samples: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            progress: false,
            stop: Arc::new(AtomicBool::new(false)),
            checkpoint_every: None,
            interrupt_at: None,
            detect_anomaly: false,
            quality_samples: DEFAULT_QUALITY_SAMPLES,
        }
    }
}

/// What a finished (or stopped) run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The run folder.
    pub dir: PathBuf,
    /// Generator steps done in all.
    pub steps: u64,
    /// Whether the run stopped early (Ctrl-C) rather than finishing.
    pub interrupted: bool,
    /// Wall-clock time of this invocation.
    pub elapsed: Duration,
    /// The last statistics row written.
    pub last: Option<MetricsRow>,
    /// The newest checkpoint.
    pub checkpoint: PathBuf,
}

/// Starts a new run in `dir`, which must not hold a run already.
pub fn start(config: TrainConfig, data: ImageSet, dir: &Path, options: &RunOptions) -> Result<RunSummary> {
    if dir.join("config.json").exists() {
        return Err(Error::Folder {
            path: dir.to_path_buf(),
            detail: "already holds a run; continue it with --resume, or choose another --name".into(),
        });
    }
    let trainer = Trainer::new(config, data)?;
    std::fs::create_dir_all(dir.join("samples")).map_err(|e| Error::Folder {
        path: dir.to_path_buf(),
        detail: format!("cannot create the run folder: {e}"),
    })?;
    let json = serde_json::to_vec_pretty(trainer.config()).expect("the config serialises");
    write_atomically(&dir.join("config.json"), &json)?;
    let metrics_path = dir.join("metrics.csv");
    std::fs::write(&metrics_path, format!("{}\n", metrics::HEADER))
        .map_err(Error::io(&metrics_path, "writing"))?;
    train_until_done(trainer, RunningMean::default(), dir, options)
}

/// Reads the configuration of the run in `dir` (from its newest checkpoint).
pub fn saved_config(dir: &Path) -> Result<TrainConfig> {
    let latest = checkpoint::latest(&dir.join("checkpoint"))?;
    Ok(checkpoint::read_state(&latest)?.config)
}

/// Continues the run in `dir` from its newest checkpoint. `config` is the
/// saved one, possibly with more `epochs` or `max_steps`; `data` must be the
/// same dataset.
pub fn resume(config: TrainConfig, data: ImageSet, dir: &Path, options: &RunOptions) -> Result<RunSummary> {
    let latest = checkpoint::latest(&dir.join("checkpoint"))?;
    let mut trainer = Trainer::new(config, data)?;
    let pending = checkpoint::restore(&mut trainer, &latest)?;
    // Rows written after the checkpoint (by a run that then crashed) would be
    // written again: keep only those up to the checkpoint's step.
    let metrics_path = dir.join("metrics.csv");
    let rows = metrics::read_metrics(&metrics_path).map_err(Error::io(&metrics_path, "reading"))?;
    let mut text = format!("{}\n", metrics::HEADER);
    for row in rows.iter().filter(|r| r.step <= trainer.steps_done()) {
        text.push_str(&row.to_csv());
        text.push('\n');
    }
    write_atomically(&metrics_path, text.as_bytes())?;
    train_until_done(trainer, pending, dir, options)
}

/// The fixed noise and labels behind every sample grid of a run: 64 noise
/// vectors, or for class-conditional models 8 noise vectors drawn as every
/// class, one row per class (see `sample.rs`).
fn grid_inputs(trainer: &Trainer) -> Result<(Tensor, Vec<usize>)> {
    let mut rng = stream_rng(trainer.config().seed, streams::SAMPLES);
    let noise_dim = trainer.model().noise_dim();
    if trainer.config().model.is_conditional() {
        let noise = Tensor::randn(&[GRID_COLUMNS, noise_dim], 0.0, 1.0, &mut rng)?;
        return Ok(sample::class_rows(&noise)?);
    }
    let z = Tensor::randn(&[GRID_SAMPLES, noise_dim], 0.0, 1.0, &mut rng)?;
    // Unconditional models ignore the labels.
    Ok((z, vec![0; GRID_SAMPLES]))
}

/// Writes the sample grid for the fixed noise to `path`.
fn write_grid(trainer: &mut Trainer, path: &Path) -> Result<()> {
    let (z, labels) = grid_inputs(trainer)?;
    let images = trainer.generate_eval(&z, &labels)?;
    let image = grid::image_grid(&images, GRID_COLUMNS, trainer.model().batch_options().range)?;
    grid::write_png(&image, path)?;
    Ok(())
}

/// The judge and its reference statistics for the quality check at epoch
/// ends: the first `n` training images, with `n` the number of samples
/// (the test set is not loaded during training; `gan-mnist eval` compares
/// with it). `None` if the check is off.
fn quality_reference(trainer: &Trainer, options: &RunOptions) -> Result<Option<(Reference, usize)>> {
    let n = options.quality_samples.min(trainer.data().len());
    if n < 2 {
        return Ok(None);
    }
    let judge = Judge::pretrained(trainer.config().dataset)?;
    let indices: Vec<usize> = (0..n).collect();
    Ok(Some((Reference::new(judge, trainer.data(), &indices)?, n)))
}

/// The judge's verdict on `n` samples after `epoch`. The noise comes from
/// an evaluation stream of its own (`eval::quality_rng`) and the generator
/// runs in evaluation mode without gradients, so training goes on exactly
/// as if nothing had been measured.
fn epoch_quality(
    trainer: &mut Trainer,
    reference: &Reference,
    n: usize,
    epoch: usize,
) -> Result<EpochQuality> {
    let (seed, conditional) = (trainer.config().seed, trainer.config().model.is_conditional());
    let noise_dim = trainer.model().noise_dim();
    let range = trainer.model().batch_options().range;
    let mut rng = judge::quality_rng(seed, epoch as u64);
    let quality = judge::sample_quality(
        reference,
        n,
        noise_dim,
        conditional,
        range,
        &mut rng,
        |z, labels| trainer.generate_eval(z, labels),
    )?;
    Ok(EpochQuality {
        classifier_score: quality.classifier_score,
        frechet_distance: quality.frechet_distance,
        missing_digits: quality.missing_classes.len(),
    })
}

/// The loop: steps, logs, grids at epoch ends, checkpoints, until the run is
/// done or asked to stop. `running` holds the statistics of the steps since
/// the last metrics row.
///
/// Rows are written at multiples of `log_every` and at epoch ends (and once
/// more at the end of a finished run), never because a run was interrupted:
/// a resumed run then writes exactly the rows of one that never stopped.
fn train_until_done(
    mut trainer: Trainer,
    mut running: RunningMean,
    dir: &Path,
    options: &RunOptions,
) -> Result<RunSummary> {
    let started = Instant::now();
    let config = trainer.config().clone();
    let per_epoch = trainer.steps_per_epoch().max(1);
    let total = trainer.total_steps();
    let checkpoints = dir.join("checkpoint");
    let metrics_path = dir.join("metrics.csv");
    let mut metrics_file = std::fs::OpenOptions::new()
        .append(true)
        .open(&metrics_path)
        .map_err(Error::io(&metrics_path, "opening"))?;
    let bar = progress_bar(options.progress, total, trainer.steps_done());
    let mut last = None;
    // A resumed run's last good checkpoint is the one it resumed from.
    let mut last_checkpoint: Option<PathBuf> = checkpoint::latest(&checkpoints).ok();
    let mut interrupted = false;
    let _anomaly = options.detect_anomaly.then(AnomalyDetection::on);
    let reference = quality_reference(&trainer, options)?;

    while trainer.steps_done() < total {
        if options.stop.load(Ordering::Relaxed) || options.interrupt_at == Some(trainer.steps_done()) {
            interrupted = true;
            break;
        }
        let stats = match trainer.step() {
            Ok(stats) => stats,
            Err(e) if !e.is_divergence() => return Err(e.into()),
            // The weights were not updated; the checkpoints on disk predate
            // the failure and are kept.
            Err(e) => {
                return Err(Error::NonFinite {
                    step: trainer.steps_done() + 1,
                    what: e.to_string(),
                    checkpoint: last_checkpoint,
                });
            }
        };
        let step = trainer.steps_done();
        if let Some(what) = first_non_finite_statistic(&stats) {
            return Err(Error::NonFinite {
                step,
                what: format!("{what} is not a finite number"),
                checkpoint: last_checkpoint,
            });
        }
        running.add(&stats);
        let epoch = ((step - 1) / per_epoch + 1) as usize;
        let epoch_end = step % per_epoch == 0;
        let quality = match (&reference, epoch_end) {
            (Some((reference, n)), true) => Some(epoch_quality(&mut trainer, reference, *n, epoch)?),
            _ => None,
        };
        if step % config.log_every == 0 || step == total || epoch_end {
            let row = write_row(
                &mut metrics_file,
                &metrics_path,
                step,
                epoch,
                &mut running,
                quality,
            )?;
            bar.set_message(format!(
                "epoch {epoch}  loss_D {:.3}  loss_G {:.3}  D(x) {:.2}  D(G(z)) {:.2}",
                row.stats.loss_d, row.stats.loss_g, row.stats.d_real, row.stats.d_fake
            ));
            last = Some(row);
        }
        bar.set_position(step);
        if epoch_end {
            write_grid(&mut trainer, &dir.join(format!("samples/epoch_{epoch:03}.png")))?;
        }
        if epoch_end || options.checkpoint_every.is_some_and(|n| step % n == 0) {
            last_checkpoint = Some(save_checked(
                &mut trainer,
                &running,
                &checkpoints,
                &last_checkpoint,
            )?);
        }
        if let (Some(q), Some(saved)) = (quality, &last_checkpoint) {
            keep_if_best(&checkpoints, saved, step, epoch, q.frechet_distance)?;
        }
        if epoch_end {
            report::write_report(dir)?;
        }
    }
    bar.finish_and_clear();

    // Always leave a checkpoint of the final state, then the pictures.
    let final_name = format!("step-{:09}", trainer.steps_done());
    let checkpoint = match last_checkpoint.as_ref().filter(|c| c.ends_with(&final_name)) {
        Some(c) => c.clone(),
        None => save_checked(&mut trainer, &running, &checkpoints, &last_checkpoint)?,
    };
    write_grid(&mut trainer, &dir.join("samples.png"))?;
    if config.model.is_conditional() {
        let legend_path = dir.join("samples.txt");
        std::fs::write(&legend_path, sample::class_legend(config.dataset))
            .map_err(Error::io(&legend_path, "writing"))?;
    }
    let rows = metrics::read_metrics(&metrics_path).map_err(Error::io(&metrics_path, "reading"))?;
    if !rows.is_empty() {
        let title = format!("{} on {}", config.model, config.dataset);
        plot::plot_metrics(&rows, &title, &dir.join("loss.svg"))?;
    }
    report::write_report(dir)?;
    Ok(RunSummary {
        dir: dir.to_path_buf(),
        steps: trainer.steps_done(),
        interrupted,
        elapsed: started.elapsed(),
        last,
        checkpoint,
    })
}

/// Saves a checkpoint if every weight is finite; otherwise fails naming
/// the weight, and `last` (the newest checkpoint) stays the newest.
fn save_checked(
    trainer: &mut Trainer,
    running: &RunningMean,
    dir: &Path,
    last: &Option<PathBuf>,
) -> Result<PathBuf> {
    if let Err(e) = trainer.check_parameters() {
        return Err(Error::NonFinite {
            step: trainer.steps_done(),
            what: e.to_string(),
            checkpoint: last.clone(),
        });
    }
    checkpoint::save(trainer, running, dir)
}

/// Records the checkpoint `saved` (just written at an epoch end) as the
/// run's best if its Fréchet distance beats every earlier epoch's, and then
/// lets the previous best go (see `best.rs`).
fn keep_if_best(
    checkpoints: &Path,
    saved: &Path,
    step: u64,
    epoch: usize,
    frechet_distance: f64,
) -> Result<()> {
    let name = saved
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let candidate = best::BestCheckpoint {
        checkpoint: name.clone(),
        step,
        epoch,
        frechet_distance,
    };
    if best::offer(checkpoints, &candidate)? {
        checkpoint::remove_older(checkpoints, &name)?;
    }
    Ok(())
}

/// Anomaly detection, switched on for the life of the value.
struct AnomalyDetection;

impl AnomalyDetection {
    fn on() -> Self {
        tensor::anomaly::enable(true);
        AnomalyDetection
    }
}

impl Drop for AnomalyDetection {
    fn drop(&mut self) {
        tensor::anomaly::enable(false);
    }
}

/// Appends the mean of the steps in `running` as the row for `step`, with
/// the judge's figures if the step ends an epoch.
fn write_row(
    file: &mut std::fs::File,
    path: &Path,
    step: u64,
    epoch: usize,
    running: &mut RunningMean,
    quality: Option<EpochQuality>,
) -> Result<MetricsRow> {
    let row = MetricsRow {
        step,
        epoch,
        stats: running.take().expect("a row is written after at least one step"),
        quality,
    };
    writeln!(file, "{}", row.to_csv()).map_err(Error::io(path, "appending to"))?;
    file.flush().map_err(Error::io(path, "appending to"))?;
    Ok(row)
}

/// The name of the first loss or score that is NaN or infinite.
fn first_non_finite_statistic(stats: &StepStats) -> Option<&'static str> {
    [
        ("loss_d", stats.loss_d),
        ("loss_g", stats.loss_g),
        ("D(x)", stats.d_real),
        ("D(G(z))", stats.d_fake),
    ]
    .into_iter()
    .find(|(_, v)| !v.is_finite())
    .map(|(name, _)| name)
}

/// A bar with ETA and live losses, or a hidden one.
fn progress_bar(visible: bool, total: u64, done: u64) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}] {msg}")
            .expect("a valid template");
    bar.set_style(style);
    bar.set_position(done);
    bar
}
