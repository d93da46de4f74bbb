//! Random MNIST-shaped data, for timing and tests that need images of the
//! right shape but not real digits (like torchvision's `FakeData`).

use crate::{ImageSet, NUM_CLASSES, Result};
use rand::{Rng, SeedableRng};

/// Random MNIST-shaped training data: `count` 28×28 images.
pub fn synthetic_mnist(count: usize, seed: u64) -> Result<ImageSet> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let pixels: Vec<u8> = (0..count * 28 * 28).map(|_| rng.random()).collect();
    let labels: Vec<u8> = (0..count)
        .map(|_| rng.random_range(0..NUM_CLASSES as u8))
        .collect();
    ImageSet::from_raw(pixels, labels, 28, 28)
}
