//! # nn
//!
//! Neural-network building blocks on the [`tensor`] crate, one small file per
//! concern:
//!
//! * [`module`]: the [`Module`] trait (forward, dotted parameter names,
//!   train/eval) and [`Sequential`].
//! * `layers/`: [`Linear`], [`Conv2d`], [`ConvTranspose2d`], [`BatchNorm1d`],
//!   [`BatchNorm2d`], [`Dropout`], [`Embedding`], [`Flatten`], [`Reshape`],
//!   the activations, and the [`SpectralNorm`] wrapper of Linear and Conv2d.
//! * [`init`]: PyTorch's default, Xavier, Kaiming and DCGAN initialisation.
//! * [`loss`]: binary cross-entropy (on probabilities and on logits), MSE,
//!   hinge, cross-entropy.
//! * [`optim`]: SGD, Adam, AdamW.
//! * [`checkpoint`]: safetensors files that PyTorch can read.

pub mod checkpoint;
pub mod init;
mod layers;
pub mod loss;
pub mod module;
pub mod optim;

pub use layers::{
    BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Embedding, Flatten, LeakyReLU, Linear, ReLU,
    Reshape, Sigmoid, SpectralNorm, Tanh, WeightedLayer,
};
pub use module::{Module, Sequential, State};
pub use optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
pub use tensor;
