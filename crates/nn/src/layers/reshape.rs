//! `Flatten` and `Reshape`: change the shape of each sample, keep the batch axis.

use crate::module::Module;
use tensor::{Element, Result, Tensor, TensorError};

/// Flattens every axis after the batch axis: `[N, d1, d2, …] → [N, d1·d2·…]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flatten;

/// Reshapes each sample: `[N, …] → [N, shape…]`.
#[derive(Debug, Clone)]
pub struct Reshape {
    /// The shape of one sample after the layer.
    pub shape: Vec<usize>,
}

impl Reshape {
    /// Reshapes each sample to `shape` (the batch axis is kept in front).
    pub fn new(shape: &[usize]) -> Self {
        Reshape {
            shape: shape.to_vec(),
        }
    }
}

impl<T: Element> Module<T> for Flatten {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let shape = input.shape();
        if shape.is_empty() {
            return Err(TensorError::shape("Flatten", "needs a batch axis, got a scalar"));
        }
        let rest: usize = shape[1..].iter().product();
        input.reshape(&[shape[0], rest])
    }
}

impl<T: Element> Module<T> for Reshape {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let batch = *input
            .shape()
            .first()
            .ok_or_else(|| TensorError::shape("Reshape", "needs a batch axis, got a scalar"))?;
        let mut shape = vec![batch];
        shape.extend_from_slice(&self.shape);
        input.reshape(&shape)
    }
}
