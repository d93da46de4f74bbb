//! `Embedding`: a table of learnt vectors, one per class; looking up rows is
//! `index_select`, whose backward adds each row's gradient back into the table.

use crate::init;
use crate::module::{Module, State};
use rand::Rng;
use tensor::{Element, Result, Tensor, TensorError};

/// A `[num_embeddings, dim]` table of trainable vectors.
pub struct Embedding<T: Element = f32> {
    /// The table, initialised from N(0, 1) as in PyTorch.
    pub weight: Tensor<T>,
}

impl<T: Element> Embedding<T> {
    /// A table of `num_embeddings` vectors of length `dim`.
    pub fn new<R: Rng + ?Sized>(num_embeddings: usize, dim: usize, rng: &mut R) -> Self {
        let weight = init::normal(&[num_embeddings, dim], 0.0, 1.0, rng).expect("valid std");
        Embedding {
            weight: weight.with_requires_grad(),
        }
    }

    /// The rows for `indices`, as `[indices.len(), dim]`.
    pub fn lookup(&self, indices: &[usize]) -> Result<Tensor<T>> {
        self.weight.index_select(indices)
    }
}

impl<T: Element> Module<T> for Embedding<T> {
    /// Looks up a 1-D tensor of class indices stored as floats (each must be
    /// a whole number in range).
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let values = input.to_vec();
        let indices = values
            .iter()
            .map(|&v| {
                let i = Element::to_f64(v);
                if i.fract() == 0.0 && i >= 0.0 {
                    Ok(i as usize)
                } else {
                    Err(TensorError::argument(
                        "Embedding",
                        format!("index {i} is not a whole number ≥ 0"),
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        self.lookup(&indices)
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
        visitor("weight", State::Parameter(&self.weight));
    }
}
