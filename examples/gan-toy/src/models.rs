//! The toy GAN: a fully connected generator and discriminator, small enough
//! to train in seconds on a CPU.
//!
//! ```text
//! G: z ∈ R^noise_dim → Linear → LeakyReLU → Linear → LeakyReLU → Linear → LeakyReLU → Linear → (x, y)
//! D: (x, y)          → Linear → LeakyReLU → Linear → LeakyReLU → Linear → LeakyReLU → Linear → logit
//! ```
//!
//! Three hidden layers of `hidden` units each, built by the same
//! `push_leaky_mlp` as the MNIST models. The generator has no output
//! activation: the points may lie anywhere in the plane.

use gan::data::BatchOptions;
use gan::models::{SequentialGan, push_leaky_mlp};
use nn::Sequential;
use rand::Rng;

/// Hidden layers in each network.
pub const HIDDEN_LAYERS: usize = 3;

/// The toy GAN with `hidden` units per hidden layer and noise of
/// `noise_dim` numbers, with PyTorch's default initialisation drawn from
/// `rng` (generator first).
pub fn toy_gan<R: Rng + ?Sized>(hidden: usize, noise_dim: usize, rng: &mut R) -> SequentialGan {
    let widths = |input: usize, output: usize| {
        let mut w = vec![input];
        w.extend([hidden; HIDDEN_LAYERS]);
        w.push(output);
        w
    };
    let generator = push_leaky_mlp(Sequential::new(), &widths(noise_dim, 2), rng);
    let discriminator = push_leaky_mlp(Sequential::new(), &widths(2, 1), rng);
    // The batch options describe MNIST images; points are never batched
    // through them, so the default stands in.
    SequentialGan::new("toy", noise_dim, BatchOptions::default(), generator, discriminator)
}
