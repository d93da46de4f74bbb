//! Stepping through the frames: an animated GIF, and an HTML page with a
//! slider that shows the frame PNGs by relative path (no script or style
//! from the network: it works from a local folder, offline).

use crate::frames::{Frame, palette};
use std::borrow::Cow;
use std::path::Path;

/// Hundredths of a second each frame of the GIF is shown.
pub const FRAME_DELAY: u16 = 12;
/// Hundredths of a second the last frame is held before the loop restarts.
pub const LAST_FRAME_DELAY: u16 = 150;

/// Builds an endlessly looping GIF of equal-sized frames, in memory.
pub struct GifBuilder {
    encoder: gif::Encoder<Vec<u8>>,
    width: usize,
    height: usize,
    /// The frame added last, held back so that it can get the longer delay.
    pending: Option<Frame>,
}

impl GifBuilder {
    /// A GIF of `width × height` frames coloured with [`palette`].
    pub fn new(width: usize, height: usize) -> Result<Self, String> {
        let (w, h) = (gif_side(width)?, gif_side(height)?);
        let mut colours = palette();
        // GIF colour tables hold a power of two of colours.
        colours.resize(colours.len().next_power_of_two(), [0, 0, 0]);
        let mut encoder =
            gif::Encoder::new(Vec::new(), w, h, &colours.concat()).map_err(|e| format!("gif: {e}"))?;
        encoder
            .set_repeat(gif::Repeat::Infinite)
            .map_err(|e| format!("gif: {e}"))?;
        Ok(GifBuilder {
            encoder,
            width,
            height,
            pending: None,
        })
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: Frame) -> Result<(), String> {
        if frame.width != self.width || frame.height != self.height {
            return Err(format!(
                "gif: a {}×{} frame in a {}×{} animation",
                frame.width, frame.height, self.width, self.height
            ));
        }
        if let Some(previous) = self.pending.replace(frame) {
            self.write(&previous, FRAME_DELAY)?;
        }
        Ok(())
    }

    /// The GIF file, written atomically to `path`.
    pub fn finish(mut self, path: &Path) -> Result<(), String> {
        if let Some(last) = self.pending.take() {
            self.write(&last, LAST_FRAME_DELAY)?;
        }
        let bytes = self.encoder.into_inner().map_err(|e| format!("gif: {e}"))?;
        nn::checkpoint::write_atomically(path, &bytes)
            .map_err(|e| format!("{}: writing the GIF failed: {e}", path.display()))
    }

    fn write(&mut self, frame: &Frame, delay: u16) -> Result<(), String> {
        let gif_frame = gif::Frame {
            width: gif_side(frame.width)?,
            height: gif_side(frame.height)?,
            delay,
            buffer: Cow::Borrowed(&frame.pixels),
            ..gif::Frame::default()
        };
        self.encoder
            .write_frame(&gif_frame)
            .map_err(|e| format!("gif: {e}"))
    }
}

fn gif_side(pixels: usize) -> Result<u16, String> {
    u16::try_from(pixels).map_err(|_| format!("gif: {pixels} pixels is too wide for a GIF"))
}

/// One entry of the HTML page's slider.
pub struct PageFrame {
    /// The frame's path relative to the page, e.g. `frames/step_000100.png`.
    pub src: String,
    /// A caption, e.g. `step 100: 6/8 modes`.
    pub caption: String,
}

/// The HTML page: a title, a paragraph, the frames behind a slider (last
/// frame first) with a play button, and a legend of the colours.
pub fn html_page(title: &str, description: &str, frames: &[PageFrame]) -> String {
    let list: Vec<String> = frames
        .iter()
        .map(|f| format!("[{}, {}]", js_string(&f.src), js_string(&f.caption)))
        .collect();
    let last = frames.len().saturating_sub(1);
    let first_src = frames.last().map_or(String::new(), |f| escape_html(&f.src));
    let first_caption = frames.last().map_or(String::new(), |f| escape_html(&f.caption));
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 44em; margin: 1em auto; }}
img {{ width: 512px; height: 512px; image-rendering: pixelated; border: 1px solid #888; }}
input[type=range] {{ width: 512px; }}
.swatch {{ display: inline-block; width: 1em; height: 1em; vertical-align: middle; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{description}</p>
<p><img id="frame" src="{first_src}" alt="frame"></p>
<p><input type="range" id="slider" min="0" max="{last}" value="{last}">
<button id="play">play</button> <span id="caption">{first_caption}</span></p>
<p><span class="swatch" style="background:#3c3c3c"></span> real points
&nbsp; <span class="swatch" style="background:#00a03c"></span> generated points
&nbsp; background: the discriminator's score, <span class="swatch" style="background:#2166ac"></span> fake
&ndash; <span class="swatch" style="background:#f7f7f7; border:1px solid #888"></span> cannot tell
&ndash; <span class="swatch" style="background:#b2182b"></span> real</p>
<script>
const frames = [{list}];
const img = document.getElementById("frame");
const slider = document.getElementById("slider");
const caption = document.getElementById("caption");
function show(i) {{ img.src = frames[i][0]; caption.textContent = frames[i][1]; slider.value = i; }}
slider.addEventListener("input", () => show(Number(slider.value)));
let timer = null;
document.getElementById("play").addEventListener("click", () => {{
  if (timer) {{ clearInterval(timer); timer = null; return; }}
  let i = 0;
  timer = setInterval(() => {{ show(i); i += 1; if (i >= frames.length) {{ clearInterval(timer); timer = null; }} }}, 150);
}});
</script>
</body>
</html>
"#,
        title = escape_html(title),
        description = escape_html(description),
        list = list.join(", "),
    )
}

/// A JavaScript string literal (JSON's quoting is valid JavaScript).
fn js_string(s: &str) -> String {
    serde_json::Value::from(s).to_string().replace('<', "\\u003c")
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
