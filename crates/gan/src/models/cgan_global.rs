//! "cgan-global": the default model `dcgan-global` told the class, with a
//! projection discriminator (Miyato & Koyama, 2018, "cGANs with Projection
//! Discriminator").
//!
//! ```text
//! G: [z (100) | emb_G(y) (10)] → Linear → [192, 7, 7] → … as dcgan-global … → [1, 28, 28]
//! D: x → … as dcgan-global … → φ(x) = the global hidden layer [256]
//!    logit = w·φ(x) + b  +  emb_D(y)·φ(x)
//!            ╰ "a digit?" ╯  ╰ "this digit?": a learnt vector per class ╯
//! ```
//!
//! The generator joins its label to the noise, as `cgan-conv` does. The
//! discriminator does not join the label to its input or features: it adds
//! to its unconditional verdict the inner product of the whole-digit
//! features `φ(x)` with a learnt vector of the class asked for. Miyato &
//! Koyama derive this form from the optimal discriminator's log-likelihood
//! ratio, `log p(y|x) + log p(x)/q(x)`, with a softmax classifier over
//! `φ(x)`; in practice it makes the "is it *this* digit?" question a direct
//! function of the features that decide the shape, without giving the label
//! a way to change what the convolutions see.
//!
//! Why condition at all: the unconditional default's weak factor is
//! certainty, strokes that are not clearly one digit. Told the class, the
//! generator no longer has to find ten modes on its own, and a sample that
//! hovers between a 4 and a 9 is caught by whichever class it was asked for.
//! Sampling and `eval` ask for the classes in turn (`i mod 10`), so its
//! digit shares are balanced by construction, not by what it learned.

use super::conditional::{
    ConditionalGan, EMBEDDING_DIM, LabelJoined, Labelled, check_labels, refuse_unlabelled,
};
use super::dcgan_global::{GlobalWidths, NOISE_DIM, WIDTHS, discriminator_features, generator};
use datasets::NUM_CLASSES;
use nn::{Embedding, Linear, Module, Sequential, State, module::visit_child};
use rand::{Rng, RngCore};
use tensor::{Result, Tensor};

/// `logit = output(φ(x)) + projection[y]·φ(x)`, with `φ` = `features`.
///
/// Parameter names are `features.<i>.…`, `output.0.…` and
/// `projection.weight`.
pub struct ProjectionDiscriminator {
    /// `φ`: images `[B, 1, H, W]` → features `[B, F]`.
    pub features: Sequential,
    /// The unconditional verdict, `[B, F]` → `[B, 1]` (a `Sequential` of one
    /// Linear layer, so that `--spectral-norm` reaches it).
    pub output: Sequential,
    /// One learnt vector per class, `[NUM_CLASSES, F]`.
    pub projection: Embedding,
}

impl ProjectionDiscriminator {
    /// A projection head of `features` wide over `features`.
    pub fn new<R: Rng + ?Sized>(features: Sequential, width: usize, rng: &mut R) -> Self {
        ProjectionDiscriminator {
            features,
            output: Sequential::new().push(Linear::new(width, 1, rng)),
            projection: Embedding::new(NUM_CLASSES, width, rng),
        }
    }
}

impl Labelled for ProjectionDiscriminator {
    fn forward_labelled(&self, x: &Tensor, labels: &[usize]) -> Result<Tensor> {
        check_labels(x, labels)?;
        let phi = self.features.forward(x)?;
        // Σ_k emb(y)_k · φ(x)_k for each sample: [B, F] → [B, 1].
        let projected = self.projection.lookup(labels)?.mul(&phi)?.sum_axes(&[1], true)?;
        self.output.forward(&phi)?.add(&projected)
    }
}

impl Module for ProjectionDiscriminator {
    /// Refuses: the verdict depends on the class asked for; call
    /// [`Labelled::forward_labelled`] (which `GanModel` does).
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        refuse_unlabelled(input)
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, f32>)) {
        visit_child("features", &self.features, visitor);
        visit_child("output", &self.output, visitor);
        visit_child("projection", &self.projection, visitor);
    }

    fn set_training(&mut self, training: bool) {
        self.features.set_training(training);
        self.output.set_training(training);
    }

    /// The layers of `features` and `output`; the class vectors are left
    /// as they are (as Miyato & Koyama do not normalise them either).
    fn spectral_normalise_children(&mut self, rng: &mut dyn RngCore) -> usize {
        self.features.spectral_normalise_children(rng) + self.output.spectral_normalise_children(rng)
    }
}

/// `cgan-global` with the widths `w`. Convolutions, Linear layers and the
/// class vectors of the projection start from the DCGAN scheme (N(0, 0.02):
/// the projection starts near zero, so D starts as `dcgan-global`'s); the
/// generator's label table from N(0, 1), as `cgan-conv`'s, so that the
/// label is as loud as the noise beside it.
pub fn cgan_global_with<R: Rng + ?Sized>(
    w: GlobalWidths,
    rng: &mut R,
) -> Result<ConditionalGan<ProjectionDiscriminator>> {
    let head = generator(w, NOISE_DIM + EMBEDDING_DIM, rng);
    nn::init::dcgan(&head, rng)?;
    let generator = LabelJoined::new(Sequential::new(), head, rng);
    let discriminator = ProjectionDiscriminator::new(discriminator_features(w, rng), w.d_hidden, rng);
    nn::init::dcgan(&discriminator, rng)?;
    Ok(ConditionalGan {
        name: "cgan-global",
        generator,
        discriminator,
    })
}

/// The `cgan-global` model, at `dcgan-global`'s widths.
pub fn cgan_global<R: Rng + ?Sized>(rng: &mut R) -> Result<ConditionalGan<ProjectionDiscriminator>> {
    cgan_global_with(WIDTHS, rng)
}
