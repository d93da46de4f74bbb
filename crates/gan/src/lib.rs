//! GANs on MNIST: data loading, models, the training loop, sampling and
//! metrics, built on [`nn`] and [`tensor`].
//!
//! * [`data`]: MNIST and Fashion-MNIST, from the published files (found,
//!   verified or downloaded) to batches of `[B, 1, H, W]` tensors.

pub mod data;

pub use nn;
