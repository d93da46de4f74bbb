//! Walks through the latent space: `gan-mnist interpolate`.
//!
//! A generator maps a noise vector `z` to an image. Drawing the images of
//! the points on a path from one `z` to another shows what the generator
//! does *between* its samples: a smooth generator morphs one digit into
//! another (a 3 thickens into an 8), a collapsed one shows the same digit
//! all along the path, and a generator that memorised a few images jumps
//! from one to the next.
//!
//! Each row of the grid is one walk: `steps` points from `z_a` to `z_b`,
//! both drawn from `N(0, I)`, by one of two paths ([`LatentPath`]):
//!
//! ```text
//! linear:     z(t) = (1 − t)·z_a + t·z_b
//! spherical:  z(t) = sin((1 − t)Ω)/sin Ω · z_a + sin(tΩ)/sin Ω · z_b,   cos Ω = ⟨z_a, z_b⟩ / (‖z_a‖‖z_b‖)
//! ```
//!
//! Why two: in `d` dimensions a draw from `N(0, I)` has length close to
//! `√d` (10 for the 100 numbers of most models here), so the training noise
//! lives near a sphere. The straight line between two such points cuts
//! through the inside: its midpoint has length about `√(d/2)` (two random
//! directions are nearly orthogonal), a region the generator never saw in
//! training. The spherical path (White, 2016, "Sampling generative
//! networks") keeps to the great circle between the two directions, so when
//! the end points have equal length every point on it has that length too.
//! [`path_norms`] measures the difference; the tests check it.
//!
//! For a class-conditional model each row keeps its label fixed while `z`
//! walks (row `r` draws class `r mod 10`, or every row the one class asked
//! for): what changes along a row is the *style* the noise encodes, not the
//! digit.
//!
//! Everything is drawn from the request's seed (stream 1, as `sample`), so
//! the same request on the same checkpoint gives the same pictures.

use crate::checkpoint;
use crate::error::Error;
use crate::grid::{self, GrayImage};
use crate::sample::{Which, check_class, load_generator, resolve};
use datasets::NUM_CLASSES;
use gan::ema::GeneratorKind;
use gan::streams::stream_rng;
use std::path::{Path, PathBuf};
use tensor::{Tensor, TensorError, no_grad};

/// The path between two latent points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatentPath {
    /// The straight line `(1 − t)·z_a + t·z_b`.
    Linear,
    /// The great-circle arc (slerp): the right path for Gaussian noise.
    #[default]
    Spherical,
}

impl LatentPath {
    /// The name on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            LatentPath::Linear => "linear",
            LatentPath::Spherical => "spherical",
        }
    }
}

impl std::str::FromStr for LatentPath {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "linear" | "lerp" => Ok(LatentPath::Linear),
            "spherical" | "slerp" => Ok(LatentPath::Spherical),
            _ => Err(format!("unknown path `{s}`; expected linear or spherical")),
        }
    }
}

/// Below this angle (radians) between `z_a` and `z_b`, `sin Ω` is too small
/// to divide by, and the spherical path is the linear one to within
/// rounding: [`interpolate`] takes the linear formula.
pub const PARALLEL_ANGLE: f64 = 1e-6;

/// The point at `t ∈ [0, 1]` on `path` from `a` to `b` (equal lengths),
/// computed in `f64`.
///
/// ```
/// use runs::interpolate::{LatentPath, interpolate};
/// // A quarter circle: halfway, both coordinates are cos 45° = 1/√2.
/// let mid = interpolate(&[1.0, 0.0], &[0.0, 1.0], 0.5, LatentPath::Spherical);
/// assert!((mid[0] - 0.5f32.sqrt()).abs() < 1e-6 && (mid[1] - mid[0]).abs() < 1e-6);
/// // The straight line's midpoint is shorter: (½, ½).
/// assert_eq!(interpolate(&[1.0, 0.0], &[0.0, 1.0], 0.5, LatentPath::Linear), vec![0.5, 0.5]);
/// ```
pub fn interpolate(a: &[f32], b: &[f32], t: f64, path: LatentPath) -> Vec<f32> {
    let (wa, wb) = match path {
        LatentPath::Linear => (1.0 - t, t),
        LatentPath::Spherical => {
            let dot: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
            let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
            let lengths = norm(a) * norm(b);
            // A zero end point has no direction: the straight line is all there is.
            let omega = if lengths > 0.0 {
                (dot / lengths).clamp(-1.0, 1.0).acos()
            } else {
                0.0
            };
            if omega < PARALLEL_ANGLE {
                (1.0 - t, t)
            } else {
                // d/dt at t = 0 is along b's component orthogonal to a: the arc.
                let s = omega.sin();
                (((1.0 - t) * omega).sin() / s, (t * omega).sin() / s)
            }
        }
    };
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (wa * f64::from(x) + wb * f64::from(y)) as f32)
        .collect()
}

/// The `steps` values of `t` of a walk: `0, 1/(steps−1), …, 1` (both end
/// points included; `steps ≥ 2`).
pub fn walk_times(steps: usize) -> Vec<f64> {
    let last = steps.saturating_sub(1).max(1) as f64;
    (0..steps).map(|k| k as f64 / last).collect()
}

/// The latent points of `pairs` walks of `steps` points each, row-major
/// (`[pairs · steps, d]`), from the end points `starts` and `ends`
/// (`[pairs, d]` each).
pub fn walk_noise(starts: &Tensor, ends: &Tensor, steps: usize, path: LatentPath) -> tensor::Result<Tensor> {
    if starts.shape() != ends.shape() || starts.shape().len() != 2 {
        return Err(TensorError::shape(
            "walk_noise",
            format!(
                "end points must both be [pairs, d], got {:?} and {:?}",
                starts.shape(),
                ends.shape()
            ),
        ));
    }
    let (pairs, d) = (starts.shape()[0], starts.shape()[1]);
    let (a, b) = (starts.to_vec(), ends.to_vec());
    let mut values = Vec::with_capacity(pairs * steps * d);
    for row in 0..pairs {
        let range = row * d..(row + 1) * d;
        for t in walk_times(steps) {
            values.extend(interpolate(&a[range.clone()], &b[range.clone()], t, path));
        }
    }
    Tensor::from_vec(values, &[pairs * steps, d])
}

/// The length `‖z(t)‖` at each point of a walk from `a` to `b`: how far a
/// path strays from the sphere the training noise lives near.
pub fn path_norms(a: &[f32], b: &[f32], steps: usize, path: LatentPath) -> Vec<f64> {
    walk_times(steps)
        .into_iter()
        .map(|t| {
            interpolate(a, b, t, path)
                .iter()
                .map(|&x| f64::from(x).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// The most walks (rows) one request draws.
pub const MAX_PAIRS: usize = 32;
/// The most points per walk (columns).
pub const MAX_STEPS: usize = 64;

/// What to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkRequest {
    /// Walks, one per row (1 to [`MAX_PAIRS`]).
    pub pairs: usize,
    /// Points per walk, end points included (2 to [`MAX_STEPS`]).
    pub steps: usize,
    /// The path.
    pub path: LatentPath,
    /// Seed of the end points.
    pub seed: u64,
    /// Which checkpoint of a run folder.
    pub which: Which,
    /// A conditional model's class for every row (default: row `r` draws
    /// class `r mod 10`); unconditional models take none.
    pub class: Option<usize>,
}

impl Default for WalkRequest {
    fn default() -> Self {
        WalkRequest {
            pairs: 8,
            steps: 10,
            path: LatentPath::Spherical,
            seed: 0,
            which: Which::Latest,
            class: None,
        }
    }
}

/// A drawn walk.
#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    /// One row per walk, `steps` columns from `z_a` (left) to `z_b` (right).
    pub grid: GrayImage,
    /// One picture per point of the walk: frame `k` holds every walk's
    /// image at its `k`-th point, tiled about square.
    pub frames: Vec<GrayImage>,
    /// For a conditional model, the class each row was drawn as.
    pub row_classes: Option<Vec<usize>>,
    /// The checkpoint drawn from.
    pub checkpoint: PathBuf,
    /// Which generator drew it.
    pub generator: GeneratorKind,
}

/// Draws `request.pairs` walks from the generator saved at `path` (a run
/// folder or a checkpoint folder), checking the request first.
pub fn latent_walk(path: &Path, request: WalkRequest) -> crate::Result<Walk> {
    let refuse = |detail: String| Err(Error::argument("interpolate", detail));
    if !(1..=MAX_PAIRS).contains(&request.pairs) {
        return refuse(format!(
            "--pairs {} must be between 1 and {MAX_PAIRS}",
            request.pairs
        ));
    }
    if !(2..=MAX_STEPS).contains(&request.steps) {
        return refuse(format!(
            "--steps {} must be between 2 and {MAX_STEPS} (a walk has two end points)",
            request.steps
        ));
    }
    let checkpoint = resolve(path, request.which)?;
    let config = checkpoint::read_state(&checkpoint)?.config;
    let conditional = config.model.is_conditional();
    check_class("interpolate", path, config.model, request.class)?;
    let (model, generator) = load_generator(&checkpoint, config.model, request.seed)?;
    let (pairs, steps) = (request.pairs, request.steps);
    // All start points first, then all end points: the first walks are the
    // same whether more are asked for or not.
    let mut rng = stream_rng(request.seed, 1);
    let starts = Tensor::randn(&[pairs, model.noise_dim()], 0.0, 1.0, &mut rng)?;
    let ends = Tensor::randn(&[pairs, model.noise_dim()], 0.0, 1.0, &mut rng)?;
    let z = walk_noise(&starts, &ends, steps, request.path)?;
    let row_classes: Option<Vec<usize>> = conditional.then(|| {
        (0..pairs)
            .map(|r| request.class.unwrap_or(r % NUM_CLASSES))
            .collect()
    });
    // Unconditional models ignore the labels.
    let labels: Vec<usize> = (0..pairs * steps)
        .map(|i| row_classes.as_ref().map_or(0, |c| c[i / steps]))
        .collect();
    let images = no_grad(|| model.generate(&z, &labels))?;
    let range = model.batch_options().range;
    let grid = grid::image_grid(&images, steps, range)?;
    let columns = (pairs as f64).sqrt().ceil() as usize;
    let frames = (0..steps)
        .map(|k| {
            let at_k: Vec<usize> = (0..pairs).map(|row| row * steps + k).collect();
            grid::image_grid(&images.index_select(0, &at_k)?, columns, range)
        })
        .collect::<crate::Result<Vec<_>>>()?;
    Ok(Walk {
        grid,
        frames,
        row_classes,
        checkpoint,
        generator,
    })
}
