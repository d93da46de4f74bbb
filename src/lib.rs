//! # gan-from-scratch
//!
//! A facade over the project's crates, so that one dependency brings all of
//! them. The crates depend on each other in one direction only:
//!
//! ```text
//! tensor  <-  nn  <-  gan  <-  examples/*
//! ```
//!
//! * [`tensor`]: n-d tensors, hand-written reverse-mode autodiff, `gradcheck`.
//! * [`nn`]: layers, losses, optimizers, checkpoints.
//! * [`gan`]: data, models, the training loop, sampling, metrics.

pub use gan;
pub use nn;
pub use tensor;
