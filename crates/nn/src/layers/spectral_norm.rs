//! Spectral normalisation (Miyato et al., 2018): a Linear or Conv2d layer
//! whose weight is divided by its largest singular value before use,
//!
//! ```text
//! W_SN = W / σ(W),   σ(W) = max_{‖h‖=1} ‖W h‖     (W viewed as [out, in·kh·kw])
//! ```
//!
//! so that the layer, as a linear map, has Lipschitz constant (at most) 1.
//! A discriminator made of such layers and 1-Lipschitz activations (ReLU,
//! LeakyReLU) cannot change its output faster than its input changes, which
//! keeps its gradients — the generator's training signal — well behaved.
//!
//! Computing σ exactly (an SVD) every step would be costly; instead a vector
//! `u` is kept between steps and one step of power iteration refines it on
//! every training forward pass:
//!
//! ```text
//! v ← Wᵀu / ‖Wᵀu‖,   u ← W v / ‖W v‖,   σ ≈ uᵀ W v
//! ```
//!
//! Since W changes little per optimizer step, `u` and `v` track its top
//! singular vectors, and σ is close to the true value after a few steps.
//! `u` and `v` are treated as constants: the gradient flows through
//! `W / (uᵀ W v)` only, with `∂σ/∂W = u vᵀ`, as in the paper and PyTorch's
//! `torch.nn.utils.spectral_norm`. In evaluation mode the stored `u` and `v`
//! are used without a new iteration, so evaluation changes nothing.
//!
//! The state is named as PyTorch's `spectral_norm` names it: the raw weight
//! is the parameter `weight_orig`, and `weight_u` (`[out]`) and `weight_v`
//! (`[in·kh·kw]`) are buffers, saved in checkpoints with the weights.
//!
//! Tests: `crates/nn/tests/spectral_norm.rs` (σ against the exact value, the
//! gradient against finite differences, checkpoints, determinism).

use crate::layers::{Conv2d, Linear};
use crate::module::{Module, State};
use ndarray::{Array1, ArrayView2, Ix2};
use rand::Rng;
use tensor::{Element, Result, Tensor, TensorError};

/// A layer with one weight that spectral normalisation can wrap: the
/// weight, and the forward pass with another weight in its place.
pub trait WeightedLayer<T: Element>: Send + Sync {
    /// The weight, `[out, …]`: row `i` holds output `i`'s coefficients.
    fn weight(&self) -> &Tensor<T>;

    /// The bias, if the layer has one.
    fn bias(&self) -> Option<&Tensor<T>>;

    /// The layer's output for `input` with `weight` (of the weight's
    /// shape) used instead of its own.
    fn forward_with(&self, input: &Tensor<T>, weight: &Tensor<T>) -> Result<Tensor<T>>;

    /// A copy sharing the same parameter tensors (the same nodes, so the
    /// optimizer of the original updates the copy's weights too).
    fn shared_copy(&self) -> Self
    where
        Self: Sized;
}

impl<T: Element> WeightedLayer<T> for Linear<T> {
    fn weight(&self) -> &Tensor<T> {
        &self.weight
    }

    fn bias(&self) -> Option<&Tensor<T>> {
        self.bias.as_ref()
    }

    fn forward_with(&self, input: &Tensor<T>, weight: &Tensor<T>) -> Result<Tensor<T>> {
        input.linear(weight, self.bias.as_ref())
    }

    fn shared_copy(&self) -> Self {
        Linear {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
        }
    }
}

impl<T: Element> WeightedLayer<T> for Conv2d<T> {
    fn weight(&self) -> &Tensor<T> {
        &self.weight
    }

    fn bias(&self) -> Option<&Tensor<T>> {
        self.bias.as_ref()
    }

    fn forward_with(&self, input: &Tensor<T>, weight: &Tensor<T>) -> Result<Tensor<T>> {
        input.conv2d(weight, self.bias.as_ref(), self.params)
    }

    fn shared_copy(&self) -> Self {
        Conv2d {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            params: self.params,
        }
    }
}

/// `layer` with its weight divided by the weight's largest singular value,
/// estimated by power iteration (see the module documentation).
///
/// ```
/// use nn::{Linear, Module, SpectralNorm};
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let layer = SpectralNorm::new(Linear::<f64>::new(3, 4, &mut rng), &mut rng)?;
/// for _ in 0..50 {
///     layer.forward(&tensor::Tensor::zeros(&[1, 3]))?; // each training forward refines σ
/// }
/// // The normalised weight has largest singular value 1: ‖W_SN v‖ = 1.
/// let v = layer.v().reshape(&[3, 1])?;
/// let wv = layer.normalised_weight()?.matmul(&v)?;
/// assert!((wv.square().sum().item()?.sqrt() - 1.0).abs() < 1e-6);
/// let names: Vec<String> = layer.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight_orig", "bias"]);
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub struct SpectralNorm<L, T: Element = f32> {
    layer: L,
    /// `[out]`: the estimate of the top left singular vector.
    u: Tensor<T>,
    /// `[in·kh·kw]`: the estimate of the top right singular vector.
    v: Tensor<T>,
    training: bool,
}

/// The floor of a norm we divide by, as PyTorch's `normalize` has it: a
/// zero weight gives zero vectors, not NaN.
const NORM_FLOOR: f64 = 1e-12;

/// `x / max(‖x‖, NORM_FLOOR)`.
fn normalised<T: Element>(x: Array1<T>) -> Array1<T> {
    let norm = x.iter().map(|&a| a * a).sum::<T>().sqrt();
    let norm = norm.max(T::from_f64(NORM_FLOOR));
    x.mapv(|a| a / norm)
}

impl<L: WeightedLayer<T>, T: Element> SpectralNorm<L, T> {
    /// Wraps `layer`, with `u` and `v` drawn from N(0, 1) and normalised,
    /// as PyTorch does (so the first σ is a rough estimate; it sharpens
    /// with every training forward pass).
    pub fn new<R: Rng + ?Sized>(layer: L, rng: &mut R) -> Result<Self> {
        let shape = layer.weight().shape();
        if shape.len() < 2 {
            return Err(TensorError::shape(
                "SpectralNorm",
                format!("the weight must have at least 2 dimensions, got {shape:?}"),
            ));
        }
        let (rows, columns) = (shape[0], shape[1..].iter().product::<usize>());
        let draw = |len: usize, rng: &mut R| -> Result<Tensor<T>> {
            let x = Tensor::<T>::randn(&[len], T::zero(), T::one(), rng)?.array();
            let x = x.into_dimensionality::<ndarray::Ix1>().expect("drawn 1-D");
            Ok(Tensor::from_array(normalised(x.to_owned()).into_dyn()))
        };
        let u = draw(rows, rng)?;
        let v = draw(columns, rng)?;
        Ok(SpectralNorm {
            layer,
            u,
            v,
            training: true,
        })
    }

    /// The wrapped layer (its weight is the raw `weight_orig`).
    pub fn layer(&self) -> &L {
        &self.layer
    }

    /// The current estimate of the top left singular vector, `[out]`.
    pub fn u(&self) -> &Tensor<T> {
        &self.u
    }

    /// The current estimate of the top right singular vector, `[in·kh·kw]`.
    pub fn v(&self) -> &Tensor<T> {
        &self.v
    }

    /// The weight's rows as a matrix `[out, in·kh·kw]` (values only).
    fn with_matrix<R>(&self, f: impl FnOnce(ArrayView2<'_, T>) -> R) -> R {
        let weight = self.layer.weight().array();
        let shape = weight.shape();
        let (rows, columns) = (shape[0], shape[1..].iter().product::<usize>());
        let standard = weight.as_standard_layout();
        let matrix = standard
            .view()
            .into_shape_with_order((rows, columns))
            .expect("standard layout reshapes");
        f(matrix.into_dimensionality::<Ix2>().expect("2-D"))
    }

    /// One step of power iteration on the current weight, updating `u` and
    /// `v` in place (no graph is recorded: they are constants to autodiff).
    pub fn power_iteration(&self) -> Result<()> {
        let (u, v) = self.with_matrix(|w| {
            let u = self
                .u
                .array()
                .into_dimensionality::<ndarray::Ix1>()
                .expect("u is 1-D");
            let v = normalised(w.t().dot(&u));
            let u = normalised(w.dot(&v));
            (u, v)
        });
        self.u.set_array(u.into_dyn().into_shared())?;
        self.v.set_array(v.into_dyn().into_shared())
    }

    /// `σ = uᵀ W v` with the current `u` and `v`, as a differentiable
    /// function of the weight (`∂σ/∂W = u vᵀ`), shape `[1, 1]`.
    pub fn sigma(&self) -> Result<Tensor<T>> {
        let weight = self.layer.weight();
        let shape = weight.shape();
        let columns = shape[1..].iter().product::<usize>();
        let u = self.u.detach().reshape(&[1, shape[0]])?;
        let v = self.v.detach().reshape(&[columns, 1])?;
        u.matmul(&weight.reshape(&[shape[0], columns])?)?.matmul(&v)
    }

    /// `W / σ` with the current `u` and `v` (no new iteration).
    pub fn normalised_weight(&self) -> Result<Tensor<T>> {
        let weight = self.layer.weight();
        let rank = weight.shape().len();
        weight.div(&self.sigma()?.reshape(&vec![1; rank])?)
    }
}

impl<L: WeightedLayer<T>, T: Element> Module<T> for SpectralNorm<L, T> {
    /// In training mode, one power iteration, then the layer with `W / σ`;
    /// in evaluation mode, the layer with `W / σ` from the stored vectors.
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        if self.training {
            self.power_iteration()?;
        }
        self.layer.forward_with(input, &self.normalised_weight()?)
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
        visitor("weight_orig", State::Parameter(self.layer.weight()));
        if let Some(bias) = self.layer.bias() {
            visitor("bias", State::Parameter(bias));
        }
        visitor("weight_u", State::Buffer(&self.u));
        visitor("weight_v", State::Buffer(&self.v));
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}

/// The wrapper [`Module::spectral_normalised`] gives a `Linear` or a
/// `Conv2d`: over a copy of the layer that shares its parameter tensors.
pub(crate) fn wrap_shared<L, T>(layer: &L, rng: &mut dyn rand::RngCore) -> Option<Box<dyn Module<T>>>
where
    L: WeightedLayer<T> + 'static,
    T: Element,
{
    let wrapped =
        SpectralNorm::new(layer.shared_copy(), rng).expect("Linear and Conv2d weights have rank 2 and 4");
    Some(Box::new(wrapped))
}
