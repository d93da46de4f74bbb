//! The GAN models. Each is a generator and a discriminator plus what the
//! training loop needs to know about them, behind the [`GanModel`] trait, so
//! that the loop in `train.rs` never special-cases a model.
//!
//! | name | file | what it is |
//! |---|---|---|
//! | `mlp` | `mlp.rs` | workload W1: fully connected networks |
//! | `dcgan` | `dcgan.rs` | workload W2: (transposed) convolutions with BatchNorm |
//! | `dcgan-global` | `dcgan_global.rs` | the default: W2 widened, its discriminator judging the whole digit |
//! | `tutorial` | `tutorial.rs` | the Keras tutorial's architecture, made to work |
//! | `cgan` | `conditional.rs` | `mlp` told the class: draws the digit asked for |
//! | `cgan-conv` | `conditional.rs` | `dcgan` told the class |
//! | `cgan-global` | `cgan_global.rs` | `dcgan-global` told the class, with a projection discriminator |
//! | `wgan-gp` | `dcgan.rs` | `dcgan` with a BatchNorm-free critic, for the `wgan-gp` loss |

mod cgan_global;
mod conditional;
mod dcgan;
mod dcgan_global;
mod mlp;
mod tutorial;

pub use cgan_global::{ProjectionDiscriminator, cgan_global, cgan_global_with};
pub use conditional::{ConditionalGan, EMBEDDING_DIM, LabelJoined, Labelled, cgan, cgan_conv};
pub use dcgan::{dcgan, dcgan_critic};
pub use dcgan_global::{GlobalWidths, RECIPE, WIDTHS, dcgan_global, dcgan_global_with};
pub use mlp::{mlp, push_leaky_mlp};
pub use tutorial::{TUTORIAL_RECIPE, tutorial};

use datasets::BatchOptions;
use nn::{Module, Sequential};
use rand::{Rng, RngCore};
use std::fmt;
use std::str::FromStr;
use tensor::{Result, Tensor};

/// The training settings a model comes with, where they differ from the
/// workloads' (batch 64, Adam 2e-4 on both sides, no smoothing, no
/// average): `TrainConfig::new` applies them, and a flag given on the
/// command line overrides each. `dcgan-global` has [`RECIPE`], `tutorial`
/// [`TUTORIAL_RECIPE`]; each constant's documentation says why its values.
pub struct Recipe {
    /// The generator's learning rate.
    pub lr_g: f64,
    /// The discriminator's learning rate.
    pub lr_d: f64,
    /// Images per batch.
    pub batch_size: usize,
    /// Passes over the training images.
    pub epochs: usize,
    /// One-sided label smoothing (0.1: real targets are 0.9).
    pub label_smoothing: f64,
    /// The averaged generator's decay (`ema.rs`).
    pub ema: f64,
}

/// What the training loop needs from a GAN model.
pub trait GanModel: Send + Sync {
    /// The model's name, as given to `--model`.
    fn name(&self) -> &'static str;

    /// The length of the noise vector `z`.
    fn noise_dim(&self) -> usize;

    /// How real images are batched for this model: pixel range (`[-1, 1]`
    /// for a tanh generator, `[0, 1]` for a sigmoid one) and padding.
    fn batch_options(&self) -> BatchOptions;

    /// Generated images `[B, 1, H, W]` for noise `z` `[B, noise_dim]`.
    /// `labels` (one per sample) is used only by conditional models.
    fn generate(&self, z: &Tensor, labels: &[usize]) -> Result<Tensor>;

    /// The discriminator's raw scores (logits) `[B, 1]` for images `[B, 1, H, W]`
    /// (of classes `labels`, for conditional models).
    fn discriminate(&self, images: &Tensor, labels: &[usize]) -> Result<Tensor>;

    /// The generator, for its parameters, checkpoints and train/eval mode.
    fn generator(&self) -> &dyn Module;

    /// The discriminator, likewise.
    fn discriminator(&self) -> &dyn Module;

    /// Switches both networks between training and evaluation mode.
    fn set_training(&mut self, training: bool);

    /// Wraps every Linear and Conv2d layer of the discriminator in
    /// `nn::SpectralNorm` (`--spectral-norm`), its vectors drawn from `rng`;
    /// returns how many. A model that does not support it keeps the
    /// default, which wraps none.
    fn spectral_normalise_discriminator(&mut self, rng: &mut dyn RngCore) -> usize {
        let _ = rng;
        0
    }
}

/// A model made of two `Sequential` networks: the unconditional case.
pub struct SequentialGan {
    name: &'static str,
    noise_dim: usize,
    format: BatchOptions,
    generator: Sequential,
    discriminator: Sequential,
}

impl SequentialGan {
    /// Wraps two networks: `generator` maps `[B, noise_dim]` to images,
    /// `discriminator` maps images to `[B, 1]` logits.
    pub fn new(
        name: &'static str,
        noise_dim: usize,
        format: BatchOptions,
        generator: Sequential,
        discriminator: Sequential,
    ) -> Self {
        SequentialGan {
            name,
            noise_dim,
            format,
            generator,
            discriminator,
        }
    }
}

impl GanModel for SequentialGan {
    fn name(&self) -> &'static str {
        self.name
    }

    fn noise_dim(&self) -> usize {
        self.noise_dim
    }

    fn batch_options(&self) -> BatchOptions {
        self.format
    }

    fn generate(&self, z: &Tensor, _labels: &[usize]) -> Result<Tensor> {
        self.generator.forward(z)
    }

    fn discriminate(&self, images: &Tensor, _labels: &[usize]) -> Result<Tensor> {
        self.discriminator.forward(images)
    }

    fn generator(&self) -> &dyn Module {
        &self.generator
    }

    fn discriminator(&self) -> &dyn Module {
        &self.discriminator
    }

    fn set_training(&mut self, training: bool) {
        self.generator.set_training(training);
        self.discriminator.set_training(training);
    }
    fn spectral_normalise_discriminator(&mut self, rng: &mut dyn RngCore) -> usize {
        self.discriminator.spectral_normalise_children(rng)
    }
}

/// The models `--model` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Workload W1.
    Mlp,
    /// Workload W2.
    Dcgan,
    /// The default: W2 widened, with a discriminator that judges the whole digit.
    DcganGlobal,
    /// The Keras tutorial's model, fixed.
    Tutorial,
    /// W1's networks, class-conditional.
    Cgan,
    /// W2's networks, class-conditional.
    CganConv,
    /// The default model's networks, class-conditional (projection discriminator).
    CganGlobal,
    /// W2's networks with a BatchNorm-free critic, trained as WGAN-GP.
    /// Named `wgan-gp` on the command line and in `config.json`, as before
    /// the code told the model and the loss apart.
    #[serde(rename = "wgan-gp")]
    DcganCritic,
}

impl ModelKind {
    /// Every model, in the order `--help` lists them.
    pub const ALL: [ModelKind; 8] = [
        ModelKind::Mlp,
        ModelKind::Dcgan,
        ModelKind::DcganGlobal,
        ModelKind::Tutorial,
        ModelKind::Cgan,
        ModelKind::CganConv,
        ModelKind::CganGlobal,
        ModelKind::DcganCritic,
    ];

    /// The model's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Dcgan => "dcgan",
            ModelKind::DcganGlobal => "dcgan-global",
            ModelKind::Tutorial => "tutorial",
            ModelKind::Cgan => "cgan",
            ModelKind::CganConv => "cgan-conv",
            ModelKind::CganGlobal => "cgan-global",
            ModelKind::DcganCritic => "wgan-gp",
        }
    }

    /// Whether the model draws images of a class it is given (and its
    /// discriminator judges them against that class).
    pub fn is_conditional(self) -> bool {
        matches!(
            self,
            ModelKind::Cgan | ModelKind::CganConv | ModelKind::CganGlobal
        )
    }

    /// Builds the model with weights drawn from `rng`.
    pub fn build<R: Rng + ?Sized>(self, rng: &mut R) -> Result<Box<dyn GanModel>> {
        Ok(match self {
            ModelKind::Mlp => Box::new(mlp(rng)),
            ModelKind::Dcgan => Box::new(dcgan(rng)?),
            ModelKind::DcganGlobal => Box::new(dcgan_global(rng)?),
            ModelKind::Tutorial => Box::new(tutorial(rng)),
            ModelKind::Cgan => Box::new(cgan(rng)),
            ModelKind::CganConv => Box::new(cgan_conv(rng)?),
            ModelKind::CganGlobal => Box::new(cgan_global(rng)?),
            ModelKind::DcganCritic => Box::new(dcgan_critic(rng)?),
        })
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        ModelKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ModelKind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown model `{s}`; expected one of {}", names.join(", "))
        })
    }
}
