//! The averaged generator (`--ema DECAY`): an exponential moving average of
//! the generator's weights, kept beside the one being trained.
//!
//! A GAN's generator never settles: each step moves it to wherever the
//! discriminator's latest gradient points, so its weights keep circling an
//! equilibrium rather than reaching it, and two checkpoints a hundred steps
//! apart draw visibly different digits. The average of the recent weights
//! sits nearer the centre of that circling (Yazıcı et al., 2019, "The
//! Unusual Effectiveness of Averaging in GAN Training"; Karras et al. use it
//! in every StyleGAN). After each generator step, for every parameter,
//!
//! ```text
//! θ̄ ← β·θ̄ + (1 − β)·θ        β = min(decay, (1 + t) / (10 + t))
//! ```
//!
//! where `t` is the number of averaging steps before this one. The warm-up
//! `(1 + t) / (10 + t)` (TensorFlow's `ExponentialMovingAverage` with
//! `num_updates`) keeps β small at first, so the average forgets the random
//! initial weights within tens of steps instead of the ~1/(1 − decay)
//! steps a fixed β = 0.999 would need.
//!
//! **BatchNorm.** The averaged copy has BatchNorm layers too, and their
//! running statistics must describe the averaged copy's own activations,
//! which differ from the live generator's. They are not averaged; before the
//! averaged copy draws anything ([`Ema::refreshed`]) it starts from
//! the live generator's running statistics and runs
//! [`RECALIBRATION_BATCHES`] batches of noise through itself in training
//! mode, so that every BatchNorm's running estimates move to the averaged
//! copy's statistics (each batch adds 10% of its statistics, so the starting
//! values keep 0.9²⁰ ≈ 12% of their weight). The noise comes from a random
//! stream of its own, drawn afresh from the run's seed each time: training
//! never sees it, and the result depends only on the weights.
//!
//! The averaged weights, with their refreshed statistics, are saved in every
//! checkpoint as `ema_generator.safetensors`; `sample`, `eval` and the
//! per-epoch quality check draw from them when a run has them.

use crate::models::GanModel;
use crate::streams::{self, stream_rng};
use datasets::NUM_CLASSES;
use nn::{Module, State};
use rand::Rng;
use std::sync::atomic::Ordering;
use tensor::{Result, Tensor, TensorError, no_grad};

/// How many batches of noise re-estimate the averaged copy's BatchNorm
/// statistics.
pub const RECALIBRATION_BATCHES: usize = 20;

/// Samples per recalibration batch.
pub const RECALIBRATION_BATCH_SIZE: usize = 256;

/// The averaging weight β of update number `t + 1` (after `t` earlier
/// updates): `min(decay, (1 + t) / (10 + t))`.
pub fn warmup_decay(decay: f64, t: u64) -> f64 {
    let t = t as f64;
    decay.min((1.0 + t) / (10.0 + t))
}

/// Checks a `--ema` decay: it must lie in [0, 1).
pub fn check_decay(decay: f64) -> std::result::Result<(), String> {
    if (0.0..1.0).contains(&decay) {
        Ok(())
    } else {
        Err(format!("ema decay must lie in [0, 1), got {decay}"))
    }
}

/// `θ̄ ← β·θ̄ + (1 − β)·θ` for every parameter of `average` and its
/// namesake in `live` (two instances of the same network).
pub fn average_into(average: &dyn Module, live: &dyn Module, beta: f64) -> Result<()> {
    let live = live.named_parameters();
    let average = average.named_parameters();
    if live.len() != average.len() {
        return Err(TensorError::argument(
            "ema",
            format!(
                "the averaged network has {} parameters, the live one {}",
                average.len(),
                live.len()
            ),
        ));
    }
    let (keep, take) = (beta as f32, (1.0 - beta) as f32);
    for ((name, a), (live_name, p)) in average.iter().zip(&live) {
        if name != live_name || a.shape() != p.shape() {
            return Err(TensorError::argument(
                "ema",
                format!(
                    "averaged `{name}` {:?} does not match live `{live_name}` {:?}",
                    a.shape(),
                    p.shape()
                ),
            ));
        }
        let values = p.array();
        a.update_in_place(|avg| avg.zip_mut_with(&values, |x, &y| *x = keep * *x + take * y));
    }
    Ok(())
}

/// Copies every parameter and buffer of `from` into `to` (two instances of
/// the same network).
pub fn copy_state(to: &dyn Module, from: &dyn Module) -> Result<()> {
    copy_matching(to, from, true)
}

/// Copies the state of `from` into `to`, pairing entries by name and order:
/// buffers and counters always, parameters if `parameters`. (Copying
/// BatchNorm's batch counter too makes the averaged copy's state a function
/// of the live one's and its own weights only, so a resumed run saves the
/// same bytes as one that never stopped.)
fn copy_matching(to: &dyn Module, from: &dyn Module, parameters: bool) -> Result<()> {
    enum Value {
        Array(Tensor),
        Count(u64),
    }
    let mut sources = Vec::new();
    from.visit(&mut |name, state| match state {
        State::Parameter(t) if parameters => sources.push((name.to_string(), Value::Array(t.clone()))),
        State::Buffer(t) => sources.push((name.to_string(), Value::Array(t.clone()))),
        State::Counter(c) => sources.push((name.to_string(), Value::Count(c.load(Ordering::Relaxed)))),
        State::Parameter(_) => {}
    });
    let mut result = Ok(());
    let mut next = sources.into_iter();
    let mismatch = |name: &str| {
        Err(TensorError::argument(
            "ema",
            format!("`{name}` has no namesake of its kind and shape in the live network"),
        ))
    };
    to.visit(&mut |name, state| {
        if matches!(state, State::Parameter(_)) && !parameters {
            return;
        }
        let outcome = match (state, next.next()) {
            (State::Parameter(t) | State::Buffer(t), Some((source, Value::Array(values))))
                if source == name && values.shape() == t.shape() =>
            {
                t.set_array(values.array())
            }
            (State::Counter(c), Some((source, Value::Count(n)))) if source == name => {
                c.store(n, Ordering::Relaxed);
                Ok(())
            }
            _ => mismatch(name),
        };
        if result.is_ok() {
            result = outcome;
        }
    });
    result
}

/// Which generator a figure or a picture comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GeneratorKind {
    /// The generator being trained.
    Live,
    /// The exponential moving average of its weights (`--ema`).
    Averaged,
}

impl std::fmt::Display for GeneratorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GeneratorKind::Live => "live",
            GeneratorKind::Averaged => "averaged (EMA)",
        })
    }
}

/// The averaged generator of a run, and how many times it has been updated.
pub struct Ema {
    decay: f64,
    updates: u64,
    /// A second instance of the run's model; only its generator is used.
    average: Box<dyn GanModel>,
    /// Whether the BatchNorm statistics describe the current averaged weights.
    statistics_fresh: bool,
    /// Seed of the recalibration noise (the run's seed).
    seed: u64,
}

impl Ema {
    /// An average of `live`'s generator that starts equal to it. `average`
    /// must be another instance of the same model (its weights are
    /// overwritten); `seed` is the run's, for the recalibration noise.
    pub fn new(decay: f64, mut average: Box<dyn GanModel>, live: &dyn GanModel, seed: u64) -> Result<Ema> {
        check_decay(decay).map_err(|e| TensorError::argument("ema", e))?;
        copy_state(average.generator(), live.generator())?;
        average.set_training(false);
        Ok(Ema {
            decay,
            updates: 0,
            average,
            statistics_fresh: true,
            seed,
        })
    }

    /// One averaging step towards `live`'s generator (after its update).
    pub fn update(&mut self, live: &dyn GanModel) -> Result<()> {
        let beta = warmup_decay(self.decay, self.updates);
        average_into(self.average.generator(), live.generator(), beta)?;
        self.updates += 1;
        self.statistics_fresh = false;
        Ok(())
    }

    /// How many averaging steps have been taken.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The configured decay.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// Restores a saved average: its update count (its weights are loaded
    /// into [`Ema::generator`] by the caller). Statistics saved with the
    /// weights are fresh.
    pub fn restore(&mut self, updates: u64) {
        self.updates = updates;
        self.statistics_fresh = true;
    }

    /// The averaged generator (read its weights, or load saved ones into it).
    pub fn generator(&self) -> &dyn Module {
        self.average.generator()
    }

    /// The averaged model, with BatchNorm statistics re-estimated for its
    /// weights if they changed since the last call (see the module
    /// documentation), in evaluation mode, ready to draw.
    pub fn refreshed(&mut self, live: &dyn GanModel) -> Result<&dyn GanModel> {
        if !self.statistics_fresh {
            self.recalibrate(live)?;
            self.statistics_fresh = true;
        }
        Ok(self.average.as_ref())
    }

    /// Re-estimates the averaged copy's BatchNorm statistics, starting from
    /// `live`'s.
    fn recalibrate(&mut self, live: &dyn GanModel) -> Result<()> {
        copy_matching(self.average.generator(), live.generator(), false)?;
        let mut rng = stream_rng(self.seed, streams::EMA_STATISTICS);
        let noise_dim = self.average.noise_dim();
        self.average.set_training(true);
        let result = (0..RECALIBRATION_BATCHES).try_for_each(|_| {
            let z = Tensor::randn(&[RECALIBRATION_BATCH_SIZE, noise_dim], 0.0, 1.0, &mut rng)?;
            let labels: Vec<usize> = (0..RECALIBRATION_BATCH_SIZE)
                .map(|_| rng.random_range(0..NUM_CLASSES))
                .collect();
            no_grad(|| self.average.generate(&z, &labels)).map(|_| ())
        });
        self.average.set_training(false);
        result
    }
}
