//! `metrics.csv`: one row every `log_every` steps with the losses and the
//! discriminator's mean scores, averaged over the steps since the last row.
//!
//! Nothing time-dependent goes in, so two runs with the same seed and thread
//! count write byte-identical files.

use crate::train::StepStats;
use std::fmt::Write as _;
use std::path::Path;

/// The header line of `metrics.csv`.
pub const HEADER: &str = "step,epoch,loss_d,loss_g,d_real,d_fake";

/// One row of `metrics.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsRow {
    /// Generator steps done when the row was written.
    pub step: u64,
    /// The epoch the step belongs to (1-based).
    pub epoch: usize,
    /// The statistics, averaged over the steps since the previous row.
    pub stats: StepStats,
}

impl MetricsRow {
    /// The row as a CSV line (without the newline).
    pub fn to_csv(&self) -> String {
        let s = &self.stats;
        let mut line = String::new();
        write!(
            line,
            "{},{},{},{},{},{}",
            self.step, self.epoch, s.loss_d, s.loss_g, s.d_real, s.d_fake
        )
        .expect("writing to a String cannot fail");
        line
    }

    /// Parses a CSV line written by [`to_csv`](Self::to_csv).
    pub fn from_csv(line: &str) -> Option<MetricsRow> {
        let fields: Vec<&str> = line.trim().split(',').collect();
        if fields.len() != 6 {
            return None;
        }
        let f = |i: usize| fields[i].parse::<f64>().ok();
        Some(MetricsRow {
            step: fields[0].parse().ok()?,
            epoch: fields[1].parse().ok()?,
            stats: StepStats {
                loss_d: f(2)?,
                loss_g: f(3)?,
                d_real: f(4)?,
                d_fake: f(5)?,
            },
        })
    }
}

/// Reads the rows of a `metrics.csv` (skipping the header and any line that
/// does not parse, such as a half-written last line after a crash).
pub fn read_metrics(path: &Path) -> std::io::Result<Vec<MetricsRow>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().skip(1).filter_map(MetricsRow::from_csv).collect())
}

/// Averages step statistics between two rows. Saved in checkpoints, so
/// that a resumed run writes the same rows as one that never stopped.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunningMean {
    sum: [f64; 4],
    count: u32,
}

impl RunningMean {
    /// Adds one step's statistics.
    pub fn add(&mut self, s: &StepStats) {
        for (total, value) in self.sum.iter_mut().zip([s.loss_d, s.loss_g, s.d_real, s.d_fake]) {
            *total += value;
        }
        self.count += 1;
    }

    /// Whether no step has been added since the last [`take`](Self::take).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The mean so far (`None` if empty), and a reset.
    pub fn take(&mut self) -> Option<StepStats> {
        if self.count == 0 {
            return None;
        }
        let n = f64::from(self.count);
        let [loss_d, loss_g, d_real, d_fake] = self.sum.map(|s| s / n);
        *self = RunningMean::default();
        Some(StepStats {
            loss_d,
            loss_g,
            d_real,
            d_fake,
        })
    }
}
