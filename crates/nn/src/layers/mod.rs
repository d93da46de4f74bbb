//! The layers, one small file per kind.

mod activation;
mod batch_norm;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod reshape;
mod spectral_norm;

pub use activation::{LeakyReLU, ReLU, Sigmoid, Tanh};
pub use batch_norm::{BatchNorm1d, BatchNorm2d};
pub use conv::{Conv2d, ConvTranspose2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use reshape::{Flatten, Reshape};
pub use spectral_norm::{SpectralNorm, WeightedLayer};
