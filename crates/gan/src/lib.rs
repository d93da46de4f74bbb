//! GANs on MNIST: data loading, models, the training loop, sampling and
//! metrics, built on [`nn`] and [`tensor`]. (Filled in by the GAN issue.)

pub use nn;
