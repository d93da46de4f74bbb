//! The forward convolution turned round, `yᵀ = patches · Wᵀ`, with the
//! patches read from images that interleave 8 samples
//! ([`InterleavedPatches`]), so that the gemm can skip the taps that read
//! the padding.
//!
//! ## Why
//! In W2's 14→7 convolution (kernel 4, stride 2, padding 1) 13.8% of the
//! forward product's multiply-adds read the zero padding: a pixel on the
//! top row has the kernel's top row of taps in the padding. Those zeros are
//! in the product's inner dimension (the taps), so skipping them means
//! cutting short the sums of whole tiles, which works only when every row
//! of a tile reads the padding through the same taps.
//!
//! ## Rows that agree, read in place
//! Turned round, the product has a row per output pixel and a column per
//! output channel. The rows go in chunks of 8 samples (the rows of an
//! AVX-512 tile): within a chunk, pixel after pixel, the 8 samples side by
//! side, so each tile's rows are one output pixel of 8 samples, with the
//! same taps in the padding. The images of a chunk are stored padded,
//! channels last and the 8 samples innermost, `[H + 2ph, W + 2pw, C, 8]`:
//! the 8 rows of a tile at one step `(kh, kw, c)` of the inner dimension
//! are then 8 adjacent floats, and with the steps ordered `(kh, kw, c)`
//! (the weights' columns reordered to match), the steps of one kernel tap
//! are `C·8` adjacent floats, which packing copies as one run. The gemm
//! skips, tile by tile, the taps the tile's pixel has in the padding
//! (`gemm/operands.rs`, `TileFilter::steps`).
//!
//! A chunk of fewer than 8 samples (the end of a batch) fills the rest
//! with zero images; their rows are computed and dropped. The output, a
//! row per (pixel, sample), is turned back into `y[N, O, OH, OW]` 8 × 8
//! floats at a time in registers, with the bias.
//!
//! The sums run over the taps in another order than im2col's (tap after
//! tap instead of channel after channel) and leave out products with
//! zero, so the last bits differ from the plain product's; they are as
//! reproducible.

use super::gemm::transpose8;
use super::im2col::ConvGeometry;
use std::arch::x86_64::*;
use std::mem::MaybeUninit;

/// Samples per chunk: the rows of an AVX-512 tile.
pub(crate) const CHUNK: usize = 8;

/// Images with fewer channels keep the plain forward product: a tap's
/// run would be shorter than two vectors.
const MIN_CHANNELS: usize = 16;

/// A group's patch matrix, `[chunks·8·OH·OW, KH·KW·C]`, as interleaved
/// images (see the module's notes). Built once per geometry and kept by
/// the thread with the other copy tables (`conv_scratch.rs`).
pub(crate) struct InterleavedPatches {
    geo: ConvGeometry,
    /// Columns of the padded image.
    padded_width: usize,
    /// Floats of one chunk's images.
    chunk_len: usize,
    /// The loaded chunks' images; the padding is zero from the start and
    /// never written.
    images: Vec<f32>,
    /// Chunks loaded by the last [`InterleavedPatches::load`].
    chunks: usize,
    /// For each output pixel, where its window's first pixel starts in a
    /// chunk's images.
    windows: Vec<usize>,
    /// For each tap `(kh, kw)`, where it reads relative to a window.
    taps: Vec<usize>,
    /// For each output pixel, its taps that read padding, as bits (bit
    /// `t`: tap `t = kh·KW + kw`); none for kernels of more than 64 taps.
    padding_taps: Vec<u64>,
    /// `padding_taps` of each row of the loaded patch matrix.
    masks: Vec<u64>,
}

impl InterleavedPatches {
    /// Whether `geo`'s forward product can take this way: at least
    /// [`MIN_CHANNELS`] input channels, and the engine's AVX-512 gemm as
    /// the active path (the caller checks that the values are f32).
    pub(crate) fn applies(geo: &ConvGeometry) -> bool {
        geo.in_channels >= MIN_CHANNELS && super::gemm::GemmPath::active() == super::gemm::GemmPath::Avx512
    }

    /// The patches of `geo`, or `None` if the geometry does not take this
    /// way (see [`InterleavedPatches::applies`]), or a window reaches past
    /// the padded image.
    pub(crate) fn new(geo: &ConvGeometry) -> Option<Self> {
        let ([h, w], [oh, ow], [kh, kw]) = (geo.in_size, geo.out_size, geo.kernel);
        let (c, [sh, sw], [dh, dw], [ph, pw]) = (geo.in_channels, geo.stride, geo.dilation, geo.padding);
        let padded = [h + 2 * ph, w + 2 * pw];
        let fits = [oh, ow, kh, kw].iter().all(|&d| d > 0)
            && (oh - 1) * sh + (kh - 1) * dh < padded[0]
            && (ow - 1) * sw + (kw - 1) * dw < padded[1];
        if !Self::applies(geo) || !fits {
            return None;
        }
        let pixel = c * CHUNK;
        let windows = (0..oh * ow)
            .map(|p| ((p / ow) * sh * padded[1] + (p % ow) * sw) * pixel)
            .collect();
        let taps = (0..kh * kw)
            .map(|t| ((t / kw) * dh * padded[1] + (t % kw) * dw) * pixel)
            .collect();
        let padding_taps = geo.padding_taps();
        Some(InterleavedPatches {
            geo: *geo,
            padded_width: padded[1],
            chunk_len: padded[0] * padded[1] * pixel,
            images: Vec::new(),
            chunks: 0,
            windows,
            taps,
            padding_taps,
            masks: Vec::new(),
        })
    }

    /// Rows of the patch matrix of `nb` samples: whole chunks of 8.
    pub(crate) fn rows_for(&self, nb: usize) -> usize {
        nb.div_ceil(CHUNK) * CHUNK * self.geo.out_pixels()
    }

    /// Copies samples `first..first + nb` of `x` (`[N, C, H, W]`) into the
    /// interleaved images, chunk by chunk.
    ///
    /// # Panics
    /// If `x` holds fewer samples.
    pub(crate) fn load(&mut self, x: &[f32], first: usize, nb: usize) {
        let ([h, w], c, len) = (self.geo.in_size, self.geo.in_channels, self.geo.sample_len());
        let x = &x[first * len..(first + nb) * len];
        self.chunks = nb.div_ceil(CHUNK);
        if self.images.len() < self.chunks * self.chunk_len {
            self.images.resize(self.chunks * self.chunk_len, 0.0);
        }
        let zeros = vec![0.0f32; w];
        let [ph, pw] = self.geo.padding;
        self.masks.clear();
        for _ in 0..self.chunks {
            for &bits in &self.padding_taps {
                self.masks.extend([bits; CHUNK]);
            }
        }
        for chunk in 0..self.chunks {
            let images = &mut self.images[chunk * self.chunk_len..(chunk + 1) * self.chunk_len];
            for ch in 0..c {
                for y in 0..h {
                    // Row y of channel ch of the chunk's 8 samples (zeros
                    // past the batch's end).
                    let rows: [&[f32]; CHUNK] = std::array::from_fn(|b| {
                        let s = chunk * CHUNK + b;
                        if s < nb {
                            &x[s * len + (ch * h + y) * w..][..w]
                        } else {
                            &zeros[..]
                        }
                    });
                    let start = ((y + ph) * self.padded_width + pw) * c * CHUNK + ch * CHUNK;
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2, checked just above.
                        unsafe { interleave_row_avx2(&rows, &mut images[start..], c * CHUNK) };
                    } else {
                        interleave_row(&rows, &mut images[start..], c * CHUNK, 0);
                    }
                }
            }
        }
    }

    /// `out[rows, O] = patches · wᵀ` for the loaded samples, `w`
    /// (`[O, KH·KW·C]`) with its columns ordered `(kh, kw, c)`, each tile
    /// skipping the taps its pixel reads from the padding
    /// (`gemm/needed_tiles.rs`).
    ///
    /// # Panics
    /// If `out` is not `rows × O`, or `w` not `O × KH·KW·C`, or the active
    /// gemm path is not AVX-512.
    pub(crate) fn product(&self, w: ndarray::ArrayView2<'_, f32>, out: &mut [f32]) {
        let rows = super::gemm::needed_tiles::InterleavedRows {
            images: &self.images,
            chunk_len: self.chunk_len,
            windows: &self.windows,
            taps: &self.taps,
            channels: self.geo.in_channels,
        };
        super::gemm::needed_tiles::sgemm_interleaved(
            rows,
            self.masks.len(),
            w.reversed_axes(),
            &self.masks,
            out,
        );
    }

    /// Turns the product's rows back into samples: `y[(first + s)·O·P + o·P +
    /// p] = out[row(s, p)·O + o] + bias[o]` for the `nb` samples loaded,
    /// where `out` is `[rows, O]` row-major. Writes every one of the first
    /// `nb·O·P` slots of `y`, which need not hold values before.
    ///
    /// # Panics
    /// If a slice is short.
    pub(crate) fn unload(&self, out: &[f32], nb: usize, bias: Option<&[f32]>, y: &mut [MaybeUninit<f32>]) {
        let (o, p) = (self.geo.out_channels, self.geo.out_pixels());
        assert!(out.len() >= self.rows_for(nb) * o, "unload: out");
        assert!(y.len() >= nb * o * p, "unload: y");
        assert!(bias.is_none_or(|b| b.len() == o), "unload: bias");
        for s in 0..nb {
            let (chunk, lane) = (s / CHUNK, s % CHUNK);
            // Row of pixel q of sample s.
            let row = |q: usize| ((chunk * p + q) * CHUNK + lane) * o;
            let sample = &mut y[s * o * p..(s + 1) * o * p];
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                unsafe { unload_sample_avx2(out, row, (o, p), bias, sample) };
            } else {
                unload_sample(out, row, (o, p, 0, 0), bias, sample);
            }
        }
    }
}

/// `dst[x·stride + b] = rows[b][x]` for the pixels from `x0` on: the same
/// pixel of the 8 samples side by side, one pixel every `stride` floats.
pub(super) fn interleave_row(rows: &[&[f32]; CHUNK], dst: &mut [f32], stride: usize, x0: usize) {
    for x in x0..rows[0].len() {
        for (b, row) in rows.iter().enumerate() {
            dst[x * stride + b] = row[x];
        }
    }
}

/// [`interleave_row`] from the first pixel, 8 pixels at a time by 8 × 8
/// transposes in registers ([`transpose8`]). Also stages `ȳ` for the
/// input gradient (`channels_last_col2im.rs`, with `stride` 8).
///
/// # Safety
/// The CPU has AVX2.
///
/// # Panics
/// If the rows differ in length or `dst` is too short.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn interleave_row_avx2(rows: &[&[f32]; CHUNK], dst: &mut [f32], stride: usize) {
    let w = rows[0].len();
    assert!(rows.iter().all(|r| r.len() == w), "interleave_row: rows");
    assert!(
        w == 0 || dst.len() >= (w - 1) * stride + CHUNK,
        "interleave_row: dst"
    );
    if w < 8 {
        interleave_row(rows, dst, stride, 0);
        return;
    }
    // Blocks of 8 pixels, the last one ending at the row's end (and so
    // overlapping the one before when w is not a multiple of 8: those
    // pixels are written twice, with the same values).
    let last = w - 8;
    for x0 in (0..w).step_by(8).map(|x0| x0.min(last)) {
        // SAFETY: pixels x0..x0 + 8 ≤ w lie in every row, and pixel
        // x0 + j's 8 floats at (x0 + j)·stride in `dst` (asserted above).
        unsafe {
            let block: [__m256; 8] = std::array::from_fn(|b| _mm256_loadu_ps(rows[b].as_ptr().add(x0)));
            for (j, pixel) in transpose8(block).into_iter().enumerate() {
                _mm256_storeu_ps(dst.as_mut_ptr().add((x0 + j) * stride), pixel);
            }
        }
    }
}

/// One sample of [`InterleavedPatches::unload`], for the pixels from `p0`
/// and the channels from `o0` on (the rest of a vector loop), then the
/// channels below `o0` of the pixels from `p0`.
fn unload_sample(
    out: &[f32],
    row: impl Fn(usize) -> usize,
    (o, p, p0, o0): (usize, usize, usize, usize),
    bias: Option<&[f32]>,
    sample: &mut [MaybeUninit<f32>],
) {
    for (pixels, channels) in [(0..p, o0..o), (p0..p, 0..o0)] {
        for q in pixels {
            for ch in channels.clone() {
                sample[ch * p + q].write(out[row(q) + ch] + bias.map_or(0.0, |b| b[ch]));
            }
        }
    }
}

/// [`unload_sample`] 8 pixels by 8 channels at a time: 8 loads of 8
/// channels, a transpose in registers, 8 stores of 8 pixels.
///
/// # Safety
/// The CPU has AVX2.
#[target_feature(enable = "avx2")]
unsafe fn unload_sample_avx2(
    out: &[f32],
    row: impl Fn(usize) -> usize,
    (o, p): (usize, usize),
    bias: Option<&[f32]>,
    sample: &mut [MaybeUninit<f32>],
) {
    let o_end = o / 8 * 8;
    assert!(sample.len() >= o * p, "unload_sample: sample");
    if p < 8 {
        unload_sample(out, row, (o, p, 0, 0), bias, sample);
        return;
    }
    // Blocks of 8 pixels, the last one ending at the last pixel (writing
    // the pixels it shares with the one before again, with the same values).
    for q0 in (0..p).step_by(8).map(|q0| q0.min(p - 8)) {
        for o0 in (0..o_end).step_by(8) {
            let block: [__m256; 8] = std::array::from_fn(|i| {
                let at = row(q0 + i) + o0;
                let values = &out[at..at + 8];
                // SAFETY: 8 floats of `out`, bounds-checked by the slice.
                unsafe { _mm256_loadu_ps(values.as_ptr()) }
            });
            // SAFETY: AVX2 is enabled in this function.
            let channels = unsafe { transpose8(block) };
            for (j, channel) in channels.into_iter().enumerate() {
                let channel = match bias {
                    Some(bias) => _mm256_add_ps(channel, _mm256_set1_ps(bias[o0 + j])),
                    None => channel,
                };
                let dst = &mut sample[(o0 + j) * p + q0..(o0 + j) * p + q0 + 8];
                // SAFETY: 8 slots of `sample`, bounds-checked by the slice.
                unsafe { _mm256_storeu_ps(dst.as_mut_ptr().cast::<f32>(), channel) };
            }
        }
    }
    unload_sample(out, row, (o, p, p, o_end), bias, sample);
}
