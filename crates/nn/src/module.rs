//! The [`Module`] trait: something with a forward pass and named state.
//!
//! Names are dotted paths, as in PyTorch: a `Sequential` names its children
//! `0`, `1`, …, so the weight of the third layer of a network stored in a field
//! `net` is `net.2.weight`. Checkpoints and optimizers key everything by these
//! names, which is what lets PyTorch load our weights with its own names.

use rand::RngCore;
use std::sync::atomic::AtomicU64;
use tensor::{Element, Rectifier, Result, Tensor};

/// One piece of a module's state, as seen by [`Module::visit`].
pub enum State<'a, T: Element> {
    /// A trainable parameter (the optimizer updates it).
    Parameter(&'a Tensor<T>),
    /// A tensor that is saved but not trained, such as BatchNorm's running mean.
    Buffer(&'a Tensor<T>),
    /// An integer that is saved, such as BatchNorm's `num_batches_tracked`.
    Counter(&'a AtomicU64),
}

/// A layer or a network: a forward pass, named parameters and buffers, and a
/// train/eval mode.
pub trait Module<T: Element = f32>: Send + Sync {
    /// Computes the output for a batch of inputs.
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>>;

    /// Calls `visitor` with the name and state of everything this module (and
    /// its submodules, with dotted names) owns. A module without state keeps
    /// the default, which visits nothing.
    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
        let _ = visitor;
    }

    /// Switches between training (`true`: batch statistics, dropout on) and
    /// evaluation (`false`). Containers pass it on to their children.
    fn set_training(&mut self, training: bool) {
        let _ = training;
    }

    /// The trainable parameters with their dotted names, in a stable order.
    fn named_parameters(&self) -> Vec<(String, Tensor<T>)> {
        let mut found = Vec::new();
        self.visit(&mut |name, state| {
            if let State::Parameter(p) = state {
                found.push((name.to_string(), p.clone()));
            }
        });
        found
    }

    /// The trainable parameters, in the order of [`named_parameters`](Self::named_parameters).
    fn parameters(&self) -> Vec<Tensor<T>> {
        self.named_parameters().into_iter().map(|(_, p)| p).collect()
    }

    /// The number of trainable scalars.
    fn parameter_count(&self) -> usize {
        self.parameters().iter().map(Tensor::numel).sum()
    }

    /// Forgets the accumulated gradients of every parameter.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Training mode ([`set_training(true)`](Self::set_training)).
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Evaluation mode ([`set_training(false)`](Self::set_training)).
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// The rectifier this layer is, if it is one (`ReLU`, `LeakyReLU`): a
    /// [`Sequential`] then offers it to the layer before it, through
    /// [`forward_rectified`](Self::forward_rectified).
    fn rectifier(&self) -> Option<Rectifier<T>> {
        None
    }

    /// `rectifier` applied to [`forward`](Self::forward)'s output, computed
    /// as one op, if this layer has such a form (BatchNorm in training
    /// mode: [`Tensor::batch_normalize_affine_rectified`]); `Ok(None)` to
    /// have the caller run the two layers one after the other. The values
    /// and gradients must be those of the two, to the bit.
    fn forward_rectified(&self, input: &Tensor<T>, rectifier: Rectifier<T>) -> Result<Option<Tensor<T>>> {
        let _ = (input, rectifier);
        Ok(None)
    }

    /// This layer wrapped in [`SpectralNorm`](crate::SpectralNorm), sharing
    /// its parameter tensors, with the initial `u`, `v` drawn from `rng`:
    /// for `Linear` and `Conv2d`. Other modules keep the default, `None`.
    fn spectral_normalised(&self, rng: &mut dyn RngCore) -> Option<Box<dyn Module<T>>> {
        let _ = rng;
        None
    }

    /// Replaces every child layer that has a
    /// [`spectral_normalised`](Self::spectral_normalised) form by that form,
    /// recursively, and returns how many were replaced. Containers pass it
    /// on; a layer on its own replaces nothing.
    fn spectral_normalise_children(&mut self, rng: &mut dyn RngCore) -> usize {
        let _ = rng;
        0
    }
}

/// Visits `child`'s state with its names prefixed by `prefix.` (the helper
/// a composite module's [`Module::visit`] is made of).
pub fn visit_child<T: Element>(
    prefix: &str,
    child: &dyn Module<T>,
    visitor: &mut dyn FnMut(&str, State<'_, T>),
) {
    child.visit(&mut |name, state| visitor(&format!("{prefix}.{name}"), state));
}

/// Visits a layer's `weight` and, if it has one, its `bias`: the state of
/// Linear and the convolutions.
pub fn visit_weight_and_bias<T: Element>(
    weight: &Tensor<T>,
    bias: Option<&Tensor<T>>,
    visitor: &mut dyn FnMut(&str, State<'_, T>),
) {
    visitor("weight", State::Parameter(weight));
    if let Some(b) = bias {
        visitor("bias", State::Parameter(b));
    }
}

/// Layers applied one after another; children are named `0`, `1`, ….
///
/// ```
/// use nn::{Linear, Module, ReLU, Sequential};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let net = Sequential::<f32>::new()
///     .push(Linear::new(4, 8, &mut rng))
///     .push(ReLU)
///     .push(Linear::new(8, 1, &mut rng));
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// let y = net.forward(&tensor::Tensor::zeros(&[3, 4]))?;
/// assert_eq!(y.shape(), [3, 1]);
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub struct Sequential<T: Element = f32> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Element> Sequential<T> {
    /// An empty sequence (the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer.
    pub fn push(mut self, layer: impl Module<T> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Element> Default for Sequential<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Element> Module<T> for Sequential<T> {
    /// The layers in order. A layer followed by a rectifier (BatchNorm then
    /// ReLU, say) is asked first to apply it in its own op
    /// ([`Module::forward_rectified`]); if it does, the rectifier's own
    /// layer is skipped. The result is the same to the bit either way.
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        let mut x = input.clone();
        let mut layers = self.layers.iter().peekable();
        while let Some(layer) = layers.next() {
            if let Some(rectifier) = layers.peek().and_then(|next| next.rectifier())
                && let Some(y) = layer.forward_rectified(&x, rectifier)?
            {
                x = y;
                layers.next();
                continue;
            }
            x = layer.forward(&x)?;
        }
        Ok(x)
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
        for (index, layer) in self.layers.iter().enumerate() {
            visit_child(&index.to_string(), layer.as_ref(), visitor);
        }
    }

    fn set_training(&mut self, training: bool) {
        for layer in &mut self.layers {
            layer.set_training(training);
        }
    }

    fn spectral_normalise_children(&mut self, rng: &mut dyn RngCore) -> usize {
        let mut replaced = 0;
        for layer in &mut self.layers {
            match layer.spectral_normalised(rng) {
                Some(wrapped) => {
                    *layer = wrapped;
                    replaced += 1;
                }
                None => replaced += layer.spectral_normalise_children(rng),
            }
        }
        replaced
    }
}
