//! Workload W2, "dcgan": a generator of transposed convolutions and a
//! convolutional discriminator, with BatchNorm (Radford et al., 2016, sized
//! for 28×28 MNIST).
//!
//! ```text
//! G: z[100] → Linear → [128·7·7] → reshape [128, 7, 7] → BN → ReLU
//!    → ConvT(128→64, k4 s2 p1) → [64, 14, 14] → BN → ReLU
//!    → ConvT(64→1, k4 s2 p1) → [1, 28, 28] → tanh
//! D: [1, 28, 28] → Conv(1→64, k4 s2 p1) → [64, 14, 14] → LeakyReLU(0.2)
//!    → Conv(64→128, k4 s2 p1) → [128, 7, 7] → BN → LeakyReLU(0.2)
//!    → flatten [6272] → Linear → logit
//! ```
//!
//! Weights start from the DCGAN paper's N(0, 0.02) (BatchNorm γ from N(1, 0.02)).
//!
//! The same networks, cut where a class label can join them, also make
//! `wgan-gp` (the critic without BatchNorm) and `cgan-conv` (see
//! `conditional.rs`); the pieces below are shared for that.

use super::SequentialGan;
use datasets::{BatchOptions, PixelRange};
use nn::{BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, LeakyReLU, Linear, ReLU, Reshape, Sequential, Tanh};
use rand::Rng;
use tensor::Result;

/// The images of every DCGAN-shaped model: tanh outputs in `[-1, 1]`, 28×28.
pub(super) const FORMAT: BatchOptions = BatchOptions {
    range: PixelRange::Symmetric,
    pad_to: None,
};

/// The generator, from an input vector of length `inputs` (the noise, or the
/// noise joined with a label embedding) to `[1, 28, 28]` images.
pub(super) fn generator<R: Rng + ?Sized>(inputs: usize, rng: &mut R) -> Sequential {
    Sequential::new()
        .push(Linear::new(inputs, 128 * 7 * 7, rng))
        .push(Reshape::new(&[128, 7, 7]))
        .push(BatchNorm2d::new(128))
        .push(ReLU)
        .push(ConvTranspose2d::new(128, 64, 4, 2, 1, rng))
        .push(BatchNorm2d::new(64))
        .push(ReLU)
        .push(ConvTranspose2d::new(64, 1, 4, 2, 1, rng))
        .push(Tanh)
}

/// The discriminator's first layer: `[1, 28, 28]` → `[64, 14, 14]` features.
pub(super) fn discriminator_stem<R: Rng + ?Sized>(net: Sequential, rng: &mut R) -> Sequential {
    net.push(Conv2d::new(1, 64, 4, 2, 1, rng))
        .push(LeakyReLU::new(0.2))
}

/// The rest of the discriminator: `[channels, 14, 14]` → logit, with or
/// without BatchNorm after the second convolution.
pub(super) fn discriminator_head<R: Rng + ?Sized>(
    net: Sequential,
    channels: usize,
    batch_norm: bool,
    rng: &mut R,
) -> Sequential {
    let mut net = net.push(Conv2d::new(channels, 128, 4, 2, 1, rng));
    if batch_norm {
        net = net.push(BatchNorm2d::new(128));
    }
    net.push(LeakyReLU::new(0.2))
        .push(Flatten)
        .push(Linear::new(128 * 7 * 7, 1, rng))
}

/// The generator and a discriminator with or without its BatchNorm, both
/// initialised with the DCGAN scheme, named `name`.
fn dcgan_shaped<R: Rng + ?Sized>(name: &'static str, batch_norm: bool, rng: &mut R) -> Result<SequentialGan> {
    let generator = generator(100, rng);
    let stem = discriminator_stem(Sequential::new(), rng);
    let discriminator = discriminator_head(stem, 64, batch_norm, rng);
    nn::init::dcgan(&generator, rng)?;
    nn::init::dcgan(&discriminator, rng)?;
    Ok(SequentialGan::new(name, 100, FORMAT, generator, discriminator))
}

/// The W2 model, initialised with the DCGAN scheme.
pub fn dcgan<R: Rng + ?Sized>(rng: &mut R) -> Result<SequentialGan> {
    dcgan_shaped("dcgan", true, rng)
}

/// The DCGAN networks for WGAN-GP (Gulrajani et al., 2017): the critic has no
/// BatchNorm. The gradient penalty constrains the norm of the critic's
/// gradient with respect to *each* input on its own; BatchNorm makes every
/// output depend on the whole batch, so that per-sample gradient would no
/// longer be the one the penalty means (the paper advises layer norm or
/// none). Trained with the `wgan-gp` loss (see `wasserstein.rs`); its
/// `--model` name is `wgan-gp` too, for compatibility.
pub fn dcgan_critic<R: Rng + ?Sized>(rng: &mut R) -> Result<SequentialGan> {
    dcgan_shaped("wgan-gp", false, rng)
}
