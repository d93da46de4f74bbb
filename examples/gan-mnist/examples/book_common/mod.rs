//! Shared by the book's examples (`examples/book_*.rs`): where the figures
//! go, where MNIST is, and one line chart drawn with `plotters`, in the
//! manner of `crates/runs/src/plot.rs` (SVG, no font files, atomic write).

#![allow(dead_code)] // each example uses only part of this module

use datasets::{Dataset, ImageSet, Split};
use nn::checkpoint::write_atomically;
use plotters::prelude::*;
use std::error::Error;
use std::path::{Path, PathBuf};

/// Where a chart's legend goes (see [`Axes::legend`]).
pub use plotters::chart::SeriesLabelPosition;

/// The folder the book's images live in, created if needed.
pub fn images_dir() -> Result<PathBuf, Box<dyn Error>> {
    // The examples run from the workspace root (`cargo run -p gan-mnist
    // --example …`); CARGO_MANIFEST_DIR makes them work from anywhere.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/images");
    std::fs::create_dir_all(&dir)?;
    Ok(dir.canonicalize()?)
}

/// The MNIST training set, from `--data-dir DIR` on the command line, else
/// `$MNIST_DIR`, else `./data/mnist` (downloaded there if missing, as the
/// `gan-mnist` command does).
pub fn mnist_train() -> Result<ImageSet, Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .iter()
        .position(|a| a == "--data-dir")
        .map(|i| {
            args.get(i + 1)
                .map(PathBuf::from)
                .ok_or("--data-dir needs a folder after it")
        })
        .transpose()?;
    let dataset = Dataset::Mnist;
    Ok(datasets::load(
        dataset,
        Split::Train,
        dir.as_deref(),
        &dataset.downloader(),
    )?)
}

/// One curve of a [`line_chart`].
pub struct Series {
    /// The legend label.
    pub label: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// The colour.
    pub color: RGBColor,
}

impl Series {
    /// A curve from its label, colour and points.
    pub fn new(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            color,
        }
    }
}

/// The axes of a [`line_chart`].
pub struct Axes<'a> {
    /// The title above the chart.
    pub title: &'a str,
    /// The x-axis label.
    pub x_desc: &'a str,
    /// The y-axis label.
    pub y_desc: &'a str,
    /// The x range.
    pub x: std::ops::Range<f64>,
    /// The y range.
    pub y: std::ops::Range<f64>,
    /// A logarithmic x axis.
    pub log_x: bool,
    /// How the x axis's numbers are written, if not as plain numbers.
    pub x_format: Option<fn(&f64) -> String>,
    /// Where the legend goes.
    pub legend: SeriesLabelPosition,
}

/// Draws `series` on `axes` and writes the SVG to `path` (700×450 pixels).
pub fn line_chart(path: &Path, axes: &Axes<'_>, series: &[Series]) -> Result<(), Box<dyn Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (700, 450)).into_drawing_area();
        root.fill(&WHITE)?;
        if axes.log_x {
            let chart = ChartBuilder::on(&root)
                .caption(axes.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(axes.x.clone().log_scale(), axes.y.clone())?;
            finish(chart, axes, series)?;
        } else {
            let chart = ChartBuilder::on(&root)
                .caption(axes.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(axes.x.clone(), axes.y.clone())?;
            finish(chart, axes, series)?;
        }
        root.present()?;
    }
    write_atomically(path, svg.as_bytes())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The mesh, the curves and the legend of a chart of either x-axis kind.
fn finish<'a, X>(
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    axes: &Axes<'_>,
    series: &[Series],
) -> Result<(), String>
where
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 13));
    if let Some(format) = &axes.x_format {
        mesh.x_label_formatter(format);
    }
    mesh.draw().map_err(|e| e.to_string())?;
    for s in series {
        let color = s.color;
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(axes.legend.clone())
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

// ── Timing (book_gemm, book_double_backward) ──

/// A trial lasts at least this long (CPU time).
pub const MIN_TRIAL_SECONDS: f64 = 0.02;
/// At most this many trials per measurement…
pub const TRIALS: usize = 9;
/// …and no more once a measurement has used this much time, after its
/// second trial (this keeps the slow loops to a couple of seconds each).
pub const BUDGET_SECONDS: f64 = 0.6;

/// The time this thread has spent on a CPU, in seconds.
#[cfg(target_os = "linux")]
pub fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(
        status, 0,
        "CLOCK_THREAD_CPUTIME_ID exists on every Linux since 2.6"
    );
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Elsewhere the wall clock since the first call stands in.
#[cfg(not(target_os = "linux"))]
pub fn cpu_seconds() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64()
}

/// The best time of one call of `f`, in seconds: trials of at least
/// [`MIN_TRIAL_SECONDS`] of this thread's CPU time, each repeating `f`
/// enough times, and the best trial counts. On a shared machine other
/// processes only ever slow a trial down, and while the scheduler runs
/// another process this thread's clock stands still, so the best trial is
/// the nearest to what the code can do.
pub fn best_seconds(mut f: impl FnMut()) -> f64 {
    // The first call warms the caches and the gemm's packing buffers, and
    // says how many calls fill a trial.
    let start = cpu_seconds();
    f();
    let once = (cpu_seconds() - start).max(1e-9);
    let reps = (MIN_TRIAL_SECONDS / once).ceil().max(1.0) as usize;
    let (mut best, begun) = (f64::INFINITY, cpu_seconds());
    for trial in 0..TRIALS {
        let start = cpu_seconds();
        for _ in 0..reps {
            f();
        }
        best = best.min((cpu_seconds() - start) / reps as f64);
        if trial >= 1 && cpu_seconds() - begun > BUDGET_SECONDS {
            break;
        }
    }
    best
}
