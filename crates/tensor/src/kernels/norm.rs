//! BatchNorm's loops: per-channel statistics of a `[N, C, …]` batch, the
//! normalisation that uses them, and its gradient. The op that records them
//! for autodiff, with its derivative, is `ops/norm.rs`.

use super::elementwise::{filled, finish_sum, sum_slice};
use super::{CHUNK, PARALLEL_THRESHOLD};
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
    assert!(
        shift.len() == channels && scale.len() == channels,
        "channel_shift_scale: per-channel values"
    );
    assert_eq!(x.len() % (channels * plane).max(1), 0, "channel_shift_scale: x");
    if plane == 0 {
        return Vec::new();
    }
    let row = |(r, (o, v)): (usize, (&mut [MaybeUninit<T>], &[T]))| {
        let (m, s) = (shift[r % channels], scale[r % channels]);
        for (o, &v) in o.iter_mut().zip(v) {
            o.write((v - m) * s);
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
    // Pass 1: mean(ḡ) and mean(ḡ·x̂) per channel, summed in runs as
    // `sum_to_shape` sums them: the channel's `N` rows one after the other,
    // or, with a single channel, whose values are contiguous, all at once.
    let (runs, run) = if channels == 1 {
        (1, batch * plane)
    } else {
        (batch, plane)
    };
    let means = |c: usize| {
        let (mut sum_g, mut sum_gx) = (T::zero(), T::zero());
        for n in 0..runs {
            let at = (n * channels + c) * run..(n * channels + c + 1) * run;
            sum_g += sum_slice(&g[at.clone()]);
            sum_gx += sum_of_products(&g[at.clone()], &x_hat[at]);
        }
        (sum_g * per_value, sum_gx * per_value)
    };
    let (mean_g, mean_gx): (Vec<T>, Vec<T>) = if g.len() >= PARALLEL_THRESHOLD {
        (0..channels).into_par_iter().map(means).unzip()
    } else {
        (0..channels).map(means).unzip()
    };
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

/// `Σ a_i·b_i` in [`sum_slice`]'s order, each product rounded first: the
/// same value as `sum_slice` of the multiplied slice, without storing it.
fn sum_of_products<T: Element>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let (chunks_a, chunks_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest = chunks_a.remainder().iter().zip(chunks_b.remainder());
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for ((s, &x), &y) in acc.iter_mut().zip(ca).zip(cb) {
            *s += x * y;
        }
    }
    finish_sum(acc, rest.map(|(&x, &y)| x * y))
}
