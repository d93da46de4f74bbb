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

use crate::error::{Error, write_atomically};
use crate::metrics::MetricsRow;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::ops::Range;
use std::path::Path;

/// The size of the picture in pixels (width, height).
pub const SIZE: (u32, u32) = (900, 800);

/// One line of a panel: its legend label and its points `(step, value)`.
/// Points that are not finite are left out when drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The legend label, e.g. `"loss_d"`.
    pub label: String,
    /// `(step, value)` pairs, in step order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series from a label and points.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
        }
    }
}

/// One panel of a picture: a caption, the y axis' name and its lines, drawn
/// against the step axis that all panels of a picture share.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The caption above the panel.
    pub caption: String,
    /// The name of the y axis.
    pub y_label: String,
    /// The lines, coloured in order red, blue, green, magenta, cyan, black.
    pub series: Vec<Series>,
}

/// The colours of a panel's lines, in order.
const COLOURS: [RGBColor; 6] = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];

/// The points of one column of `rows`, without the non-finite ones.
fn column(rows: &[MetricsRow], value: fn(&MetricsRow) -> f64) -> Vec<(f64, f64)> {
    rows.iter()
        .map(|row| (row.step as f64, value(row)))
        .filter(|&(_, y)| y.is_finite())
        .collect()
}

/// Plots `rows` (see the module docs) under `title` and writes the SVG to
/// `path`.
///
/// Fails if `rows` is empty, or if the file cannot be written.
///
/// ```no_run
/// use runs::metrics::read_metrics;
/// use runs::plot::plot_metrics;
/// use std::path::Path;
/// let rows = read_metrics(Path::new("runs/mlp/metrics.csv"))?;
/// plot_metrics(&rows, "mlp on MNIST", Path::new("runs/mlp/losses.svg"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plot_metrics(rows: &[MetricsRow], title: &str, path: &Path) -> crate::Result<()> {
    if rows.is_empty() {
        return Err(Error::NoRows {
            path: path.to_path_buf(),
        });
    }
    let svg = render(rows, title).map_err(|detail| Error::Draw {
        path: path.to_path_buf(),
        detail,
    })?;
    write_atomically(path, svg.as_bytes())
}

/// The SVG text of the plot, or plotters' error message.
fn render(rows: &[MetricsRow], title: &str) -> Result<String, String> {
    let panels = [
        Panel {
            caption: "Losses".into(),
            y_label: "loss".into(),
            series: vec![
                Series::new("loss_d", column(rows, |r| r.stats.loss_d)),
                Series::new("loss_g", column(rows, |r| r.stats.loss_g)),
            ],
        },
        Panel {
            caption: "Discriminator scores (batch means)".into(),
            y_label: "mean score".into(),
            series: vec![
                Series::new("D(x)", column(rows, |r| r.stats.d_real)),
                Series::new("D(G(z))", column(rows, |r| r.stats.d_fake)),
            ],
        },
    ];
    render_panels(title, &panels, SIZE)
}

/// Draws `panels` one above the other under `title`, sharing the step axis,
/// and returns the SVG text (or plotters' error message). The SVG can be
/// written to a file or put inline into an HTML page.
///
/// ```
/// use runs::plot::{Panel, Series, render_panels};
/// let panel = Panel {
///     caption: "Fréchet distance".into(),
///     y_label: "distance".into(),
///     series: vec![Series::new("frechet_distance", vec![(100.0, 40.0), (200.0, 25.0)])],
/// };
/// let svg = render_panels("quality", &[panel], (600, 300))?;
/// assert!(svg.starts_with("<svg") && svg.contains("frechet_distance"));
/// # Ok::<(), String>(())
/// ```
pub fn render_panels(title: &str, panels: &[Panel], size: (u32, u32)) -> Result<String, String> {
    if panels.is_empty() {
        return Err("no panels to draw".into());
    }
    let steps = padded_range(
        panels
            .iter()
            .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|&(x, _)| x))),
    );
    let mut svg = String::new();
    {
        // The backend borrows `svg` until it is dropped at the end of this
        // block; `present` flushes the drawing into the string.
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(title, ("sans-serif", 26))
            .map_err(|e| e.to_string())?;
        for (area, panel) in root.split_evenly((panels.len(), 1)).iter().zip(panels) {
            draw_panel(area, panel, steps.clone())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One panel: axes with labels, the curves, and a legend naming them.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    panel: &Panel,
    steps: Range<f64>,
) -> Result<(), String> {
    let values = padded_range(panel.series.iter().flat_map(|s| finite(s).map(|(_, y)| y)));
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(steps, values)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("step")
        .x_label_formatter(&step_label)
        .y_desc(&panel.y_label)
        .axis_desc_style(("sans-serif", 17))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    for (series, &color) in panel.series.iter().zip(COLOURS.iter().cycle()) {
        let points: Vec<(f64, f64)> = finite(series).collect();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(series.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        // A line through one point draws nothing; mark it so that a run that
        // has logged once already shows its numbers (and a quality metric
        // measured once, at the first epoch's end, is visible).
        if let [point] = points[..] {
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

/// The points of `series` whose coordinates are both finite.
fn finite(series: &Series) -> impl Iterator<Item = (f64, f64)> + '_ {
    series
        .points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
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
