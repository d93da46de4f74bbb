//! The loss curves of a run as one SVG picture, drawn with `plotters`.
//!
//! Two panels share the step axis:
//! * top: the players' losses, `loss_d` and `loss_g`;
//! * bottom: the discriminator's mean scores, `D(x)` on real images and
//!   `D(G(z))` on generated ones. With the BCE loss these are probabilities;
//!   at the game's equilibrium both approach ½, and a `D(x)` near 1 with a
//!   `D(G(z))` near 0 means the discriminator is winning.
//!
//! SVG needs no font files: the text goes into `<text>` elements and the
//! viewer's fonts draw it (plotters only estimates text widths for layout).
//! Values that are not finite (a diverged run) are left out of the lines and
//! of the axis ranges, so such a run still gets a readable plot.
//!
//! The file is written atomically, like the sample grids. Tests:
//! `crates/gan/tests/grid_plot.rs`.

use crate::grid::fmt_write_failure;
use crate::metrics::MetricsRow;
use nn::checkpoint::{CheckpointError, write_atomically};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The size of the picture in pixels (width, height).
pub const SIZE: (u32, u32) = (900, 800);

/// What went wrong while plotting.
#[derive(Debug)]
pub enum PlotError {
    /// There are no metrics rows to plot (the run has not logged yet).
    NoRows {
        /// The file that was to be written.
        path: PathBuf,
    },
    /// `plotters` failed to lay out or draw the picture.
    Draw {
        /// The file that was to be written.
        path: PathBuf,
        /// What plotters said.
        detail: String,
    },
    /// Writing the SVG file failed.
    Write {
        /// The file.
        path: PathBuf,
        /// The error of the atomic write.
        source: CheckpointError,
    },
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::NoRows { path } => write!(
                f,
                "{}: no metrics rows to plot (metrics.csv is empty or has only its header)",
                path.display()
            ),
            PlotError::Draw { path, detail } => {
                write!(f, "{}: drawing the plot failed: {detail}", path.display())
            }
            PlotError::Write { path, source } => fmt_write_failure(f, path, source),
        }
    }
}

impl std::error::Error for PlotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlotError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One line of a panel: its legend label, its points and its colour.
struct Curve {
    label: &'static str,
    points: Vec<(f64, f64)>,
    color: RGBColor,
}

impl Curve {
    /// The finite points `(step, value(row))`.
    fn new(label: &'static str, color: RGBColor, rows: &[MetricsRow], value: fn(&MetricsRow) -> f64) -> Self {
        let points = rows
            .iter()
            .map(|row| (row.step as f64, value(row)))
            .filter(|&(_, y)| y.is_finite())
            .collect();
        Curve { label, points, color }
    }
}

/// Plots `rows` (see the module docs) under `title` and writes the SVG to
/// `path`.
///
/// Fails if `rows` is empty, or if the file cannot be written.
///
/// ```no_run
/// use gan::metrics::read_metrics;
/// use gan::plot::plot_metrics;
/// use std::path::Path;
/// let rows = read_metrics(Path::new("runs/mlp/metrics.csv"))?;
/// plot_metrics(&rows, "mlp on MNIST", Path::new("runs/mlp/losses.svg"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plot_metrics(rows: &[MetricsRow], title: &str, path: &Path) -> Result<(), PlotError> {
    if rows.is_empty() {
        return Err(PlotError::NoRows {
            path: path.to_path_buf(),
        });
    }
    let svg = render(rows, title).map_err(|detail| PlotError::Draw {
        path: path.to_path_buf(),
        detail,
    })?;
    write_atomically(path, svg.as_bytes()).map_err(|source| PlotError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The SVG text of the plot, or plotters' error message.
fn render(rows: &[MetricsRow], title: &str) -> Result<String, String> {
    let losses = [
        Curve::new("loss_d", RED, rows, |r| r.stats.loss_d),
        Curve::new("loss_g", BLUE, rows, |r| r.stats.loss_g),
    ];
    let scores = [
        Curve::new("D(x)", RED, rows, |r| r.stats.d_real),
        Curve::new("D(G(z))", BLUE, rows, |r| r.stats.d_fake),
    ];
    let steps = padded_range(rows.iter().map(|r| r.step as f64));
    let mut svg = String::new();
    {
        // The backend borrows `svg` until it is dropped at the end of this
        // block; `present` flushes the drawing into the string.
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(title, ("sans-serif", 26))
            .map_err(|e| e.to_string())?;
        let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 / 2);
        draw_panel(&top, "Losses", "loss", steps.clone(), &losses)?;
        draw_panel(
            &bottom,
            "Discriminator scores (batch means)",
            "mean score",
            steps,
            &scores,
        )?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One panel: axes with labels, the curves, and a legend naming them.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    caption: &str,
    y_label: &str,
    steps: Range<f64>,
    curves: &[Curve],
) -> Result<(), String> {
    let values = padded_range(curves.iter().flat_map(|c| c.points.iter().map(|&(_, y)| y)));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(steps, values)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("step")
        .x_label_formatter(&step_label)
        .y_desc(y_label)
        .axis_desc_style(("sans-serif", 17))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    for curve in curves {
        let color = curve.color;
        chart
            .draw_series(LineSeries::new(
                curve.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(curve.label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        // A line through one point draws nothing; mark it so that a run that
        // has logged once already shows its numbers.
        if let [point] = curve.points[..] {
            chart
                .draw_series([Circle::new(point, 4, color.filled())])
                .map_err(|e| e.to_string())?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// A tick label of the step axis: whole steps without plotters' default
/// trailing ".0" ("100", not "100.0"), fractions as they are.
fn step_label(step: &f64) -> String {
    if step.fract() == 0.0 {
        format!("{step:.0}")
    } else {
        step.to_string()
    }
}

/// The range spanned by the finite `values`, widened by 5 % on each side so
/// that no line runs along the frame. A single value gets ±1 around it, and
/// no finite value at all gets `0..1`, since plotters needs a non-empty range.
fn padded_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (low, high) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if low > high {
        return 0.0..1.0;
    }
    if low == high {
        return low - 1.0..high + 1.0;
    }
    let margin = 0.05 * (high - low);
    low - margin..high + margin
}
