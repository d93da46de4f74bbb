//! BatchNorm's loops: per-channel statistics of a `[N, C, …]` batch, and the
//! normalisation that uses them. The op that records them for autodiff,
//! with its derivative, is `ops/norm.rs`.

use super::elementwise::{filled, sum_slice};
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
