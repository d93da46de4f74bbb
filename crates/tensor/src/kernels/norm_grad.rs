//! BatchNorm's backward loops: the gradients of the affine step
//! ([`channel_scale_shift_grad`]), of the normalisation
//! ([`channel_normalize_grad`]) and of both at once
//! ([`channel_normalize_affine_grad`]). Each takes two passes over the
//! batch (per-channel sums, then the input's gradient) and gives the bits
//! of the same formulas written as tensor ops: every product rounded
//! before it is summed, and every sum in `sum_to_shape`'s order (a
//! channel's `N` rows one after the other, [`sum_slice`]'s order within a
//! row, or, with a single channel, whose values are contiguous, all of
//! them as one run). The forward loops are in `norm.rs`.

#[cfg(doc)]
use super::elementwise::sum_slice;
use super::elementwise::{filled, finish_sum};
use super::norm::{by_channel_blocks, channel_rows, map_channels};
use super::{CHUNK, PARALLEL_THRESHOLD};
#[cfg(target_arch = "x86_64")]
use super::{f32s, is_f32};
use crate::Element;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::ops::Range;

/// `(scalē, shift̄)`, one value per channel.
pub type ScaleShiftGrads<T> = (Vec<T>, Vec<T>);

/// The gradients of `channel_scale_shift` (`y = x·scale[c] + shift[c]`)
/// for `g` (ȳ), all row-major `[N, C, S]`: `x̄ = ȳ·scale[c]` if `want_x`,
/// and per channel `scalē[c] = Σ ȳ·x` and `shift̄[c] = Σ ȳ` if
/// `want_params`.
///
/// Two passes over the batch (the sums, then `x̄`) and no intermediate
/// arrays, instead of the four passes and two arrays of a broadcast
/// multiply's and add's backward (`ȳ·scale`, `ȳ·x`, and two sums down to
/// the channels), with their bits (see the module's notes).
///
/// # Panics
/// If the lengths do not match.
pub fn channel_scale_shift_grad<T: Element>(
    g: &[T],
    x: &[T],
    dims: (usize, usize, usize),
    scale: &[T],
    (want_x, want_params): (bool, bool),
) -> (Option<Vec<T>>, Option<ScaleShiftGrads<T>>) {
    let (batch, channels, plane) = dims;
    assert!(
        g.len() == batch * channels * plane && x.len() == g.len() && scale.len() == channels,
        "channel_scale_shift_grad: lengths"
    );
    let params = want_params.then(|| {
        let plain = Standardized { x, mean: None };
        let [(sum_g, sum_gx)] = channel_sums(g, plain, dims, [None], None);
        (sum_gx, sum_g)
    });
    let grad_x = want_x.then(|| map_channels(g, channels, plane, [scale], |v, [s]| v * s));
    (grad_x, params)
}

/// BatchNorm's input gradient, `x̄ = (ḡ − mean(ḡ) − x̂·mean(ḡ·x̂))·r` per
/// channel `c` (means over the channel's `N·S` values, `r = inv_std[c]`),
/// for row-major `[N, C, S]` slices `g` (ḡ, the gradient of `x̂`) and
/// `x_hat` (x̂, the normalised batch).
///
/// Two passes instead of the seven of the same formula in tensor ops (two
/// means, two products, two differences, one scaling), and no intermediate
/// arrays. The arithmetic is theirs step for step, so the result is the same
/// to the bit: each mean sums the channel's rows in `sum_to_shape`'s order
/// and multiplies by `1/(N·S)` (as `mean_axes` does), `ḡ·x̂` is rounded
/// before it is summed, and every value is `((ḡ − mean(ḡ)) −
/// x̂·mean(ḡ·x̂))·r` in that order.
///
/// # Panics
/// If the lengths do not match or `batch·plane == 0`.
pub fn channel_normalize_grad<T: Element>(
    g: &[T],
    x_hat: &[T],
    dims: (usize, usize, usize),
    inv_std: &[T],
) -> Vec<T> {
    let (batch, channels, plane) = dims;
    assert!(
        g.len() == batch * channels * plane && x_hat.len() == g.len() && inv_std.len() == channels,
        "channel_normalize_grad: lengths"
    );
    let x_hat = Standardized { x: x_hat, mean: None };
    let [sums] = channel_sums(g, x_hat, dims, [None], None);
    normalize_grad(g, x_hat, dims, (None, None), sums, inv_std)
}

/// The gradients of BatchNorm's normalisation and affine step together,
/// `y = x̂·γ[c] + β[c]` with `x̂ = (x − μ[c])·r[c]` (`r = inv_std`), for
/// `g` (ȳ) and the batch `x`, all row-major `[N, C, S]`: with `want_x`,
/// `x̄` as [`channel_normalize_grad`] gives it for `ḡ = ȳ·γ[c]`; with
/// `want_params`, `γ̄[c] = Σ ȳ·x̂` and `β̄[c] = Σ ȳ`, as
/// [`channel_scale_shift_grad`] gives them.
///
/// The same bits as those two one after the other, but neither `x̂` nor
/// `ḡ` is ever stored: each is computed again where it is needed, rounded
/// as the forward pass and the affine step's gradient round it. One pass
/// takes all four sums per channel (`Σ ȳ`, `Σ ȳ·x̂` and the same of `ḡ`),
/// a second writes `x̄`: two reads of `ȳ` and `x` and one write, where
/// the two kernels take five reads and two writes, and the forward pass
/// had to write `x̂` out for them. The passes over a batch of activations
/// are what BatchNorm's time goes to.
///
/// With `rectified`, `g` is the gradient of a rectifier's output that
/// followed the affine step (see [`Rectified`]): each value of `ȳ` is
/// first passed back through it, as ReLU's backward would, again without
/// storing the result. The bits are those of that backward followed by
/// this one.
///
/// # Panics
/// If the lengths do not match or `batch·plane == 0`.
pub fn channel_normalize_affine_grad<T: Element>(
    g: &[T],
    x: &[T],
    dims: (usize, usize, usize),
    (mean, inv_std, gamma): (&[T], &[T], &[T]),
    rectified: Option<Rectified<'_, T>>,
    (want_x, want_params): (bool, bool),
) -> (Option<Vec<T>>, Option<ScaleShiftGrads<T>>) {
    let (batch, channels, plane) = dims;
    assert!(
        g.len() == batch * channels * plane
            && x.len() == g.len()
            && [mean, inv_std, gamma].iter().all(|v| v.len() == channels)
            && rectified.is_none_or(|r| r.gamma.len() == channels && r.beta.len() == channels),
        "channel_normalize_affine_grad: lengths"
    );
    let x_hat = Standardized {
        x,
        mean: Some((mean, inv_std)),
    };
    let params = |(sum_g, sum_gx)| (sum_gx, sum_g);
    let grad_x = |sums| normalize_grad(g, x_hat, dims, (Some(gamma), rectified), sums, inv_std);
    match (want_x, want_params) {
        (true, true) => {
            let [plain, scaled] = channel_sums(g, x_hat, dims, [None, Some(gamma)], rectified);
            (Some(grad_x(scaled)), Some(params(plain)))
        }
        (true, false) => {
            let [scaled] = channel_sums(g, x_hat, dims, [Some(gamma)], rectified);
            (Some(grad_x(scaled)), None)
        }
        (false, true) => {
            let [plain] = channel_sums(g, x_hat, dims, [None], rectified);
            (None, Some(params(plain)))
        }
        (false, false) => (None, None),
    }
}

/// A rectifier after BatchNorm's affine step, as its backward sees it:
/// the gradient `ȳ` of `max(y, 0)` or of a leaky ReLU's output reaches
/// `y = x̂·gamma[c] + beta[c]` as `ȳ` where `y > 0` and `slope·ȳ`
/// elsewhere (`slope` 0 for ReLU), the rule of `leaky_relu_backward` in
/// `ops/activation.rs`. `y` is computed again from `x̂` with the `gamma`
/// and `beta` of the forward pass, rounded as the forward rounds it.
#[derive(Clone, Copy)]
pub struct Rectified<'a, T> {
    /// The slope below zero: 0 for ReLU, α for a leaky ReLU.
    pub slope: T,
    /// γ per channel, as the forward pass used it.
    pub gamma: &'a [T],
    /// β per channel, as the forward pass used it.
    pub beta: &'a [T],
}

/// `(γ, β, slope)` of channel `c` of `rectified`, for
/// [`through_rectifier`]; without a rectifier `(0, 1, 1)`, which passes
/// every gradient through as it is: `y = x̂·0 + 1 = 1 > 0` keeps `g`, and
/// where `x̂` is infinite or NaN (`y` NaN) `1·g` is `g` too. One branch-free
/// formula for both cases keeps the loops in vector registers.
fn rectifier_of<T: Element>(rectified: Option<Rectified<'_, T>>, c: usize) -> (T, T, T) {
    rectified.map_or((T::zero(), T::one(), T::one()), |r| {
        (r.gamma[c], r.beta[c], r.slope)
    })
}

/// `g`, the gradient of a rectifier's output, as it reaches the
/// rectifier's input `y = x̂·γ + β` (`(γ, β, slope)`, [`rectifier_of`]):
/// `g` where `y > 0`, `slope·g` elsewhere (NaN included), the rule of
/// `leaky_relu_backward`.
#[inline(always)]
fn through_rectifier<T: Element>(g: T, x_hat: T, (gamma, beta, slope): (T, T, T)) -> T {
    let scaled = slope * g;
    if x_hat * gamma + beta > T::zero() {
        g
    } else {
        scaled
    }
}

/// A batch read as its values `x`, or as `x̂ = (x − mean[c])·inv_std[c]`
/// computed on the fly (rounded as `channel_normalize_affine` rounds it).
#[derive(Clone, Copy)]
struct Standardized<'a, T> {
    x: &'a [T],
    /// `(mean, inv_std)` per channel, or `None` for `x` itself.
    mean: Option<(&'a [T], &'a [T])>,
}

impl<T: Element> Standardized<'_, T> {
    /// The `(shift, scale)` of channel `c`: `x̂ = (x − shift)·scale`, which
    /// for `(0, 1)` is `x` to the bit.
    fn of_channel(&self, c: usize) -> (T, T) {
        self.mean
            .map_or((T::zero(), T::one()), |(mean, inv_std)| (mean[c], inv_std[c]))
    }
}

/// The second pass of [`channel_normalize_grad`]: every value of
/// `x̄ = ((ḡ − mean(ḡ)) − x̂·mean(ḡ·x̂))·r`, where `ḡ = g·scale[c]` (rounded)
/// or `g` itself, after `g` is passed back through the rectifier if there
/// is one, and `sums` holds the channels' `Σ ḡ` and `Σ ḡ·x̂`.
///
/// # Panics
/// If `batch·plane == 0`.
fn normalize_grad<T: Element>(
    g: &[T],
    x_hat: Standardized<'_, T>,
    (batch, channels, plane): (usize, usize, usize),
    (scale, rectified): (Option<&[T]>, Option<Rectified<'_, T>>),
    (sum_g, sum_gx): (Vec<T>, Vec<T>),
    inv_std: &[T],
) -> Vec<T> {
    assert!(batch * plane > 0, "normalize_grad: an empty channel has no mean");
    let per_value = T::one() / T::from_f64((batch * plane) as f64);
    let mean_g: Vec<T> = sum_g.iter().map(|&s| s * per_value).collect();
    let mean_gx: Vec<T> = sum_gx.iter().map(|&s| s * per_value).collect();
    // Row `r` of `[N·C, S]` is in channel `r mod C`.
    let row = |(r, out): (usize, &mut [MaybeUninit<T>])| {
        let c = r % channels;
        let (mg, mgx, r_c) = (mean_g[c], mean_gx[c], inv_std[c]);
        let (shift, stretch) = x_hat.of_channel(c);
        let s = scale.map_or(T::one(), |scale| scale[c]);
        let rectifier = rectifier_of(rectified, c);
        let at = r * plane..(r + 1) * plane;
        for ((o, &g), &x) in out.iter_mut().zip(&g[at.clone()]).zip(&x_hat.x[at]) {
            // ḡ·1 and (x − 0)·1 are ḡ and x to the bit.
            let x = (x - shift) * stretch;
            let g = through_rectifier(g, x, rectifier) * s;
            o.write(((g - mg) - x * mgx) * r_c);
        }
    };
    filled(g.len(), |out| {
        if g.len() >= PARALLEL_THRESHOLD {
            out.par_chunks_mut(plane)
                .enumerate()
                .with_min_len((CHUNK / plane).max(1))
                .for_each(row);
        } else {
            out.chunks_mut(plane).enumerate().for_each(row);
        }
    })
}

/// Per channel `c` of row-major `[N, C, S]` slices `g` and `x`, for each
/// of `K` scalings: `Σ ḡ` and `Σ ḡ·x`, where `ḡ = g·scale[c]` (rounded)
/// for `Some(scale)` and `ḡ = g` for `None` (`g` first passed back through
/// the rectifier, if there is one), each product rounded first,
/// in `sum_to_shape`'s order (see the module's notes). One walk over the
/// batch in memory order ([`by_channel_blocks`]), in parallel for large
/// inputs, whatever `K` is: each pair of rows is read from memory once.
fn channel_sums<T: Element, const K: usize>(
    g: &[T],
    x: Standardized<'_, T>,
    (batch, channels, plane): (usize, usize, usize),
    scales: [Option<&[T]>; K],
    rectified: Option<Rectified<'_, T>>,
) -> [(Vec<T>, Vec<T>); K] {
    let dims = if channels == 1 {
        (1, 1, batch * plane)
    } else {
        (batch, channels, plane)
    };
    let (g_row, x_row) = (channel_rows(g, dims), channel_rows(x.x, dims));
    // `ḡ = g·1` is `g` to the bit, so the unscaled sums multiply by 1.
    let factor = |k: usize, c: usize| scales[k].map_or(T::one(), |scale| scale[c]);
    // Row `(n, c)`: `g`'s, `x`'s, the scale, the standardisation and
    // the rectifier.
    let row = |n: usize, c: usize, k: usize| {
        (
            g_row(n, c),
            x_row(n, c),
            factor(k, c),
            x.of_channel(c),
            rectifier_of(rectified, c),
        )
    };
    let block = |cs: Range<usize>| {
        let mut sums = vec![[(T::zero(), T::zero()); K]; cs.len()];
        let mut add = |c: usize, k: usize, (g, gx): (T, T)| {
            let sum = &mut sums[c - cs.start][k];
            sum.0 += g;
            sum.1 += gx;
        };
        for n in 0..dims.0 {
            // Two channels' rows at a time: their sums are independent
            // chains of adds, which the processor overlaps.
            let mut c = cs.start;
            while c + 2 <= cs.end {
                for k in 0..K {
                    let [first, second] = row_sums([row(n, c, k), row(n, c + 1, k)]);
                    add(c, k, first);
                    add(c + 1, k, second);
                }
                c += 2;
            }
            if c < cs.end {
                for k in 0..K {
                    let [only] = row_sums([row(n, c, k)]);
                    add(c, k, only);
                }
            }
        }
        sums
    };
    let per_channel = by_channel_blocks(channels, g.len() >= PARALLEL_THRESHOLD, block);
    std::array::from_fn(|k| per_channel.iter().map(|sums| sums[k]).unzip())
}

/// One row of [`row_sums`]: `g`'s values, `x`'s, the scale `s` of `g`,
/// the standardisation `(m, r)` of `x` and the rectifier `(γ, β, slope)`
/// that `g` comes back through ([`rectifier_of`]).
type SumRow<'a, T> = (&'a [T], &'a [T], T, (T, T), (T, T, T));

/// For each of `R` equally long rows `(g, x, s, (m, r), rectifier)`: `(Σ ḡ, Σ ḡ·x̂)`
/// with `ḡ = g·s` and `x̂ = (x − m)·r` (`g` first passed back through the
/// rectifier, [`through_rectifier`]), each step rounded, each sum in
/// [`sum_slice`]'s order (eight running sums, then the rest): the values
/// of `sum_slice` of the multiplied rows, without storing those. (With
/// `s = 1`, `m = 0`, `r = 1` those are `g` and `x` themselves, to the
/// bit.) The `R` rows' sums run side by side, so that their adds overlap
/// instead of each waiting for the one before; in f32 with AVX2 the eight
/// running sums of a row are one vector register (the same adds, lane by
/// lane).
fn row_sums<T: Element, const R: usize>(rows: [SumRow<'_, T>; R]) -> [(T, T); R] {
    let len = rows[0].0.len();
    assert!(
        rows.iter()
            .all(|(g, x, _, _, _)| g.len() == len && x.len() == len),
        "row_sums: lengths"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && is_f32::<T>() {
        // Exact: T is f32.
        let f = |v: T| v.to_f64() as f32;
        let rows = rows.map(|(g, x, s, (m, r), rectifier)| {
            (
                f32s(g).expect("T is f32"),
                f32s(x).expect("T is f32"),
                f(s),
                (f(m), f(r)),
                (f(rectifier.0), f(rectifier.1), f(rectifier.2)),
            )
        });
        // SAFETY: the CPU has AVX2 (checked above); the rows are equally
        // long (asserted above).
        let sums = unsafe { row_sums_avx2(rows) };
        // Exact: T is f32.
        return sums.map(|(g, gx)| (T::from_f64(g as f64), T::from_f64(gx as f64)));
    }
    let (mut acc_g, mut acc_gx) = ([[T::zero(); 8]; R], [[T::zero(); 8]; R]);
    let whole = len / 8 * 8;
    for i in (0..whole).step_by(8) {
        for (r, &(g, x, s, (m, stretch), rectifier)) in rows.iter().enumerate() {
            for l in i..i + 8 {
                let x_hat = (x[l] - m) * stretch;
                let scaled = through_rectifier(g[l], x_hat, rectifier) * s;
                acc_g[r][l - i] += scaled;
                acc_gx[r][l - i] += scaled * x_hat;
            }
        }
    }
    std::array::from_fn(|r| {
        let (g, x, s, (m, stretch), rectifier) = rows[r];
        let (g, x) = (&g[whole..], &x[whole..]);
        let scaled = |g: T, x: T| through_rectifier(g, (x - m) * stretch, rectifier) * s;
        (
            finish_sum(acc_g[r], g.iter().zip(x).map(|(&g, &x)| scaled(g, x))),
            finish_sum(
                acc_gx[r],
                g.iter().zip(x).map(|(&g, &x)| scaled(g, x) * ((x - m) * stretch)),
            ),
        )
    })
}

/// [`row_sums`] in f32 with AVX2: each row's eight running sums of `ḡ` and
/// of `ḡ·x̂` are one register each. The rectifier's test `y > 0` is a
/// vector compare (`_CMP_GT_OQ`: false for NaN, as the scalar `>` is) and
/// a blend of `g` and `slope·g`.
///
/// # Safety
/// The CPU has AVX2; the rows are equally long.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_sums_avx2<const R: usize>(rows: [SumRow<'_, f32>; R]) -> [(f32, f32); R] {
    use std::arch::x86_64::*;
    let len = rows[0].0.len();
    let whole = len / 8 * 8;
    let (mut acc_g, mut acc_gx) = ([_mm256_setzero_ps(); R], [_mm256_setzero_ps(); R]);
    let factors = rows.map(|(_, _, s, (m, r), _)| (_mm256_set1_ps(s), _mm256_set1_ps(m), _mm256_set1_ps(r)));
    let rectifiers = rows.map(|(_, _, _, _, (gamma, beta, slope))| {
        (_mm256_set1_ps(gamma), _mm256_set1_ps(beta), _mm256_set1_ps(slope))
    });
    for i in (0..whole).step_by(8) {
        for r in 0..R {
            let (s, m, stretch) = factors[r];
            // SAFETY: i + 8 ≤ whole ≤ len, inside both rows (caller's
            // contract); AVX2 is enabled.
            unsafe {
                let x = _mm256_loadu_ps(rows[r].1.as_ptr().add(i));
                let x_hat = _mm256_mul_ps(_mm256_sub_ps(x, m), stretch);
                let g = _mm256_loadu_ps(rows[r].0.as_ptr().add(i));
                // y = x̂·γ + β, rounded as the forward pass rounds it.
                let (gamma, beta, slope) = rectifiers[r];
                let y = _mm256_add_ps(_mm256_mul_ps(x_hat, gamma), beta);
                let positive = _mm256_cmp_ps::<_CMP_GT_OQ>(y, _mm256_setzero_ps());
                let g = _mm256_blendv_ps(_mm256_mul_ps(slope, g), g, positive);
                let g = _mm256_mul_ps(g, s);
                acc_g[r] = _mm256_add_ps(acc_g[r], g);
                acc_gx[r] = _mm256_add_ps(acc_gx[r], _mm256_mul_ps(g, x_hat));
            }
        }
    }
    let mut sums = [(0.0, 0.0); R];
    for r in 0..R {
        let (mut g8, mut gx8) = ([0.0f32; 8], [0.0f32; 8]);
        // SAFETY: each array holds 8 floats; AVX2 is enabled.
        unsafe {
            _mm256_storeu_ps(g8.as_mut_ptr(), acc_g[r]);
            _mm256_storeu_ps(gx8.as_mut_ptr(), acc_gx[r]);
        }
        let (g, x, s, (m, stretch), rectifier) = rows[r];
        let (g, x) = (&g[whole..], &x[whole..]);
        let (mut scaled, mut products) = ([0.0f32; 8], [0.0f32; 8]);
        for (((d, p), &g), &x) in scaled.iter_mut().zip(&mut products).zip(g).zip(x) {
            let x_hat = (x - m) * stretch;
            *d = through_rectifier(g, x_hat, rectifier) * s;
            *p = *d * x_hat;
        }
        sums[r] = (
            finish_sum(g8, scaled[..g.len()].iter().copied()),
            finish_sum(gx8, products[..g.len()].iter().copied()),
        );
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::{Standardized, channel_sums};
    use crate::kernels::channels_last_col2im::tests::values;
    use crate::kernels::elementwise::sum_slice;

    /// Walking the batch in memory order, in blocks of channels, sums each
    /// channel's rows in the order of one channel at a time, and the sums
    /// of `ḡ = g·γ` and of `x̂ = (x − μ)·r` computed on the fly are those of
    /// the stored products: against a channel-by-channel reference over
    /// written-out `ḡ` and `x̂`, to the bit, on one thread and on two
    /// (blocks of 64 channels), for 1 and 3 channels and for W2's
    /// `[64, 128, 7, 7]`.
    #[test]
    fn channel_blocks_sum_each_channel_in_row_order() {
        for (batch, channels, plane) in [(5, 1, 9), (4, 3, 10), (64, 128, 49)] {
            let len = batch * channels * plane;
            let (g, x) = (values(len, 1), values(len, 2));
            let per_channel = |seed: usize| -> Vec<f32> {
                (0..channels)
                    .map(|c| 0.5 + ((c * 37 + seed) % 11) as f32 / 7.0)
                    .collect()
            };
            let (gamma, mean, inv_std) = (per_channel(1), per_channel(2), per_channel(3));
            // One channel at a time, its rows in order (one run for a
            // single channel), over written-out values.
            let (runs, run) = if channels == 1 { (1, len) } else { (batch, plane) };
            let at = |n: usize, c: usize| (n * channels + c) * run..(n * channels + c + 1) * run;
            let reference = |scale: &dyn Fn(usize) -> f32, standardize: bool| -> Vec<(u32, u32)> {
                (0..channels)
                    .map(|c| {
                        let (mut sum_g, mut sum_gx) = (0.0f32, 0.0f32);
                        for n in 0..runs {
                            let g_bar: Vec<f32> = g[at(n, c)].iter().map(|&g| g * scale(c)).collect();
                            let x_hat: Vec<f32> = x[at(n, c)]
                                .iter()
                                .map(|&x| {
                                    if standardize {
                                        (x - mean[c]) * inv_std[c]
                                    } else {
                                        x
                                    }
                                })
                                .collect();
                            let products: Vec<f32> = g_bar.iter().zip(&x_hat).map(|(g, x)| g * x).collect();
                            sum_g += sum_slice(&g_bar);
                            sum_gx += sum_slice(&products);
                        }
                        (sum_g.to_bits(), sum_gx.to_bits())
                    })
                    .collect()
            };
            let bits = |(sum_g, sum_gx): &(Vec<f32>, Vec<f32>)| -> Vec<(u32, u32)> {
                sum_g
                    .iter()
                    .zip(sum_gx)
                    .map(|(a, b)| (a.to_bits(), b.to_bits()))
                    .collect()
            };
            let dims = (batch, channels, plane);
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let plain = Standardized { x: &x, mean: None };
                let [sums] = pool.install(|| channel_sums(&g, plain, dims, [None], None));
                assert_eq!(
                    bits(&sums),
                    reference(&|_| 1.0, false),
                    "{dims:?} on {threads} threads"
                );
                let standardized = Standardized {
                    x: &x,
                    mean: Some((&mean, &inv_std)),
                };
                let [unscaled, scaled] =
                    pool.install(|| channel_sums(&g, standardized, dims, [None, Some(&gamma)], None));
                assert_eq!(bits(&unscaled), reference(&|_| 1.0, true), "{dims:?}, x̂");
                assert_eq!(bits(&scaled), reference(&|c| gamma[c], true), "{dims:?}, ḡ and x̂");
            }
        }
    }
}
