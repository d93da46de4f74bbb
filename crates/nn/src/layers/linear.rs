//! `Linear`: `y = x·Wᵀ + b` on inputs `[…, in]` (PyTorch's `nn.Linear`), with the weight stored `[out, in]` as in PyTorch.

use crate::init;
use crate::module::{Module, State, visit_weight_and_bias};
use rand::Rng;
use tensor::{Element, Result, Tensor, TensorError};

/// A fully connected layer from `in_features` to `out_features`.
pub struct Linear<T: Element = f32> {
    /// `[out_features, in_features]`.
    pub weight: Tensor<T>,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Tensor<T>>,
}

impl<T: Element> Linear<T> {
    /// A layer with PyTorch's default initialisation (Kaiming-uniform with
    /// a = √5 for the weight, U(±1/√in) for the bias).
    pub fn new<R: Rng + ?Sized>(in_features: usize, out_features: usize, rng: &mut R) -> Self {
        let weight = init::kaiming_uniform(&[out_features, in_features], 5f64.sqrt(), rng)
            .expect("a 2-D shape has fans")
            .with_requires_grad();
        let bias = init::default_bias(out_features, in_features, rng)
            .expect("a valid range")
            .with_requires_grad();
        Linear {
            weight,
            bias: Some(bias),
        }
    }

    /// A layer from given tensors (which are marked as requiring gradients).
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Result<Self> {
        let shape = weight.shape();
        if shape.len() != 2 {
            return Err(TensorError::shape(
                "Linear",
                format!("weight must be [out, in], got {shape:?}"),
            ));
        }
        if let Some(b) = &bias
            && b.shape() != [shape[0]]
        {
            return Err(TensorError::shape(
                "Linear",
                format!(
                    "bias must be [{}] for weight {shape:?}, got {:?}",
                    shape[0],
                    b.shape()
                ),
            ));
        }
        Ok(Linear {
            weight: weight.with_requires_grad(),
            bias: bias.map(Tensor::with_requires_grad),
        })
    }

    /// Drops the bias (for layers followed by BatchNorm, which has its own shift).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
}

impl<T: Element> Module<T> for Linear<T> {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        // One fused op: x·Wᵀ + b (its backward gives W̄ in W's layout).
        input.linear(&self.weight, self.bias.as_ref())
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
        visit_weight_and_bias(&self.weight, self.bias.as_ref(), visitor);
    }

    fn spectral_normalised(&self, rng: &mut dyn rand::RngCore) -> Option<Box<dyn Module<T>>> {
        super::spectral_norm::wrap_shared(self, rng)
    }
}
