//! Sample grids: a batch of generated images tiled into one greyscale
//! picture, and that picture as a PNG file.
//!
//! [`image_grid`] lays `N` images of `[1, H, W]` out in rows of `columns`
//! (fewer if `N < columns`), with a [`BORDER`]-pixel frame of mid-grey
//! ([`BORDER_VALUE`]) between and around the tiles, so that a tile's black or
//! white edge stays visible against its neighbours. An 8 × 8 grid of 28 × 28
//! images is `8·28 + 9·2 = 242` pixels square. Slots of a partial last row
//! stay border grey.
//!
//! Values become bytes by inverting the batch scaling of
//! [`PixelRange`], rounding to the nearest byte with
//! halves away from zero (`f32::round`):
//! * [`PixelRange::Symmetric`]: `round((v + 1) · 127.5)`, so −1 ↦ 0, 1 ↦ 255
//!   and 0 ↦ 128 (127.5 rounds up);
//! * [`PixelRange::Unit`]: `round(v · 255)`, so 0 ↦ 0, 1 ↦ 255, 0.5 ↦ 128.
//!
//! Values outside the range are clamped to it (a generator without a final
//! `tanh` can overshoot) and NaN becomes 0 (black), so that a diverged model
//! still yields a picture rather than an error. A batch built from bytes maps
//! back to exactly those bytes.
//!
//! [`write_png`] writes atomically (temporary file, then rename), so a
//! viewer polling the file never sees half a picture. Tests:
//! `crates/gan/tests/grid_plot.rs`.

use crate::error::{Error, Result, write_atomically};
use datasets::PixelRange;
use std::io;
use std::path::Path;
use tensor::Tensor;

/// The width in pixels of the frame between and around the tiles.
pub const BORDER: usize = 2;

/// The grey level of the frame (mid-grey, distinct from both background
/// colours, black and white).
pub const BORDER_VALUE: u8 = 128;

/// An 8-bit greyscale picture, row-major: pixel `(x, y)` is
/// `pixels[y * width + x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Pixels per row.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// `width · height` grey levels, 0 = black, 255 = white.
    pub pixels: Vec<u8>,
}

impl GrayImage {
    /// The grey level at column `x`, row `y`, or `None` outside the picture.
    pub fn get(&self, x: usize, y: usize) -> Option<u8> {
        if x >= self.width || y >= self.height {
            return None;
        }
        self.pixels.get(y * self.width + x).copied()
    }
}

/// The grey level of value `v` under `range` (see the module docs).
///
/// ```
/// use datasets::PixelRange;
/// use runs::grid::to_byte;
/// assert_eq!(to_byte(-1.0, PixelRange::Symmetric), 0);
/// assert_eq!(to_byte(0.0, PixelRange::Symmetric), 128);
/// assert_eq!(to_byte(7.0, PixelRange::Unit), 255);
/// assert_eq!(to_byte(f32::NAN, PixelRange::Unit), 0);
/// ```
pub fn to_byte(v: f32, range: PixelRange) -> u8 {
    let level = match range {
        PixelRange::Symmetric => (v + 1.0) * 127.5,
        PixelRange::Unit => v * 255.0,
    };
    if level.is_nan() {
        return 0;
    }
    // In 0.0..=255.0 after the clamp, so the cast neither wraps nor saturates.
    level.clamp(0.0, 255.0).round() as u8
}

/// Tiles the images `[N, 1, H, W]` into rows of `columns` (see the module
/// docs for the layout and the value mapping).
///
/// Fails if `images` is not of rank 4 with one channel, if an image or the
/// batch is empty, or if `columns` is 0.
///
/// ```
/// use datasets::PixelRange;
/// use runs::grid::image_grid;
/// let images = tensor::Tensor::from_vec(vec![-1.0; 5 * 28 * 28], &[5, 1, 28, 28])?;
/// let grid = image_grid(&images, 4, PixelRange::Symmetric)?;
/// // Two rows (4 + 1) of four columns.
/// assert_eq!((grid.width, grid.height), (4 * 28 + 5 * 2, 2 * 28 + 3 * 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn image_grid(images: &Tensor<f32>, columns: usize, range: PixelRange) -> Result<GrayImage> {
    const OP: &str = "image_grid";
    let shape = images.shape();
    let &[count, channels, height, width] = shape.as_slice() else {
        return Err(Error::argument(
            OP,
            format!("images must have shape [N, 1, H, W], got {shape:?}"),
        ));
    };
    if channels != 1 {
        return Err(Error::argument(
            OP,
            format!("images must have 1 channel (greyscale), got shape {shape:?}"),
        ));
    }
    if count == 0 || height == 0 || width == 0 {
        return Err(Error::argument(
            OP,
            format!("no pixels to draw: images have shape {shape:?}"),
        ));
    }
    if columns == 0 {
        return Err(Error::argument(OP, "columns must be at least 1"));
    }
    let columns = columns.min(count);
    let rows = count.div_ceil(columns);
    // n tiles along an axis take n·side + (n + 1)·BORDER pixels.
    let grid_width = columns * width + (columns + 1) * BORDER;
    let grid_height = rows * height + (rows + 1) * BORDER;
    // Start all grey: the frame and the empty slots need no second pass.
    let mut pixels = vec![BORDER_VALUE; grid_width * grid_height];
    let values = images.to_vec();
    for (index, image) in values.chunks_exact(height * width).enumerate() {
        let left = BORDER + (index % columns) * (width + BORDER);
        let top = BORDER + (index / columns) * (height + BORDER);
        for (y, source_row) in image.chunks_exact(width).enumerate() {
            let start = (top + y) * grid_width + left;
            for (pixel, &v) in pixels[start..start + width].iter_mut().zip(source_row) {
                *pixel = to_byte(v, range);
            }
        }
    }
    Ok(GrayImage {
        width: grid_width,
        height: grid_height,
        pixels,
    })
}

/// Encodes `image` as an 8-bit greyscale PNG and writes it to `path`
/// atomically (a temporary file beside it, then a rename).
///
/// Fails if the image is empty, too large for PNG, or its pixel count does
/// not match its size, or if the file cannot be written.
pub fn write_png(image: &GrayImage, path: &Path) -> Result<()> {
    let bytes = encode_png(image, path)?;
    write_atomically(path, &bytes)
}

/// The PNG encoding of `image`; `path` only names the file in errors.
fn encode_png(image: &GrayImage, path: &Path) -> Result<Vec<u8>> {
    let (width, height) = (image.width, image.height);
    if image.pixels.len() != width.saturating_mul(height) {
        return Err(Error::argument(
            "write_png",
            format!(
                "image for {} is {width}×{height} but holds {} pixels",
                path.display(),
                image.pixels.len()
            ),
        ));
    }
    // PNG sides are non-zero 32-bit numbers.
    let side = |n: usize| u32::try_from(n).ok().filter(|&n| n > 0);
    let (Some(w), Some(h)) = (side(width), side(height)) else {
        return Err(Error::argument(
            "write_png",
            format!(
                "image for {} is {width}×{height}; PNG sides must lie in 1..=2³²−1",
                path.display()
            ),
        ));
    };
    let encoding = |e: png::EncodingError| Error::format(path, format!("PNG encoding failed: {e}"));
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(encoding)?;
    writer.write_image_data(&image.pixels).map_err(encoding)?;
    writer.finish().map_err(encoding)?;
    Ok(bytes)
}

/// Reads an 8-bit greyscale PNG (such as [`write_png`] writes).
///
/// Fails if the file cannot be read, is not a valid PNG, or holds another
/// colour type or bit depth (colour, alpha, palette, 16-bit, 1–4-bit).
pub fn read_png(path: &Path) -> Result<GrayImage> {
    let bytes = std::fs::read(path).map_err(Error::io(path, "reading"))?;
    let decoding = |e: png::DecodingError| Error::format(path, format!("not a valid PNG: {e}"));
    let mut reader = png::Decoder::new(io::Cursor::new(bytes))
        .read_info()
        .map_err(decoding)?;
    let info = reader.info();
    if info.color_type != png::ColorType::Grayscale || info.bit_depth != png::BitDepth::Eight {
        return Err(Error::format(
            path,
            format!(
                "PNG is {:?} at {:?} bits per sample; only 8-bit greyscale is supported",
                info.color_type, info.bit_depth
            ),
        ));
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| Error::format(path, "PNG is too large to decode in memory"))?;
    let mut buffer = vec![0; size];
    let frame = reader.next_frame(&mut buffer).map_err(decoding)?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    // 8-bit greyscale: one byte per pixel; copy row by row in case the
    // decoder's lines are ever padded.
    let mut pixels = Vec::with_capacity(width * height);
    for line in buffer[..frame.buffer_size()].chunks_exact(frame.line_size) {
        pixels.extend_from_slice(&line[..width]);
    }
    Ok(GrayImage {
        width,
        height,
        pixels,
    })
}
