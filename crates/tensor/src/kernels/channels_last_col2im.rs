//! The input gradient's col2im with pixels as rows and channels last
//! ([`ChannelsLastCol2im`]): for images with many channels, every add of
//! col2im becomes part of a long run of adjacent floats.
//!
//! ## Why
//! The input gradient multiplies out one entry per (kernel tap, output
//! pixel) and adds each onto the image pixel it came from (col2im). The
//! product `Wᵀ·ȳ` has a row per `(c, kh, kw)`: one tap of one channel
//! over consecutive output pixels, which land `stride` pixels apart in the
//! image. Added run by run through stride phases (`phase_col2im.rs`), the
//! runs are 7 floats long for W2's 14→7 layer, and the adds took 5.3–5.7%
//! of a step at one thread (`perf record` of `gan-mnist bench --workload
//! dcgan --threads 1`, AMD EPYC Zen 4), for 16 adds per pixel.
//!
//! ## Turned round
//! The same product the other way round, `ȳᵀ·W`, has a row per output
//! pixel and, with `W`'s columns ordered `(kh, kw, c)`, the entries of one
//! tap for all `C` channels side by side. With the image stored channels
//! last (`[H, W, C]`, pixel after pixel), those `C` entries all land on
//! one pixel, on `C` adjacent floats: col2im becomes, per output pixel and
//! tap, one run of `C` adds (64 for W2), whole vectors, nothing masked, no
//! stride. Taps whose window reaches into the padding are skipped (their
//! entries would land outside the image). At the end each image is turned
//! back to channels first (`[C, H, W]`) and the bias added.
//!
//! The product is as large as before, in blocks of [`BLOCK_ROWS`] pixels
//! so that each block's output (128 × 1024 floats for W2, 512 KB) is still
//! in the level-2 cache when its runs are added.
//!
//! ## Skipping the padding
//! Entries whose tap lands in the padding are thrown away: for W2's layer,
//! 13.8% of the product. With the engine's own gemm (f32, one thread per
//! product), they are not computed: the group's rows are put in an order
//! where each tile of the gemm holds one output pixel of several samples
//! (chunks of as many samples as a tile has rows; in a chunk, pixel after
//! pixel, its samples side by side: [`ChannelsLastCol2im::start_group`]),
//! so that all rows of a tile have the same taps in the padding, and the
//! gemm skips the tiles of those taps (`gemm/needed_tiles.rs`). `ȳ` is
//! staged in that order ([`ChannelsLastCol2im::stage_rows`]). A sample's
//! image is then finished once its chunk is in. W2's step at one thread
//! went from 126.2 to 120.7 ms (`gan-mnist bench --workload dcgan
//! --threads 1`, the builds before and after alternated four times, AMD
//! EPYC Zen 4), with the same bits.
//!
//! Each image pixel receives its entries in the order of the output
//! pixels they come from (then of the taps), and the bias last, where
//! col2im adds them tap by tap onto the bias: the same sums in another
//! order, so the last bits may differ from col2im's; they are as
//! reproducible.

use super::im2col::ConvGeometry;
#[cfg(target_arch = "x86_64")]
use super::{f32s, f32s_mut, f32s_uninit};
use crate::Element;
use std::mem::MaybeUninit;

/// Images with fewer channels keep col2im: a run is `C` floats long, and
/// below two 8-float vectors the runs would be as short as col2im's.
const MIN_CHANNELS: usize = 16;

/// Output pixels per block of the product.
pub(super) const BLOCK_ROWS: usize = 128;

/// Whether the input gradient of `geo` takes this way: at least
/// [`MIN_CHANNELS`] image channels (and some output pixels).
pub(super) fn applies(geo: &ConvGeometry) -> bool {
    geo.in_channels >= MIN_CHANNELS && geo.out_pixels() > 0
}

/// `W` (`[O, C, KH, KW]`) with its columns reordered to `(kh, kw, c)`:
/// `[O, KH·KW·C]`, rows [`PermutedWeights::row_stride`] apart. Built
/// once per call, shared by the groups.
pub(super) struct PermutedWeights<T> {
    values: Vec<T>,
    columns: usize,
    row_stride: usize,
}

impl<T: Element> PermutedWeights<T> {
    /// The reordered `w` for `geo`.
    ///
    /// # Panics
    /// If `w` does not have the geometry's length.
    pub(super) fn new(geo: &ConvGeometry, w: &[T]) -> Self {
        let (o, c, taps) = (geo.out_channels, geo.in_channels, geo.kernel[0] * geo.kernel[1]);
        assert_eq!(w.len(), o * c * taps, "PermutedWeights: w");
        let columns = c * taps;
        // Rows a few floats more than a power of two apart: rows exactly
        // 4 KiB apart (W2's 1024 floats) would all fall in the same few
        // sets of the level-1 cache when the gemm reads a sliver of them.
        let row_stride = columns + if columns.is_power_of_two() { 16 } else { 0 };
        let mut values = vec![T::zero(); o * row_stride];
        // Each row is a [C, taps] block turned round to [taps, C]: with
        // AVX2 and both multiples of 8, by 8 × 8 transposes in registers.
        #[cfg(target_arch = "x86_64")]
        if c.is_multiple_of(8)
            && taps.is_multiple_of(8)
            && std::arch::is_x86_feature_detected!("avx2")
            && let (Some(w), Some(out)) = (f32s(w), f32s_mut(&mut values))
        {
            for (out, row) in out.chunks_exact_mut(row_stride).zip(w.chunks_exact(columns)) {
                // SAFETY: the CPU has AVX2, checked just above.
                unsafe { turn_round_avx2(row, (c, taps), out) };
            }
            return PermutedWeights {
                values,
                columns,
                row_stride,
            };
        }
        // Writing each tap's `C` floats in a row; the reads, `taps` apart,
        // stay within the row's few cache lines.
        for (out, row) in values.chunks_exact_mut(row_stride).zip(w.chunks_exact(columns)) {
            for (t, out) in out.chunks_exact_mut(c).take(taps).enumerate() {
                for (d, &v) in out.iter_mut().zip(row[t..].iter().step_by(taps)) {
                    *d = v;
                }
            }
        }
        PermutedWeights {
            values,
            columns,
            row_stride,
        }
    }

    /// The matrix, `[O, KH·KW·C]`.
    pub(super) fn view(&self) -> ndarray::ArrayView2<'_, T> {
        self.view_of(&self.values)
    }

    /// The matrix in f32, if `T` is f32.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn f32_view(&self) -> Option<ndarray::ArrayView2<'_, f32>> {
        f32s(&self.values).map(|values| self.view_of(values))
    }

    /// `values` (the weights, or the same floats cast) as the matrix.
    fn view_of<'a, U>(&self, values: &'a [U]) -> ndarray::ArrayView2<'a, U> {
        let rows = values.len() / self.row_stride;
        ndarray::ArrayView2::from_shape(
            ndarray::ShapeBuilder::strides((rows, self.columns), (self.row_stride, 1)),
            values,
        )
        .expect("sized by new")
    }
}

/// `out[t·C + ch] = row[ch·taps + t]`: a `[C, taps]` block turned round,
/// 8 × 8 floats at a time in registers ([`transpose8`](super::gemm::transpose8)).
///
/// # Safety
/// The CPU has AVX2.
///
/// # Panics
/// If `C` or `taps` is not a multiple of 8, or a slice is short.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn turn_round_avx2(row: &[f32], (c, taps): (usize, usize), out: &mut [f32]) {
    use super::gemm::transpose8;
    use std::arch::x86_64::*;
    assert!(
        c.is_multiple_of(8) && taps.is_multiple_of(8),
        "turn_round: not whole blocks"
    );
    assert!(
        row.len() >= c * taps && out.len() >= c * taps,
        "turn_round: lengths"
    );
    for c0 in (0..c).step_by(8) {
        for t0 in (0..taps).step_by(8) {
            // SAFETY: channels c0..c0 + 8 and taps t0..t0 + 8 lie inside the
            // [C, taps] block of `row` and the [taps, C] block of `out`
            // (asserted above).
            unsafe {
                let block: [__m256; 8] =
                    std::array::from_fn(|i| _mm256_loadu_ps(row.as_ptr().add((c0 + i) * taps + t0)));
                for (j, tap) in transpose8(block).into_iter().enumerate() {
                    _mm256_storeu_ps(out.as_mut_ptr().add((t0 + j) * c + c0), tap);
                }
            }
        }
    }
}

/// col2im with pixels as rows and channels last (see the module's notes),
/// for one geometry. Built once and kept by the thread with the other copy
/// tables (`conv_scratch.rs`).
pub(crate) struct ChannelsLastCol2im<T> {
    geo: ConvGeometry,
    /// For each output pixel of a sample, its taps that land inside the
    /// image: `(tap, where in a channels-last image)`, taps in order.
    landings: Vec<(usize, usize)>,
    /// Where each output pixel's landings start in `landings` (one more
    /// entry at the end).
    starts: Vec<usize>,
    /// For each output pixel of a sample, its taps that land in the
    /// padding, as bits (bit `t`: tap `t`); none for kernels of more than
    /// 64 taps.
    padding_taps: Vec<u64>,
    /// The group's rows in the order the product computes them: row `i` is
    /// group pixel `order[i] = b·OH·OW + p` (see [`ChannelsLastCol2im::start_group`]).
    order: Vec<usize>,
    /// `padding_taps` of each row's pixel, in the group's order.
    row_masks: Vec<u64>,
    /// Samples per chunk of the group's order.
    chunk: usize,
    /// The samples whose rows are all in once the first `i` rows are:
    /// `whole[i]`, for `i` in `0..=order.len()`.
    whole: Vec<usize>,
    /// The group's images, channels last, `[nb, H, W, C]`: zero between
    /// groups (each image is cleared as it is written out).
    images: Vec<T>,
}

impl<T: Element> ChannelsLastCol2im<T> {
    /// The col2im for `geo`.
    pub(super) fn new(geo: &ConvGeometry) -> Self {
        let ([_, w], [oh, ow], [kh, kw]) = (geo.in_size, geo.out_size, geo.kernel);
        let (mut landings, mut starts) = (Vec::new(), Vec::with_capacity(oh * ow + 1));
        for y in 0..oh {
            for x in 0..ow {
                starts.push(landings.len());
                for ty in 0..kh {
                    for tx in 0..kw {
                        if let Some((row, col)) = geo.tap_reads((y, x), (ty, tx)) {
                            landings.push((ty * kw + tx, (row * w + col) * geo.in_channels));
                        }
                    }
                }
            }
        }
        starts.push(landings.len());
        let padding_taps = geo.padding_taps();
        ChannelsLastCol2im {
            geo: *geo,
            landings,
            starts,
            padding_taps,
            order: Vec::new(),
            row_masks: Vec::new(),
            chunk: 1,
            whole: Vec::new(),
            images: Vec::new(),
        }
    }

    /// Readies the images of a group of `nb` samples (all zero), and the
    /// order of its rows: the samples in chunks of `chunk`, each chunk's
    /// rows pixel by pixel, the chunk's samples side by side. With `chunk`
    /// the gemm's tile height, each tile's rows are one pixel of different
    /// samples, whose taps reach into the padding alike (`gemm/needed_tiles.rs`);
    /// with 1, the rows are in plain order, sample after sample.
    ///
    /// # Panics
    /// If `chunk` is 0.
    pub(super) fn start_group(&mut self, nb: usize, chunk: usize) {
        assert!(chunk > 0, "start_group: empty chunks");
        let len = nb * self.geo.sample_len();
        if self.images.len() < len {
            self.images.resize(len, T::zero());
        }
        let p = self.geo.out_pixels();
        self.chunk = chunk;
        self.order.clear();
        self.whole.clear();
        self.whole.push(0);
        for first in (0..nb).step_by(chunk) {
            let samples = chunk.min(nb - first);
            for pixel in 0..p {
                self.order.extend((first..first + samples).map(|b| b * p + pixel));
            }
            // The chunk's samples are whole only once its last row is in.
            self.whole.resize(self.order.len(), first);
            self.whole.push(first + samples);
        }
        self.row_masks.clear();
        let masks = self.order.iter().map(|&pixel| self.padding_taps[pixel % p]);
        self.row_masks.extend(masks);
    }

    /// Samples `0..whole(i)` of the group have all their rows among its
    /// first `i` rows (in the order of [`ChannelsLastCol2im::start_group`]).
    pub(super) fn whole(&self, rows: usize) -> usize {
        self.whole[rows]
    }

    /// The taps of the group's rows `rows` that land in the padding, as
    /// bits (bit `t`: tap `t`; none for kernels of more than 64 taps), one
    /// mask per row: which columns of `ȳᵀ·W` no one reads
    /// (`gemm/needed_tiles.rs`).
    pub(super) fn padding_masks(&self, rows: std::ops::Range<usize>) -> &[u64] {
        &self.row_masks[rows]
    }

    /// Samples `first..first + nb` of `g[N, O, OH, OW]` as one
    /// `[O, nb·OH·OW]` matrix with its columns in the group's order (see
    /// [`ChannelsLastCol2im::start_group`]), copied into `stage`.
    ///
    /// # Panics
    /// If `nb` is not the group's, or `g` or `stage` is short.
    pub(super) fn stage_rows<'a>(
        &self,
        g: &[T],
        first: usize,
        nb: usize,
        stage: &'a mut [T],
    ) -> ndarray::ArrayView2<'a, T> {
        let (o, p) = (self.geo.out_channels, self.geo.out_pixels());
        let rows = nb * p;
        assert_eq!(self.order.len(), rows, "stage_rows: not the group's samples");
        let g = &g[first * o * p..(first + nb) * o * p];
        let stage = &mut stage[..o * rows];
        // Within a chunk of `q` samples, column `pixel·q + b` is sample b's pixel.
        for first_sample in (0..nb).step_by(self.chunk) {
            let (q, start) = (self.chunk.min(nb - first_sample), first_sample * p);
            for ch in 0..o {
                let row = &mut stage[ch * rows + start..ch * rows + start + q * p];
                #[cfg(target_arch = "x86_64")]
                if q == 8
                    && std::arch::is_x86_feature_detected!("avx2")
                    && let (Some(g), Some(row)) = (f32s(g), f32s_mut(row))
                {
                    let sources: [&[f32]; 8] =
                        std::array::from_fn(|b| &g[((first_sample + b) * o + ch) * p..][..p]);
                    // SAFETY: the CPU has AVX2, checked just above.
                    unsafe { super::interleaved_patches::interleave_row_avx2(&sources, row, 8) };
                    continue;
                }
                for b in 0..q {
                    let at = ((first_sample + b) * o + ch) * p;
                    for (d, &v) in row[b..].iter_mut().step_by(q).zip(&g[at..at + p]) {
                        *d = v;
                    }
                }
            }
        }
        ndarray::ArrayView2::from_shape((o, rows), &*stage).expect("sized above")
    }

    /// Adds the product's rows `first..first + rows` of the group, in the
    /// order of [`ChannelsLastCol2im::start_group`]: `block[i·n..(i + 1)·n]`
    /// is row `first + i` of `ȳᵀ·W`, its columns ordered `(kh, kw, c)`.
    /// Only the columns of taps that land in the image are read.
    ///
    /// # Panics
    /// If the block is short or a row lies past the group's.
    pub(super) fn add_block(&mut self, block: &[T], first: usize, rows: usize) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { self.add_block_avx2(block, first, rows) };
            return;
        }
        self.add_block_plain(block, first, rows);
    }

    /// [`ChannelsLastCol2im::add_block`] compiled for AVX2, whose 8-float
    /// vectors the runs of adds then use.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_block_avx2(&mut self, block: &[T], first: usize, rows: usize) {
        self.add_block_plain(block, first, rows);
    }

    /// The loops of [`ChannelsLastCol2im::add_block`].
    #[inline(always)]
    fn add_block_plain(&mut self, block: &[T], first: usize, rows: usize) {
        let (c, p) = (self.geo.in_channels, self.geo.out_pixels());
        let n = c * self.geo.kernel[0] * self.geo.kernel[1];
        let image_len = self.geo.sample_len();
        let order = &self.order[first..first + rows];
        for (&at, row) in order.iter().zip(block[..rows * n].chunks_exact(n)) {
            let (b, pixel) = (at / p, at % p);
            let image = &mut self.images[b * image_len..(b + 1) * image_len];
            for &(tap, at) in &self.landings[self.starts[pixel]..self.starts[pixel + 1]] {
                let run = &row[tap * c..(tap + 1) * c];
                for (d, &v) in image[at..at + c].iter_mut().zip(run) {
                    *d += v;
                }
            }
        }
    }

    /// Writes the group's images `first..first + count` into `x`
    /// (`[count, C, H, W]`, every slot, which need not hold values before),
    /// channels first, plus `bias[c]` if given, and
    /// clears them for the next group. Called for each sample as soon as
    /// all of its pixels' blocks have been added, while its image is still
    /// in the level-2 cache.
    ///
    /// # Panics
    /// If `x` does not hold `count` samples or `bias` not `C` values.
    pub(super) fn finish_samples(
        &mut self,
        (first, count): (usize, usize),
        bias: Option<&[T]>,
        x: &mut [MaybeUninit<T>],
    ) {
        let (c, len) = (self.geo.in_channels, self.geo.sample_len());
        assert_eq!(x.len(), count * len, "finish_samples: x");
        assert!(bias.is_none_or(|b| b.len() == c), "finish_samples: bias");
        let images = &mut self.images[first * len..(first + count) * len];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2")
            && let (Some(images), Some(x)) = (f32s_mut(images), f32s_uninit(x))
        {
            let bias = bias.map(|b| f32s(b).expect("T is f32"));
            for (image, out) in images.chunks_exact_mut(len).zip(x.chunks_exact_mut(len)) {
                // SAFETY: the CPU has AVX2, checked above.
                unsafe { transpose_avx2(image, c, bias, out) };
            }
            return;
        }
        for (image, out) in images.chunks_exact_mut(len).zip(x.chunks_exact_mut(len)) {
            transpose(image, c, 0, 0, bias, out);
        }
    }
}

/// `out[ch·P + p] = image[p·C + ch] (+ bias[ch])` for the pixels from `p0`
/// and the channels from `c0` on (the rest of a transposition a vector loop
/// started), clearing what it reads; `P = image.len() / C`.
fn transpose<T: Element>(
    image: &mut [T],
    c: usize,
    p0: usize,
    c0: usize,
    bias: Option<&[T]>,
    out: &mut [MaybeUninit<T>],
) {
    let pixels = image.len() / c;
    // Channels c0.. of every pixel, then channels ..c0 of pixels p0..
    let blocks = [(0..pixels, c0..c), (p0..pixels, 0..c0)];
    for (pixel_range, channel_range) in blocks {
        for p in pixel_range {
            for ch in channel_range.clone() {
                let v = std::mem::replace(&mut image[p * c + ch], T::zero());
                out[ch * pixels + p].write(match bias {
                    Some(bias) => v + bias[ch],
                    None => v,
                });
            }
        }
    }
}

/// [`transpose`] of a whole image, 8 pixels by 8 channels at a time: 8
/// loads of 8 channels, the 8 × 8 block turned round in registers
/// ([`transpose8`](super::gemm::transpose8)), 8 stores of 8 pixels. The
/// pixels and channels left over at the ends go through [`transpose`].
///
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_avx2(image: &mut [f32], c: usize, bias: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
    use super::gemm::transpose8;
    use std::arch::x86_64::*;
    let pixels = image.len() / c;
    assert!(out.len() == image.len(), "transpose: lengths");
    let (p_end, c_end) = (pixels / 8 * 8, c / 8 * 8);
    let zero = _mm256_setzero_ps();
    for p0 in (0..p_end).step_by(8) {
        for c0 in (0..c_end).step_by(8) {
            // SAFETY: rows p0..p0 + 8 and channels c0..c0 + 8 lie inside
            // the image (p0 + 8 ≤ P, c0 + 8 ≤ C), and channels c0..c0 + 8
            // of pixels p0..p0 + 8 inside `out`, which has the same length.
            unsafe {
                let src = image.as_mut_ptr().add(p0 * c + c0);
                let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * c)));
                for i in 0..8 {
                    _mm256_storeu_ps(src.add(i * c), zero);
                }
                // Channel c0 + j: pixels p0..p0 + 8.
                let columns = transpose8(r);
                for (j, column) in columns.into_iter().enumerate() {
                    let column = match bias {
                        Some(bias) => _mm256_add_ps(column, _mm256_set1_ps(bias[c0 + j])),
                        None => column,
                    };
                    _mm256_storeu_ps(out.as_mut_ptr().add((c0 + j) * pixels + p0).cast::<f32>(), column);
                }
            }
        }
    }
    transpose(image, c, p_end, c_end, bias, out);
}

#[cfg(test)]
pub(super) mod tests {
    use super::{BLOCK_ROWS, ChannelsLastCol2im, PermutedWeights};
    use crate::kernels::im2col::ConvGeometry;
    use crate::kernels::patches::{col2im, tests::geometry};

    /// Values with fractional parts, so that another order of the sums
    /// shows in the bits.
    pub(in crate::kernels) fn values(len: usize, salt: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + salt * 104_729) % 1999) as f32 / 997.0 - 1.0)
            .collect()
    }

    /// The input gradient `col2im(Wᵀ·ȳ) + bias` in f64, sample by sample,
    /// for `w[O, C·KH·KW]` and `g[N, O, OH, OW]`; with `abs`, the same sums
    /// of absolute values, which bound the rounding of f32 sums of those
    /// terms in any order (each within about 2⁻²⁴ times it per term).
    pub(in crate::kernels) fn input_grad_in_f64(
        geo: &ConvGeometry,
        w: &[f32],
        g: &[f32],
        bias: Option<&[f32]>,
        abs: bool,
    ) -> Vec<f64> {
        let (o, p, len, n) = (
            geo.out_channels,
            geo.out_pixels(),
            geo.sample_len(),
            geo.patch_len(),
        );
        let term = |t: f64| if abs { t.abs() } else { t };
        let mut want = vec![0.0f64; geo.batch * len];
        for (s, image) in want.chunks_exact_mut(len).enumerate() {
            let mut cols = vec![0.0f64; n * p];
            for (r, col) in cols.chunks_exact_mut(p).enumerate() {
                for (j, v) in col.iter_mut().enumerate() {
                    *v = (0..o)
                        .map(|oc| term(w[oc * n + r] as f64 * g[(s * o + oc) * p + j] as f64))
                        .sum();
                }
            }
            if let Some(bias) = bias {
                for (channel, &b) in image.chunks_exact_mut(len / geo.in_channels).zip(bias) {
                    channel.fill(term(b as f64));
                }
            }
            col2im(geo, &cols, p, image);
        }
        want
    }

    /// Whether `got` is `want` to within `2⁻²⁰` times the sum of absolute
    /// values (far less than a tap or a channel gone astray); the index of
    /// the first value that is not, if any.
    pub(in crate::kernels) fn first_astray(got: &[f32], want: &[f64], scale: &[f64]) -> Option<usize> {
        assert_eq!(got.len(), want.len());
        (0..got.len())
            .find(|&i| (want[i] - got[i] as f64).abs() > scale[i] * 2f64.powi(-20) || got[i].is_nan())
    }

    /// Convolutions of images with 16 or more channels: W2's 14→7 layer,
    /// then strides, dilation, padding on one axis only, rectangular images
    /// and kernels, channels not a multiple of 8, with small batches.
    pub(in crate::kernels) fn many_channel_geometries() -> [ConvGeometry; 4] {
        let with = |c, size, kernel, stride, padding, dilation, out_channels, batch| ConvGeometry {
            out_channels,
            batch,
            ..geometry(c, size, kernel, stride, padding, dilation)
        };
        [
            with(64, [14, 14], [4, 4], [2, 2], [1, 1], [1, 1], 128, 3),
            with(16, [9, 7], [3, 2], [1, 2], [2, 0], [1, 1], 5, 9),
            with(17, [10, 11], [3, 3], [3, 1], [1, 2], [2, 3], 3, 2),
            with(24, [12, 12], [4, 4], [2, 2], [1, 1], [2, 2], 4, 2),
        ]
    }

    /// Blocks of `ȳᵀ·W` (with `W` reordered) added channels last give
    /// col2im's input gradient, to rounding (another order of the sums):
    /// strides, dilation, padding on one axis only, rectangular images and
    /// kernels, several samples in a group and blocks that split a sample.
    #[test]
    fn pixel_rows_channels_last_give_col2ims_input_gradient() {
        for geo in many_channel_geometries() {
            let (o, p, n) = (geo.out_channels, geo.out_pixels(), geo.patch_len());
            let w = values(o * n, 1);
            let g = values(geo.batch * o * p, 2);
            let bias = values(geo.in_channels, 3);
            let permuted = PermutedWeights::new(&geo, &w);
            let permuted = permuted.view();
            for bias in [None, Some(&bias[..])] {
                let want = input_grad_in_f64(&geo, &w, &g, bias, false);
                let scale = input_grad_in_f64(&geo, &w, &g, bias, true);
                let mut col2im = ChannelsLastCol2im::<f32>::new(&geo);
                // Twice per order of the rows, so that a group finds the
                // images the one before cleared; NaN first, so that a value
                // left unwritten shows.
                for chunk in [1, 1, 2, 2, 8, 8] {
                    col2im.start_group(geo.batch, chunk);
                    let pixels = geo.batch * p;
                    // The staged ȳ has row i's column of ȳ as its column i.
                    let mut stage = vec![f32::NAN; o * pixels];
                    let staged = col2im.stage_rows(&g, 0, geo.batch, &mut stage);
                    for (i, &pixel) in col2im.order.iter().enumerate() {
                        for oc in 0..o {
                            let want = g[((pixel / p) * o + oc) * p + pixel % p];
                            assert_eq!(
                                staged[[oc, i]].to_bits(),
                                want.to_bits(),
                                "{geo:?}: staged ({oc}, {i})"
                            );
                        }
                    }
                    // NaN until written: a slot `finish_samples` misses shows.
                    let mut slots = vec![std::mem::MaybeUninit::new(f32::NAN); geo.batch * geo.sample_len()];
                    // Blocks smaller than BLOCK_ROWS too, to split samples.
                    let rows = (p + 3).min(BLOCK_ROWS);
                    for first in (0..pixels).step_by(rows) {
                        let count = rows.min(pixels - first);
                        let masks = col2im.padding_masks(first..first + count).to_vec();
                        // Row i: pixel order[i]; its columns of taps in the
                        // padding are NaN, which must not be read.
                        let block: Vec<f32> = col2im.order[first..first + count]
                            .iter()
                            .zip(&masks)
                            .flat_map(|(&pixel, &mask)| {
                                (0..n).map(move |col| (pixel / p, pixel % p, col, mask))
                            })
                            .map(|(s, j, col, mask)| {
                                if mask >> (col / geo.in_channels) & 1 == 1 {
                                    return f32::NAN;
                                }
                                (0..o)
                                    .map(|oc| g[(s * o + oc) * p + j] * permuted[[oc, col]])
                                    .sum()
                            })
                            .collect();
                        col2im.add_block(&block, first, count);
                        let (done, now) = (col2im.whole(first), col2im.whole(first + count));
                        let len = geo.sample_len();
                        col2im.finish_samples((done, now - done), bias, &mut slots[done * len..now * len]);
                    }
                    // SAFETY: every slot was initialised (NaN) when made.
                    let got: Vec<f32> = slots.iter().map(|v| unsafe { v.assume_init() }).collect();
                    assert_eq!(
                        first_astray(&got, &want, &scale),
                        None,
                        "{geo:?}, bias {}, chunks of {chunk}",
                        bias.is_some()
                    );
                }
            }
        }
    }
}
