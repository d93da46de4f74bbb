//! Frames: the discriminator's score over the plane as a heat map, with the
//! real points (dark grey) and the generated points (green) on top.
//!
//! A frame is an indexed-colour picture: every pixel is an index into
//! [`palette`]. The heat map is banded into [`BANDS`] levels of a
//! blue–white–red scale: blue where D says "fake" (score near 0), red where
//! it says "real" (near 1), and white in the middle band, centred on ½,
//! where D cannot tell. Bands make the level sets readable, keep PNG and GIF
//! files small, and let the GIF use the same exact palette.
//!
//! Pixel `(0, 0)` is the top-left corner, the point `(−VIEW, VIEW)`; `y`
//! grows upwards in the plane and downwards in the picture.

use crate::datasets::{Point, VIEW};
use nn::checkpoint::write_atomically;
use std::path::Path;

/// Levels of the heat map (odd, so that one band is centred on ½).
pub const BANDS: usize = 15;
/// Palette index of real points.
pub const REAL: u8 = BANDS as u8;
/// Palette index of generated points.
pub const FAKE: u8 = BANDS as u8 + 1;
/// Palette index of the progress bar along the bottom edge.
pub const BAR: u8 = BANDS as u8 + 2;
/// Palette index of the gap between panels of a strip.
pub const GAP: u8 = BANDS as u8 + 3;

/// Side of a drawn point, in pixels.
const DOT: usize = 3;
/// Height of the progress bar, in pixels.
const BAR_HEIGHT: usize = 3;

/// The colours, as RGB triples: the `BANDS` heat levels from score 0 to 1,
/// then real points, generated points, the progress bar and the gap.
pub fn palette() -> Vec<[u8; 3]> {
    // A diverging scale (ColorBrewer's RdBu, reversed), interpolated linearly.
    const STOPS: [[f32; 3]; 5] = [
        [33.0, 102.0, 172.0],
        [103.0, 169.0, 207.0],
        [247.0, 247.0, 247.0],
        [239.0, 138.0, 98.0],
        [178.0, 24.0, 43.0],
    ];
    let mut colours: Vec<[u8; 3]> = (0..BANDS)
        .map(|band| {
            let t = (band as f32 + 0.5) / BANDS as f32 * (STOPS.len() - 1) as f32;
            let i = (t.floor() as usize).min(STOPS.len() - 2);
            let f = t - i as f32;
            let mix = |c: usize| (STOPS[i][c] * (1.0 - f) + STOPS[i + 1][c] * f).round() as u8;
            [mix(0), mix(1), mix(2)]
        })
        .collect();
    colours.extend([[60, 60, 60], [0, 160, 60], [0, 0, 0], [255, 255, 255]]);
    colours
}

/// The band of a score in [0, 1] (NaN, from a diverged D, falls in band 0).
pub fn band(score: f32) -> u8 {
    let b = (score * BANDS as f32).floor();
    if b.is_nan() {
        0
    } else {
        b.clamp(0.0, (BANDS - 1) as f32) as u8
    }
}

/// An indexed-colour picture, row-major: pixel `(x, y)` is
/// `pixels[y * width + x]`, an index into [`palette`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Palette indices.
    pub pixels: Vec<u8>,
}

/// The centres of a `cells × cells` grid over the view, row by row from the
/// top: where the heat map asks D for its score.
pub fn grid_points(cells: usize) -> Vec<Point> {
    let step = 2.0 * VIEW / cells as f32;
    (0..cells * cells)
        .map(|k| {
            let (row, col) = (k / cells, k % cells);
            [
                -VIEW + (col as f32 + 0.5) * step,
                VIEW - (row as f32 + 0.5) * step,
            ]
        })
        .collect()
}

/// What one frame shows.
pub struct FrameContent<'a> {
    /// Scores in [0, 1] at [`grid_points`]`(cells)`, row by row.
    pub scores: &'a [f32],
    /// Heat-map cells per side; must divide the frame's size.
    pub cells: usize,
    /// Real points.
    pub real: &'a [Point],
    /// Generated points.
    pub fake: &'a [Point],
    /// How far training has gone, in [0, 1], drawn as a bar along the
    /// bottom edge; `None` for no bar.
    pub progress: Option<f64>,
}

/// Draws a `size × size` frame.
pub fn render(size: usize, content: &FrameContent<'_>) -> Result<Frame, String> {
    let cells = content.cells;
    if cells == 0 || size % cells != 0 || content.scores.len() != cells * cells {
        return Err(format!(
            "render: {} scores on {cells} cells per side do not tile a {size}-pixel frame",
            content.scores.len()
        ));
    }
    let per_cell = size / cells;
    let mut pixels: Vec<u8> = (0..size * size)
        .map(|k| band(content.scores[(k / size / per_cell) * cells + (k % size) / per_cell]))
        .collect();
    for (points, colour) in [(content.real, REAL), (content.fake, FAKE)] {
        for p in points {
            draw_dot(&mut pixels, size, p, colour);
        }
    }
    if let Some(progress) = content.progress {
        let filled = (progress.clamp(0.0, 1.0) * size as f64).round() as usize;
        for row in size - BAR_HEIGHT..size {
            pixels[row * size..row * size + filled].fill(BAR);
        }
    }
    Ok(Frame {
        width: size,
        height: size,
        pixels,
    })
}

/// Colours a `DOT × DOT` square centred on point `p`, clipped to the frame.
fn draw_dot(pixels: &mut [u8], size: usize, p: &Point, colour: u8) {
    let scale = size as f32 / (2.0 * VIEW);
    let cx = (p[0] + VIEW) * scale;
    let cy = (VIEW - p[1]) * scale;
    // Points far outside the view (or NaN) are not drawn.
    if !(cx > -2.0 && cy > -2.0 && cx < size as f32 + 2.0 && cy < size as f32 + 2.0) {
        return;
    }
    let half = (DOT / 2) as isize;
    for dy in -half..=half {
        for dx in -half..=half {
            let (x, y) = (cx as isize + dx, cy as isize + dy);
            if (0..size as isize).contains(&x) && (0..size as isize).contains(&y) {
                pixels[y as usize * size + x as usize] = colour;
            }
        }
    }
}

/// Frames of equal height side by side, with a 4-pixel gap between them.
pub fn strip(frames: &[Frame]) -> Result<Frame, String> {
    const SPACE: usize = 4;
    let height = frames.first().map_or(0, |f| f.height);
    if frames.is_empty() || frames.iter().any(|f| f.height != height) {
        return Err("strip: needs at least one frame, all of the same height".into());
    }
    let width = frames.iter().map(|f| f.width).sum::<usize>() + SPACE * (frames.len() - 1);
    let mut pixels = Vec::with_capacity(width * height);
    for row in 0..height {
        for (i, f) in frames.iter().enumerate() {
            if i > 0 {
                pixels.extend([GAP; SPACE]);
            }
            pixels.extend_from_slice(&f.pixels[row * f.width..(row + 1) * f.width]);
        }
    }
    Ok(Frame {
        width,
        height,
        pixels,
    })
}

/// The frame as a PNG file: 8-bit indexed colour with [`palette`], written
/// atomically (temporary file, then rename).
pub fn write_png(frame: &Frame, path: &Path) -> Result<(), String> {
    let failed = |e: &dyn std::fmt::Display| format!("{}: writing the PNG failed: {e}", path.display());
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, frame.width as u32, frame.height as u32);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(palette().concat());
        let mut writer = encoder.write_header().map_err(|e| failed(&e))?;
        writer.write_image_data(&frame.pixels).map_err(|e| failed(&e))?;
        writer.finish().map_err(|e| failed(&e))?;
    }
    write_atomically(path, &bytes).map_err(|e| failed(&e))
}
