//! What defines a training run ([`TrainConfig`], saved as `config.json`),
//! its defaults per model, and the checks of the values a user can get
//! wrong. Kept out of `train.rs`, so that file holds the step and little
//! else.

use crate::error::{Error, StepResult};
use crate::loss::LossKind;
use crate::models::{ModelKind, RECIPE, Recipe, TUTORIAL_RECIPE};
use crate::r1::R1;
use crate::schedule::LinearDecay;
use datasets::Dataset;
use serde::{Deserialize, Serialize};

/// Everything that defines a training run. Saved as `config.json` in the run
/// folder, and read back on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Which generator/discriminator pair.
    pub model: ModelKind,
    /// MNIST or Fashion-MNIST.
    pub dataset: Dataset,
    /// Passes over the training set.
    pub epochs: usize,
    /// Stop after this many generator steps in all (for short runs and tests).
    pub max_steps: Option<u64>,
    /// Images per batch.
    pub batch_size: usize,
    /// The generator's learning rate.
    pub lr_g: f64,
    /// The discriminator's learning rate.
    pub lr_d: f64,
    /// Adam's β₁ and β₂ for both networks.
    pub betas: (f64, f64),
    /// Discriminator steps per generator step.
    pub d_steps: usize,
    /// One-sided label smoothing: real images get the target `1 − smoothing`.
    pub label_smoothing: f64,
    /// The loss variant.
    pub loss: LossKind,
    /// Seed of every random draw of the run (weights, noise, data order).
    pub seed: u64,
    /// Write a row to `metrics.csv` every this many steps.
    pub log_every: u64,
    // ── Recipe features (absent in configs saved before they existed) ──
    /// Keep an exponential moving average of the generator's weights with
    /// this decay, and draw samples from it (`ema.rs`).
    #[serde(default)]
    pub ema: Option<f64>,
    /// The R1 penalty on the discriminator's gradient at real images
    /// (`r1.rs`), if any. It is added to the loss D minimises; the logged
    /// `loss_d` is the objective's loss without it. (Absent from the
    /// `config.json` of older runs: none.)
    #[serde(default)]
    pub r1: Option<R1>,
    /// Spectral normalisation of every Linear and Conv2d layer of the
    /// discriminator (`nn::SpectralNorm`). (Absent from older runs: off.)
    #[serde(default)]
    pub spectral_norm: bool,
    /// Linear decay of both learning rates over the last part of the run
    /// (`schedule.rs`), if any. (Absent from older runs: none.)
    #[serde(default)]
    pub lr_decay: Option<LinearDecay>,
}

impl TrainConfig {
    /// The default settings for `model`: those of the workloads in
    /// `shared/workloads.md` (batch 64, Adam lr 2e-4, betas (0.5, 0.999),
    /// BCE, one discriminator step per generator step), except for
    /// `wgan-gp`, which gets the WGAN-GP paper's: the `wgan-gp` loss, Adam
    /// lr 1e-4, betas (0, 0.9), five critic steps per generator step, and
    /// for `dcgan-global` and `tutorial`, which train with their recipes
    /// ([`RECIPE`], [`TUTORIAL_RECIPE`]).
    pub fn new(model: ModelKind) -> Self {
        let (loss, lr, betas, d_steps) = match model {
            ModelKind::DcganCritic => (LossKind::WassersteinGp, 1e-4, (0.0, 0.9), 5),
            _ => (LossKind::Bce, 2e-4, (0.5, 0.999), 1),
        };
        let config = TrainConfig {
            model,
            dataset: Dataset::Mnist,
            epochs: 5,
            max_steps: None,
            batch_size: 64,
            lr_g: lr,
            lr_d: lr,
            betas,
            d_steps,
            label_smoothing: 0.0,
            loss,
            seed: 0,
            log_every: 50,
            r1: None,
            spectral_norm: false,
            ema: None,
            lr_decay: None,
        };
        match model {
            ModelKind::DcganGlobal | ModelKind::CganGlobal => config.with_recipe(&RECIPE),
            ModelKind::Tutorial => config.with_recipe(&TUTORIAL_RECIPE),
            _ => config,
        }
    }

    /// These settings with `recipe`'s learning rates, batch size, epochs,
    /// label smoothing and averaged generator.
    fn with_recipe(self, recipe: &Recipe) -> Self {
        TrainConfig {
            lr_g: recipe.lr_g,
            lr_d: recipe.lr_d,
            batch_size: recipe.batch_size,
            epochs: recipe.epochs,
            label_smoothing: recipe.label_smoothing,
            ema: Some(recipe.ema),
            ..self
        }
    }

    /// Checks the values a user can get wrong, naming the bad one.
    pub fn validate(&self, dataset_len: usize) -> StepResult<()> {
        let bad = |detail: String| Err(Error::config("train config", detail));
        if self.batch_size == 0 {
            return bad("batch size must be at least 1".into());
        }
        if self.batch_size > dataset_len {
            return bad(format!(
                "batch size {} is larger than the {dataset_len} training images",
                self.batch_size
            ));
        }
        if self.d_steps == 0 {
            return bad("d-steps must be at least 1".into());
        }
        check_adam_settings(self.lr_g, self.lr_d, self.betas).or_else(bad)?;
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad(format!(
                "label smoothing must lie in [0, 1), got {}",
                self.label_smoothing
            ));
        }
        if self.label_smoothing != 0.0 && !self.loss.has_targets() {
            return bad(format!(
                "label smoothing lowers the target for real images, and the {} loss has none",
                self.loss
            ));
        }
        if self.log_every == 0 {
            return bad("log-every must be at least 1".into());
        }
        if let Some(decay) = self.ema {
            crate::ema::check_decay(decay).or_else(bad)?;
        }
        if let Some(r1) = &self.r1 {
            r1.validate().or_else(bad)?;
        }
        if let Some(decay) = &self.lr_decay {
            decay.validate().or_else(bad)?;
        }
        Ok(())
    }
}

/// Checks the two networks' Adam settings: each learning rate positive and
/// finite, both betas in [0, 1). The error names the bad value. Shared by
/// [`TrainConfig::validate`] and the toy GANs' config.
pub fn check_adam_settings(lr_g: f64, lr_d: f64, betas: (f64, f64)) -> std::result::Result<(), String> {
    for (name, lr) in [("lr-g", lr_g), ("lr-d", lr_d)] {
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(format!("{name} must be a positive number, got {lr}"));
        }
    }
    let (b1, b2) = betas;
    if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
        return Err(format!("betas must lie in [0, 1), got ({b1}, {b2})"));
    }
    Ok(())
}
