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
//!
//! The generator's `bce` loss is the *non-saturating* one: instead of
//! minimising `log(1 − σ(D(G(z))))`, whose gradient vanishes exactly when the
//! discriminator confidently rejects the fakes (early in training), it
//! minimises `−log σ(D(G(z)))`, which has the same fixed point and a strong
//! gradient there.

use crate::models::GanModel;
use nn::loss::{self, Reduction};
use std::fmt;
use std::str::FromStr;
use tensor::{Result, Tensor};

/// The discriminator's loss for one step, and how it scored the two batches.
pub struct DiscriminatorLoss {
    /// The loss to minimise.
    pub loss: Tensor,
    /// Mean score on the real batch (a probability for `bce`, the raw output otherwise).
    pub real_score: f64,
    /// Mean score on the fake batch, on the same scale.
    pub fake_score: f64,
}

/// How a GAN variant computes its two losses.
pub trait Objective: Send + Sync {
    /// The name, as given to `--loss`.
    fn name(&self) -> &'static str;

    /// The discriminator's loss on a real batch and a (detached) fake batch.
    fn discriminator_loss(
        &self,
        model: &dyn GanModel,
        real: &Tensor,
        fake: &Tensor,
        labels: &[usize],
    ) -> Result<DiscriminatorLoss>;

    /// The generator's loss on a fake batch, through the discriminator.
    fn generator_loss(&self, model: &dyn GanModel, fake: &Tensor, labels: &[usize]) -> Result<Tensor>;
}

/// The losses of the table above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Binary cross-entropy on logits; the generator's is non-saturating.
    Bce,
    /// Least squares (Mao et al., 2017).
    Lsgan,
    /// Hinge (Lim & Ye, 2017; used by SAGAN and BigGAN).
    Hinge,
}

impl LossKind {
    /// Every loss, in the order `--help` lists them.
    pub const ALL: [LossKind; 3] = [LossKind::Bce, LossKind::Lsgan, LossKind::Hinge];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Bce => "bce",
            LossKind::Lsgan => "lsgan",
            LossKind::Hinge => "hinge",
        }
    }
}

impl fmt::Display for LossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LossKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        LossKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = LossKind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown loss `{s}`; expected one of {}", names.join(", "))
        })
    }
}

/// The standard objectives, with optional one-sided label smoothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StandardObjective {
    /// Which loss.
    pub kind: LossKind,
    /// The target for real images in the discriminator's loss: 1, or less
    /// with one-sided label smoothing (Salimans et al., 2016, use 0.9). Fakes
    /// keep the target 0, and the generator's target stays 1.
    pub real_target: f64,
}

impl StandardObjective {
    /// The loss `kind` with real targets `1 − smoothing`.
    pub fn new(kind: LossKind, smoothing: f64) -> Self {
        StandardObjective {
            kind,
            real_target: 1.0 - smoothing,
        }
    }

    /// Mean score on the scale the logs report: probabilities for `bce`.
    fn score(&self, logits: &Tensor) -> Result<f64> {
        let scores = match self.kind {
            LossKind::Bce => logits.sigmoid(),
            LossKind::Lsgan | LossKind::Hinge => logits.clone(),
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
    ) -> Result<DiscriminatorLoss> {
        let real_logits = model.discriminate(real, labels)?;
        let fake_logits = model.discriminate(fake, labels)?;
        let loss = match self.kind {
            LossKind::Bce => loss::bce_with_logits_to(&real_logits, self.real_target)?
                .add(&loss::bce_with_logits_to(&fake_logits, 0.0)?)?,
            LossKind::Lsgan => half_squared_error(&real_logits, self.real_target)?
                .add(&half_squared_error(&fake_logits, 0.0)?)?,
            LossKind::Hinge => loss::hinge_discriminator(&real_logits, &fake_logits)?,
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
            LossKind::Bce => loss::bce_with_logits_to(&logits, 1.0),
            LossKind::Lsgan => half_squared_error(&logits, 1.0),
            LossKind::Hinge => Ok(loss::hinge_generator(&logits)),
        }
    }
}
