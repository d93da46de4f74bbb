//! Workload W1, "mlp": fully connected generator and discriminator.
//!
//! The same networks in PyTorch, with the same parameter names:
//!
//! ```python
//! G = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
//!                   nn.Linear(512, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh(),
//!                   nn.Unflatten(1, (1, 28, 28)))
//! D = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
//!                   nn.LeakyReLU(0.2), nn.Linear(256, 1))
//! ```

use super::SequentialGan;
use crate::data::{BatchOptions, PixelRange};
use nn::{Flatten, LeakyReLU, Linear, Reshape, Sequential, Tanh};
use rand::Rng;

/// The W1 model with PyTorch's default initialisation.
pub fn mlp<R: Rng + ?Sized>(rng: &mut R) -> SequentialGan {
    let generator = Sequential::new()
        .push(Linear::new(100, 256, rng))
        .push(LeakyReLU::new(0.2))
        .push(Linear::new(256, 512, rng))
        .push(LeakyReLU::new(0.2))
        .push(Linear::new(512, 1024, rng))
        .push(LeakyReLU::new(0.2))
        .push(Linear::new(1024, 784, rng))
        .push(Tanh)
        .push(Reshape::new(&[1, 28, 28]));
    let discriminator = Sequential::new()
        .push(Flatten)
        .push(Linear::new(784, 512, rng))
        .push(LeakyReLU::new(0.2))
        .push(Linear::new(512, 256, rng))
        .push(LeakyReLU::new(0.2))
        .push(Linear::new(256, 1, rng));
    let format = BatchOptions {
        range: PixelRange::Symmetric,
        pad_to: None,
    };
    SequentialGan::new("mlp", 100, format, generator, discriminator)
}
