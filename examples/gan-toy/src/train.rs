//! The alternating loop on 2-D points: `d_steps` discriminator updates, then
//! one generator update, each the same function the MNIST trainer calls
//! (`gan::train::discriminator_update` / `generator_update`), with the
//! same losses (`gan::objective`). Only the data differ: fresh points from
//! the sampler every step instead of an epoch of images.

use crate::datasets::{Point, Toy};
use crate::models::{
    DiscriminatorInput, InstanceNoiseHandle, InstanceNoiseState, ScoringHandles, batch_spread, toy_gan,
};
use crate::noise::{InstanceNoiseSchedule, LatentNoise};
use gan::config::check_adam_settings;
use gan::ema::{Ema, check_decay};
use gan::loss::LossKind;
use gan::models::{GanModel, SequentialGan};
use gan::objective::Objective;
use gan::r1::R1;
use gan::schedule::LinearDecay;
use gan::streams::{self, stream_rng};
use gan::train::{StepStats, adam_pair, discriminator_update, generator_update};
use nn::{Adam, Optimizer};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::sync::Mutex;
use tensor::{Result, Tensor, TensorError, no_grad};

/// Everything that defines a toy run.
#[derive(Debug, Clone, PartialEq)]
pub struct ToyConfig {
    /// The data set.
    pub dataset: Toy,
    /// Generator steps.
    pub steps: u64,
    /// Points per batch (real and fake alike).
    pub batch_size: usize,
    /// The generator's learning rate.
    pub lr_g: f64,
    /// The discriminator's learning rate.
    pub lr_d: f64,
    /// Adam's β₁ and β₂ for both networks.
    pub betas: (f64, f64),
    /// Discriminator steps per generator step.
    pub d_steps: usize,
    /// The loss (`bce`, `lsgan` or `hinge`).
    pub loss: LossKind,
    /// Units per hidden layer of both networks.
    pub hidden: usize,
    /// Length of the noise vector `z`.
    pub noise_dim: usize,
    /// The distribution of `z`.
    pub noise: LatentNoise,
    /// `z` is drawn from `noise` and multiplied by this.
    pub noise_scale: f64,
    /// Gaussian noise added to every point D sees, falling to 0, or none.
    pub instance_noise: Option<InstanceNoiseSchedule>,
    /// Give D the batch's spread as an input (`models::MinibatchStd`).
    pub minibatch_std: bool,
    /// Points D judges together (`models::Pack`); 1: one at a time.
    pub pack: usize,
    /// The R1 penalty's weight γ on D (`γ/2 · E‖∇ₓD(x)‖²` over real
    /// points, every D update), or none.
    pub r1: Option<f64>,
    /// Both learning rates fall linearly towards 0 over this last share of
    /// the steps (`gan::schedule::LinearDecay`), or stay constant.
    pub lr_decay: Option<f64>,
    /// Both learning rates rise linearly from 0 over this many first
    /// steps (`lr · (t + 1)/W` at step `t < W`), or start at full size.
    pub lr_warmup: Option<u64>,
    /// Keep an exponential moving average of the generator's weights with
    /// this decay (`gan::ema`), and draw the frames and the coverage
    /// numbers from it; or draw them from the live generator.
    pub ema: Option<f64>,
    /// Seed of every random draw.
    pub seed: u64,
}

impl ToyConfig {
    /// The default run of `dataset`: 4,000 steps of batch 256, Adam lr 2e-4
    /// with betas (0.5, 0.999), one D step per G step, `bce`, 128 hidden
    /// units, noise of 2 numbers, and a D that judges packs of 2 points
    /// with the minibatch-spread input. `grid25` has its own recipe (below).
    ///
    /// # Why these three
    ///
    /// Until issue #17 the noise had 16 numbers and D saw single points
    /// only; that setting covered all 8 modes of `ring8` on 1 of the seeds
    /// 0–9 (modes covered: 7 2 2 1 5 7 2 8 4 7). 2 noise numbers and the
    /// spread input together covered 8 of 8 on seeds 0–8 and 7 on seed 9,
    /// where one mode held 12 of 2,000 points; packs of 2 on top cover 8 of
    /// 8 on every seed 0–9, the thinnest mode holding 120 or more points
    /// (a quarter of the fair share is 62.5), and take a third less time,
    /// as D sees half as many rows. Chapter 5 has every run and its command.
    ///
    /// * **Packs of 2** ([`crate::models::Pack`], PacGAN) let D judge two
    ///   points at once: two fakes from a generator that favours a few
    ///   modes land in the same mode more often than two real points do,
    ///   which D can see in the pair and not in either point.
    /// * **The spread input** ([`crate::models::MinibatchStd`]) lets D judge
    ///   a batch as a whole: a batch piled onto a few modes is narrower than
    ///   a batch of real points, so D can reject it even when every point
    ///   in it looks real, and its gradient through the spread pushes the
    ///   fakes apart. Without one of these two, nothing in D's loss
    ///   punishes a generator for leaving modes empty, which is what mode
    ///   collapse is.
    /// * **Two noise numbers for 2-D data.** The data is a plane's worth of
    ///   points, so G needs no more inputs than two; with 16, most of the
    ///   noise's directions must be made irrelevant, and G's output starts
    ///   as a narrow blob that is easier to steer onto one or two modes
    ///   than to spread over eight. This is our reading of the measurements,
    ///   not a proof.
    ///
    /// `--noise-dim 16 --no-minibatch-std --pack 1` restores the old
    /// setting, and with it the collapse on seeds 1, 2 and 3.
    ///
    /// # grid25
    ///
    /// 25 modes need a recipe of their own: 48,000 steps of batches of 128
    /// points at a constant lr 5e-4, the `lsgan` loss, and the frames and
    /// numbers drawn from an exponential moving average of G's weights
    /// (decay 0.999, `gan::ema`). On seeds 0–9 it covers 25 25 20 20 20 25
    /// 25 25 25 25 of the 25 modes: all of them on 7 seeds of 10. It spends
    /// about the same computer time as the previous recipe (24,000 steps of
    /// 256 points, all 25 modes on 5 seeds of 10: 25 25 20 25 16 25 25 20 24
    /// 20) on twice as many, smaller steps. The runs that stop at 20 have
    /// had G fold its sheet of points past a whole column of modes early on
    /// (seed 2: by step 8,000); a long run tears some folds open again late:
    /// at step 24,000 this recipe covered all 25 on seeds 1 and 5 only, and
    /// seeds 6, 8, 7, 9 and 0 followed between steps 28,000 and 44,000.
    /// On seeds 2, 3 and 4 the fold stays (`--steps 64000` opens seed 2
    /// too, at step 60,000: 8 of 10, in 74–89 s a run on 1 thread, longer
    /// than a demo's default should take). The smaller batches also draw
    /// tighter clusters (88.9–91.6% of the points within 3σ of a mode,
    /// against 68.7–90.1%). The recipe before those two (8,000 steps,
    /// `bce`, the rates falling to 0 over the second half, no average)
    /// covered 15–19 and never 25. Chapter 5 lists what was tried,
    /// including the noise's distribution (`--noise`), instance noise
    /// (`--instance-noise`), a warm-up (`--lr-warmup`) and packs of 4, none
    /// of which did better.
    pub fn new(dataset: Toy) -> Self {
        // grid25's recipe: see "grid25" above.
        let grid = dataset == Toy::Grid25;
        let lr = if grid { 5e-4 } else { 2e-4 };
        ToyConfig {
            dataset,
            steps: if grid { 48_000 } else { 4000 },
            batch_size: if grid { 128 } else { 256 },
            lr_g: lr,
            lr_d: lr,
            betas: (0.5, 0.999),
            d_steps: 1,
            loss: if grid { LossKind::Lsgan } else { LossKind::Bce },
            hidden: 128,
            noise_dim: 2,
            noise: LatentNoise::Normal,
            noise_scale: 1.0,
            instance_noise: None,
            minibatch_std: true,
            pack: 2,
            r1: None,
            lr_decay: None,
            lr_warmup: None,
            ema: grid.then_some(0.999),
            seed: 0,
        }
    }

    /// Checks the values a user can get wrong, naming the bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |detail: String| Err(TensorError::argument("toy config", detail));
        for (name, value) in [
            ("batch-size", self.batch_size),
            ("d-steps", self.d_steps),
            ("hidden", self.hidden),
            ("noise-dim", self.noise_dim),
            ("pack", self.pack),
        ] {
            if value == 0 {
                return bad(format!("{name} must be at least 1"));
            }
        }
        if self.batch_size % self.pack != 0 {
            return bad(format!(
                "batch-size {} is not a multiple of pack {}: D judges whole packs",
                self.batch_size, self.pack
            ));
        }
        check_adam_settings(self.lr_g, self.lr_d, self.betas).or_else(bad)?;
        if let Some(gamma) = self.r1 {
            R1 { gamma, every: 1 }.validate().or_else(bad)?;
        }
        if let Some(fraction) = self.lr_decay {
            LinearDecay { fraction }.validate().or_else(bad)?;
        }
        if let Some(decay) = self.ema {
            check_decay(decay).or_else(bad)?;
        }
        if self.loss == LossKind::WassersteinGp {
            return bad("the toy GANs take the losses bce, lsgan and hinge, not wgan-gp".into());
        }
        if !(self.noise_scale.is_finite() && self.noise_scale > 0.0) {
            return bad(format!(
                "noise-scale must be a finite number above 0, got {}",
                self.noise_scale
            ));
        }
        if let Some(schedule) = self.instance_noise {
            schedule.validate()?;
        }
        Ok(())
    }

    /// The settings as JSON, for `summary.json`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "dataset": self.dataset.name(),
            "steps": self.steps,
            "batch_size": self.batch_size,
            "lr_g": self.lr_g,
            "lr_d": self.lr_d,
            "betas": [self.betas.0, self.betas.1],
            "d_steps": self.d_steps,
            "loss": self.loss.name(),
            "hidden": self.hidden,
            "noise_dim": self.noise_dim,
            "noise": self.noise.name(),
            "noise_scale": self.noise_scale,
            "instance_noise": self.instance_noise.map(|s| json!({
                "sigma": s.sigma,
                "fraction": s.fraction,
            })),
            "minibatch_std": self.minibatch_std,
            "pack": self.pack,
            "r1": self.r1,
            "lr_decay": self.lr_decay,
            "lr_warmup": self.lr_warmup,
            "ema": self.ema,
            "seed": self.seed,
        })
    }
}

/// How many sets of real companions a packing D's heat map averages over.
pub const COMPANION_DRAWS: usize = 4;

/// The random stream of the fixed real points that frames and coverage use
/// (after the first four of `gan::streams`).
pub const EVAL_REAL_STREAM: u64 = 4;

/// The random stream of the instance noise added to D's inputs (the
/// number `gan::streams` gives spectral normalisation, which the toy GANs
/// do not use).
pub const INSTANCE_NOISE_STREAM: u64 = 5;

/// A toy GAN being trained.
pub struct ToyTrainer {
    config: ToyConfig,
    model: SequentialGan,
    /// D's spread and pack overrides, for scoring single points.
    handles: ScoringHandles,
    objective: Box<dyn Objective>,
    opt_g: Adam,
    opt_d: Adam,
    /// The averaged generator, with `ema`.
    ema: Option<Ema>,
    /// Draws the noise `z` of training steps.
    noise_rng: ChaCha8Rng,
    /// Draws the real points of training steps.
    data_rng: ChaCha8Rng,
    step: u64,
}

impl ToyTrainer {
    /// A fresh run: weights drawn from the seed's weight stream.
    pub fn new(config: ToyConfig) -> Result<Self> {
        config.validate()?;
        let input = DiscriminatorInput {
            pack: config.pack,
            minibatch_std: config.minibatch_std,
            instance_noise: config.instance_noise.is_some(),
        };
        let (model, handles) = toy_gan(
            config.hidden,
            config.noise_dim,
            input,
            &mut stream_rng(config.seed, streams::WEIGHTS),
        );
        if let Some(handle) = &handles.instance_noise {
            lock_noise(handle).rng = stream_rng(config.seed, INSTANCE_NOISE_STREAM);
        }
        let (opt_g, opt_d) = adam_pair(&model, (config.lr_g, config.lr_d), config.betas);
        let ema = match config.ema {
            // A second instance of the model, overwritten with the live weights.
            Some(decay) => {
                let (average, _) = toy_gan(
                    config.hidden,
                    config.noise_dim,
                    input,
                    &mut stream_rng(config.seed, streams::WEIGHTS),
                );
                Some(Ema::new(decay, Box::new(average), &model, config.seed)?)
            }
            None => None,
        };
        Ok(ToyTrainer {
            ema,
            objective: config.loss.objective(0.0),
            noise_rng: stream_rng(config.seed, streams::NOISE),
            data_rng: stream_rng(config.seed, streams::DATA),
            step: 0,
            config,
            model,
            handles,
            opt_g,
            opt_d,
        })
    }

    /// One step of the game: `d_steps` discriminator updates on fresh real
    /// points, then one generator update.
    pub fn step(&mut self) -> gan::StepResult<StepStats> {
        let batch = self.config.batch_size;
        let decay = self.config.lr_decay.map_or(1.0, |fraction| {
            LinearDecay { fraction }.factor(self.step, self.config.steps)
        });
        let warmup = self
            .config
            .lr_warmup
            .map_or(1.0, |w| ((self.step + 1) as f64 / w.max(1) as f64).min(1.0));
        let factor = decay * warmup;
        self.opt_g.set_learning_rate(self.config.lr_g * factor);
        self.opt_d.set_learning_rate(self.config.lr_d * factor);
        let r1_weight = self.config.r1.map(|gamma| gamma / 2.0);
        // Instance noise blurs D's inputs during this step's updates only
        // (D's and G's alike); heat maps and coverage see the sharp points.
        if let (Some(schedule), Some(handle)) = (self.config.instance_noise, &self.handles.instance_noise) {
            lock_noise(handle).sigma = schedule.sigma_at(self.step, self.config.steps) as f32;
        }
        let mut last_d = None;
        for _ in 0..self.config.d_steps {
            let real = points_tensor(&self.config.dataset.sample(batch, &mut self.data_rng))?;
            let z = self.noise(batch)?;
            last_d = Some(discriminator_update(
                &self.model,
                self.objective.as_ref(),
                &mut self.opt_d,
                (&real, &z, &[]),
                r1_weight,
                &mut self.noise_rng,
            )?);
        }
        let d = last_d.expect("d_steps ≥ 1 is validated");
        let z = self.noise(batch)?;
        let loss_g = generator_update(&self.model, self.objective.as_ref(), &mut self.opt_g, &z, &[])?;
        if let Some(handle) = &self.handles.instance_noise {
            lock_noise(handle).sigma = 0.0;
        }
        if let Some(ema) = &mut self.ema {
            ema.update(&self.model)?;
        }
        self.step += 1;
        Ok(StepStats::of(&d, &loss_g)?)
    }

    /// Noise `z` of the configured distribution, `[batch, noise_dim]`,
    /// from the training stream.
    fn noise(&mut self, batch: usize) -> Result<Tensor> {
        self.config.noise.sample(
            batch,
            self.config.noise_dim,
            self.config.noise_scale,
            &mut self.noise_rng,
        )
    }

    /// Generator steps taken so far.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// The run's configuration.
    pub fn config(&self) -> &ToyConfig {
        &self.config
    }

    /// The points the generator makes of noise `z` `[n, noise_dim]`: the
    /// averaged generator if the run keeps one, else the live one.
    pub fn generate(&mut self, z: &Tensor) -> Result<Vec<Point>> {
        match &mut self.ema {
            Some(ema) => {
                let average = ema.refreshed(&self.model)?;
                tensor_points(&no_grad(|| average.generate(z, &[]))?)
            }
            None => self.generate_live(z),
        }
    }

    /// The points the live generator (the one being trained) makes of `z`.
    pub fn generate_live(&self, z: &Tensor) -> Result<Vec<Point>> {
        tensor_points(&no_grad(|| self.model.generate(z, &[]))?)
    }

    /// The discriminator's score at each of `points`, on the scale of the
    /// heat maps: `σ(logit)` for `bce` (the probability of "real"), the
    /// output clamped to [0, 1] for `lsgan` (whose targets are 0 and 1),
    /// and `(output + 1)/2` clamped to [0, 1] for `hinge` (whose margins
    /// are ±1). In every case ½ means "cannot tell".
    ///
    /// With a minibatch-spread D, `reference` (the real points) sets the
    /// spread each point is scored with: D's verdict on `x` in a batch as
    /// spread as those points. With a packing D, each point is scored in
    /// packs with `pack − 1` real points of `reference`, [`COMPANION_DRAWS`]
    /// times with different ones, and the scores are averaged: D's verdict
    /// on `x` beside typical data, not beside one particular point.
    pub fn scores(&self, points: &[Point], reference: &[Point]) -> Result<Vec<f32>> {
        if let Some(handle) = &self.handles.spread {
            let s = batch_spread(&points_tensor(reference)?)?.item()?;
            set_reference(handle, Some(s));
        }
        let scores = match &self.handles.pack {
            None => self.plain_scores(points),
            Some(handle) => {
                let per_pack = self.config.pack - 1;
                let mut sum = vec![0.0f32; points.len()];
                let mut outcome = Ok(());
                for draw in 0..COMPANION_DRAWS {
                    let companions = reference.iter().cycle().skip(draw * per_pack).take(per_pack);
                    set_reference(handle, Some(companions.flatten().copied().collect()));
                    match self.plain_scores(points) {
                        Ok(scores) => sum.iter_mut().zip(scores).for_each(|(s, x)| *s += x),
                        Err(e) => {
                            outcome = Err(e);
                            break;
                        }
                    }
                }
                set_reference(handle, None);
                outcome.map(|()| sum.iter().map(|s| s / COMPANION_DRAWS as f32).collect())
            }
        };
        if let Some(handle) = &self.handles.spread {
            set_reference(handle, None);
        }
        scores
    }

    /// D's scores at `points` with whatever references are set, on the
    /// heat maps' scale (see [`ToyTrainer::scores`]).
    fn plain_scores(&self, points: &[Point]) -> Result<Vec<f32>> {
        let logits = no_grad(|| self.model.discriminate(&points_tensor(points)?, &[]))?.to_vec();
        Ok(match self.config.loss {
            LossKind::Bce => logits.iter().map(|&l| 1.0 / (1.0 + (-l).exp())).collect(),
            LossKind::Hinge => logits
                .iter()
                .map(|&l| ((l + 1.0) / 2.0).clamp(0.0, 1.0))
                .collect(),
            _ => logits.iter().map(|&l| l.clamp(0.0, 1.0)).collect(),
        })
    }

    /// The mean length of `∇ₓ ℓ_G(x)` over the fake points `G(z)`: how hard
    /// the generator's loss pushes each point, per point (the batch mean's
    /// gradient times the batch size). Near 0, the generator has stopped
    /// learning, whatever its loss says.
    pub fn generator_push(&self, z: &Tensor) -> Result<f64> {
        let fake = no_grad(|| self.model.generate(z, &[]))?.with_requires_grad();
        let loss = self.objective.generator_loss(&self.model, &fake, &[])?;
        loss.backward()?;
        // The backward pass also filled D's gradients; they are cleared
        // before D's next update anyway, but a reader should find them clean.
        self.model.discriminator().zero_grad();
        let grad = fake
            .grad()
            .ok_or_else(|| TensorError::argument("generator_push", "no gradient reached the fake points"))?
            .to_vec();
        // ℓ_G is a mean over the n/m packs of m points (m = 1 without
        // packing), so each point's gradient in it is m/n of the gradient of
        // its pack's own loss: the mean length of the own gradients over
        // the n points is the sum of these lengths divided by m.
        let total: f64 = grad
            .chunks_exact(2)
            .map(|g| f64::from(g[0]).hypot(f64::from(g[1])))
            .sum();
        Ok(total / self.config.pack as f64)
    }
}

fn lock_noise(handle: &InstanceNoiseHandle) -> std::sync::MutexGuard<'_, InstanceNoiseState> {
    handle
        .lock()
        .expect("no code panics while holding the instance noise")
}

fn set_reference<T>(handle: &Mutex<Option<T>>, value: Option<T>) {
    *handle.lock().expect("no code panics while holding a reference") = value;
}

/// Points as a `[n, 2]` tensor.
pub fn points_tensor(points: &[Point]) -> Result<Tensor> {
    Tensor::from_vec(points.iter().flatten().copied().collect(), &[points.len(), 2])
}

/// A `[n, 2]` tensor as points.
pub fn tensor_points(t: &Tensor) -> Result<Vec<Point>> {
    let shape = t.shape();
    if shape.len() != 2 || shape[1] != 2 {
        return Err(TensorError::argument(
            "tensor_points",
            format!("expected points of shape [n, 2], got {shape:?}"),
        ));
    }
    Ok(t.to_vec().chunks_exact(2).map(|p| [p[0], p[1]]).collect())
}
