//! Mode-collapse numbers.
//!
//! For the mixtures (`ring8`, `grid25`), each generated point is assigned to
//! its nearest mode centre; it is *high quality* if it lies within 3σ of
//! that centre. A mode is *covered* if it gets at least a quarter of its fair
//! share of the high-quality points, i.e. `n / (4 · modes)` of `n` samples
//! (the data put `n / modes` on each). A generator that has collapsed onto a
//! few modes covers few; one that spreads its points between the modes has
//! a low high-quality share. (These are the measures of the unrolled-GAN
//! and VEEGAN papers, with the threshold stated here.)
//!
//! For every data set, two nearest-neighbour distances between a generated
//! and a real sample of the same size say the same in a coarser way: the
//! mean distance from a generated point to the nearest real one is large
//! when G puts points where there are no data (poor quality), and from a
//! real point to the nearest generated one when G misses part of the data
//! (poor coverage).

use crate::datasets::{Point, SIGMA};
use serde_json::json;

/// A mode counts as covered with at least this fraction of its fair share.
pub const MIN_SHARE: f64 = 0.25;

/// How well generated points cover the modes of a mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeCoverage {
    /// High-quality points per mode, in the order of `Toy::modes`.
    pub counts: Vec<usize>,
    /// Modes with at least `MIN_SHARE` of their fair share.
    pub covered: usize,
    /// The fraction of all points within 3σ of some mode.
    pub high_quality: f64,
}

/// Mode coverage of `points` for a mixture with these centres (σ = [`SIGMA`]).
pub fn mode_coverage(points: &[Point], centres: &[Point]) -> ModeCoverage {
    let radius2 = (3.0 * SIGMA) * (3.0 * SIGMA);
    let mut counts = vec![0; centres.len()];
    for p in points {
        let nearest = centres
            .iter()
            .map(|c| distance2(p, c))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match nearest {
            Some((mode, d2)) if d2 <= radius2 => counts[mode] += 1,
            _ => {}
        }
    }
    let fair = points.len() as f64 / centres.len().max(1) as f64;
    let covered = counts.iter().filter(|&&c| c as f64 >= MIN_SHARE * fair).count();
    let hits: usize = counts.iter().sum();
    ModeCoverage {
        covered,
        high_quality: hits as f64 / points.len().max(1) as f64,
        counts,
    }
}

/// The two mean nearest-neighbour distances of the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearestDistances {
    /// Mean over generated points of the distance to the nearest real one.
    pub fake_to_real: f64,
    /// Mean over real points of the distance to the nearest generated one.
    pub real_to_fake: f64,
}

/// Nearest-neighbour distances between `fake` and `real` (both non-empty).
pub fn nearest_distances(fake: &[Point], real: &[Point]) -> NearestDistances {
    let mean_nearest = |from: &[Point], to: &[Point]| {
        let total: f64 = from
            .iter()
            .map(|p| {
                to.iter()
                    .map(|q| distance2(p, q))
                    .fold(f32::INFINITY, f32::min)
                    .sqrt() as f64
            })
            .sum();
        total / from.len().max(1) as f64
    };
    NearestDistances {
        fake_to_real: mean_nearest(fake, real),
        real_to_fake: mean_nearest(real, fake),
    }
}

fn distance2(a: &Point, b: &Point) -> f32 {
    let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
    dx * dx + dy * dy
}

/// The numbers as JSON, for `summary.json` (`modes` is `null` for the curves).
pub fn to_json(modes: Option<&ModeCoverage>, total_modes: usize, nn: &NearestDistances) -> serde_json::Value {
    json!({
        "modes": modes.map(|m| json!({
            "total": total_modes,
            "covered": m.covered,
            "high_quality": m.high_quality,
            "counts": m.counts,
            "min_share_of_fair": MIN_SHARE,
            "within_sigmas": 3,
        })),
        "nearest": {
            "fake_to_real": nn.fake_to_real,
            "real_to_fake": nn.real_to_fake,
        },
    })
}
