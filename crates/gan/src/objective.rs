//! What the two players minimise. An [`Objective`] turns the discriminator's
//! scores into the two losses; the training loop only calls it, so new GAN
//! variants (Wasserstein with a gradient penalty, R1) plug in here without
//! changing the loop.
//!
//! With `D(x)` the discriminator's logit and `σ` the sigmoid:
//!
//! | loss | discriminator minimises | generator minimises |
//! |---|---|---|
//! | `bce` | `BCE(D(x), 1) + BCE(D(G(z)), 0)` | `BCE(D(G(z)), 1)` (non-saturating) |
//! | `lsgan` | `½(D(x) − 1)² + ½D(G(z))²` | `½(D(G(z)) − 1)²` |
//! | `hinge` | `relu(1 − D(x)) + relu(1 + D(G(z)))` | `−D(G(z))` |
//! | `wgan-gp` | `D(G(z)) − D(x) + λ·GP` | `−D(G(z))` (see `wasserstein.rs`) |
//!
//! (Each term is a mean over the batch.)
//!
//! The generator's `bce` loss is the *non-saturating* one: instead of
//! minimising `log(1 − σ(D(G(z))))`, whose gradient vanishes exactly when the
//! discriminator confidently rejects the fakes (early in training), it
//! minimises `−log σ(D(G(z)))`, which has the same fixed point and a strong
//! gradient there.

use crate::models::GanModel;
use nn::loss::{self, Reduction};
use rand::RngCore;
use tensor::{Result, Tensor};

/// The discriminator's loss for one step, and how it scored the two batches.
pub struct DiscriminatorLoss {
    /// The loss to minimise.
    pub loss: Tensor,
    /// Mean score on the real batch (a probability for `bce`, the raw output
    /// otherwise). For `wgan-gp`, the critic's mean on real images: minus the
    /// fake score, it is the critic's estimate of the Wasserstein distance.
    pub real_score: f64,
    /// Mean score on the fake batch, on the same scale.
    pub fake_score: f64,
}

/// How a GAN variant computes its two losses.
pub trait Objective: Send + Sync {
    /// The name, as given to `--loss`.
    fn name(&self) -> &'static str;

    /// The discriminator's loss on a real batch and a (detached) fake batch.
    ///
    /// `rng` serves objectives that draw random numbers (WGAN-GP's
    /// interpolation weights). The trainer passes its noise stream, whose
    /// position checkpoints save, so such draws are reproducible and a
    /// resumed run repeats them exactly.
    fn discriminator_loss(
        &self,
        model: &dyn GanModel,
        real: &Tensor,
        fake: &Tensor,
        labels: &[usize],
        rng: &mut dyn RngCore,
    ) -> Result<DiscriminatorLoss>;

    /// The generator's loss on a fake batch, through the discriminator.
    fn generator_loss(&self, model: &dyn GanModel, fake: &Tensor, labels: &[usize]) -> Result<Tensor>;
}

/// The losses with a target for each batch, which [`StandardObjective`]
/// computes: every row of the table above but `wgan-gp`, which is
/// [`WassersteinObjective`](crate::wasserstein::WassersteinObjective).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardLoss {
    /// Binary cross-entropy on logits; the generator's is non-saturating.
    Bce,
    /// Least squares (Mao et al., 2017).
    Lsgan,
    /// Hinge (Lim & Ye, 2017; used by SAGAN and BigGAN).
    Hinge,
}

impl StandardLoss {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StandardLoss::Bce => "bce",
            StandardLoss::Lsgan => "lsgan",
            StandardLoss::Hinge => "hinge",
        }
    }
}

/// The objectives `bce`, `lsgan` and `hinge`, with optional one-sided label
/// smoothing. (`wgan-gp` is
/// [`WassersteinObjective`](crate::wasserstein::WassersteinObjective); get
/// either from [`LossKind::objective`](crate::loss::LossKind::objective).)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StandardObjective {
    /// Which loss.
    pub kind: StandardLoss,
    /// The target for real images in the discriminator's loss: 1, or less
    /// with one-sided label smoothing (Salimans et al., 2016, use 0.9). Fakes
    /// keep the target 0, and the generator's target stays 1.
    pub real_target: f64,
}

impl StandardObjective {
    /// The loss `kind` with real targets `1 − smoothing`.
    pub fn new(kind: StandardLoss, smoothing: f64) -> Self {
        StandardObjective {
            kind,
            real_target: 1.0 - smoothing,
        }
    }

    /// Mean score on the scale the logs report: probabilities for `bce`.
    fn score(&self, logits: &Tensor) -> Result<f64> {
        let scores = match self.kind {
            StandardLoss::Bce => logits.sigmoid(),
            StandardLoss::Lsgan | StandardLoss::Hinge => logits.clone(),
        };
        Ok(f64::from(scores.mean().item()?))
    }
}

/// `½·mean((x − target)²)`.
fn half_squared_error(x: &Tensor, target: f64) -> Result<Tensor> {
    let target = Tensor::full(&x.shape(), target as f32);
    Ok(loss::mse(x, &target, Reduction::Mean)?.mul_scalar(0.5))
}

impl Objective for StandardObjective {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn discriminator_loss(
        &self,
        model: &dyn GanModel,
        real: &Tensor,
        fake: &Tensor,
        labels: &[usize],
        _rng: &mut dyn RngCore,
    ) -> Result<DiscriminatorLoss> {
        let real_logits = model.discriminate(real, labels)?;
        let fake_logits = model.discriminate(fake, labels)?;
        let loss = match self.kind {
            StandardLoss::Bce => loss::bce_with_logits_to(&real_logits, self.real_target)?
                .add(&loss::bce_with_logits_to(&fake_logits, 0.0)?)?,
            StandardLoss::Lsgan => half_squared_error(&real_logits, self.real_target)?
                .add(&half_squared_error(&fake_logits, 0.0)?)?,
            StandardLoss::Hinge => loss::hinge_discriminator(&real_logits, &fake_logits)?,
        };
        Ok(DiscriminatorLoss {
            loss,
            real_score: self.score(&real_logits.detach())?,
            fake_score: self.score(&fake_logits.detach())?,
        })
    }

    fn generator_loss(&self, model: &dyn GanModel, fake: &Tensor, labels: &[usize]) -> Result<Tensor> {
        let logits = model.discriminate(fake, labels)?;
        match self.kind {
            StandardLoss::Bce => loss::bce_with_logits_to(&logits, 1.0),
            StandardLoss::Lsgan => half_squared_error(&logits, 1.0),
            StandardLoss::Hinge => Ok(loss::hinge_generator(&logits)),
        }
    }
}
