//! Convolution as matrix products: `im2col`, `col2im`, and the three kernels
//! built on them (the forward convolution, its adjoint in the input, and its
//! adjoint in the weight).
//!
//! ## The idea
//!
//! A 2-D convolution of one sample `x[C, H, W]` with `w[O, C, KH, KW]` is
//!
//! ```text
//! y[o, oh, ow] = Σ_{c,kh,kw} w[o, c, kh, kw] · x[c, oh·s − p + kh·d, ow·s − p + kw·d]
//! ```
//!
//! (`s` stride, `p` padding, `d` dilation, per axis; positions outside the
//! image read as 0). Copy, for every output pixel, the `C·KH·KW` input values
//! it sees into one column of a matrix `cols[C·KH·KW, OH·OW]` (*im2col*).
//! Then the sum is a matrix product: `y[O, OH·OW] = w[O, C·KH·KW] · cols`.
//! The gemm does `O` multiply-adds per copied value, at near the machine's
//! peak, which is why this beats loops over output × kernel by far.
//!
//! The adjoint of the copy, *col2im*, adds every column entry back onto the
//! input pixel it came from; that is how gradients reach `x` (and how a
//! transposed convolution produces its output).
//!
//! ## Batching and threads
//!
//! Samples are handled in fixed *groups* whose im2col matrices sit side by
//! side in one buffer `[C·KH·KW, nb·OH·OW]`, so that each gemm is wide even
//! when one image has few output pixels (7×7 = 49 columns is a poor gemm;
//! 16 samples make 784). The group size depends only on the shapes.
//!
//! * Forward and input gradient: each group writes only its own samples'
//!   output, so groups run on rayon's threads in any order and the result
//!   does not depend on scheduling.
//! * Weight gradient: every sample contributes to the same `[O, C·KH·KW]`
//!   sum. The groups are split into a fixed number of contiguous parts (one
//!   per thread); each part accumulates its own partial sum, and the partials
//!   are added serially in part order. For a fixed thread count this is
//!   bitwise reproducible.
//!
//! Each worker reuses one cols buffer and one staging buffer for all the
//! groups it handles (kept by the thread between calls, see
//! `conv_scratch.rs`), and calls the single-threaded gemm (no nested
//! parallelism). When there are too few groups to occupy the threads, the
//! groups run one after another and each gemm is split across threads
//! instead.
//!
//! ## Written out, or packed straight from the images
//!
//! The forward product and the weight gradient read the patch matrix
//! sliver by sliver. When the engine's own f32 gemm runs the product on
//! one thread, it takes the patches from a `PatchSource` that copies
//! each sliver straight from a padded copy of the images into the gemm's
//! packing buffer (*implicit GEMM*, `packed_patches.rs`): the 3.2 MB
//! matrix is never written. Otherwise (f64, the portable gemm, a product
//! split across threads, a dimension of 1) the patches are written out as
//! below; both ways give the same bits.
//!
//! With the AVX-512 gemm and 16 or more input channels (W2's 14→7 layer),
//! the forward product instead runs turned round, `yᵀ = patches · Wᵀ`, its
//! patches read from images that interleave 8 samples, and skips the taps
//! that read the padding (`interleaved_patches.rs`): another order of the
//! sums, so not the same bits as the written-out patches (a test compares
//! both with the sums in f64).
//!
//! ## Which way round the patches are copied (when written out)
//!
//! * The forward product reads `cols[C·KH·KW, nb·P]` as its `B`, in place.
//! * The weight gradient needs `colsᵀ`; it copies the patches as rows
//!   (*im2row*, `colsᵀ` directly), which its product then also reads in
//!   place, instead of im2col's matrix transposed while packing. In the W2
//!   step (AMD EPYC Zen 4, 1 thread) that took its product 128×784×1024
//!   from 100–104 to 108 GFLOP/s, and the copy is cheaper too: one 4-float
//!   move per pixel, channel and kernel row of a 4×4 kernel, instead of 16
//!   gathered floats (im2col's gathers 7.4% of the step, after: 4.5% plus
//!   im2row's 2.1%).
//! * The input gradient of an image with many channels (16 or more, as
//!   W2's 64) computes its product the other way round, `ȳᵀ·W`, a row per
//!   output pixel, in blocks of 128 pixels (without the tiles that land in
//!   the padding), and adds each block onto
//!   channels-last copies of the images right away
//!   (`channels_last_col2im.rs`): runs of `C` adjacent adds instead of
//!   col2im's runs along a row of output pixels. With fewer channels it
//!   computes `Wᵀ·ȳ` in blocks of 128 rows and col2im adds each back onto
//!   the image right away (see `COL2IM_BLOCK_ROWS`).

use super::channels_last_col2im::{self, BLOCK_ROWS, PermutedWeights};
use super::conv_scratch::{Patches, Scratch};
use super::gemm::{gemm_into, gemm_serial};
use super::patches::PaddedGather;
pub use super::patches::{col2im, im2col};
use crate::Element;
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Convolutions with fewer multiply-adds than this stay on the calling thread.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// A group of samples is made about this many im2col columns wide (an image
/// of 512 or more output pixels goes alone, straight into its output slice
/// with no staging copy).
///
/// Wider groups mean fewer, wider products: the weight is packed once per
/// group, and the narrow last sliver of a product (7×7 = 49 columns per
/// sample leave 4 columns of a 196-wide product for a 16-wide tile) weighs
/// less. Measured on W2 with the engine's gemm (`gan-mnist bench --workload
/// dcgan --threads 1`, AMD EPYC Zen 4, runs alternated, the second core
/// busy): 128 columns (groups of 4 samples for 7×7 outputs) 142.0–144.5 ms,
/// 256: 137.8–142.7, 512 (groups of 16): 135.7–141.6, 1024: 137.2–147.7;
/// the default model's step (`--workload dcgan-global`) 110.6 → 106.4 ms.
/// The price is memory: one group's im2col matrix for W2's second
/// convolution is 1024 × 784 floats, 3.2 MB per thread.
const TARGET_COLUMNS: usize = 512;

/// The input gradient computes its im2col-shaped product this many rows
/// (kernel taps × channels) at a time, and adds each block back onto the
/// image before the next: 128 rows × 784 columns is 400 KB, which is still
/// in the level-2 cache when col2im reads it (see `phase_col2im.rs`). The
/// weight block is one `A` block of the gemm (`MC` = 128 rows), so the
/// product costs the same in pieces.
const COL2IM_BLOCK_ROWS: usize = 128;

/// Every size of one convolution `y[N, O, OH, OW] = conv(x[N, C, H, W],
/// w[O, C, KH, KW])`. The output size is stored, not derived, because a
/// transposed convolution fixes it (its input) while choosing `H, W` freely
/// within the range that maps to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvGeometry {
    /// `N`, the number of samples.
    pub batch: usize,
    /// `C`, channels of `x`.
    pub in_channels: usize,
    /// `O`, channels of `y`.
    pub out_channels: usize,
    /// `[H, W]` of `x`.
    pub in_size: [usize; 2],
    /// `[OH, OW]` of `y`.
    pub out_size: [usize; 2],
    /// `[KH, KW]` of `w`.
    pub kernel: [usize; 2],
    /// Stride per axis.
    pub stride: [usize; 2],
    /// Zero padding per axis.
    pub padding: [usize; 2],
    /// Dilation per axis.
    pub dilation: [usize; 2],
}

impl ConvGeometry {
    /// `C·KH·KW`: the rows of the im2col matrix, the length of one patch.
    pub fn patch_len(&self) -> usize {
        self.in_channels * self.kernel[0] * self.kernel[1]
    }

    /// `OH·OW`: output pixels per channel.
    pub fn out_pixels(&self) -> usize {
        self.out_size[0] * self.out_size[1]
    }

    /// `C·H·W`: elements of one input sample.
    pub fn sample_len(&self) -> usize {
        self.in_channels * self.in_size[0] * self.in_size[1]
    }

    /// `N·O·C·KH·KW·OH·OW`: multiply-adds of the convolution (and of each of
    /// its two adjoints).
    pub fn macs(&self) -> usize {
        self.batch * self.out_channels * self.patch_len() * self.out_pixels()
    }

    /// Samples per group: enough that a group's im2col matrix is about
    /// [`TARGET_COLUMNS`] wide, rounded up to a power of two.
    pub(super) fn group_size(&self) -> usize {
        TARGET_COLUMNS
            .div_ceil(self.out_pixels().max(1))
            .next_power_of_two()
            .clamp(1, self.batch.max(1))
    }

    /// The image row and column that kernel tap `(ty, tx)` of output pixel
    /// `(y, x)` reads, or `None` if it reads the zero padding.
    pub(super) fn tap_reads(
        &self,
        (y, x): (usize, usize),
        (ty, tx): (usize, usize),
    ) -> Option<(usize, usize)> {
        // Padded row y·sh + ty·dh is image row that − ph; likewise columns.
        let row = (y * self.stride[0] + ty * self.dilation[0]).checked_sub(self.padding[0]);
        let col = (x * self.stride[1] + tx * self.dilation[1]).checked_sub(self.padding[1]);
        let (row, col) = (
            row.filter(|&r| r < self.in_size[0])?,
            col.filter(|&c| c < self.in_size[1])?,
        );
        Some((row, col))
    }

    /// For each output pixel (row-major), its kernel taps that read the
    /// zero padding, as bits (bit `ty·KW + tx`); all 0 if the kernel has
    /// more than 64 taps (nothing is then skipped).
    pub(super) fn padding_taps(&self) -> Vec<u64> {
        let ([oh, ow], [kh, kw]) = (self.out_size, self.kernel);
        (0..oh * ow)
            .map(|p| {
                (0..kh * kw)
                    .filter(|&t| {
                        kh * kw <= 64 && self.tap_reads((p / ow, p % ow), (t / kw, t % kw)).is_none()
                    })
                    .fold(0u64, |bits, t| bits | 1 << t)
            })
            .collect()
    }

    /// Whether groups should be spread over threads, and how many groups there are.
    pub(super) fn plan(&self) -> (bool, usize) {
        let groups = self.batch.div_ceil(self.group_size());
        let threads = rayon::current_num_threads();
        (
            threads > 1 && groups >= threads && self.macs() >= PARALLEL_MIN_MACS,
            groups,
        )
    }
}

/// One gemm, `c = a·b + beta·c` with `c` a row-major slice of the product's
/// shape: split across threads if the caller is not already running in parallel.
fn gemm<T: Element>(split: bool, a: ArrayView2<'_, T>, b: ArrayView2<'_, T>, beta: T, c: &mut [T]) {
    let c = ArrayViewMut2::from_shape((a.nrows(), b.ncols()), c).expect("output sized by the caller");
    if split {
        gemm_into(T::one(), a, b, beta, c);
    } else {
        gemm_serial(T::one(), a, b, beta, c);
    }
}

/// Runs `work(scratch, first_sample, out_group, split_gemm)` for every group
/// of samples, where `out_group` is the group's part of `out` (`per_sample`
/// slots per sample), which `work` must write in full: in parallel over
/// groups when that pays.
fn for_each_group<T: Element>(
    geo: &ConvGeometry,
    out: &mut [MaybeUninit<T>],
    per_sample: usize,
    patches: Patches,
    work: impl Fn(&mut Scratch<T>, usize, &mut [MaybeUninit<T>], bool) + Sync,
) {
    if out.is_empty() {
        return;
    }
    let group = geo.group_size();
    let (parallel, _) = geo.plan();
    if parallel {
        out.par_chunks_mut(group * per_sample).enumerate().for_each_init(
            || Scratch::new(geo, patches, true),
            |s, (g, out)| work(s, g * group, out, false),
        );
    } else {
        let mut scratch = Scratch::new(geo, patches, rayon::current_num_threads() == 1);
        for (g, out) in out.chunks_mut(group * per_sample).enumerate() {
            work(&mut scratch, g * group, out, true);
        }
    }
}

/// im2col of samples `first..first + nb` side by side; returns the
/// `[C·KH·KW, nb·OH·OW]` matrix.
fn group_cols<'a, T: Element>(
    geo: &ConvGeometry,
    x: &[T],
    first: usize,
    nb: usize,
    cols: &'a mut [T],
    gather: &mut Option<PaddedGather<T>>,
) -> ArrayView2<'a, T> {
    let (len, p) = (geo.sample_len(), geo.out_pixels());
    let cols = &mut cols[..geo.patch_len() * nb * p];
    for b in 0..nb {
        let image = &x[(first + b) * len..(first + b + 1) * len];
        match gather {
            Some(gather) => gather.im2col(image, &mut cols[b * p..], nb * p),
            None => im2col(geo, image, &mut cols[b * p..], nb * p),
        }
    }
    ArrayView2::from_shape((geo.patch_len(), nb * p), cols).expect("sized above")
}

/// [`group_cols`] transposed, `colsᵀ[nb·P, C·KH·KW]`: each output pixel's
/// patch as one row. Copied as such (`im2row`) when the padded copy works,
/// so that the weight gradient's product reads it in place (see "Which way
/// round the patches are copied" above); else im2col's matrix, transposed
/// as a view.
fn group_patches_as_rows<'a, T: Element>(
    geo: &ConvGeometry,
    x: &[T],
    first: usize,
    nb: usize,
    cols: &'a mut [T],
    gather: &mut Option<PaddedGather<T>>,
) -> ArrayView2<'a, T> {
    let Some(gather) = gather else {
        return group_cols(geo, x, first, nb, cols, gather).reversed_axes();
    };
    let (len, p, ckk) = (geo.sample_len(), geo.out_pixels(), geo.patch_len());
    let patches = &mut cols[..nb * p * ckk];
    for (b, sample_rows) in patches.chunks_exact_mut(p * ckk).enumerate() {
        gather.im2row(&x[(first + b) * len..(first + b + 1) * len], sample_rows);
    }
    ArrayView2::from_shape((nb * p, ckk), &*patches).expect("sized above")
}

/// Samples `first..first + nb` of `y[N, O, P]` as one `[O, nb·P]` matrix:
/// a view when `nb = 1`, else a copy into `stage`.
fn group_rows<'a, T: Element>(
    geo: &ConvGeometry,
    y: &'a [T],
    first: usize,
    nb: usize,
    stage: &'a mut [T],
) -> ArrayView2<'a, T> {
    let (o, p) = (geo.out_channels, geo.out_pixels());
    let y = &y[first * o * p..(first + nb) * o * p];
    if nb == 1 {
        return ArrayView2::from_shape((o, p), y).expect("one sample");
    }
    let stage = &mut stage[..o * nb * p];
    for b in 0..nb {
        for ch in 0..o {
            let src = &y[(b * o + ch) * p..(b * o + ch + 1) * p];
            stage[ch * nb * p + b * p..ch * nb * p + (b + 1) * p].copy_from_slice(src);
        }
    }
    ArrayView2::from_shape((o, nb * p), &*stage).expect("sized above")
}

/// The convolution `y = conv(x, w) + bias`: `x` is `[N, C, H, W]`, `w` is
/// `[O, C, KH, KW]` (row-major, i.e. `[O, C·KH·KW]`), `bias` is `[O]`;
/// returns `y[N, O, OH, OW]` row-major.
///
/// # Panics
/// If a slice's length does not match the geometry.
pub fn conv2d_forward<T: Element>(geo: &ConvGeometry, x: &[T], w: &[T], bias: Option<&[T]>) -> Vec<T> {
    let (o, ckk, p) = (geo.out_channels, geo.patch_len(), geo.out_pixels());
    assert_eq!(x.len(), geo.batch * geo.sample_len(), "conv2d_forward: x");
    assert_eq!(w.len(), o * ckk, "conv2d_forward: w");
    let weight = ArrayView2::from_shape((o, ckk), w).expect("checked above");
    // Not zeroed first: every group writes its part in full (below).
    // Zeroing was a memset on the calling thread before the groups start,
    // with the other threads waiting: in W2's step at 2 threads this one's
    // and `conv2d_input_grad`'s took 2.2% of the samples of `perf`.
    let mut y: Vec<T> = Vec::with_capacity(geo.batch * o * p);
    // W with its columns ordered (kh, kw, c), for the product turned round
    // (`interleaved_patches.rs`).
    #[cfg(target_arch = "x86_64")]
    let permuted = (super::is_f32::<T>() && super::interleaved_patches::InterleavedPatches::applies(geo))
        .then(|| PermutedWeights::new(geo, w));
    let slots = &mut y.spare_capacity_mut()[..geo.batch * o * p];
    for_each_group(geo, slots, o * p, Patches::Im2col, |s, first, y, split| {
        let nb = y.len() / (o * p);
        #[cfg(target_arch = "x86_64")]
        if let (Some(weights), Some(patches), Some(xs), Some(ys)) = (
            permuted.as_ref().and_then(|w| w.f32_view()),
            s.interleaved.as_mut(),
            super::f32s(x),
            super::f32s_uninit(y),
        ) {
            // yᵀ[rows, O] = patches[rows, (kh, kw, c)] · Wᵀ, then turned
            // back into the group's samples with the bias.
            patches.load(xs, first, nb);
            let rows = patches.rows_for(nb);
            if s.stage.len() < rows * o {
                s.stage.resize(rows * o, T::zero());
            }
            let out = super::f32s_mut(&mut s.stage[..rows * o]).expect("T is f32");
            patches.product(weights, out);
            patches.unload(out, nb, bias.map(|b| super::f32s(b).expect("T is f32")), ys);
            return;
        }
        // Y[O, nb·P] = W[O, CKK] · cols[CKK, nb·P]; with one sample, straight
        // into y, else into the stage and then out to each sample's slice.
        let product = |s: &mut Scratch<T>, out: &mut [T]| {
            if !s.implicit_product(x, first, nb, w, T::zero(), out) {
                s.grow_cols();
                let cols = group_cols(geo, x, first, nb, &mut s.cols, &mut s.gather);
                gemm(split, weight, cols, T::zero(), out);
            }
        };
        if nb == 1 {
            // Zeroed first: the product is handed values, not slots.
            let y = super::zeroed(y);
            product(s, y);
            if let Some(bias) = bias {
                for (row, &b) in y.chunks_mut(p).zip(bias) {
                    row.iter_mut().for_each(|v| *v += b);
                }
            }
            return;
        }
        let mut stage = std::mem::take(&mut s.stage);
        product(s, &mut stage[..o * nb * p]);
        for b in 0..nb {
            for ch in 0..o {
                let shift = bias.map_or(T::zero(), |bias| bias[ch]);
                let src = &stage[ch * nb * p + b * p..ch * nb * p + (b + 1) * p];
                let dst = &mut y[(b * o + ch) * p..(b * o + ch + 1) * p];
                for (d, s) in dst.iter_mut().zip(src) {
                    d.write(*s + shift);
                }
            }
        }
        s.stage = stage;
    });
    // SAFETY: the groups' parts cover `y`'s first batch·O·P slots, and every
    // group wrote its part in full: the turned-round product's `unload`
    // writes all nb·O·P values of its samples; the other path zeroes a
    // single sample's part before the product writes it, and copies every
    // value of several samples out of the stage.
    unsafe { y.set_len(geo.batch * o * p) };
    y
}

/// The adjoint of the convolution in its input (a transposed convolution):
/// `x[N, C, H, W] = col2im(Wᵀ · g_n) + bias`, for `g[N, O, OH, OW]`,
/// `w[O, C, KH, KW]` and `bias[C]`.
///
/// # Panics
/// If a slice's length does not match the geometry.
pub fn conv2d_input_grad<T: Element>(geo: &ConvGeometry, g: &[T], w: &[T], bias: Option<&[T]>) -> Vec<T> {
    let (o, ckk, p, len) = (
        geo.out_channels,
        geo.patch_len(),
        geo.out_pixels(),
        geo.sample_len(),
    );
    assert_eq!(g.len(), geo.batch * o * p, "conv2d_input_grad: g");
    assert_eq!(w.len(), o * ckk, "conv2d_input_grad: w");
    let wt = ArrayView2::from_shape((o, ckk), w)
        .expect("checked above")
        .reversed_axes();
    let plane = geo.in_size[0] * geo.in_size[1];
    // Without output pixels no group would write its images (the ops
    // never ask for that geometry; the `set_len` below relies on it).
    assert!(
        p > 0 || geo.batch * len == 0,
        "conv2d_input_grad: no output pixels"
    );
    // Not zeroed first: every group writes its part in full (below).
    let mut x: Vec<T> = Vec::with_capacity(geo.batch * len);
    let permuted = channels_last_col2im::applies(geo).then(|| PermutedWeights::new(geo, w));
    let slots = &mut x.spare_capacity_mut()[..geo.batch * len];
    for_each_group(geo, slots, len, Patches::Col2im, |s, first, x, split| {
        let nb = x.len() / len;
        if let (Some(permuted), Some(col2im)) = (&permuted, s.channels_last.as_mut()) {
            // cols[pixels, (kh, kw, c)] = Gᵀ[pixels, O] · W[O, (kh, kw, c)], a
            // block of pixels at a time, each added onto the images
            // channels last (`channels_last_col2im.rs`). In f32 on one
            // thread, only the tiles whose taps land in the image, each
            // tile's rows one pixel of several samples (`gemm/needed_tiles.rs`).
            let pixels = nb * p;
            #[cfg(target_arch = "x86_64")]
            let skipping = (!split || rayon::current_num_threads() == 1)
                .then(|| Some((super::gemm::needed_tiles::tile_rows()?, permuted.f32_view()?)))
                .flatten();
            #[cfg(not(target_arch = "x86_64"))]
            let skipping: Option<(usize, ())> = None;
            col2im.start_group(nb, skipping.as_ref().map_or(1, |&(rows, _)| rows));
            // Whole A blocks of the gemm (16 tiles), so that tiles stay
            // aligned to the chunks of samples.
            let block_rows = skipping.as_ref().map_or(BLOCK_ROWS, |&(rows, _)| 16 * rows);
            let g_rows = col2im.stage_rows(g, first, nb, &mut s.stage);
            for start in (0..pixels).step_by(block_rows) {
                let count = block_rows.min(pixels - start);
                let block = &mut s.cols[..count * ckk];
                let g_rows = g_rows
                    .slice(ndarray::s![.., start..start + count])
                    .reversed_axes();
                match &skipping {
                    #[cfg(target_arch = "x86_64")]
                    Some((_, weights)) => {
                        let masks = col2im.padding_masks(start..start + count);
                        let g_rows = super::f32_view(g_rows).expect("T is f32");
                        let block = super::f32s_mut(block).expect("T is f32");
                        super::gemm::needed_tiles::sgemm_needed_tiles(
                            g_rows,
                            weights.view(),
                            (masks, geo.in_channels),
                            block,
                        );
                    }
                    _ => gemm(split, g_rows, permuted.view(), T::zero(), block),
                }
                col2im.add_block(block, start, count);
                // The samples whose pixels are all in now.
                let (done, now) = (col2im.whole(start), col2im.whole(start + count));
                col2im.finish_samples((done, now - done), bias, &mut x[done * len..now * len]);
            }
            return;
        }
        // This way adds into the images: they start at zero.
        let x = super::zeroed(x);
        let rows = group_rows(geo, g, first, nb, &mut s.stage);
        if let Some(bias) = bias {
            for (channel, &b) in x.chunks_mut(plane).zip(bias.iter().cycle()) {
                channel.fill(b);
            }
        }
        let taps = geo.kernel[0] * geo.kernel[1];
        let per_block = (COL2IM_BLOCK_ROWS / taps.max(1)).max(1);
        for c0 in (0..geo.in_channels).step_by(per_block) {
            let cb = per_block.min(geo.in_channels - c0);
            let block_rows = cb * taps;
            // cols[rows, nb·P] = Wᵀ[rows, O] · G[O, nb·P], then scattered back.
            let cols = &mut s.cols[..block_rows * nb * p];
            let wt_block = wt.slice(ndarray::s![c0 * taps..c0 * taps + block_rows, ..]);
            gemm(split, wt_block, rows.view(), T::zero(), cols);
            for b in 0..nb {
                let start = b * len + c0 * plane;
                let image = &mut x[start..start + cb * plane];
                #[cfg(target_arch = "x86_64")]
                if super::conv_scratch::phase_col2im(&mut s.phases, &cols[b * p..], nb * p, image) {
                    continue;
                }
                match &mut s.scatter {
                    Some(scatter) => scatter.col2im(&cols[b * p..], nb * p, image),
                    None => col2im(
                        &ConvGeometry {
                            in_channels: cb,
                            ..*geo
                        },
                        &cols[b * p..],
                        nb * p,
                        image,
                    ),
                }
            }
        }
    });
    // SAFETY: the groups' parts cover `x`'s first batch·C·H·W slots, and
    // every group wrote its part in full: the channels-last way hands each
    // sample to `finish_samples` once all its pixels are in (the last block
    // completes every sample), which writes the whole image; the other way
    // zeroes its part before adding into it.
    unsafe { x.set_len(geo.batch * len) };
    x
}

/// The adjoint of the convolution in its weight (the weight gradient):
/// `w̄[O, C·KH·KW] = Σ_n g_n[O, OH·OW] · cols_nᵀ`, for `x[N, C, H, W]` and
/// `g[N, O, OH, OW]`.
///
/// # Panics
/// If a slice's length does not match the geometry.
pub fn conv2d_weight_grad<T: Element>(geo: &ConvGeometry, x: &[T], g: &[T]) -> Vec<T> {
    let (o, ckk, p) = (geo.out_channels, geo.patch_len(), geo.out_pixels());
    assert_eq!(x.len(), geo.batch * geo.sample_len(), "conv2d_weight_grad: x");
    assert_eq!(g.len(), geo.batch * o * p, "conv2d_weight_grad: g");
    let group = geo.group_size();
    let (parallel, groups) = geo.plan();
    // One partial sum per part: part t of `parts` covers groups t·G/parts..(t+1)·G/parts.
    let parts = if parallel { rayon::current_num_threads() } else { 1 };
    let partial = |part: usize| -> Vec<T> {
        let mut acc = vec![T::zero(); o * ckk];
        if geo.batch == 0 {
            return acc;
        }
        let mut s = Scratch::new(
            geo,
            Patches::Im2row,
            parallel || rayon::current_num_threads() == 1,
        );
        for gi in part * groups / parts..(part + 1) * groups / parts {
            let first = gi * group;
            let nb = group.min(geo.batch - first);
            let mut stage = std::mem::take(&mut s.stage);
            let rows = group_rows(geo, g, first, nb, &mut stage);
            // acc[O, CKK] += G[O, nb·P] · colsᵀ[nb·P, CKK]
            let a = rows.as_slice().expect("row-major");
            if !s.implicit_product(x, first, nb, a, T::one(), &mut acc) {
                s.grow_cols();
                let patches = group_patches_as_rows(geo, x, first, nb, &mut s.cols, &mut s.gather);
                gemm(!parallel, rows, patches, T::one(), &mut acc);
            }
            s.stage = stage;
        }
        acc
    };
    if parts == 1 {
        return partial(0);
    }
    let partials: Vec<Vec<T>> = (0..parts).into_par_iter().map(partial).collect();
    let mut partials = partials.into_iter();
    let mut total = partials.next().expect("at least one part");
    for part in partials {
        total.iter_mut().zip(&part).for_each(|(t, v)| *t += *v);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::{ConvGeometry, conv2d_forward, conv2d_input_grad, conv2d_weight_grad};
    use crate::kernels::channels_last_col2im::tests::{
        first_astray, input_grad_in_f64, many_channel_geometries, values,
    };
    use crate::kernels::conv_scratch::WRITE_PATCHES_OUT;
    use crate::kernels::patches::tests::geometry;
    use std::sync::atomic::Ordering;

    /// The forward product and the weight gradient give the same bits
    /// whether the patches are packed straight from the images (implicit
    /// GEMM) or written out first, on one thread and on two (where W2's
    /// convolution runs its groups in parallel): the DCGAN's layers with a
    /// last group smaller than the others, strides, dilation, padding on
    /// one axis only, and one output channel (which writes its patches out).
    #[test]
    fn packing_patches_from_the_images_gives_the_written_out_patches_bits() {
        let with = |c, size, kernel, stride, padding, dilation, out_channels, batch| {
            let mut geo = geometry(c, size, kernel, stride, padding, dilation);
            geo.out_channels = out_channels;
            geo.batch = batch;
            geo
        };
        let cases = [
            with(64, [14, 14], [4, 4], [2, 2], [1, 1], [1, 1], 128, 40),
            with(1, [28, 28], [4, 4], [2, 2], [1, 1], [1, 1], 64, 9),
            with(3, [9, 7], [3, 2], [1, 2], [2, 0], [1, 1], 5, 7),
            with(2, [12, 12], [4, 4], [2, 2], [1, 1], [2, 2], 3, 3),
            with(4, [8, 8], [3, 3], [1, 1], [1, 1], [1, 1], 1, 2),
        ];
        for threads in [1, 2] {
            for geo in cases {
                // Fresh threads for every case, whose scratch space starts
                // empty, as a process's first convolution finds it.
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let x = values(geo.batch * geo.sample_len(), 1);
                let w = values(geo.out_channels * geo.patch_len(), 2);
                let g = values(geo.batch * geo.out_channels * geo.out_pixels(), 3);
                let bias = values(geo.out_channels, 4);
                let both_ways = |write_out: bool| {
                    WRITE_PATCHES_OUT.store(write_out, Ordering::Relaxed);
                    let y = pool.install(|| conv2d_forward(&geo, &x, &w, Some(&bias)));
                    let w_grad = pool.install(|| conv2d_weight_grad(&geo, &x, &g));
                    WRITE_PATCHES_OUT.store(false, Ordering::Relaxed);
                    (y, w_grad)
                };
                // Packed first, on the fresh threads.
                let packed = both_ways(false);
                let written = both_ways(true);
                // The first element whose bits differ, if any.
                let differ =
                    |a: &[f32], b: &[f32]| a.iter().zip(b).position(|(x, y)| x.to_bits() != y.to_bits());
                assert_eq!(written.0.len(), packed.0.len());
                #[cfg(target_arch = "x86_64")]
                let turned_round = crate::kernels::interleaved_patches::InterleavedPatches::applies(&geo);
                #[cfg(not(target_arch = "x86_64"))]
                let turned_round = false;
                if turned_round {
                    // Another order of the sums (`interleaved_patches.rs`):
                    // both ways against the sums in f64.
                    let (want, scale) = forward_in_f64(&geo, &x, &w, &bias);
                    for (way, y) in [("packed", &packed.0), ("written out", &written.0)] {
                        assert_eq!(
                            first_astray(y, &want, &scale),
                            None,
                            "forward {way}, {threads} threads, {geo:?}"
                        );
                    }
                } else {
                    assert_eq!(
                        differ(&written.0, &packed.0),
                        None,
                        "forward, {threads} threads, {geo:?}"
                    );
                }
                assert_eq!(
                    differ(&written.1, &packed.1),
                    None,
                    "weight gradient, {threads} threads, {geo:?}"
                );
            }
        }
        #[cfg(target_arch = "x86_64")]
        if !crate::kernels::gemm::implicit::packed_b_available() {
            eprintln!("note: the portable gemm path is active, so both ways wrote the patches out");
        }
    }

    /// The convolution `conv(x, w) + bias` in f64, and the same sums of
    /// absolute values (the scale of f32's rounding, see `first_astray`).
    fn forward_in_f64(geo: &ConvGeometry, x: &[f32], w: &[f32], bias: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let wide = |v: &[f32], abs: bool| -> Vec<f64> {
            v.iter()
                .map(|&v| if abs { (v as f64).abs() } else { v as f64 })
                .collect()
        };
        let [want, scale] = [false, true]
            .map(|abs| conv2d_forward(geo, &wide(x, abs), &wide(w, abs), Some(&wide(bias, abs))));
        (want, scale)
    }

    /// The forward convolution turned round (images interleaving 8
    /// samples, the taps that read padding skipped) is the convolution, to
    /// f32's rounding: strides, dilation, padding on one axis only, a last
    /// chunk of fewer than 8 samples, groups in parallel and not, with and
    /// without a bias (bias zero).
    #[test]
    fn the_forward_product_turned_round_is_the_convolution() {
        // Batches with a last chunk of fewer than 8 samples, and groups of
        // 16 (W2's) as well as smaller ones.
        let cases = many_channel_geometries()
            .into_iter()
            .zip([21, 11, 3, 9])
            .map(|(geo, batch)| ConvGeometry { batch, ..geo });
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for geo in cases.clone() {
                let x = values(geo.batch * geo.sample_len(), 1);
                let w = values(geo.out_channels * geo.patch_len(), 2);
                for bias in [values(geo.out_channels, 3), vec![0.0; geo.out_channels]] {
                    let (want, scale) = forward_in_f64(&geo, &x, &w, &bias);
                    let got = pool.install(|| conv2d_forward(&geo, &x, &w, Some(&bias)));
                    assert_eq!(
                        first_astray(&got, &want, &scale),
                        None,
                        "{threads} threads, {geo:?}"
                    );
                }
            }
        }
    }

    /// The input gradient of an image with 16 or more channels (pixel rows,
    /// channels last) is col2im's, to rounding, through the whole kernel:
    /// W2's geometry with groups run in parallel (21 samples: groups of 16
    /// and 5, blocks of 128 pixels that split samples) and with one group
    /// whose products are split across threads (9 samples), on one thread
    /// and on two, with and without a bias.
    #[test]
    fn the_input_gradient_of_many_channels_is_col2ims() {
        for batch in [21, 9] {
            let mut geo = geometry(16, [14, 14], [4, 4], [2, 2], [1, 1], [1, 1]);
            geo.out_channels = 32;
            geo.batch = batch;
            let w = values(geo.out_channels * geo.patch_len(), 5);
            let g = values(batch * geo.out_channels * geo.out_pixels(), 6);
            let bias = values(geo.in_channels, 7);
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                for bias in [None, Some(&bias[..])] {
                    let got = pool.install(|| conv2d_input_grad(&geo, &g, &w, bias));
                    let want = input_grad_in_f64(&geo, &w, &g, bias, false);
                    let scale = input_grad_in_f64(&geo, &w, &g, bias, true);
                    assert_eq!(
                        first_astray(&got, &want, &scale),
                        None,
                        "{batch} samples, {threads} threads, bias {}",
                        bias.is_some()
                    );
                }
            }
        }
    }
}
