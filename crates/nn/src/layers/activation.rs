//! Activation functions as layers, for use in a `Sequential`. Each forwards
//! to the tensor op of the same name, which holds the derivative.

use crate::module::Module;
use tensor::{Element, Rectifier, Result, Tensor};

/// `max(x, 0)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReLU;

/// `x` for `x > 0`, `alpha·x` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct LeakyReLU {
    /// The slope for negative inputs (0.2 in most GANs).
    pub alpha: f64,
}

/// `1 / (1 + e^(−x))`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sigmoid;

/// `tanh(x)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tanh;

impl LeakyReLU {
    /// A leaky ReLU with the given negative slope.
    pub fn new(alpha: f64) -> Self {
        LeakyReLU { alpha }
    }
}

impl<T: Element> Module<T> for ReLU {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.relu())
    }

    fn rectifier(&self) -> Option<Rectifier<T>> {
        Some(Rectifier::Relu)
    }
}

impl<T: Element> Module<T> for LeakyReLU {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.leaky_relu(T::from_f64(self.alpha)))
    }

    fn rectifier(&self) -> Option<Rectifier<T>> {
        Some(Rectifier::LeakyRelu(T::from_f64(self.alpha)))
    }
}

impl<T: Element> Module<T> for Sigmoid {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.sigmoid())
    }
}

impl<T: Element> Module<T> for Tanh {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(input.tanh())
    }
}
