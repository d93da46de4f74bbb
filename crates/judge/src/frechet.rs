//! The Fréchet distance between two sets of feature vectors: the distance
//! between the Gaussians with their means and covariances (Heusel et al.,
//! 2017, who call it FID when the features are Inception's).
//!
//! ```text
//! FD = |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½)
//! ```
//!
//! `Σ₁ Σ₂` is not symmetric, and iterative square roots of it (Newton,
//! Denman–Beavers, or `scipy.linalg.sqrtm` on a near-singular product) can
//! wander or return complex noise. Only the *trace* of its square root is
//! needed, and that is a sum over eigenvalues: `Σ₁ Σ₂` is similar to the
//! symmetric positive semi-definite `M = Σ₁^½ Σ₂ Σ₁^½`
//! (`Σ₁ Σ₂ = Σ₁^½ M Σ₁^-½` when `Σ₁` is invertible, and by continuity
//! otherwise), so they share eigenvalues `λᵢ ≥ 0` and
//!
//! ```text
//! Tr (Σ₁ Σ₂)^½ = Σᵢ √λᵢ(M),    with Σ₁^½ = V diag(√μ) Vᵀ from Σ₁ = V diag(μ) Vᵀ
//! ```
//!
//! Both steps are symmetric eigen-decompositions (`linalg.rs`), which are
//! stable; eigenvalues that rounding makes slightly negative are taken as 0.

use crate::linalg::{Matrix, symmetric_eigen};

/// The mean and covariance of a set of feature vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureStats {
    /// How many vectors.
    pub count: usize,
    /// Their mean.
    pub mean: Vec<f64>,
    /// Their covariance, with the unbiased `1/(count − 1)` normalisation.
    pub covariance: Matrix,
}

impl FeatureStats {
    /// The statistics of `count = rows.len() / dim` vectors of length `dim`,
    /// stored one after another. `None` if fewer than two vectors are given,
    /// `dim` is 0, or `rows` is not a whole number of vectors.
    ///
    /// Accumulated in `f64`, around the mean (two passes), so that features
    /// with a large mean lose no precision to cancellation.
    ///
    /// ```
    /// use judge::frechet::FeatureStats;
    /// let s = FeatureStats::from_rows(&[1.0, 0.0, 3.0, 2.0], 2).unwrap();
    /// assert_eq!(s.mean, vec![2.0, 1.0]);
    /// assert_eq!(s.covariance.as_slice(), &[2.0, 2.0, 2.0, 2.0]);
    /// ```
    pub fn from_rows(rows: &[f32], dim: usize) -> Option<FeatureStats> {
        if dim == 0 || rows.len() % dim != 0 || rows.len() / dim < 2 {
            return None;
        }
        let count = rows.len() / dim;
        let mut mean = vec![0.0; dim];
        for row in rows.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += f64::from(x);
            }
        }
        for m in &mut mean {
            *m /= count as f64;
        }
        // Σ = Σₖ (xₖ − μ)(xₖ − μ)ᵀ / (count − 1), upper triangle then mirrored.
        let mut sums = vec![0.0; dim * dim];
        let mut centred = vec![0.0; dim];
        for row in rows.chunks_exact(dim) {
            for ((c, &x), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = f64::from(x) - m;
            }
            for i in 0..dim {
                let ci = centred[i];
                if ci == 0.0 {
                    continue;
                }
                for (s, &cj) in sums[i * dim + i..(i + 1) * dim].iter_mut().zip(&centred[i..]) {
                    *s += ci * cj;
                }
            }
        }
        let mut covariance = Matrix::zeros(dim);
        let norm = (count - 1) as f64;
        for i in 0..dim {
            for j in i..dim {
                let v = sums[i * dim + j] / norm;
                covariance.set(i, j, v);
                covariance.set(j, i, v);
            }
        }
        Some(FeatureStats {
            count,
            mean,
            covariance,
        })
    }

    /// The feature dimension.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }
}

/// `Tr (a · b)^½` for symmetric positive semi-definite `a` and `b`, as
/// `Σᵢ √λᵢ(a^½ b a^½)` (see the module docs). `None` if an
/// eigen-decomposition fails (non-finite input).
pub fn trace_sqrt_product(a: &Matrix, b: &Matrix) -> Option<f64> {
    let sqrt_a = symmetric_eigen(a)?.map(|l| l.max(0.0).sqrt());
    let m = sqrt_a.matmul(b).matmul(&sqrt_a).symmetrised();
    Some(
        symmetric_eigen(&m)?
            .values
            .iter()
            .map(|l| l.max(0.0).sqrt())
            .sum(),
    )
}

/// The Fréchet distance between the Gaussians of `a` and `b`. `None` if the
/// dimensions differ or a statistic is not finite.
///
/// Never negative: a result that rounding makes slightly negative (the
/// distance of a set to itself) is returned as 0.
///
/// ```
/// use judge::frechet::{FeatureStats, frechet_distance};
/// let x = [0.0f32, 1.0, 2.0, 5.0, 1.0, 3.0];
/// let shifted: Vec<f32> = x.iter().map(|v| v + 2.0).collect();
/// let (a, b) = (FeatureStats::from_rows(&x, 2).unwrap(), FeatureStats::from_rows(&shifted, 2).unwrap());
/// // Same covariance, means 2 apart in each of 2 dimensions: 2² + 2².
/// assert!((frechet_distance(&a, &b).unwrap() - 8.0).abs() < 1e-9);
/// ```
pub fn frechet_distance(a: &FeatureStats, b: &FeatureStats) -> Option<f64> {
    if a.dim() != b.dim() {
        return None;
    }
    let mean_term: f64 = a.mean.iter().zip(&b.mean).map(|(x, y)| (x - y) * (x - y)).sum();
    let cross = trace_sqrt_product(&a.covariance, &b.covariance)?;
    let fd = mean_term + a.covariance.trace() + b.covariance.trace() - 2.0 * cross;
    fd.is_finite().then_some(fd.max(0.0))
}
