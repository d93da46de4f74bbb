//! The two kinds of noise in a toy run: the generator's input `z`, and the
//! instance noise that blurs what the discriminator sees.

use rand::Rng;
use std::fmt;
use tensor::{Result, Tensor, TensorError};

/// The distribution of the generator's input `z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LatentNoise {
    /// `z ~ N(0, 1)` in every coordinate: the usual choice.
    Normal,
    /// `z` uniform on `[−1, 1)` in every coordinate: in 2-D a square,
    /// which a generator can lay onto a square grid of modes without
    /// stretching unbounded tails out to the corners.
    Uniform,
}

impl LatentNoise {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LatentNoise::Normal => "normal",
            LatentNoise::Uniform => "uniform",
        }
    }

    /// `rows` noise vectors of `dim` numbers, `[rows, dim]`, drawn from `rng`
    /// and multiplied by `scale`.
    pub fn sample<R: Rng + ?Sized>(self, rows: usize, dim: usize, scale: f64, rng: &mut R) -> Result<Tensor> {
        let z = match self {
            LatentNoise::Normal => Tensor::randn(&[rows, dim], 0.0, 1.0, rng)?,
            LatentNoise::Uniform => Tensor::rand_uniform(&[rows, dim], -1.0, 1.0, rng)?,
        };
        Ok(if scale == 1.0 {
            z
        } else {
            z.mul_scalar(scale as f32)
        })
    }
}

impl fmt::Display for LatentNoise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Instance noise of standard deviation `sigma` at step 0, falling linearly
/// to 0 at the end of the first `fraction` of the steps and 0 after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceNoiseSchedule {
    /// σ at the first step, in the data's units (the grid's modes are 1 apart).
    pub sigma: f64,
    /// The share of the steps over which σ falls to 0, in (0, 1].
    pub fraction: f64,
}

impl InstanceNoiseSchedule {
    /// Checks that σ is finite and positive and the fraction in (0, 1].
    pub fn validate(&self) -> Result<()> {
        if !(self.sigma.is_finite() && self.sigma > 0.0) {
            return Err(TensorError::argument(
                "instance noise",
                format!("σ must be a finite number above 0, got {}", self.sigma),
            ));
        }
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Err(TensorError::argument(
                "instance noise",
                format!("the fraction must be in (0, 1], got {}", self.fraction),
            ));
        }
        Ok(())
    }

    /// σ at step `step` of `steps`: `σ₀ · max(0, 1 − step / (fraction · steps))`.
    pub fn sigma_at(&self, step: u64, steps: u64) -> f64 {
        let span = self.fraction * steps.max(1) as f64;
        self.sigma * (1.0 - step as f64 / span).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_noise_falls_linearly_to_zero_and_stays_there() {
        let schedule = InstanceNoiseSchedule {
            sigma: 0.4,
            fraction: 0.5,
        };
        assert_eq!(schedule.sigma_at(0, 1000), 0.4);
        assert!((schedule.sigma_at(250, 1000) - 0.2).abs() < 1e-12);
        assert_eq!(schedule.sigma_at(500, 1000), 0.0);
        assert_eq!(schedule.sigma_at(900, 1000), 0.0);
        assert!(
            InstanceNoiseSchedule {
                sigma: 0.0,
                fraction: 0.5
            }
            .validate()
            .is_err()
        );
        assert!(
            InstanceNoiseSchedule {
                sigma: 0.1,
                fraction: 1.5
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn uniform_noise_stays_in_its_square() {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(7);
        let z = LatentNoise::Uniform
            .sample(1000, 2, 1.0, &mut rng)
            .unwrap()
            .to_vec();
        assert!(z.iter().all(|&v| (-1.0..1.0).contains(&v)));
        assert!(z.iter().any(|&v| v < -0.9) && z.iter().any(|&v| v > 0.9));
    }
}
