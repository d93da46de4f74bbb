//! BatchNorm's loops: per-channel statistics of a `[N, C, …]` batch, the
//! normalisation that uses them, and its gradient. The op that records them
//! for autodiff, with its derivative, is `ops/norm.rs`.

use super::elementwise::{filled, finish_sum, sum_slice};
use super::{CHUNK, PARALLEL_THRESHOLD};
#[cfg(target_arch = "x86_64")]
use super::{f32s, is_f32};
use crate::Element;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Per-channel mean and (biased) variance of `x`, a row-major `[N, C, S]`
/// array given as a slice (`S` the product of any trailing axes): each
/// channel's statistics over its `N·S` values. Two passes per channel (the
/// mean, then the mean squared distance from it), which loses far less to
/// rounding than `E[x²] − E[x]²`. Channels run in parallel for large inputs;
/// each channel is summed by one thread in a fixed order.
///
/// # Panics
/// If `x.len() != batch·channels·plane` or `batch·plane == 0`.
pub fn channel_moments<T: Element>(x: &[T], batch: usize, channels: usize, plane: usize) -> (Vec<T>, Vec<T>) {
    assert_eq!(x.len(), batch * channels * plane, "channel_moments: x");
    assert!(batch * plane > 0, "channel_moments: an empty channel has no mean");
    let count = T::from_f64((batch * plane) as f64);
    let moments = |c: usize| {
        let rows = (0..batch).map(|n| &x[(n * channels + c) * plane..(n * channels + c + 1) * plane]);
        let mean = rows.clone().fold(T::zero(), |acc, row| acc + sum_slice(row)) / count;
        let squares = rows.fold(T::zero(), |acc, row| {
            let mut acc8 = [T::zero(); 8];
            let chunks = row.chunks_exact(8);
            let rest: T = chunks.remainder().iter().map(|&v| (v - mean) * (v - mean)).sum();
            for chunk in chunks {
                for (a, &v) in acc8.iter_mut().zip(chunk) {
                    *a += (v - mean) * (v - mean);
                }
            }
            acc + sum_slice(&acc8) + rest
        });
        (mean, squares / count)
    };
    if x.len() >= PARALLEL_THRESHOLD {
        (0..channels).into_par_iter().map(moments).unzip()
    } else {
        (0..channels).map(moments).unzip()
    }
}

/// `(x − shift[c])·scale[c]` for every value of channel `c` of a row-major
/// `[N, C, S]` slice, as a new vector: BatchNorm's normalisation with
/// `shift` the mean and `scale` the reciprocal standard deviation.
///
/// # Panics
/// If the lengths do not match.
pub fn channel_shift_scale<T: Element>(
    x: &[T],
    channels: usize,
    plane: usize,
    shift: &[T],
    scale: &[T],
) -> Vec<T> {
    map_channels(x, channels, plane, shift, scale, |v, m, s| (v - m) * s)
}

/// `x·scale[c] + shift[c]` for every value of channel `c` of a row-major
/// `[N, C, S]` slice, as a new vector: BatchNorm's affine step (γ, β)
/// after the normalisation. The product is rounded before the sum, so
/// the result is that of a broadcast multiply and then a broadcast add.
///
/// # Panics
/// If the lengths do not match.
pub fn channel_scale_shift<T: Element>(
    x: &[T],
    channels: usize,
    plane: usize,
    scale: &[T],
    shift: &[T],
) -> Vec<T> {
    map_channels(x, channels, plane, scale, shift, |v, g, b| v * g + b)
}

/// `f(x, a[c], b[c])` for every value of channel `c` of a row-major
/// `[N, C, S]` slice, as a new vector, in parallel for large inputs.
fn map_channels<T: Element>(
    x: &[T],
    channels: usize,
    plane: usize,
    a: &[T],
    b: &[T],
    f: impl Fn(T, T, T) -> T + Sync,
) -> Vec<T> {
    assert!(
        a.len() == channels && b.len() == channels,
        "map_channels: per-channel values"
    );
    assert_eq!(x.len() % (channels * plane).max(1), 0, "map_channels: x");
    if plane == 0 {
        return Vec::new();
    }
    let row = |(r, (o, v)): (usize, (&mut [MaybeUninit<T>], &[T]))| {
        let (a, b) = (a[r % channels], b[r % channels]);
        for (o, &v) in o.iter_mut().zip(v) {
            o.write(f(v, a, b));
        }
    };
    filled(x.len(), |out| {
        if x.len() >= PARALLEL_THRESHOLD {
            out.par_chunks_mut(plane)
                .zip(x.par_chunks(plane))
                .enumerate()
                .with_min_len((CHUNK / plane).max(1))
                .for_each(row);
        } else {
            out.chunks_mut(plane)
                .zip(x.chunks(plane))
                .enumerate()
                .for_each(row);
        }
    })
}

/// `(scalē, shift̄)`, one value per channel.
pub type ScaleShiftGrads<T> = (Vec<T>, Vec<T>);

/// The gradients of [`channel_scale_shift`] for `g` (ȳ), all row-major
/// `[N, C, S]`: `x̄ = ȳ·scale[c]` if `want_x`, and per channel
/// `scalē[c] = Σ ȳ·x` and `shift̄[c] = Σ ȳ` if `want_params`.
///
/// Two passes over the batch (the sums, then `x̄`) and no intermediate
/// arrays, instead of the four passes and two arrays of a broadcast
/// multiply's and add's backward (`ȳ·scale`, `ȳ·x`, and two sums down to
/// the channels), with their bits: each product rounded first, the sums in `sum_to_shape`'s
/// order (the channel's `N` rows one after the other with [`sum_slice`]'s
/// order within a row, or, with a single channel, all its values as one
/// run).
///
/// # Panics
/// If the lengths do not match.
pub fn channel_scale_shift_grad<T: Element>(
    g: &[T],
    x: &[T],
    (batch, channels, plane): (usize, usize, usize),
    scale: &[T],
    (want_x, want_params): (bool, bool),
) -> (Option<Vec<T>>, Option<ScaleShiftGrads<T>>) {
    assert!(
        g.len() == batch * channels * plane && x.len() == g.len() && scale.len() == channels,
        "channel_scale_shift_grad: lengths"
    );
    let params = want_params.then(|| {
        let (sum_g, sum_gx) = channel_sums(g, x, batch, channels, plane);
        (sum_gx, sum_g)
    });
    let zeros = vec![T::zero(); channels];
    let grad_x = want_x.then(|| map_channels(g, channels, plane, scale, &zeros, |v, s, _| v * s));
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
/// to the bit: each mean sums the channel's rows in order with
/// [`sum_slice`] (as `sum_to_shape` does, which sums a single channel's
/// contiguous values in one run) and multiplies by `1/(N·S)` (as
/// `mean_axes` does), `ḡ·x̂` is rounded before it is summed, and every value
/// is `((ḡ − mean(ḡ)) − x̂·mean(ḡ·x̂))·r` in that order.
///
/// # Panics
/// If the lengths do not match or `batch·plane == 0`.
pub fn channel_normalize_grad<T: Element>(
    g: &[T],
    x_hat: &[T],
    batch: usize,
    channels: usize,
    plane: usize,
    inv_std: &[T],
) -> Vec<T> {
    assert!(
        g.len() == batch * channels * plane && x_hat.len() == g.len() && inv_std.len() == channels,
        "channel_normalize_grad: lengths"
    );
    assert!(
        batch * plane > 0,
        "channel_normalize_grad: an empty channel has no mean"
    );
    let per_value = T::one() / T::from_f64((batch * plane) as f64);
    // Pass 1: mean(ḡ) and mean(ḡ·x̂) per channel.
    let (sum_g, sum_gx) = channel_sums(g, x_hat, batch, channels, plane);
    let mean_g: Vec<T> = sum_g.iter().map(|&s| s * per_value).collect();
    let mean_gx: Vec<T> = sum_gx.iter().map(|&s| s * per_value).collect();
    // Pass 2: every value of x̄, row `r` of `[N·C, S]` in channel `r mod C`.
    let row = |(r, out): (usize, &mut [MaybeUninit<T>])| {
        let c = r % channels;
        let (mg, mgx, scale) = (mean_g[c], mean_gx[c], inv_std[c]);
        let at = r * plane..(r + 1) * plane;
        for ((o, &g), &x) in out.iter_mut().zip(&g[at.clone()]).zip(&x_hat[at]) {
            o.write(((g - mg) - x * mgx) * scale);
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

/// Per channel of row-major `[N, C, S]` slices `g` and `x`: `Σ g` and
/// `Σ g·x` (each product rounded first), summed as `sum_to_shape` sums a
/// channel down: its `N` rows one after the other, each in [`sum_slice`]'s
/// order, or, with a single channel, whose values are contiguous, all of
/// them as one run. Channels run in parallel for large inputs.
fn channel_sums<T: Element>(
    g: &[T],
    x: &[T],
    batch: usize,
    channels: usize,
    plane: usize,
) -> (Vec<T>, Vec<T>) {
    let (runs, run) = if channels == 1 {
        (1, batch * plane)
    } else {
        (batch, plane)
    };
    let sums = |c: usize| {
        let (mut sum_g, mut sum_gx) = (T::zero(), T::zero());
        let at = |n: usize| (n * channels + c) * run..(n * channels + c + 1) * run;
        // Two rows at a time: their sums are independent chains of adds,
        // which the processor overlaps; each row's sums are still added
        // to the channel's in row order.
        let mut n = 0;
        while n + 2 <= runs {
            let (a, b) = (at(n), at(n + 1));
            let [(g0, gx0), (g1, gx1)] = row_sums([(&g[a.clone()], &x[a]), (&g[b.clone()], &x[b])]);
            sum_g += g0;
            sum_gx += gx0;
            sum_g += g1;
            sum_gx += gx1;
            n += 2;
        }
        if n < runs {
            let [(g0, gx0)] = row_sums([(&g[at(n)], &x[at(n)])]);
            sum_g += g0;
            sum_gx += gx0;
        }
        (sum_g, sum_gx)
    };
    if g.len() >= PARALLEL_THRESHOLD {
        (0..channels).into_par_iter().map(sums).unzip()
    } else {
        (0..channels).map(sums).unzip()
    }
}

/// For each of `R` pairs of equally long rows `(g, x)`: `(Σ g, Σ g·x)`,
/// each in [`sum_slice`]'s order (eight running sums, then the rest), each
/// product rounded first: the values of `sum_slice(g)` and of `sum_slice`
/// of the multiplied rows, without storing those. The `R` rows' sums run
/// side by side, so that their adds overlap instead of each waiting for
/// the one before; in f32 with AVX2 the eight running sums of a row are
/// one vector register (the same adds, lane by lane).
fn row_sums<T: Element, const R: usize>(rows: [(&[T], &[T]); R]) -> [(T, T); R] {
    let len = rows[0].0.len();
    assert!(
        rows.iter().all(|(g, x)| g.len() == len && x.len() == len),
        "row_sums: lengths"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && is_f32::<T>() {
        let rows = rows.map(|(g, x)| (f32s(g).expect("T is f32"), f32s(x).expect("T is f32")));
        // SAFETY: the CPU has AVX2 (checked above); the rows are equally
        // long (asserted above).
        let sums = unsafe { row_sums_avx2(rows) };
        // Exact: T is f32.
        return sums.map(|(g, gx)| (T::from_f64(g as f64), T::from_f64(gx as f64)));
    }
    let (mut acc_g, mut acc_gx) = ([[T::zero(); 8]; R], [[T::zero(); 8]; R]);
    let whole = len / 8 * 8;
    for i in (0..whole).step_by(8) {
        for r in 0..R {
            for l in i..i + 8 {
                acc_g[r][l - i] += rows[r].0[l];
                acc_gx[r][l - i] += rows[r].0[l] * rows[r].1[l];
            }
        }
    }
    std::array::from_fn(|r| {
        let (g, x) = (&rows[r].0[whole..], &rows[r].1[whole..]);
        (
            finish_sum(acc_g[r], g.iter().copied()),
            finish_sum(acc_gx[r], g.iter().zip(x).map(|(&g, &x)| g * x)),
        )
    })
}

/// [`row_sums`] in f32 with AVX2: each row's eight running sums of `g` and
/// of `g·x` are one register each.
///
/// # Safety
/// The CPU has AVX2; the rows are equally long.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn row_sums_avx2<const R: usize>(rows: [(&[f32], &[f32]); R]) -> [(f32, f32); R] {
    use std::arch::x86_64::*;
    let len = rows[0].0.len();
    let whole = len / 8 * 8;
    let (mut acc_g, mut acc_gx) = ([_mm256_setzero_ps(); R], [_mm256_setzero_ps(); R]);
    for i in (0..whole).step_by(8) {
        for r in 0..R {
            // SAFETY: i + 8 ≤ whole ≤ len, inside both rows (caller's
            // contract); AVX2 is enabled.
            unsafe {
                let g = _mm256_loadu_ps(rows[r].0.as_ptr().add(i));
                let x = _mm256_loadu_ps(rows[r].1.as_ptr().add(i));
                acc_g[r] = _mm256_add_ps(acc_g[r], g);
                acc_gx[r] = _mm256_add_ps(acc_gx[r], _mm256_mul_ps(g, x));
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
        let (g, x) = (&rows[r].0[whole..], &rows[r].1[whole..]);
        let mut products = [0.0f32; 8];
        for ((p, &g), &x) in products.iter_mut().zip(g).zip(x) {
            *p = g * x;
        }
        sums[r] = (
            finish_sum(g8, g.iter().copied()),
            finish_sum(gx8, products[..g.len()].iter().copied()),
        );
    }
    sums
}
