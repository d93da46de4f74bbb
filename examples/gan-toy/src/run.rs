//! A toy run on disk: trains, and at every frame step draws a frame, logs a
//! row of numbers and counts the modes; at the end writes the animation,
//! the HTML page, a strip of five frames, D beside the ideal D*, and
//! `summary.json`.
//!
//! ```text
//! <out>/frames/step_000000.png …   one frame every --frame-every steps, and the last
//! <out>/animation.gif              the frames, looping
//! <out>/index.html                 the frames behind a slider
//! <out>/strip.png                  five frames spread over the run (fewer if there are fewer)
//! <out>/d_vs_optimal.png           the trained D's heat map | D* = p_data/(p_data + p_g)
//! <out>/metrics.csv                one row per frame
//! <out>/summary.json               settings and the final coverage numbers
//! ```
//!
//! With `--ema` (the `grid25` recipe), the green points of every frame and
//! the coverage numbers come from the averaged generator (`gan::ema`): the
//! one a user of the run would sample from. The live generator's coverage
//! is logged beside them (`live_modes` in `metrics.csv` and
//! `summary.json`), so the two can be compared; the heat map is the one
//! discriminator, and `|grad G|` is measured at the live generator's points,
//! the ones its loss moves.
//!
//! Every file depends only on the settings and the thread count, never on
//! the clock: two runs with the same seed write the same bytes.

use crate::animate::{GifBuilder, PageFrame, html_page};
use crate::coverage::{self, ModeCoverage, NearestDistances, mode_coverage, nearest_distances};
use crate::datasets::Point;
use crate::frames::{Frame, FrameContent, grid_points, render, strip, write_png};
use crate::optimal::optimal_scores;
use crate::train::{EVAL_REAL_STREAM, ToyConfig, ToyTrainer};
use gan::streams::{self, stream_rng};
use gan::train::StepStats;
use nn::checkpoint::write_atomically;
use serde_json::json;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// Generated and real points the coverage numbers are computed on.
pub const EVAL_POINTS: usize = 2000;
/// Of those, the points drawn in each frame.
pub const FRAME_POINTS: usize = 500;
/// Frames in `strip.png`.
pub const STRIP_FRAMES: usize = 5;

/// How a run is written.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// The folder of the run's files.
    pub out: PathBuf,
    /// A frame every this many steps (and one at the end).
    pub frame_every: u64,
    /// Side of a frame in pixels (even: the heat map has one cell per 2 × 2).
    pub frame_size: usize,
    /// Print a line per frame.
    pub verbose: bool,
}

/// The numbers at one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameReport {
    /// Generator steps done.
    pub step: u64,
    /// The last step's losses and scores (`None` before the first step).
    pub stats: Option<StepStats>,
    /// Mean length of the generator loss's gradient at each fake point.
    pub generator_push: f64,
    /// Mode coverage (mixtures only) of the points drawn: the averaged
    /// generator's with `--ema`, else the live one's.
    pub modes: Option<ModeCoverage>,
    /// With `--ema`, the live generator's mode coverage too (mixtures only).
    pub live_modes: Option<ModeCoverage>,
    /// Nearest-neighbour distances.
    pub nearest: NearestDistances,
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// One report per frame, the last at the end of training.
    pub frames: Vec<FrameReport>,
    /// The frame files, in order.
    pub frame_paths: Vec<PathBuf>,
}

impl RunSummary {
    /// The numbers at the end of training.
    pub fn last(&self) -> &FrameReport {
        self.frames.last().expect("a run draws at least its last frame")
    }
}

/// The steps that get a frame: 0, `every`, `2·every`, …, and `steps`.
pub fn frame_steps(steps: u64, every: u64) -> Vec<u64> {
    let mut list: Vec<u64> = (0..=steps).step_by(every.max(1) as usize).collect();
    if list.last() != Some(&steps) {
        list.push(steps);
    }
    list
}

/// Trains `config` and writes its files into `options.out`.
pub fn run(config: ToyConfig, options: &RunOptions) -> Result<RunSummary, String> {
    if options.frame_every == 0 {
        return Err("--frame-every must be at least 1".into());
    }
    if options.frame_size < 16 || options.frame_size % 2 != 0 {
        return Err(format!(
            "--frame-size must be an even number of at least 16 pixels, got {}",
            options.frame_size
        ));
    }
    if EVAL_POINTS % config.pack != 0 {
        return Err(format!(
            "--pack {} does not divide the {EVAL_POINTS} points the numbers are measured on",
            config.pack
        ));
    }
    let mut trainer = ToyTrainer::new(config.clone()).map_err(|e| e.to_string())?;
    let frames_dir = options.out.join("frames");
    prepare_frames_dir(&frames_dir)?;

    // Fixed points for every frame, so that a generated point moves from
    // frame to frame as G changes, rather than being redrawn.
    let eval_z = config
        .noise
        .sample(
            EVAL_POINTS,
            config.noise_dim,
            config.noise_scale,
            &mut stream_rng(config.seed, streams::SAMPLES),
        )
        .map_err(|e| e.to_string())?;
    let real = config
        .dataset
        .sample(EVAL_POINTS, &mut stream_rng(config.seed, EVAL_REAL_STREAM));
    let cells = options.frame_size / 2;
    let grid = grid_points(cells);

    let steps = frame_steps(config.steps, options.frame_every);
    // Up to STRIP_FRAMES frames, spread evenly from the first to the last.
    let strip_count = STRIP_FRAMES.min(steps.len());
    let strip_at: Vec<usize> = (0..strip_count)
        .map(|k| k * (steps.len() - 1) / (strip_count - 1).max(1))
        .collect();
    let mut gif = GifBuilder::new(options.frame_size, options.frame_size)?;
    let mut strip_frames = Vec::new();
    let mut summary = RunSummary {
        frames: Vec::new(),
        frame_paths: Vec::new(),
    };
    let mut page = Vec::new();
    let mut stats = None;
    let mut last_frame = None;
    for (index, &frame_step) in steps.iter().enumerate() {
        while trainer.steps_done() < frame_step {
            stats = Some(trainer.step().map_err(|e| e.to_string())?);
        }
        let fake = trainer.generate(&eval_z).map_err(|e| e.to_string())?;
        let scores = trainer.scores(&grid, &real).map_err(|e| e.to_string())?;
        let frame = render(
            options.frame_size,
            &FrameContent {
                scores: &scores,
                cells,
                real: &real[..FRAME_POINTS],
                fake: &fake[..FRAME_POINTS],
                progress: Some(frame_step as f64 / config.steps.max(1) as f64),
            },
        )?;
        let name = format!("step_{frame_step:06}.png");
        let path = frames_dir.join(&name);
        write_png(&frame, &path)?;
        let report = FrameReport {
            step: frame_step,
            stats,
            generator_push: trainer.generator_push(&eval_z).map_err(|e| e.to_string())?,
            modes: config.dataset.modes().map(|m| mode_coverage(&fake, &m)),
            live_modes: match (config.ema, config.dataset.modes()) {
                (Some(_), Some(m)) => {
                    let live = trainer.generate_live(&eval_z).map_err(|e| e.to_string())?;
                    Some(mode_coverage(&live, &m))
                }
                _ => None,
            },
            nearest: nearest_distances(&fake, &real),
        };
        if options.verbose {
            println!(
                "{}",
                report_line(&report, config.steps, config.dataset.modes().map(|m| m.len()))
            );
        }
        page.push(PageFrame {
            src: format!("frames/{name}"),
            caption: caption(&report, config.dataset.modes().map(|m| m.len())),
        });
        if strip_at.contains(&index) {
            strip_frames.push(frame.clone());
        }
        gif.push(frame.clone())?;
        last_frame = Some((frame, fake));
        summary.frames.push(report);
        summary.frame_paths.push(path);
    }

    let out = &options.out;
    gif.finish(&out.join("animation.gif"))?;
    write_png(&strip(&strip_frames)?, &out.join("strip.png"))?;
    let (frame, fake) = last_frame.expect("frame_steps is never empty");
    write_png(
        &d_vs_optimal(frame, &grid, cells, &real, &fake, options.frame_size)?,
        &out.join("d_vs_optimal.png"),
    )?;
    let title = format!("gan-toy: {}", config.dataset);
    let description = format!("settings: {}", config.to_json());
    write_file(
        &out.join("index.html"),
        html_page(&title, &description, &page).as_bytes(),
    )?;
    write_file(&out.join("metrics.csv"), metrics_csv(&summary).as_bytes())?;
    let total_modes = config.dataset.modes().map_or(0, |m| m.len());
    let last = summary.last();
    let json = json!({
        "config": config.to_json(),
        "frame_every": options.frame_every,
        "final": coverage::to_json(last.modes.as_ref(), total_modes, &last.nearest),
        "live_modes": last.live_modes.as_ref().map(|m| json!({
            "covered": m.covered,
            "high_quality": m.high_quality,
            "counts": m.counts,
        })),
        "generator_push": last.generator_push,
    });
    let text = serde_json::to_string_pretty(&json).expect("JSON of numbers and strings always serialises");
    write_file(&out.join("summary.json"), format!("{text}\n").as_bytes())?;
    Ok(summary)
}

/// Creates `dir` and removes the frames an earlier run left in it (only
/// files named `step_*.png`), so that the folder holds this run's alone.
fn prepare_frames_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create the folder: {e}", dir.display()))?;
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: cannot list the folder: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("step_") && name.ends_with(".png") {
            fs::remove_file(entry.path())
                .map_err(|e| format!("{}: cannot remove the old frame: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The last frame beside the same picture with the heat map of `D*`.
fn d_vs_optimal(
    frame: Frame,
    grid: &[Point],
    cells: usize,
    real: &[Point],
    fake: &[Point],
    size: usize,
) -> Result<Frame, String> {
    let ideal = optimal_scores(grid, real, fake);
    let ideal_frame = render(
        size,
        &FrameContent {
            scores: &ideal,
            cells,
            real: &real[..FRAME_POINTS],
            fake: &fake[..FRAME_POINTS],
            progress: None,
        },
    )?;
    strip(&[frame, ideal_frame])
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomically(path, bytes).map_err(|e| format!("{}: writing failed: {e}", path.display()))
}

/// `step 100/2000  loss_d 1.234 …` for the terminal.
fn report_line(r: &FrameReport, steps: u64, total_modes: Option<usize>) -> String {
    let mut line = format!("step {:>6}/{steps}", r.step);
    if let Some(s) = r.stats {
        let _ = write!(
            line,
            "  loss_d {:.3}  loss_g {:.3}  D(x) {:.3}  D(G(z)) {:.3}",
            s.loss_d, s.loss_g, s.d_real, s.d_fake
        );
    }
    let _ = write!(line, "  |grad G| {:.4}", r.generator_push);
    if let (Some(m), Some(total)) = (&r.modes, total_modes) {
        let _ = write!(
            line,
            "  modes {}/{total}  high-quality {:.1}%",
            m.covered,
            100.0 * m.high_quality
        );
    }
    if let (Some(m), Some(total)) = (&r.live_modes, total_modes) {
        let _ = write!(line, " (live {}/{total})", m.covered);
    }
    let _ = write!(
        line,
        "  nn fake→real {:.3} real→fake {:.3}",
        r.nearest.fake_to_real, r.nearest.real_to_fake
    );
    line
}

/// The caption of a frame on the HTML page.
fn caption(r: &FrameReport, total_modes: Option<usize>) -> String {
    match (&r.modes, total_modes) {
        (Some(m), Some(total)) => format!(
            "step {}: {}/{total} modes, {:.1}% high quality",
            r.step,
            m.covered,
            100.0 * m.high_quality
        ),
        _ => format!("step {}", r.step),
    }
}

/// One row per frame.
fn metrics_csv(summary: &RunSummary) -> String {
    let mut csv = String::from(
        "step,loss_d,loss_g,d_real,d_fake,generator_push,modes_covered,high_quality,fake_to_real,real_to_fake,live_modes\n",
    );
    for r in &summary.frames {
        let blank = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        let s = r.stats;
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{}",
            r.step,
            blank(s.map(|s| s.loss_d)),
            blank(s.map(|s| s.loss_g)),
            blank(s.map(|s| s.d_real)),
            blank(s.map(|s| s.d_fake)),
            r.generator_push,
            r.modes.as_ref().map_or(String::new(), |m| m.covered.to_string()),
            blank(r.modes.as_ref().map(|m| m.high_quality)),
            r.nearest.fake_to_real,
            r.nearest.real_to_fake,
            r.live_modes
                .as_ref()
                .map_or(String::new(), |m| m.covered.to_string()),
        );
    }
    csv
}
