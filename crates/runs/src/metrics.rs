//! `metrics.csv`: one row every `log_every` steps (and at every epoch end)
//! with the losses and the discriminator's mean scores, averaged over the
//! steps since the last row. Rows at epoch ends also hold the judge's
//! verdict on a sample of the generator's images (see `eval/`): the
//! classifier score, the Fréchet distance and the number of missing
//! digits; those cells are empty on other rows.
//!
//! Nothing time-dependent goes in, so two runs with the same seed and thread
//! count write byte-identical files.

use gan::train::StepStats;
use std::fmt::Write as _;
use std::path::Path;

/// The header line of `metrics.csv`.
pub const HEADER: &str =
    "step,epoch,loss_d,loss_g,d_real,d_fake,classifier_score,frechet_distance,missing_digits";

/// The judge's figures for an epoch's samples (see `eval/`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochQuality {
    /// `exp(E_x KL(p(y|x) ‖ p(y)))`, between 1 and 10.
    pub classifier_score: f64,
    /// The Fréchet distance of the samples' judge features to real images'.
    pub frechet_distance: f64,
    /// How many classes have a share below `eval::score::MISSING_SHARE`.
    pub missing_digits: usize,
}

/// One row of `metrics.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsRow {
    /// Generator steps done when the row was written.
    pub step: u64,
    /// The epoch the step belongs to (1-based).
    pub epoch: usize,
    /// The statistics, averaged over the steps since the previous row.
    pub stats: StepStats,
    /// The judge's figures, on rows written at an epoch end.
    pub quality: Option<EpochQuality>,
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
        match self.quality {
            Some(q) => write!(
                line,
                ",{},{},{}",
                q.classifier_score, q.frechet_distance, q.missing_digits
            )
            .expect("writing to a String cannot fail"),
            None => line.push_str(",,,"),
        }
        line
    }

    /// Parses a CSV line written by [`to_csv`](Self::to_csv) (or one of
    /// the six columns of runs made before the quality columns existed).
    pub fn from_csv(line: &str) -> Option<MetricsRow> {
        let fields: Vec<&str> = line.trim().split(',').collect();
        if fields.len() != 6 && fields.len() != 9 {
            return None;
        }
        let f = |i: usize| fields[i].parse::<f64>().ok();
        let quality = match fields.get(6..9) {
            None | Some(["", "", ""]) => None,
            Some(_) => Some(EpochQuality {
                classifier_score: f(6)?,
                frechet_distance: f(7)?,
                missing_digits: fields[8].parse().ok()?,
            }),
        };
        Some(MetricsRow {
            step: fields[0].parse().ok()?,
            epoch: fields[1].parse().ok()?,
            stats: StepStats {
                loss_d: f(2)?,
                loss_g: f(3)?,
                d_real: f(4)?,
                d_fake: f(5)?,
            },
            quality,
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

/// `metrics.csv` read by column name, tolerating columns this version does
/// not know (such as quality metrics added by other tools) and empty cells
/// (a column filled only on some rows). For plotting and reports; training
/// itself reads rows with [`read_metrics`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsTable {
    /// The column names of the header line.
    pub columns: Vec<String>,
    /// One entry per data line, one cell per column: `None` where the cell
    /// is empty or not a number.
    pub rows: Vec<Vec<Option<f64>>>,
}

impl MetricsTable {
    /// Parses the text of a `metrics.csv`. Lines with a different number of
    /// cells than the header (a half-written last line) are skipped.
    ///
    /// ```
    /// use runs::metrics::MetricsTable;
    /// let table = MetricsTable::parse("step,loss_d,frechet_distance\n50,0.7,\n100,0.6,12.5\n");
    /// assert_eq!(table.points("frechet_distance"), vec![(100.0, 12.5)]);
    /// assert!(table.has_values("loss_d") && !table.has_values("missing"));
    /// ```
    pub fn parse(text: &str) -> MetricsTable {
        let mut lines = text.lines();
        let columns: Vec<String> = lines
            .next()
            .map(|h| h.trim().split(',').map(|c| c.trim().to_string()).collect())
            .unwrap_or_default();
        let rows = lines
            .map(|line| line.trim().split(',').collect::<Vec<_>>())
            .filter(|cells| cells.len() == columns.len())
            .map(|cells| cells.iter().map(|c| c.trim().parse::<f64>().ok()).collect())
            .collect();
        MetricsTable { columns, rows }
    }

    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> std::io::Result<MetricsTable> {
        Ok(Self::parse(&std::fs::read_to_string(path)?))
    }

    /// `(step, value)` for every row where `column` holds a finite number
    /// (empty if there is no such column or no `step` column).
    pub fn points(&self, column: &str) -> Vec<(f64, f64)> {
        let find = |name: &str| self.columns.iter().position(|c| c == name);
        let (Some(step), Some(value)) = (find("step"), find(column)) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter_map(|row| Some((row[step]?, row[value]?)))
            .filter(|(s, v)| s.is_finite() && v.is_finite())
            .collect()
    }

    /// Whether `column` exists and holds at least one finite number.
    pub fn has_values(&self, column: &str) -> bool {
        !self.points(column).is_empty()
    }
}
