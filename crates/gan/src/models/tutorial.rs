//! The Keras tutorial's GAN, made to work.
//!
//! The project began from a Keras tutorial: a generator from 100-dimensional
//! noise to 32×32×1 images with a sigmoid output, and a discriminator of
//! Dense 64, 128, 256 → 1 with a sigmoid, trained with binary cross-entropy
//! and Adam(lr 0.0002, β₁ 0.5). Its code does not run as written. What this
//! model changes, and why:
//!
//! 1. **Sizes that fit.** In the tutorial, the element counts on the two
//!    sides of its Dense/Reshape chain do not agree, and Keras rejects a
//!    reshape that changes the number of elements. Here the generator's last
//!    Linear layer has exactly 32·32 = 1024 outputs, reshaped to
//!    `[1, 32, 32]`, and the real 28×28 digits are zero-padded to 32×32 so
//!    that real and fake images have the same size.
//! 2. **A nonlinear discriminator.** The tutorial stacks Dense 64, 128, 256
//!    with no activation between them. A composition of linear maps is one
//!    linear map, so its "deep" discriminator is a single logistic
//!    regression on pixels: it can only draw one hyperplane between real and
//!    fake, and the generator beats it without drawing digits. Each hidden
//!    layer here is followed by LeakyReLU(0.2), as in the DCGAN guidelines
//!    (leaky, so that the generator keeps receiving gradient where the
//!    discriminator's units are off).
//! 3. **The sigmoid inside the loss.** The discriminator outputs a logit and
//!    the loss is binary cross-entropy on logits, which equals sigmoid
//!    followed by BCE but never takes `log(0)` when the sigmoid saturates.
//! 4. **Pixel range.** The generator ends in a sigmoid, so real images are
//!    scaled to [0, 1] to match (not [-1, 1], which a sigmoid cannot reach).
//! 5. **The loop** (in `train.rs`, shared by every model) trains the
//!    discriminator on a real batch labelled 1 and a *detached* fake batch
//!    labelled 0, then the generator through the discriminator with the
//!    labels flipped to 1 (the non-saturating loss). The tutorial's loop fed
//!    the wrong batches to the wrong model; chapter 6 of the docs has the
//!    details.

use super::SequentialGan;
use super::mlp::push_leaky_mlp;
use crate::data::{BatchOptions, PixelRange};
use nn::{Flatten, Reshape, Sequential, Sigmoid};
use rand::Rng;

/// The tutorial's architecture with the fixes above: Linear layers with
/// LeakyReLU(0.2) between them, 100 → 256 → 512 → 1024 → 32·32 for the
/// generator and 32·32 → 64 → 128 → 256 → 1 for the discriminator.
pub fn tutorial<R: Rng + ?Sized>(rng: &mut R) -> SequentialGan {
    let generator = push_leaky_mlp(Sequential::new(), &[100, 256, 512, 1024, 32 * 32], rng)
        .push(Sigmoid)
        .push(Reshape::new(&[1, 32, 32]));
    let discriminator = push_leaky_mlp(Sequential::new().push(Flatten), &[32 * 32, 64, 128, 256, 1], rng);
    let format = BatchOptions {
        range: PixelRange::Unit,
        pad_to: Some(32),
    };
    SequentialGan::new("tutorial", 100, format, generator, discriminator)
}
