//! Checkpoints of a training run: everything needed to continue it exactly.
//!
//! ```text
//! runs/<name>/checkpoint/
//!     LATEST                  the name of the newest complete checkpoint
//!     step-000000937/
//!         generator.safetensors       weights and BatchNorm buffers (PyTorch names)
//!         discriminator.safetensors
//!         optim_g.safetensors         Adam moments and step counts
//!         optim_d.safetensors
//!         ema_generator.safetensors   with --ema: the averaged generator (see `ema.rs`)
//!         state.json                  step, data position, RNG states, config
//!     best.json               with the per-epoch quality check: names the checkpoint
//!                             with the lowest Fréchet distance so far (see `best.rs`)
//! ```
//!
//! A checkpoint is written into a hidden `.partial` folder, flushed, and
//! renamed into place; only then does `LATEST` (itself replaced atomically)
//! point at it, and only then are older checkpoints removed. A crash at any
//! moment therefore leaves `LATEST` naming a complete checkpoint.
//!
//! Resuming restores the weights, the optimizers' moments, the BatchNorm
//! statistics, the three random generators (exact stream positions) and the
//! position in the shuffled data, so a resumed run continues bit for bit as
//! if it had never stopped.

use crate::error::{Error, Result, write_atomically};
use crate::metrics::RunningMean;
use gan::config::TrainConfig;
use gan::train::{Progress, Trainer};
use nn::checkpoint as nn_checkpoint;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The name of the pointer file inside the checkpoint folder.
pub const LATEST: &str = "LATEST";

/// The exact position of a ChaCha8 generator, as JSON-friendly strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 32-byte key, in hex.
    pub seed: String,
    /// The stream number.
    pub stream: u64,
    /// How many 32-bit words have been drawn (a u128, in decimal).
    pub word_pos: String,
}

impl RngState {
    /// Captures a generator's state.
    pub fn capture(rng: &ChaCha8Rng) -> Self {
        RngState {
            seed: rng.get_seed().iter().map(|b| format!("{b:02x}")).collect(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos().to_string(),
        }
    }

    /// Rebuilds the generator, or says which field is malformed.
    pub fn restore(&self) -> std::result::Result<ChaCha8Rng, String> {
        use rand::SeedableRng;
        let bytes: Vec<u8> = (0..self.seed.len())
            .step_by(2)
            .map(|i| {
                self.seed
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<_>>()
            .ok_or("the RNG seed is not hex")?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| "the RNG seed is not 32 bytes")?;
        let word_pos: u128 = self
            .word_pos
            .parse()
            .map_err(|_| "the RNG word position is not a number")?;
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(word_pos);
        Ok(rng)
    }
}

/// The contents of `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Generator steps done.
    pub step: u64,
    /// Data passes started.
    pub epoch: usize,
    /// Next position in this epoch's order.
    pub position: usize,
    /// The data RNG just before this epoch's order was drawn.
    pub data_rng_at_epoch_start: RngState,
    /// The data RNG now.
    pub data_rng: RngState,
    /// The noise RNG now.
    pub noise_rng: RngState,
    /// Statistics of the steps since the last row of `metrics.csv`.
    pub pending_metrics: RunningMean,
    /// The run's configuration.
    pub config: TrainConfig,
    /// With `--ema`: how many averaging steps the saved average has taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_updates: Option<u64>,
}

/// The file of the averaged generator in a checkpoint folder.
pub const EMA_FILE: &str = "ema_generator.safetensors";

/// Writes a checkpoint of `trainer` into `dir` (the run's `checkpoint`
/// folder) and returns its path. See the module documentation for why a
/// crash never leaves a broken checkpoint behind.
pub fn save(trainer: &mut Trainer, pending_metrics: &RunningMean, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir, "creating"))?;
    let name = format!("step-{:09}", trainer.steps_done());
    let partial = dir.join(format!(".{name}.partial"));
    let target = dir.join(&name);
    if latest(dir).is_ok_and(|newest| newest == target) && target.is_dir() {
        // `LATEST` already names a checkpoint of this very step (a resumed
        // run that stops before its first step). Its state is this state, and
        // replacing it would mean deleting the folder `LATEST` names: a crash
        // before the rename would then leave no checkpoint at all.
        return Ok(target);
    }
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(Error::io(&partial, "removing"))?;
    }
    std::fs::create_dir(&partial).map_err(Error::io(&partial, "creating"))?;

    // With BatchNorm statistics that describe the averaged weights.
    if let Some(average) = trainer.refreshed_average() {
        let average = average.map_err(|e| Error::Format {
            path: partial.join(EMA_FILE),
            detail: e.to_string(),
        })?;
        nn_checkpoint::save_module(average.generator(), &partial.join(EMA_FILE))?;
    }
    let model = trainer.model();
    nn_checkpoint::save_module(model.generator(), &partial.join("generator.safetensors"))?;
    nn_checkpoint::save_module(model.discriminator(), &partial.join("discriminator.safetensors"))?;
    let (opt_g, opt_d) = trainer.optimizers();
    nn_checkpoint::save_optimizer(opt_g, &partial.join("optim_g.safetensors"))?;
    nn_checkpoint::save_optimizer(opt_d, &partial.join("optim_d.safetensors"))?;
    let progress = trainer.progress();
    let state = TrainState {
        step: progress.step,
        epoch: progress.epoch,
        position: progress.position,
        data_rng_at_epoch_start: RngState::capture(&progress.data_rng_at_epoch_start),
        data_rng: RngState::capture(&progress.data_rng),
        noise_rng: RngState::capture(&progress.noise_rng),
        pending_metrics: *pending_metrics,
        config: trainer.config().clone(),
        ema_updates: trainer.ema().map(|e| e.updates()),
    };
    let json = serde_json::to_vec_pretty(&state).expect("the state serialises");
    let state_path = partial.join("state.json");
    write_atomically(&state_path, &json)?;

    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(Error::io(&target, "removing"))?;
    }
    std::fs::rename(&partial, &target).map_err(Error::io(&target, "renaming into place"))?;
    write_atomically(&dir.join(LATEST), name.as_bytes())?;
    remove_older(dir, &name)?;
    Ok(target)
}

/// Deletes every checkpoint folder in `dir` except `keep` and the best one
/// (`best.rs`), and leftovers of interrupted writes.
pub(crate) fn remove_older(dir: &Path, keep: &str) -> Result<()> {
    let best = crate::best::read(dir)?.map(|b| b.checkpoint);
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir, "listing"))? {
        let entry = entry.map_err(Error::io(dir, "listing"))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_checkpoint = name.starts_with("step-") || name.ends_with(".partial");
        let kept = name == keep || best.as_deref() == Some(name.as_str());
        if is_checkpoint && !kept && entry.path().is_dir() {
            std::fs::remove_dir_all(entry.path()).map_err(Error::io(&entry.path(), "removing"))?;
        }
        // A process killed while replacing `LATEST` leaves its temporary file.
        if name.starts_with(&format!(".{LATEST}.tmp-")) && entry.path().is_file() {
            std::fs::remove_file(entry.path()).map_err(Error::io(&entry.path(), "removing"))?;
        }
    }
    Ok(())
}

/// The newest complete checkpoint in `dir` (the run's `checkpoint` folder).
pub fn latest(dir: &Path) -> Result<PathBuf> {
    let pointer = dir.join(LATEST);
    let name = std::fs::read_to_string(&pointer).map_err(|e| Error::Format {
        path: pointer.clone(),
        detail: format!("cannot read the pointer to the newest checkpoint ({e}); is this a run folder?"),
    })?;
    let name = name.trim();
    if !name.starts_with("step-") || name.contains(['/', '\\']) {
        return Err(Error::Format {
            path: pointer,
            detail: format!("does not name a checkpoint: {name:?}"),
        });
    }
    Ok(dir.join(name))
}

/// Reads `state.json` of the checkpoint in `checkpoint`.
pub fn read_state(checkpoint: &Path) -> Result<TrainState> {
    let path = checkpoint.join("state.json");
    let bytes = std::fs::read(&path).map_err(Error::io(&path, "reading"))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Format {
        path,
        detail: format!("not a valid training state: {e}"),
    })
}

/// Restores `trainer` (freshly built from the same config and data) to the
/// checkpoint in `checkpoint`, and returns the statistics of the steps since
/// the last metrics row. On error the trainer may be partly restored and must
/// be dropped.
pub fn restore(trainer: &mut Trainer, checkpoint: &Path) -> Result<RunningMean> {
    let state = read_state(checkpoint)?;
    let state_path = checkpoint.join("state.json");
    let bad_state = |detail: String| Error::Format {
        path: state_path.clone(),
        detail,
    };
    let model = trainer.model();
    nn_checkpoint::load_module(model.generator(), &checkpoint.join("generator.safetensors"))?;
    nn_checkpoint::load_module(
        model.discriminator(),
        &checkpoint.join("discriminator.safetensors"),
    )?;
    let (opt_g, opt_d) = trainer.optimizers_mut();
    nn_checkpoint::load_optimizer(opt_g, &checkpoint.join("optim_g.safetensors"))?;
    nn_checkpoint::load_optimizer(opt_d, &checkpoint.join("optim_d.safetensors"))?;
    if let Some(ema) = trainer.ema_mut() {
        let updates = state.ema_updates.ok_or_else(|| {
            bad_state("the run averages its generator (--ema) but the checkpoint holds no average".into())
        })?;
        nn_checkpoint::load_module(ema.generator(), &checkpoint.join(EMA_FILE))?;
        ema.restore(updates);
    }

    let restore = |rng: &RngState| rng.restore().map_err(|e| bad_state(e.to_string()));
    let progress = Progress {
        step: state.step,
        epoch: state.epoch,
        position: state.position,
        data_rng_at_epoch_start: restore(&state.data_rng_at_epoch_start)?,
        data_rng: restore(&state.data_rng)?,
        noise_rng: restore(&state.noise_rng)?,
    };
    trainer.restore_progress(progress).map_err(|e| match e {
        gan::Error::Config { detail, .. } => bad_state(detail),
        other => bad_state(other.to_string()),
    })?;
    Ok(state.pending_metrics)
}
