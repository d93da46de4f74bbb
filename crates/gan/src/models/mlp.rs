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
use datasets::{BatchOptions, PixelRange};
use nn::{Flatten, LeakyReLU, Linear, Reshape, Sequential, Tanh};
use rand::Rng;

/// Appends Linear layers through `widths` (`widths[0]` inputs, then each
/// layer's outputs) to `net`, with LeakyReLU(0.2) between them and nothing
/// after the last. The fully connected GANs (here and in `tutorial.rs`) are
/// made of these, and so are the 2-D toy GANs of `examples/gan-toy`.
pub fn push_leaky_mlp<R: Rng + ?Sized>(mut net: Sequential, widths: &[usize], rng: &mut R) -> Sequential {
    for (i, pair) in widths.windows(2).enumerate() {
        if i > 0 {
            net = net.push(LeakyReLU::new(0.2));
        }
        net = net.push(Linear::new(pair[0], pair[1], rng));
    }
    net
}

/// The W1 model with PyTorch's default initialisation.
pub fn mlp<R: Rng + ?Sized>(rng: &mut R) -> SequentialGan {
    let generator = push_leaky_mlp(Sequential::new(), &[100, 256, 512, 1024, 784], rng)
        .push(Tanh)
        .push(Reshape::new(&[1, 28, 28]));
    let discriminator = push_leaky_mlp(Sequential::new().push(Flatten), &[784, 512, 256, 1], rng);
    let format = BatchOptions {
        range: PixelRange::Symmetric,
        pad_to: None,
    };
    SequentialGan::new("mlp", 100, format, generator, discriminator)
}
