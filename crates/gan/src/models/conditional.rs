//! Class-conditional GANs (Mirza & Osindero, 2014): both players are told the
//! class `y` of each image. The generator draws `G(z, y)`, an image of class
//! `y`; the discriminator judges `D(x, y)`, "is `x` a real image *of class
//! `y`*?", so a generator that draws a good 3 when asked for a 7 is caught.
//!
//! `cgan-global`, the default model told the class, has a discriminator of
//! another kind, a projection discriminator (`cgan_global.rs`).
//!
//! Each network of `cgan` and `cgan-conv` learns a table of label vectors (an [`Embedding`], 10 classes
//! × 10 numbers) and joins the row of `y` to its input by concatenation:
//!
//! ```text
//! cgan (MLP, the sizes of `mlp`):
//!   G: [z (100) | emb_G(y) (10)] → 256 → 512 → 1024 → 784 → tanh → [1, 28, 28]
//!   D: [flatten(x) (784) | emb_D(y) (10)] → 512 → 256 → 1
//! cgan-conv (the networks of `dcgan`):
//!   G: [z (100) | emb_G(y) (10)] → Linear → [128, 7, 7] → … as dcgan … → [1, 28, 28]
//!   D: x → Conv(1→64) → LeakyReLU → [64, 14, 14]
//!        → [features (64) | emb_D(y) spread over 14×14 (10)] channels
//!        → Conv(74→128) → BN → LeakyReLU → flatten → Linear → logit
//! ```
//!
//! The convolutional discriminator joins the label after its first layer,
//! not at its very end: a label joined just before the final Linear layer
//! could only add a per-class constant to the logit, and could not change
//! *which* image features count as evidence. Joined to feature maps, it meets
//! every later layer.

use super::mlp::push_leaky_mlp;
use super::{GanModel, dcgan};
use datasets::{BatchOptions, NUM_CLASSES};
use nn::{Embedding, Flatten, Module, Reshape, Sequential, State, Tanh, module::visit_child};
use rand::{Rng, RngCore};
use tensor::{Result, Tensor, TensorError};

/// The length of each learnt label vector.
pub const EMBEDDING_DIM: usize = 10;

/// A network with a class label joined in: `head([features(x) | emb(y)])`,
/// where the label's vector is repeated over the feature map's height and
/// width when `features(x)` is an image-shaped `[B, C, H, W]`.
///
/// Parameter names are `label_embedding.weight`, `features.<i>.…` and
/// `head.<i>.…`, as a PyTorch module with those three attributes would name
/// them.
pub struct LabelJoined {
    /// The learnt vector of each class, `[NUM_CLASSES, EMBEDDING_DIM]`.
    pub label_embedding: Embedding,
    /// The layers before the label joins (none for a generator).
    pub features: Sequential,
    /// The layers after.
    pub head: Sequential,
}

impl LabelJoined {
    /// Joins a fresh N(0, 1) label table between `features` and `head`.
    pub fn new<R: Rng + ?Sized>(features: Sequential, head: Sequential, rng: &mut R) -> Self {
        LabelJoined {
            label_embedding: Embedding::new(NUM_CLASSES, EMBEDDING_DIM, rng),
            features,
            head,
        }
    }

    /// The output for inputs `x` `[B, …]` of classes `labels` (one per sample,
    /// each below [`NUM_CLASSES`]).
    pub fn forward_labelled(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        check_labels(x, labels)?;
        let features = self.features.forward(x)?;
        let label = self.label_embedding.lookup(labels)?;
        let label = match features.shape().as_slice() {
            // [B, C, H, W]: the vector becomes EMBEDDING_DIM constant channels.
            &[b, _, h, w] => {
                label
                    .reshape(&[b, EMBEDDING_DIM, 1, 1])?
                    .broadcast_to(&[b, EMBEDDING_DIM, h, w])?
            }
            _ => label,
        };
        self.head.forward(&Tensor::concat(&[&features, &label], 1)?)
    }
}

/// Checks that `labels` holds one class (below [`NUM_CLASSES`]) per sample
/// of the batch `x` `[B, …]`, naming what is wrong.
pub(super) fn check_labels(x: &Tensor, labels: &[usize]) -> Result<()> {
    let batch = x.shape().first().copied().unwrap_or(0);
    if labels.len() != batch {
        return Err(TensorError::argument(
            "conditional model",
            format!("{} labels for a batch of {batch}", labels.len()),
        ));
    }
    if let Some(&bad) = labels.iter().find(|&&l| l >= NUM_CLASSES) {
        return Err(TensorError::argument(
            "conditional model",
            format!("label {bad} is not a class (0–{})", NUM_CLASSES - 1),
        ));
    }
    Ok(())
}

/// The error of a conditional network's plain `Module::forward`, which has
/// no labels to work with.
pub(super) fn refuse_unlabelled(input: &Tensor) -> Result<Tensor> {
    Err(TensorError::argument(
        "conditional model",
        format!(
            "an input of shape {:?} came without class labels; use forward_labelled",
            input.shape()
        ),
    ))
}

/// A network that takes a class label per sample besides its input.
pub trait Labelled: Module + Send + Sync {
    /// The output for inputs `x` `[B, …]` of classes `labels` (one per
    /// sample, each below [`NUM_CLASSES`]).
    fn forward_labelled(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor>;
}

impl Labelled for LabelJoined {
    fn forward_labelled(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        LabelJoined::forward_labelled(self, x, labels)
    }
}

impl Module for LabelJoined {
    /// Refuses: this network needs class labels besides its input; call
    /// [`LabelJoined::forward_labelled`] (which `GanModel` does).
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        refuse_unlabelled(input)
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, f32>)) {
        visit_child("label_embedding", &self.label_embedding, visitor);
        visit_child("features", &self.features, visitor);
        visit_child("head", &self.head, visitor);
    }

    fn set_training(&mut self, training: bool) {
        self.features.set_training(training);
        self.head.set_training(training);
    }
    /// The layers of `features` and `head`; the label table is left as is.
    fn spectral_normalise_children(&mut self, rng: &mut dyn RngCore) -> usize {
        self.features.spectral_normalise_children(rng) + self.head.spectral_normalise_children(rng)
    }
}

/// A class-conditional generator and discriminator: the label joined to
/// the discriminator's features (`cgan`, `cgan-conv`), or projected onto
/// them (`cgan-global`, `D` = `ProjectionDiscriminator`).
pub struct ConditionalGan<D: Labelled = LabelJoined> {
    pub(super) name: &'static str,
    pub(super) generator: LabelJoined,
    pub(super) discriminator: D,
}

impl<D: Labelled> GanModel for ConditionalGan<D> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn noise_dim(&self) -> usize {
        100
    }

    fn batch_options(&self) -> BatchOptions {
        dcgan::FORMAT
    }

    fn generate(&self, z: &Tensor, labels: &[usize]) -> Result<Tensor> {
        self.generator.forward_labelled(z, labels)
    }

    fn discriminate(&self, images: &Tensor, labels: &[usize]) -> Result<Tensor> {
        self.discriminator.forward_labelled(images, labels)
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

/// `cgan`: the `mlp` networks with the label joined to their inputs, with
/// PyTorch's default initialisation.
pub fn cgan<R: Rng + ?Sized>(rng: &mut R) -> ConditionalGan {
    let head = push_leaky_mlp(
        Sequential::new(),
        &[100 + EMBEDDING_DIM, 256, 512, 1024, 784],
        rng,
    )
    .push(Tanh)
    .push(Reshape::new(&[1, 28, 28]));
    let generator = LabelJoined::new(Sequential::new(), head, rng);
    let head = push_leaky_mlp(Sequential::new(), &[784 + EMBEDDING_DIM, 512, 256, 1], rng);
    let discriminator = LabelJoined::new(Sequential::new().push(Flatten), head, rng);
    ConditionalGan {
        name: "cgan",
        generator,
        discriminator,
    }
}

/// `cgan-conv`: the `dcgan` networks with the label joined to the noise and
/// to the discriminator's first feature maps. Convolutions and Linear layers
/// start from the DCGAN scheme, the label tables from N(0, 1) (the DCGAN
/// scheme's N(0, 0.02) would make the label nearly invisible at first).
pub fn cgan_conv<R: Rng + ?Sized>(rng: &mut R) -> Result<ConditionalGan> {
    let head = dcgan::generator(100 + EMBEDDING_DIM, rng);
    nn::init::dcgan(&head, rng)?;
    let generator = LabelJoined::new(Sequential::new(), head, rng);
    let features = dcgan::discriminator_stem(Sequential::new(), rng);
    let head = dcgan::discriminator_head(Sequential::new(), 64 + EMBEDDING_DIM, true, rng);
    nn::init::dcgan(&features, rng)?;
    nn::init::dcgan(&head, rng)?;
    let discriminator = LabelJoined::new(features, head, rng);
    Ok(ConditionalGan {
        name: "cgan-conv",
        generator,
        discriminator,
    })
}
