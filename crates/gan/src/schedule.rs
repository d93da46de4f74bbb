//! A learning-rate schedule (`--lr-decay FRACTION`): both learning rates
//! stay at their set values for the first part of the run, then fall in a
//! straight line towards zero over its last `FRACTION` of generator steps.
//!
//! ```text
//! factor(t) = 1                               for t < T − F
//!           = (T − t) / F                     for T − F ≤ t < T
//! with T the run's total steps, F = ⌈fraction · T⌉, t the step about to be taken
//! ```
//!
//! Why: with a constant learning rate the generator keeps circling its
//! equilibrium at a radius set by the step size, so the last samples carry
//! the jitter of the last updates. Shrinking the steps at the end lets both
//! players settle (the same reason the averaged generator of `ema.rs`
//! helps, done to the live weights instead of to a copy). The last step
//! still moves (`factor = 1/F`), so no step is wasted.
//!
//! `T` is the run's planned length (`TrainConfig::total_steps`), so the
//! schedule is a pure function of the step count: a resumed run sets the
//! same rates as an uninterrupted one. Extending a run with `--resume
//! --epochs` changes `T`, and so the schedule of the steps still to come.

use serde::{Deserialize, Serialize};

/// Linear decay of the learning rates over the last `fraction` of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearDecay {
    /// The share of the run's steps over which the rates fall, in (0, 1].
    pub fraction: f64,
}

impl LinearDecay {
    /// Refuses a fraction outside (0, 1], naming it.
    pub fn validate(&self) -> Result<(), String> {
        if self.fraction > 0.0 && self.fraction <= 1.0 {
            Ok(())
        } else {
            Err(format!(
                "lr-decay is the share of the run over which the learning rates fall, in (0, 1]; got {}",
                self.fraction
            ))
        }
    }

    /// The multiplier of both learning rates for step `step` (counted from
    /// 0) of a run of `total` steps: 1 before the decay starts, then
    /// `(total − step) / F` with `F = ⌈fraction · total⌉`; never below
    /// `1/F` while `step < total`.
    ///
    /// ```
    /// use gan::schedule::LinearDecay;
    /// let half = LinearDecay { fraction: 0.5 };
    /// assert_eq!(half.factor(0, 100), 1.0);
    /// assert_eq!(half.factor(49, 100), 1.0);
    /// assert_eq!(half.factor(50, 100), 1.0);
    /// assert_eq!(half.factor(75, 100), 0.5);
    /// assert_eq!(half.factor(99, 100), 0.02);
    /// ```
    pub fn factor(&self, step: u64, total: u64) -> f64 {
        let span = ((self.fraction * total as f64).ceil() as u64).max(1);
        let remaining = total.saturating_sub(step);
        if remaining >= span {
            1.0
        } else {
            // A step past the planned end (a run extended by --max-steps
            // beyond its epochs) keeps the smallest rate rather than zero.
            remaining.max(1) as f64 / span as f64
        }
    }
}
