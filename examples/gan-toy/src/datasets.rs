//! The four 2-D data sets, as point samplers.
//!
//! | name | what | modes |
//! |---|---|---|
//! | `ring8` | 8 Gaussians (σ = 0.05) evenly spaced on a circle of radius 2 | 8 |
//! | `grid25` | a 5 × 5 grid of Gaussians (σ = 0.05), spacing 1, centred on 0 | 25 |
//! | `moons` | two interleaved half circles (sklearn's `make_moons`), scaled by 1.6 | – |
//! | `spiral` | one arm of 1.5 turns, radius growing to 2.2 | – |
//!
//! Every point lies well inside the square `[−VIEW, VIEW]²` the frames show.
//! The two mixtures have known centres and σ, which is what lets
//! `coverage.rs` count the modes a generator found.

use rand::Rng;
use std::f32::consts::PI;
use std::fmt;

/// A 2-D point.
pub type Point = [f32; 2];

/// Half the side of the square every frame shows: `[−3, 3]²`.
pub const VIEW: f32 = 3.0;

/// Standard deviation of each Gaussian of `ring8` and `grid25`, and of the
/// noise added to `moons` and `spiral`.
pub const SIGMA: f32 = 0.05;

/// A 2-D data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Toy {
    /// 8 Gaussians on a ring.
    Ring8,
    /// A 5 × 5 grid of Gaussians.
    Grid25,
    /// Two moons.
    Moons,
    /// A spiral.
    Spiral,
}

impl Toy {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Toy::Ring8 => "ring8",
            Toy::Grid25 => "grid25",
            Toy::Moons => "moons",
            Toy::Spiral => "spiral",
        }
    }

    /// The centres of the Gaussians of a mixture (`ring8`, `grid25`), each
    /// with standard deviation [`SIGMA`]; `None` for the curves.
    pub fn modes(self) -> Option<Vec<Point>> {
        match self {
            Toy::Ring8 => Some(
                (0..8)
                    .map(|k| {
                        let angle = 2.0 * PI * k as f32 / 8.0;
                        [2.0 * angle.cos(), 2.0 * angle.sin()]
                    })
                    .collect(),
            ),
            Toy::Grid25 => Some(
                (0..25)
                    .map(|k| [(k % 5) as f32 - 2.0, (k / 5) as f32 - 2.0])
                    .collect(),
            ),
            Toy::Moons | Toy::Spiral => None,
        }
    }

    /// `n` points drawn from the data set.
    pub fn sample<R: Rng + ?Sized>(self, n: usize, rng: &mut R) -> Vec<Point> {
        let modes = self.modes();
        (0..n)
            .map(|_| {
                let centre = match (&modes, self) {
                    (Some(modes), _) => modes[rng.random_range(0..modes.len())],
                    (None, Toy::Moons) => moon_point(rng),
                    (None, _) => spiral_point(rng),
                };
                let [dx, dy] = gaussian_pair(rng);
                [centre[0] + SIGMA * dx, centre[1] + SIGMA * dy]
            })
            .collect()
    }
}

impl fmt::Display for Toy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A point on one of the two moons (before noise): the upper half circle
/// `(cos t, sin t)` or the lower one `(1 − cos t, ½ − sin t)`, `t ∈ [0, π]`,
/// moved so that the pair is centred on 0 and scaled by 1.6.
fn moon_point<R: Rng + ?Sized>(rng: &mut R) -> Point {
    let t = rng.random::<f32>() * PI;
    let (x, y) = if rng.random::<bool>() {
        (t.cos(), t.sin())
    } else {
        (1.0 - t.cos(), 0.5 - t.sin())
    };
    [1.6 * (x - 0.5), 1.6 * (y - 0.25)]
}

/// A point on the spiral (before noise): `r(cos θ, sin θ)` with `θ = 3π·s`,
/// `r = 2.2·s` and `s = √u`, `u` uniform, so that the outer turns, which
/// are longer, get proportionally more points.
fn spiral_point<R: Rng + ?Sized>(rng: &mut R) -> Point {
    let s = rng.random::<f32>().sqrt();
    let theta = 3.0 * PI * s;
    [2.2 * s * theta.cos(), 2.2 * s * theta.sin()]
}

/// Two independent standard normal numbers (Box–Muller): with `u₁, u₂`
/// uniform on `(0, 1]`, `√(−2 ln u₁)·(cos 2πu₂, sin 2πu₂)`.
fn gaussian_pair<R: Rng + ?Sized>(rng: &mut R) -> [f32; 2] {
    // 1 − [0, 1) is (0, 1]: ln never sees 0.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let angle = 2.0 * std::f64::consts::PI * u2;
    [(r * angle.cos()) as f32, (r * angle.sin()) as f32]
}
