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
        self.weight.index_select(0, indices)
    }

    /// The rows for indices of any shape `S` (given flat, in row-major
    /// order), as `[S…, dim]`: PyTorch's `embedding(index)` for an index
    /// tensor of shape `S` (a 0-D index, `S = []`, gives one `[dim]` vector).
    ///
    /// ```
    /// use nn::Embedding;
    /// use tensor::Tensor;
    /// let table = Embedding { weight: Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[3, 2])? };
    /// let y = table.lookup_shaped(&[2, 0, 1, 2], &[2, 2])?;
    /// assert_eq!(y.shape(), vec![2, 2, 2]);
    /// assert_eq!(y.to_vec(), vec![4.0, 5.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn lookup_shaped(&self, indices: &[usize], shape: &[usize]) -> Result<Tensor<T>> {
        if shape.iter().product::<usize>() != indices.len() {
            return Err(TensorError::shape(
                "Embedding",
                format!("{} indices do not fill the index shape {shape:?}", indices.len()),
            ));
        }
        let dim = self.weight.shape().get(1).copied().unwrap_or(0);
        let out_shape: Vec<usize> = shape.iter().copied().chain([dim]).collect();
        self.lookup(indices)?.reshape(&out_shape)
    }
}

impl<T: Element> Module<T> for Embedding<T> {
    /// Looks up a tensor of class indices of any shape `S`, stored as floats
    /// (each must be a whole number in range), giving `[S…, dim]` as
    /// PyTorch's `nn.Embedding` does.
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
        self.lookup_shaped(&indices, &input.shape())
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
        visitor("weight", State::Parameter(&self.weight));
    }
}
