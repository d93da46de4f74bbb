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
//!
//! With `pack = m > 1`, D judges `m` points at a time ([`Pack`], as in
//! PacGAN, Lin et al., 2018): its input is `m` points of one kind side by
//! side, and its score is one verdict on all of them. A generator that
//! leaves modes empty makes packs whose points are too often alike, or too
//! often from the same few places, which D can see in the joint input and
//! a single point cannot show.

use datasets::BatchOptions;
use gan::models::{SequentialGan, push_leaky_mlp};
use nn::{Module, Sequential};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use tensor::{Result, Tensor, TensorError};

/// Hidden layers in each network.
pub const HIDDEN_LAYERS: usize = 3;

/// What D sees besides single points: the settings of its input layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscriminatorInput {
    /// Points judged together ([`Pack`]); 1 is the plain D.
    pub pack: usize,
    /// The batch's spread as an extra input ([`MinibatchStd`]).
    pub minibatch_std: bool,
    /// Gaussian noise added to every point D sees ([`InstanceNoise`]).
    pub instance_noise: bool,
}

/// The handles the heat maps use to score single points with a D whose
/// input layers look at more than one point.
#[derive(Default)]
pub struct ScoringHandles {
    /// The [`MinibatchStd`] layer's, if D has one.
    pub spread: Option<SpreadReference>,
    /// The [`Pack`] layer's, if D packs points.
    pub pack: Option<PackReference>,
    /// The [`InstanceNoise`] layer's, if D has one: the trainer sets its σ
    /// for each step and its random stream once.
    pub instance_noise: Option<InstanceNoiseHandle>,
}

/// The toy GAN with `hidden` units per hidden layer and noise of
/// `noise_dim` numbers, with PyTorch's default initialisation drawn from
/// `rng` (generator first). D's first layers are a [`Pack`] (if
/// `input.pack > 1`) and then a [`MinibatchStd`] (if `input.minibatch_std`),
/// whose reference handles are returned too.
pub fn toy_gan<R: Rng + ?Sized>(
    hidden: usize,
    noise_dim: usize,
    input: DiscriminatorInput,
    rng: &mut R,
) -> (SequentialGan, ScoringHandles) {
    let widths = |input: usize, output: usize| {
        let mut w = vec![input];
        w.extend([hidden; HIDDEN_LAYERS]);
        w.push(output);
        w
    };
    let generator = push_leaky_mlp(Sequential::new(), &widths(noise_dim, 2), rng);
    let mut handles = ScoringHandles::default();
    let mut layers = Sequential::new();
    let mut width = 2;
    if input.instance_noise {
        // First, on the single points: a blurred point is packed and
        // spread like any other.
        let layer = InstanceNoise::default();
        handles.instance_noise = Some(Arc::clone(&layer.state));
        layers = layers.push(layer);
    }
    if input.pack > 1 {
        let layer = Pack::new(input.pack);
        handles.pack = Some(Arc::clone(&layer.companions));
        layers = layers.push(layer);
        width *= input.pack;
    }
    if input.minibatch_std {
        let layer = MinibatchStd::default();
        handles.spread = Some(Arc::clone(&layer.reference));
        layers = layers.push(layer);
        width += 1;
    }
    let discriminator = push_leaky_mlp(layers, &widths(width, 1), rng);
    // The batch options describe MNIST images; points are never batched
    // through them, so the default stands in.
    let gan = SequentialGan::new(
        "toy",
        noise_dim,
        BatchOptions::default(),
        generator,
        discriminator,
    );
    (gan, handles)
}

/// Points that [`Pack`] puts beside each row instead of packing rows
/// together, when set: `(m − 1) · F` numbers, the companions one after
/// another.
pub type PackReference = Arc<Mutex<Option<Vec<f32>>>>;

/// Joins each `m` consecutive rows of a batch `[B, F]` into one row:
/// `[B/m, m·F]`, so that the layers after it judge `m` points at once
/// (PacGAN). The rows of a training batch are independent draws, so
/// consecutive rows are as good a grouping as any.
///
/// When `companions` holds `m − 1` points, every row is instead followed by
/// those same points: `[B, m·F]`. The heat maps score each grid point as a
/// pack of that point and `m − 1` real ones (and average over several such
/// sets, `ToyTrainer::scores`): D's verdict on `x` among data.
pub struct Pack {
    /// Points judged together.
    pub points: usize,
    /// Shared with the trainer, which sets it while drawing heat maps.
    pub companions: PackReference,
}

impl Pack {
    /// A layer that packs `points` rows together.
    pub fn new(points: usize) -> Self {
        Pack {
            points,
            companions: Arc::default(),
        }
    }
}

impl Module for Pack {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let shape = x.shape();
        let (rows, features) = (shape[0], shape[1..].iter().product::<usize>());
        let companions = self
            .companions
            .lock()
            .expect("no code panics while holding the companions")
            .clone();
        match companions {
            Some(values) => {
                let width = values.len();
                let fixed = Tensor::from_vec(values, &[1, width])?.broadcast_to(&[rows, width])?;
                Tensor::concat(&[x, &fixed], 1)
            }
            None if rows % self.points != 0 => Err(TensorError::argument(
                "pack",
                format!(
                    "a batch of {rows} points cannot be cut into packs of {}",
                    self.points
                ),
            )),
            None => x.reshape(&[rows / self.points, self.points * features]),
        }
    }
}

/// The σ and the random stream of an [`InstanceNoise`] layer.
pub struct InstanceNoiseState {
    /// Standard deviation of the noise; 0 passes the points through.
    pub sigma: f32,
    /// Draws the noise.
    pub rng: ChaCha8Rng,
}

impl Default for InstanceNoiseState {
    /// σ = 0 (off), and a stream the trainer replaces with its seeded one.
    fn default() -> Self {
        InstanceNoiseState {
            sigma: 0.0,
            rng: ChaCha8Rng::seed_from_u64(0),
        }
    }
}

/// Shared between an [`InstanceNoise`] layer and the trainer.
pub type InstanceNoiseHandle = Arc<Mutex<InstanceNoiseState>>;

/// Adds noise `ε ~ N(0, σ²)` to every coordinate of every point D sees,
/// real and fake alike (instance noise, Sønderby et al., 2017; Arjovsky
/// and Bottou, 2017): `x ↦ x + ε`, whose derivative is 1, so G's gradient
/// passes through unchanged. Blurred, the data and the fakes overlap even
/// where their sharp versions do not, and D cannot call a gap between
/// modes certainly fake; the trainer lowers σ to 0 as training goes on.
/// With σ = 0 (heat maps, coverage) the layer passes its input through.
#[derive(Default)]
pub struct InstanceNoise {
    /// Shared with the trainer.
    pub state: InstanceNoiseHandle,
}

impl Module for InstanceNoise {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut state = self
            .state
            .lock()
            .expect("no code panics while holding the instance noise");
        if state.sigma == 0.0 {
            return Ok(x.clone());
        }
        let sigma = state.sigma;
        let noise = Tensor::randn(&x.shape(), 0.0, sigma, &mut state.rng)?;
        x.add(&noise)
    }
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
