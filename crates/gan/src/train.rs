//! The training loop: one step of the GAN game, as in Goodfellow et al. (2014),
//! Algorithm 1, with the non-saturating generator loss.
//!
//! ```text
//! repeat:
//!     for k discriminator steps:
//!         x      ← a batch of real images
//!         x̃      ← G(z) for fresh noise z, detached: this update must not move G
//!         loss_D ← how badly D tells x (label real) from x̃ (label fake)
//!         θ_D    ← Adam step on ∇ loss_D
//!     x̃      ← G(z) for fresh noise z
//!     loss_G ← how badly x̃ fools D (scored against the label real)
//!     θ_G    ← Adam step on ∇ loss_G
//! ```
//!
//! [`Trainer::step`] is exactly that, plus two guards: after each backward
//! pass it checks that every gradient is finite (a NaN or infinity would
//! otherwise be written into the weights by the optimizer, and the run would
//! carry on producing noise), and with [`tensor::anomaly`] detection on it
//! stops at the first op that produced a non-finite value. Either way the
//! step fails with a [`Error`] before the optimizer touches the weights.
//! Everything around it (the run folder,
//! logs, sample grids, checkpoints, resume) is in `run.rs`.

use crate::config::TrainConfig;
use crate::ema::{Ema, GeneratorKind};
use crate::error::{Error, StepResult};
use crate::models::GanModel;
use crate::objective::{DiscriminatorLoss, Objective};
use crate::r1::R1;
use crate::streams::{self, stream_rng};
use datasets::{ImageSet, NUM_CLASSES, epoch_order};
use nn::{Adam, AdamConfig, Module, Optimizer};
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use tensor::{Result, Tensor, anomaly, no_grad};

/// The two Adam optimizers of a GAN, over the generator's and the
/// discriminator's parameters, with learning rates `(lr_g, lr_d)` and
/// shared betas (ε and the rest at Adam's defaults).
pub fn adam_pair(model: &dyn GanModel, (lr_g, lr_d): (f64, f64), betas: (f64, f64)) -> (Adam, Adam) {
    let adam = |lr| AdamConfig {
        lr,
        betas,
        ..AdamConfig::default()
    };
    (
        Adam::new(model.generator().named_parameters(), adam(lr_g)),
        Adam::new(model.discriminator().named_parameters(), adam(lr_d)),
    )
}

/// What one step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// The discriminator's loss (of its last step).
    pub loss_d: f64,
    /// The generator's loss.
    pub loss_g: f64,
    /// Mean D(x) on the real batch (a probability for `bce`).
    pub d_real: f64,
    /// Mean D(G(z)) on the fake batch, on the same scale.
    pub d_fake: f64,
}

impl StepStats {
    /// The figures of one step: the discriminator's loss and mean scores
    /// from its last update `d`, and the generator's loss `loss_g`.
    pub fn of(d: &DiscriminatorLoss, loss_g: &Tensor) -> Result<StepStats> {
        Ok(StepStats {
            loss_d: f64::from(d.loss.item()?),
            loss_g: f64::from(loss_g.item()?),
            d_real: d.real_score,
            d_fake: d.fake_score,
        })
    }
}

/// The first parameter in `params` (named as by `Module::named_parameters`)
/// whose gradient is not finite, with the offending value.
///
/// One read of every gradient, split across threads for large ones: a
/// vectorised finiteness test costs far less than the optimizer's update,
/// which reads the same gradient and writes three arrays of its size.
pub fn first_non_finite_gradient(params: &[(String, Tensor)]) -> Option<(String, f32)> {
    first_non_finite_among(params, Tensor::grad)
}

/// The first parameter in `params` whose value is not finite, with the
/// offending value.
pub fn first_non_finite_parameter(params: &[(String, Tensor)]) -> Option<(String, f32)> {
    first_non_finite_among(params, |p| Some(p.clone()))
}

/// The first parameter whose array chosen by `pick` holds NaN or infinity.
fn first_non_finite_among(
    params: &[(String, Tensor)],
    pick: impl Fn(&Tensor) -> Option<Tensor>,
) -> Option<(String, f32)> {
    use rayon::prelude::*;
    const CHUNK: usize = tensor::parallel::PARALLEL_THRESHOLD;
    params.iter().find_map(|(name, p)| {
        let values = pick(p)?.array();
        let finite = match values.as_slice_memory_order() {
            Some(slice) if slice.len() >= CHUNK => slice.par_chunks(CHUNK).all(anomaly::all_finite),
            Some(slice) => anomaly::all_finite(slice),
            None => values.iter().all(|v| v.is_finite()),
        };
        if finite {
            return None;
        }
        let value = values.iter().copied().find(|v| !v.is_finite())?;
        Some((name.clone(), value))
    })
}

/// Fails with [`Error::NonFiniteGradient`] if a gradient of `network`'s
/// parameters is not finite, and with [`Error::Anomaly`] if anomaly
/// detection has recorded one.
fn check_gradients(network: &'static str, params: &[(String, Tensor)]) -> StepResult<()> {
    if anomaly::is_enabled()
        && let Some(found) = anomaly::take()
    {
        return Err(Error::Anomaly(found));
    }
    match first_non_finite_gradient(params) {
        Some((parameter, value)) => Err(Error::NonFiniteGradient {
            network,
            parameter,
            value,
        }),
        None => Ok(()),
    }
}

/// Where the trainer is in the data: the epoch, the shuffled order of this
/// epoch, and the next position in it.
struct DataCursor {
    epoch: usize,
    order: Vec<usize>,
    position: usize,
    /// The data RNG as it was just before `order` was drawn, so that a resumed
    /// run can draw the same order again.
    rng_at_epoch_start: ChaCha8Rng,
}

/// A GAN, its optimizers, its data and its random state: all a step needs.
pub struct Trainer {
    config: TrainConfig,
    model: Box<dyn GanModel>,
    objective: Box<dyn Objective>,
    opt_g: Adam,
    opt_d: Adam,
    data: ImageSet,
    /// Draws the noise `z`, the labels fed to conditional models, and the
    /// objective's random numbers (WGAN-GP's interpolation weights).
    noise_rng: ChaCha8Rng,
    /// Draws each epoch's order of the training images.
    data_rng: ChaCha8Rng,
    cursor: DataCursor,
    /// Generator steps taken so far.
    step: u64,
    /// The averaged generator, with `--ema`.
    ema: Option<Ema>,
}

/// How far a [`Trainer`] has come, beyond its weights and optimizer
/// moments: what a checkpoint must hold to continue the run bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Generator steps done.
    pub step: u64,
    /// Data passes started.
    pub epoch: usize,
    /// Next position in this epoch's shuffled order.
    pub position: usize,
    /// The data RNG just before this epoch's order was drawn (the order is
    /// drawn again from it on resume).
    pub data_rng_at_epoch_start: ChaCha8Rng,
    /// The data RNG now.
    pub data_rng: ChaCha8Rng,
    /// The noise RNG now.
    pub noise_rng: ChaCha8Rng,
}

impl Trainer {
    /// A fresh run: weights drawn from the seed, optimizers at step 0.
    pub fn new(config: TrainConfig, data: ImageSet) -> StepResult<Self> {
        config.validate(data.len())?;
        let mut model = config
            .model
            .build(&mut stream_rng(config.seed, streams::WEIGHTS))?;
        if config.spectral_norm {
            let rng = &mut stream_rng(config.seed, streams::SPECTRAL_NORM);
            if model.spectral_normalise_discriminator(rng) == 0 {
                return Err(Error::config(
                    "spectral norm",
                    format!(
                        "{}'s discriminator has no Linear or Conv2d layer to normalise",
                        config.model
                    ),
                ));
            }
        }
        let (opt_g, opt_d) = adam_pair(model.as_ref(), (config.lr_g, config.lr_d), config.betas);
        let objective = config.loss.objective(config.label_smoothing);
        let mut data_rng = stream_rng(config.seed, streams::DATA);
        let rng_at_epoch_start = data_rng.clone();
        let order = epoch_order(data.len(), &mut data_rng);
        let ema = match config.ema {
            // A second instance of the model, overwritten with the live weights.
            Some(decay) => {
                let average = config
                    .model
                    .build(&mut stream_rng(config.seed, streams::WEIGHTS))?;
                Some(Ema::new(decay, average, model.as_ref(), config.seed)?)
            }
            None => None,
        };
        Ok(Trainer {
            ema,
            noise_rng: stream_rng(config.seed, streams::NOISE),
            data_rng,
            cursor: DataCursor {
                epoch: 0,
                order,
                position: 0,
                rng_at_epoch_start,
            },
            step: 0,
            config,
            model,
            objective,
            opt_g,
            opt_d,
            data,
        })
    }

    /// One step of the game: `d_steps` discriminator updates, then one
    /// generator update.
    ///
    /// Fails before an optimizer update if that update's gradients are not
    /// finite (or, with anomaly detection on, if any op produced a
    /// non-finite value): the weights then hold the last good values.
    ///
    /// Called on one of rayon's threads, the pool's other threads look for
    /// work through the whole step instead of sleeping between its parallel
    /// loops ([`tensor::parallel::with_idle_threads_polling`]).
    pub fn step(&mut self) -> StepResult<StepStats> {
        tensor::parallel::with_idle_threads_polling(|| self.step_now())
    }

    /// [`Trainer::step`]'s work, on the calling thread's terms.
    fn step_now(&mut self) -> StepResult<StepStats> {
        if self.config.lr_decay.is_some() {
            let (lr_g, lr_d) = self.learning_rates();
            self.opt_g.set_learning_rate(lr_g);
            self.opt_d.set_learning_rate(lr_d);
        }
        let mut last_d = None;
        for i in 0..self.config.d_steps {
            // Discriminator: real batch labelled real, fake batch labelled fake.
            let (real, labels) = self.next_real_batch()?;
            let z = self.noise(real.shape()[0])?;
            // Counted over the run, so a resumed run keeps R1's schedule.
            let update = self.step * self.config.d_steps as u64 + i as u64;
            let d = discriminator_update(
                self.model.as_ref(),
                self.objective.as_ref(),
                &mut self.opt_d,
                (&real, &z, &labels),
                self.config.r1.and_then(|r1| r1.weight_at(update)),
                &mut self.noise_rng,
            )?;
            last_d = Some(d);
        }
        let d = last_d.expect("d_steps ≥ 1 is validated");

        // Generator: fresh noise, scored by D against the label "real".
        let labels = self.random_labels(self.config.batch_size);
        let z = self.noise(self.config.batch_size)?;
        let loss_g = generator_update(
            self.model.as_ref(),
            self.objective.as_ref(),
            &mut self.opt_g,
            &z,
            &labels,
        )?;
        if let Some(ema) = &mut self.ema {
            ema.update(self.model.as_ref())?;
        }
        self.step += 1;
        Ok(StepStats::of(&d, &loss_g)?)
    }

    /// The next batch of real images (and their labels), starting a new,
    /// reshuffled epoch when this one cannot fill a batch.
    fn next_real_batch(&mut self) -> StepResult<(Tensor, Vec<usize>)> {
        let size = self.config.batch_size;
        if self.cursor.position + size > self.cursor.order.len() {
            self.cursor.rng_at_epoch_start = self.data_rng.clone();
            self.cursor.order = epoch_order(self.data.len(), &mut self.data_rng);
            self.cursor.position = 0;
            self.cursor.epoch += 1;
        }
        let indices = &self.cursor.order[self.cursor.position..self.cursor.position + size];
        self.cursor.position += size;
        let batch = self
            .data
            .batch(indices, self.model.batch_options())
            .map_err(Error::Data)?;
        Ok((batch.images, batch.labels))
    }

    /// Noise `z ~ N(0, 1)`, `[batch, noise_dim]`.
    fn noise(&mut self, batch: usize) -> Result<Tensor> {
        Tensor::randn(&[batch, self.model.noise_dim()], 0.0, 1.0, &mut self.noise_rng)
    }

    /// Uniform class labels for generated images (used by conditional models).
    fn random_labels(&mut self, batch: usize) -> Vec<usize> {
        (0..batch)
            .map(|_| self.noise_rng.random_range(0..NUM_CLASSES))
            .collect()
    }

    /// Fails with [`Error::NonFiniteParameter`] if a weight of either
    /// network is NaN or infinite. Run before every checkpoint, so that a
    /// checkpoint never holds such weights; not every step, since a bad
    /// weight shows up in the next step's gradients anyway.
    pub fn check_parameters(&self) -> StepResult<()> {
        for (network, opt) in [("generator", &self.opt_g), ("discriminator", &self.opt_d)] {
            if let Some((parameter, value)) = first_non_finite_parameter(opt.parameters()) {
                return Err(Error::NonFiniteParameter {
                    network,
                    parameter,
                    value,
                });
            }
        }
        Ok(())
    }

    /// Generator steps taken so far.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Full passes over the data completed so far.
    pub fn epochs_done(&self) -> usize {
        self.cursor.epoch
    }

    /// Generator steps in one pass over the data (each step uses `d_steps`
    /// real batches; a last partial batch is dropped).
    pub fn steps_per_epoch(&self) -> u64 {
        (self.data.len() / self.config.batch_size / self.config.d_steps) as u64
    }

    /// The generator steps the run is planned to take: its epochs, or
    /// `max_steps` if that comes first.
    pub fn total_steps(&self) -> u64 {
        let planned = self.steps_per_epoch() * self.config.epochs as u64;
        self.config.max_steps.map_or(planned, |m| m.min(planned))
    }

    /// The generator's and the discriminator's learning rates as the next
    /// step will set them (`--lr-decay` lowers them late in the run).
    pub fn learning_rates(&self) -> (f64, f64) {
        let factor = self
            .config
            .lr_decay
            .map_or(1.0, |decay| decay.factor(self.step, self.total_steps()));
        (self.config.lr_g * factor, self.config.lr_d * factor)
    }

    /// Which generator [`Trainer::generate_eval`] draws from.
    pub fn draws_from(&self) -> GeneratorKind {
        if self.ema.is_some() {
            GeneratorKind::Averaged
        } else {
            GeneratorKind::Live
        }
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The model being trained.
    pub fn model(&self) -> &dyn GanModel {
        self.model.as_ref()
    }

    /// The training images.
    pub fn data(&self) -> &ImageSet {
        &self.data
    }

    /// The generator's and the discriminator's optimizers (to save them).
    pub fn optimizers(&self) -> (&Adam, &Adam) {
        (&self.opt_g, &self.opt_d)
    }

    /// The two optimizers, to load their saved moments into.
    pub fn optimizers_mut(&mut self) -> (&mut Adam, &mut Adam) {
        (&mut self.opt_g, &mut self.opt_d)
    }

    /// The averaged generator, with `--ema`.
    pub fn ema(&self) -> Option<&Ema> {
        self.ema.as_ref()
    }

    /// The averaged generator, to load a saved average into.
    pub fn ema_mut(&mut self) -> Option<&mut Ema> {
        self.ema.as_mut()
    }

    /// The averaged model with BatchNorm statistics that describe its
    /// weights (see [`Ema::refreshed`]), if the run keeps one: what a
    /// checkpoint saves as the averaged generator.
    pub fn refreshed_average(&mut self) -> Option<Result<&dyn GanModel>> {
        let live = self.model.as_ref();
        self.ema.as_mut().map(|ema| ema.refreshed(live))
    }

    /// How far training has come (see [`Progress`]).
    pub fn progress(&self) -> Progress {
        Progress {
            step: self.step,
            epoch: self.cursor.epoch,
            position: self.cursor.position,
            data_rng_at_epoch_start: self.cursor.rng_at_epoch_start.clone(),
            data_rng: self.data_rng.clone(),
            noise_rng: self.noise_rng.clone(),
        }
    }

    /// Puts the trainer where `progress` says, drawing that epoch's order
    /// of the data again. Fails, changing nothing, if the position lies
    /// beyond the training images.
    pub fn restore_progress(&mut self, progress: Progress) -> std::result::Result<(), Error> {
        let order = epoch_order(self.data.len(), &mut progress.data_rng_at_epoch_start.clone());
        if progress.position > order.len() {
            return Err(Error::config(
                "resume",
                format!(
                    "data position {} is beyond the {} training images",
                    progress.position,
                    order.len()
                ),
            ));
        }
        self.cursor = DataCursor {
            epoch: progress.epoch,
            order,
            position: progress.position,
            rng_at_epoch_start: progress.data_rng_at_epoch_start,
        };
        self.data_rng = progress.data_rng;
        self.noise_rng = progress.noise_rng;
        self.step = progress.step;
        Ok(())
    }

    /// Generates images for the noise `z` in evaluation mode (BatchNorm uses
    /// its running statistics, nothing is recorded, nothing changes), from
    /// the averaged generator if the run keeps one ([`Trainer::draws_from`]).
    pub fn generate_eval(&mut self, z: &Tensor, labels: &[usize]) -> Result<Tensor> {
        if let Some(ema) = &mut self.ema {
            let average = ema.refreshed(self.model.as_ref())?;
            return no_grad(|| average.generate(z, labels));
        }
        self.model.set_training(false);
        let images = no_grad(|| self.model.generate(z, labels));
        self.model.set_training(true);
        images
    }
}

/// One discriminator update of Algorithm 1: `fake = G(z)` without a graph
/// (this update must not move G), the objective's loss on `real` against
/// `fake`, plus `r1_weight ·` the R1 penalty on `real` if given (see
/// `r1.rs`), and one step of `opt_d` on its gradient, taken only if every
/// gradient is finite. `batch` is
/// `(real, z, labels)`; `rng` serves objectives that draw random numbers.
/// The returned loss is the objective's, without the penalty.
/// [`Trainer::step`] and the 2-D toy GANs (`examples/gan-toy`) share it.
pub fn discriminator_update(
    model: &dyn GanModel,
    objective: &dyn Objective,
    opt_d: &mut dyn Optimizer,
    batch: (&Tensor, &Tensor, &[usize]),
    r1_weight: Option<f64>,
    rng: &mut dyn RngCore,
) -> StepResult<DiscriminatorLoss> {
    let (real, z, labels) = batch;
    // Detached: no graph through G, so this update cannot move it.
    let fake = no_grad(|| model.generate(z, labels))?;
    opt_d.zero_grad();
    let d = objective.discriminator_loss(model, real, &fake, labels, rng)?;
    match r1_weight {
        Some(weight) => d.loss.add(&R1::term(model, real, labels, weight)?)?.backward()?,
        None => d.loss.backward()?,
    }
    check_gradients("discriminator", opt_d.parameters())?;
    opt_d.step()?;
    Ok(d)
}

/// One generator update of Algorithm 1: `fake = G(z)`, scored by D through
/// the objective's generator loss, and one step of `opt_g` on its gradient,
/// taken only if every gradient is finite. Returns the loss.
pub fn generator_update(
    model: &dyn GanModel,
    objective: &dyn Objective,
    opt_g: &mut dyn Optimizer,
    z: &Tensor,
    labels: &[usize],
) -> StepResult<Tensor> {
    opt_g.zero_grad();
    let fake = model.generate(z, labels)?;
    // D's weights are not updated here, so their gradients are not
    // needed: freezing them skips a third of D's backward pass.
    let loss = with_frozen(model.discriminator(), || {
        let loss = objective.generator_loss(model, &fake, labels)?;
        loss.backward()?;
        Ok(loss)
    })?;
    check_gradients("generator", opt_g.parameters())?;
    opt_g.step()?;
    Ok(loss)
}

/// Runs `f` with `module`'s parameters excluded from gradient computation,
/// restoring them afterwards even if `f` fails.
fn with_frozen<R>(module: &dyn Module, f: impl FnOnce() -> Result<R>) -> Result<R> {
    let params = module.parameters();
    for p in &params {
        p.set_requires_grad(false)?;
    }
    let result = f();
    for p in &params {
        p.set_requires_grad(true)?;
    }
    result
}
