//! `gan-mnist interpolate`: walks between pairs of latent points
//! (`runs::interpolate`), written as a grid PNG (one walk per row) and an
//! animated GIF (every walk at once, there and back).

use crate::cli::InterpolateArgs;
use runs::grid::GrayImage;
use runs::interpolate::{WalkRequest, latent_walk};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Hundredths of a second each point of the walk is shown.
pub const FRAME_DELAY: u16 = 10;
/// Hundredths of a second the two end points are held.
pub const END_DELAY: u16 = 60;

/// Draws the walks and writes the PNG, the GIF and (conditional models) the
/// legend.
pub fn interpolate(args: InterpolateArgs) -> Result<ExitCode, String> {
    if !args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return Err(format!(
            "--out {}: the grid is a PNG, so the name must end in .png (the GIF goes beside it)",
            args.out.display()
        ));
    }
    let request = WalkRequest {
        pairs: args.pairs as usize,
        steps: args.steps as usize,
        path: args.path,
        seed: args.seed,
        which: args.which,
        class: args.digit.map(|d| d as usize),
    };
    let walk = latent_walk(&args.checkpoint, request).map_err(|e| e.to_string())?;
    runs::grid::write_png(&walk.grid, &args.out).map_err(|e| e.to_string())?;
    let gif_path = args.out.with_extension("gif");
    write_gif(&walk.frames, &gif_path)?;
    println!(
        "gan-mnist: {} {} walks of {} points (seed {}) from the {} generator of {} → {} and {}",
        request.pairs,
        request.path.name(),
        request.steps,
        request.seed,
        walk.generator,
        walk.checkpoint.display(),
        args.out.display(),
        gif_path.display()
    );
    if let Some(classes) = &walk.row_classes {
        let legend: String = classes
            .iter()
            .enumerate()
            .map(|(row, class)| format!("row {row}: class {class} (fixed along the row)\n"))
            .collect();
        let legend_path: PathBuf = args.out.with_extension("txt");
        std::fs::write(&legend_path, &legend).map_err(|e| format!("{}: {e}", legend_path.display()))?;
        println!("label fixed along each row; legend: {}", legend_path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The frames as a looping greyscale GIF at `path` (written atomically):
/// forwards, then backwards, so that the loop has no jump; the end points
/// are held a little longer.
///
/// The `gif` crate (the same version gan-toy uses) encodes it; each
/// frame's grey levels index a 256-entry grey palette, so nothing is
/// quantised: the GIF shows the PNG's exact pixels.
pub fn write_gif(frames: &[GrayImage], path: &Path) -> Result<(), String> {
    let first = frames.first().ok_or("gif: no frames to write")?;
    let side = |pixels: usize| u16::try_from(pixels).map_err(|_| format!("gif: {pixels} pixels is too wide"));
    let (width, height) = (side(first.width)?, side(first.height)?);
    let palette: Vec<u8> = (0..=255u8).flat_map(|g| [g, g, g]).collect();
    let mut encoder =
        gif::Encoder::new(Vec::new(), width, height, &palette).map_err(|e| format!("gif: {e}"))?;
    encoder
        .set_repeat(gif::Repeat::Infinite)
        .map_err(|e| format!("gif: {e}"))?;
    let last = frames.len() - 1;
    // 0, 1, …, last, last − 1, …, 1: the loop then starts again at 0.
    let order = (0..=last).chain((1..last).rev());
    for k in order {
        let frame = &frames[k];
        if (frame.width, frame.height) != (first.width, first.height) {
            return Err(format!(
                "gif: frame {k} is {}×{}, the first {}×{}",
                frame.width, frame.height, first.width, first.height
            ));
        }
        let gif_frame = gif::Frame {
            width,
            height,
            delay: if k == 0 || k == last {
                END_DELAY
            } else {
                FRAME_DELAY
            },
            buffer: Cow::Borrowed(&frame.pixels),
            ..gif::Frame::default()
        };
        encoder.write_frame(&gif_frame).map_err(|e| format!("gif: {e}"))?;
    }
    let bytes = encoder.into_inner().map_err(|e| format!("gif: {e}"))?;
    nn::checkpoint::write_atomically(path, &bytes)
        .map_err(|e| format!("{}: writing the GIF failed: {e}", path.display()))
}
