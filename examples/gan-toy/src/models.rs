//! The toy GAN: a fully connected generator and discriminator, small enough
//! to train in seconds on a CPU.
//!
//! ```text
//! G: z ∈ R^noise_dim → Linear → LeakyReLU → Linear → LeakyReLU → Linear → LeakyReLU → Linear → (x, y)
//! D: (x, y)          → Linear → LeakyReLU → Linear → LeakyReLU → Linear → LeakyReLU → Linear → logit
//! ```
//!
//! Three hidden layers of `hidden` units each, built by the same
//! `push_leaky_mlp` as the MNIST models. The generator has no output
//! activation: the points may lie anywhere in the plane.
//!
//! With `minibatch_std`, D's input is `(x, y, s)`, where `s` is the
//! batch's spread ([`MinibatchStd`], as in Karras et al., 2018): a batch of
//! fakes collapsed onto a few modes has a smaller `s` than a batch of real
//! points, so D can reject it as a whole, and its gradient through `s`
//! pushes G's points apart.

use datasets::BatchOptions;
use gan::models::{SequentialGan, push_leaky_mlp};
use nn::{Module, Sequential};
use rand::Rng;
use std::sync::{Arc, Mutex};
use tensor::{Result, Tensor};

/// Hidden layers in each network.
pub const HIDDEN_LAYERS: usize = 3;

/// The toy GAN with `hidden` units per hidden layer and noise of
/// `noise_dim` numbers, with PyTorch's default initialisation drawn from
/// `rng` (generator first). With `minibatch_std`, D's first layer is a
/// [`MinibatchStd`], whose reference handle is returned too.
pub fn toy_gan<R: Rng + ?Sized>(
    hidden: usize,
    noise_dim: usize,
    minibatch_std: bool,
    rng: &mut R,
) -> (SequentialGan, Option<SpreadReference>) {
    let widths = |input: usize, output: usize| {
        let mut w = vec![input];
        w.extend([hidden; HIDDEN_LAYERS]);
        w.push(output);
        w
    };
    let generator = push_leaky_mlp(Sequential::new(), &widths(noise_dim, 2), rng);
    let (discriminator, reference) = if minibatch_std {
        let layer = MinibatchStd::default();
        let reference = Arc::clone(&layer.reference);
        (
            push_leaky_mlp(Sequential::new().push(layer), &widths(3, 1), rng),
            Some(reference),
        )
    } else {
        (push_leaky_mlp(Sequential::new(), &widths(2, 1), rng), None)
    };
    // The batch options describe MNIST images; points are never batched
    // through them, so the default stands in.
    let gan = SequentialGan::new(
        "toy",
        noise_dim,
        BatchOptions::default(),
        generator,
        discriminator,
    );
    (gan, reference)
}

/// A spread that [`MinibatchStd`] uses instead of its batch's, when set.
pub type SpreadReference = Arc<Mutex<Option<f32>>>;

/// Appends to each of a batch's rows `x_b` (`[B, F]`) the batch's spread
/// `s = (1/F) Σ_f √(Var_b(x_bf) + ε)`, the same for every row: `[B, F + 1]`.
///
/// `s` depends on every row, so the gradient of D's loss reaches each point
/// through it as well as through its own coordinates. When `reference`
/// holds a value, that value is appended instead: the heat maps score each
/// grid point as a member of a batch as spread as the data (a grid's own
/// spread means nothing).
#[derive(Default)]
pub struct MinibatchStd {
    /// Shared with the trainer, which sets it while drawing heat maps.
    pub reference: SpreadReference,
}

/// Keeps the square root away from 0, whose derivative is infinite.
const EPSILON: f32 = 1e-8;

/// The spread `s` of [`MinibatchStd`] as a `[]` tensor (differentiable).
pub fn batch_spread(x: &Tensor) -> Result<Tensor> {
    let mean = x.mean_axes(&[0], true)?;
    let variance = x.sub(&mean)?.square().mean_axes(&[0], true)?;
    Ok(variance.add_scalar(EPSILON).sqrt().mean())
}

impl Module for MinibatchStd {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.shape()[0];
        let fixed = *self
            .reference
            .lock()
            .expect("no code panics while holding the reference");
        let spread = match fixed {
            Some(s) => Tensor::full(&[rows, 1], s),
            None => batch_spread(x)?.reshape(&[1, 1])?.broadcast_to(&[rows, 1])?,
        };
        Tensor::concat(&[x, &spread], 1)
    }
}
