//! What the discriminator should learn. For a fixed generator, the best
//! discriminator of the `bce` game (Goodfellow et al., 2014, Prop. 1) is
//!
//! ```text
//! D*(x) = p_data(x) / (p_data(x) + p_g(x))
//! ```
//!
//! a density ratio. Neither density is known in closed form during training
//! (p_g is whatever G currently makes), so both are estimated the same way,
//! by a Gaussian kernel density estimate over samples:
//! `p̂(x) = (1/n) Σᵢ N(x; pᵢ, h²I)`. The frame of `D*` beside the frame of
//! the trained D shows how close D's heat map is to that ratio.

use crate::datasets::Point;

/// The kernel's standard deviation `h` (in the plane's units; the data's
/// Gaussians have σ = 0.05).
pub const BANDWIDTH: f64 = 0.1;

/// The estimate of `D*` at each of `grid`, from samples of the data (`real`)
/// and of the generator (`fake`). Where both densities vanish (far from
/// every sample) the ratio is 0/0; a tiny floor on both makes it ½ there.
pub fn optimal_scores(grid: &[Point], real: &[Point], fake: &[Point]) -> Vec<f32> {
    const FLOOR: f64 = 1e-12;
    grid.iter()
        .map(|x| {
            let p_data = kde(x, real);
            let p_g = kde(x, fake);
            ((p_data + FLOOR) / (p_data + p_g + 2.0 * FLOOR)) as f32
        })
        .collect()
}

/// `(1/n) Σᵢ exp(−|x − pᵢ|² / 2h²)`, without the normalising constant
/// `1/(2πh²)`, which cancels in the ratio.
fn kde(x: &Point, samples: &[Point]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let scale = -0.5 / (BANDWIDTH * BANDWIDTH);
    let sum: f64 = samples
        .iter()
        .map(|p| {
            let dx = f64::from(x[0] - p[0]);
            let dy = f64::from(x[1] - p[1]);
            (scale * (dx * dx + dy * dy)).exp()
        })
        .sum();
    sum / samples.len() as f64
}
