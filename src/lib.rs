//! # gan-from-scratch
//!
//! A facade over the project's crates, so that one dependency brings all of
//! them. The crates depend on each other in one direction only:
//!
//! ```text
//! tensor  <-  nn  <-  datasets  <-  gan  <-  judge  <-  runs  <-  examples/*
//! ```
//!
//! * [`tensor`]: n-d tensors, hand-written reverse-mode autodiff, `gradcheck`.
//! * [`nn`]: layers, losses, optimizers, checkpoints.
//! * [`datasets`]: MNIST and Fashion-MNIST, from the published files
//!   (found, verified or downloaded) to batches of tensors.
//! * [`gan`]: the GAN algorithm: models, objectives, the training step.
//! * [`judge`]: a classifier trained on the real data, and the figures it
//!   gives a set of images (classifier score, Fréchet distance, coverage).
//! * [`runs`]: the application: run folders, checkpoints and resume,
//!   metrics, grids, plots, the report, sampling, eval, the bench.

pub use datasets;
pub use gan;
pub use judge;
pub use nn;
pub use runs;
pub use tensor;
