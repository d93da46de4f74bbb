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

use super::SequentialGan;
use crate::data::{BatchOptions, PixelRange};
use nn::{BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, LeakyReLU, Linear, ReLU, Reshape, Sequential, Tanh};
use rand::Rng;
use tensor::Result;

/// The W2 model, initialised with the DCGAN scheme.
pub fn dcgan<R: Rng + ?Sized>(rng: &mut R) -> Result<SequentialGan> {
    let generator = Sequential::new()
        .push(Linear::new(100, 128 * 7 * 7, rng))
        .push(Reshape::new(&[128, 7, 7]))
        .push(BatchNorm2d::new(128))
        .push(ReLU)
        .push(ConvTranspose2d::new(128, 64, 4, 2, 1, rng))
        .push(BatchNorm2d::new(64))
        .push(ReLU)
        .push(ConvTranspose2d::new(64, 1, 4, 2, 1, rng))
        .push(Tanh);
    let discriminator = Sequential::new()
        .push(Conv2d::new(1, 64, 4, 2, 1, rng))
        .push(LeakyReLU::new(0.2))
        .push(Conv2d::new(64, 128, 4, 2, 1, rng))
        .push(BatchNorm2d::new(128))
        .push(LeakyReLU::new(0.2))
        .push(Flatten)
        .push(Linear::new(128 * 7 * 7, 1, rng));
    nn::init::dcgan(&generator, rng)?;
    nn::init::dcgan(&discriminator, rng)?;
    let format = BatchOptions {
        range: PixelRange::Symmetric,
        pad_to: None,
    };
    Ok(SequentialGan::new("dcgan", 100, format, generator, discriminator))
}
