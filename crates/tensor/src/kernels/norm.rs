//! BatchNorm's forward loops: per-channel statistics of a `[N, C, …]`
//! batch, the normalisation that uses them and the affine step after it.
//! Their gradients are in `norm_grad.rs`; the ops that record them for
//! autodiff, with their derivatives, are in `ops/norm.rs`.

use super::elementwise::{filled, finish_sum, sum_slice};
#[cfg(target_arch = "x86_64")]
use super::f32s;
use super::{CHUNK, PARALLEL_THRESHOLD};
use crate::Element;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::ops::Range;

/// Per-channel mean and (biased) variance of `x`, a row-major `[N, C, S]`
/// array given as a slice (`S` the product of any trailing axes): each
/// channel's statistics over its `N·S` values. Two passes (the means, then
/// the mean squared distance from them), which loses far less to rounding
/// than `E[x²] − E[x]²`. Each channel's rows are summed in a fixed order,
/// `n = 0, 1, …`, whatever the thread count; the loops walk the batch in
/// memory order (see [`by_channel_blocks`]).
///
/// # Panics
/// If `x.len() != batch·channels·plane` or `batch·plane == 0`.
pub fn channel_moments<T: Element>(x: &[T], batch: usize, channels: usize, plane: usize) -> (Vec<T>, Vec<T>) {
    assert_eq!(x.len(), batch * channels * plane, "channel_moments: x");
    assert!(batch * plane > 0, "channel_moments: an empty channel has no mean");
    let dims = (batch, channels, plane);
    let block = |cs: Range<usize>| {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2")
            && let Some(x) = f32s(x)
        {
            // SAFETY: the CPU has AVX2, checked just above; `x` holds
            // `batch·channels·plane` floats (asserted above) and `cs` lies
            // inside `0..channels` (`by_channel_blocks`).
            let moments = unsafe { moments_avx2(x, dims, cs) };
            // Exact: T is f32.
            return moments
                .into_iter()
                .map(|(mean, variance)| (T::from_f64(mean as f64), T::from_f64(variance as f64)))
                .collect();
        }
        moments_plain(x, dims, cs)
    };
    by_channel_blocks(channels, x.len() >= PARALLEL_THRESHOLD, block)
        .into_iter()
        .unzip()
}

/// Runs `block` on consecutive, non-empty ranges of the channels
/// `0..channels` (one range, or with `parallel` one per thread, in
/// parallel) and joins their per-channel results in channel order.
///
/// Each block walks the batch in memory order: sample `n`'s rows of the
/// block's channels (adjacent in a row-major `[N, C, S]` array), then
/// sample `n + 1`'s. The hardware prefetchers follow that. Walking one
/// channel at a time instead jumps `C·S` floats from row to row (25 KB
/// for W2's BatchNorm of `[64, 128, 7, 7]`, whose 49-float rows are a few
/// cache lines each): the prefetchers lose the thread at every jump, and
/// the loads wait for memory. Each channel still sums its own rows in the
/// order `n = 0, 1, …`, so the blocks change no bit.
pub(super) fn by_channel_blocks<R: Send>(
    channels: usize,
    parallel: bool,
    block: impl Fn(Range<usize>) -> Vec<R> + Sync,
) -> Vec<R> {
    if channels == 0 {
        return Vec::new();
    }
    let parts = if parallel {
        rayon::current_num_threads().clamp(1, channels.max(1))
    } else {
        1
    };
    if parts == 1 {
        return block(0..channels);
    }
    (0..parts)
        .into_par_iter()
        .flat_map_iter(|p| block(p * channels / parts..(p + 1) * channels / parts))
        .collect()
}

/// Row `(n, c)` of a row-major `[N, C, S]` slice, for `dims = (N, C, S)`.
pub(super) fn channel_rows<'a, T>(
    x: &'a [T],
    (_, channels, plane): (usize, usize, usize),
) -> impl Fn(usize, usize) -> &'a [T] {
    move |n, c| &x[(n * channels + c) * plane..(n * channels + c + 1) * plane]
}

/// [`channel_moments`] of the channels `cs`, the plain loops: each row's
/// values summed in [`sum_slice`]'s order, the rows added in order; then
/// each row's squared distances from the mean in eight running sums and
/// the rest, the rows added in order.
fn moments_plain<T: Element>(x: &[T], dims: (usize, usize, usize), cs: Range<usize>) -> Vec<(T, T)> {
    let (batch, _, plane) = dims;
    let row = channel_rows(x, dims);
    let count = T::from_f64((batch * plane) as f64);
    let mut totals = vec![T::zero(); cs.len()];
    for n in 0..batch {
        for (total, c) in totals.iter_mut().zip(cs.clone()) {
            *total += sum_slice(row(n, c));
        }
    }
    let means: Vec<T> = totals.iter().map(|&total| total / count).collect();
    let mut squares = vec![T::zero(); cs.len()];
    for n in 0..batch {
        for ((sum, &mean), c) in squares.iter_mut().zip(&means).zip(cs.clone()) {
            let mut acc8 = [T::zero(); 8];
            let chunks = row(n, c).chunks_exact(8);
            let rest: T = chunks.remainder().iter().map(|&v| (v - mean) * (v - mean)).sum();
            for chunk in chunks {
                for (a, &v) in acc8.iter_mut().zip(chunk) {
                    *a += (v - mean) * (v - mean);
                }
            }
            *sum = *sum + sum_slice(&acc8) + rest;
        }
    }
    means
        .into_iter()
        .zip(squares)
        .map(|(mean, sum)| (mean, sum / count))
        .collect()
}

/// [`moments_plain`] in f32 with AVX2, two channels' rows of a sample at a
/// time: each row's eight running sums are one register, and the two rows'
/// sums are two independent chains of adds. The same sums in the same
/// order as the plain loops, so the same bits.
///
/// # Safety
/// The CPU has AVX2; `x` holds `N·C·S` floats for `dims = (N, C, S)`, and
/// `cs` lies inside `0..C`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn moments_avx2(x: &[f32], dims: (usize, usize, usize), cs: Range<usize>) -> Vec<(f32, f32)> {
    use std::arch::x86_64::*;
    let (batch, _, plane) = dims;
    let row = channel_rows(x, dims);
    let whole = plane / 8 * 8;
    let count = (batch * plane) as f64 as f32;
    // Channel c's row and the next channel's (its own again for the last).
    let last = cs.end - 1;
    let pair = |n: usize, c: usize| [row(n, c), row(n, (c + 1).min(last))];
    // The means: each row's `sum_slice`, added row after row.
    let mut totals = vec![0.0f32; cs.len()];
    for n in 0..batch {
        for c in cs.clone().step_by(2) {
            // SAFETY: AVX2 is enabled in this function; the rows are
            // equally long.
            let lanes = unsafe { lane_sums(pair(n, c), whole, |_, v| v) };
            for (r, lanes) in lanes.into_iter().enumerate().take(cs.end - c) {
                totals[c + r - cs.start] += finish_sum(lanes, row(n, c + r)[whole..].iter().copied());
            }
        }
    }
    let means: Vec<f32> = totals.iter().map(|&total| total / count).collect();
    // The variances: each row's squares in eight lanes, added pairwise,
    // then the row's last squares.
    let mut squares = vec![0.0f32; cs.len()];
    for n in 0..batch {
        for c in cs.clone().step_by(2) {
            let mean_of = |r: usize| means[(c + r).min(last) - cs.start];
            let m = [_mm256_set1_ps(mean_of(0)), _mm256_set1_ps(mean_of(1))];
            // SAFETY: as above.
            let lanes = unsafe {
                lane_sums(pair(n, c), whole, |r, v| {
                    let d = _mm256_sub_ps(v, m[r]);
                    _mm256_mul_ps(d, d)
                })
            };
            for (r, lanes) in lanes.into_iter().enumerate().take(cs.end - c) {
                let mean = mean_of(r);
                let rest: f32 = row(n, c + r)[whole..]
                    .iter()
                    .map(|&v| (v - mean) * (v - mean))
                    .sum();
                let sum = &mut squares[c + r - cs.start];
                *sum = *sum + sum_slice(&lanes) + rest;
            }
        }
    }
    means
        .into_iter()
        .zip(squares)
        .map(|(mean, sum)| (mean, sum / count))
        .collect()
}

/// For two rows, the eight running sums of `f(r, v)` (`r` the row, 0 or
/// 1) over their first `whole` values (a multiple of 8), lane by lane.
///
/// # Safety
/// Runs inside a function with AVX2 enabled; both rows hold `whole` floats.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn lane_sums(
    rows: [&[f32]; 2],
    whole: usize,
    f: impl Fn(usize, std::arch::x86_64::__m256) -> std::arch::x86_64::__m256,
) -> [[f32; 8]; 2] {
    use std::arch::x86_64::*;
    // SAFETY: i + 8 ≤ whole, inside both rows; AVX2 is enabled (caller's
    // contract).
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 2];
        for i in (0..whole).step_by(8) {
            for (r, (acc, row)) in acc.iter_mut().zip(rows).enumerate() {
                *acc = _mm256_add_ps(*acc, f(r, _mm256_loadu_ps(row.as_ptr().add(i))));
            }
        }
        acc.map(|acc| {
            let mut lanes = [0.0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), acc);
            lanes
        })
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
    map_channels(x, channels, plane, [shift, scale], |v, [m, s]| (v - m) * s)
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
    map_channels(x, channels, plane, [scale, shift], |v, [g, b]| v * g + b)
}

/// BatchNorm's normalisation and affine step in one pass over a row-major
/// `[N, C, S]` slice: `then(y)` with `y = x̂·gamma[c] + beta[c]` and
/// `x̂ = (x − mean[c])·inv_std[c]` for every value of channel `c`, as a new
/// vector. With `then` the identity, the values of [`channel_shift_scale`]
/// followed by [`channel_scale_shift`], to the bit (each step rounded as
/// there), with one pass over the batch instead of two and no `x̂` written
/// out (the gradient computes it again, `norm_grad.rs`); `then` is the
/// activation that follows, if it is applied in the same pass (a ReLU's).
///
/// # Panics
/// If the lengths do not match.
pub fn channel_normalize_affine<T: Element>(
    x: &[T],
    (channels, plane): (usize, usize),
    (mean, inv_std): (&[T], &[T]),
    (gamma, beta): (&[T], &[T]),
    then: impl Fn(T) -> T + Sync + Copy,
) -> Vec<T> {
    assert!(
        [mean, inv_std, gamma, beta].iter().all(|v| v.len() == channels),
        "channel_normalize_affine: per-channel values"
    );
    map_channels(
        x,
        channels,
        plane,
        [mean, inv_std, gamma, beta],
        move |v, [m, r, g, b]| then(((v - m) * r) * g + b),
    )
}

/// `f(x, [a[c], b[c], …])` for every value of channel `c` of a row-major
/// `[N, C, S]` slice, with `K` per-channel values, as a new vector, in
/// parallel for large inputs.
pub(super) fn map_channels<T: Element, const K: usize>(
    x: &[T],
    channels: usize,
    plane: usize,
    per_channel: [&[T]; K],
    f: impl Fn(T, [T; K]) -> T + Sync + Copy,
) -> Vec<T> {
    assert!(
        per_channel.iter().all(|values| values.len() == channels),
        "map_channels: per-channel values"
    );
    assert_eq!(x.len() % (channels * plane).max(1), 0, "map_channels: x");
    if plane == 0 {
        return Vec::new();
    }
    let row = |(r, (o, v)): (usize, (&mut [MaybeUninit<T>], &[T]))| {
        let values = per_channel.map(|values| values[r % channels]);
        // A copy of `f` (and of what it holds, such as a slope) in this
        // row's own locals: read through the shared reference, it could
        // alias the output as far as the compiler knows, and would be
        // loaded again for every value, which kept the loop from using
        // vector registers (BatchNorm with a leaky ReLU took 3–4 times as
        // long).
        let value_of = f;
        for (o, &v) in o.iter_mut().zip(v) {
            o.write(value_of(v, values));
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

#[cfg(test)]
mod tests {
    /// The AVX2 moments are the plain loops' to the bit: odd and even
    /// batches, one channel and several (an odd count leaves the last
    /// channel without a partner), blocks that start past channel 0, rows
    /// shorter than a vector, with a remainder, and whole vectors, with
    /// means far from 0.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_vector_moments_have_the_plain_loops_bits() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("note: this CPU has no AVX2; the vector moments were not run");
            return;
        }
        for batch in [1, 2, 3, 64] {
            for channels in [1, 2, 5] {
                for plane in [1, 7, 8, 49, 196] {
                    let x: Vec<f32> = (0..batch * channels * plane)
                        .map(|i| 3.0 + ((i * 7919) % 1999) as f32 / 997.0)
                        .collect();
                    let dims = (batch, channels, plane);
                    for cs in [0..channels, channels / 2..channels] {
                        let plain = super::moments_plain(&x, dims, cs.clone());
                        // SAFETY: the CPU has AVX2, checked above; x holds
                        // the batch and cs lies inside its channels.
                        let vector = unsafe { super::moments_avx2(&x, dims, cs.clone()) };
                        let bits = |m: &[(f32, f32)]| {
                            m.iter()
                                .map(|(a, b)| (a.to_bits(), b.to_bits()))
                                .collect::<Vec<_>>()
                        };
                        assert_eq!(
                            bits(&plain),
                            bits(&vector),
                            "{dims:?}, channels {cs:?}: {plain:?} vs {vector:?}"
                        );
                    }
                }
            }
        }
    }

    /// Walking the batch in memory order, in blocks of channels, sums each
    /// channel's rows in the order of one channel at a time: the moments
    /// equal those of blocks of one channel to the bit, on one thread and
    /// on two (blocks of 64 channels), for 1 and 3 channels and for W2's
    /// `[64, 128, 7, 7]`.
    #[test]
    fn moments_in_channel_blocks_are_those_of_one_channel_at_a_time() {
        use crate::kernels::channels_last_col2im::tests::values;
        for (batch, channels, plane) in [(5, 1, 9), (4, 3, 10), (64, 128, 49)] {
            let len = batch * channels * plane;
            let x = values(len, 1);
            // Blocks of one channel: one channel at a time.
            let single: Vec<(f32, f32)> = (0..channels)
                .flat_map(|c| super::moments_plain(&x, (batch, channels, plane), c..c + 1))
                .collect();
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (mean, variance) = pool.install(|| super::channel_moments(&x, batch, channels, plane));
                assert_eq!(bits(&mean), bits(&single.iter().map(|m| m.0).collect::<Vec<_>>()));
                assert_eq!(
                    bits(&variance),
                    bits(&single.iter().map(|m| m.1).collect::<Vec<_>>())
                );
            }
        }
    }
}
