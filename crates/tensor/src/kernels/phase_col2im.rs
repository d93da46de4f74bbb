//! col2im by stride phases: [`PhaseCol2im`], the f32 col2im of the input
//! gradient on x86-64 for images with few channels (from 16 channels on,
//! `channels_last_col2im.rs` takes the input gradient), with the sums of
//! [`col2im`](super::patches::col2im) bit for bit.
//!
//! ## The problem
//! col2im adds every entry of the im2col-shaped matrix back onto the pixel
//! it was copied from. With stride 2, the entries of one kernel tap for
//! neighbouring output pixels land two pixels apart: adding a row of them
//! is a scattered read-modify-write, and the other way round
//! ([`GatheredCol2im`](super::gathered_col2im::GatheredCol2im), every pixel
//! gathering its entries) costs a 16-lane gather per 16 entries, which is
//! slow on x86: 5.6–6.4% of a W2 step at one thread (`perf record` of
//! `gan-mnist bench --workload dcgan --threads 1`, AMD EPYC Zen 4, five
//! runs; mean 5.9%).
//!
//! ## Stride phases
//! Store one channel of the padded image split by stride phase, as
//! `packed_patches.rs` does for im2col: for stride 2, its even rows' even
//! columns, even rows' odd columns, and so on, four planes of 8×8 for a
//! 14×14 image with padding 1. Kernel tap `(kh, kw)` of output pixel
//! `(oh, ow)` lands on padded pixel `(oh·sh + kh·dh, ow·sw + kw·dw)`, which
//! is phase `(kh·dh mod sh, kw·dw mod sw)` at `(oh + ⌊kh·dh/sh⌋,
//! ow + ⌊kw·dw/sw⌋)`: the entries of one tap and one output row land on
//! *adjacent* floats of one phase plane. So col2im becomes, per tap and
//! output row, one run of `OW` adjacent adds (7 for W2), done 8 lanes at a
//! time with the lanes past the run left as they were.
//!
//! The channel is copied into the phase planes first and back out after
//! (an interleave of 14 floats per row, a few vector instructions), so
//! every pixel receives its entries in increasing tap order on top of what
//! the image held: the order of [`col2im`](super::patches::col2im), and
//! so the same bits. Entries that land on the padding are added there and
//! never read.
//!
//! Measured the same way, alternated with those runs: 4.1–6.4% of the
//! step (five runs, mean 4.9%; the shares of these loops move by a point
//! from run to run on this shared machine). The runs still wait on
//! memory now and then: the run of tap `(kh, kw + 2)` lands one float to
//! the side of tap `(kh, kw)`'s, whose store is then often still on its
//! way, and a store cannot be forwarded to a load that straddles it. A
//! version that held each 8 floats of a phase row in a register while all
//! their runs were added (one load and one store each, no overlap) was
//! no faster, 4.5–4.7% in the two runs alternated with ones of this
//! version at 4.1–4.2%: each add then waited for the one before, and a
//! table of which run lands where had to be read alongside.

use super::im2col::ConvGeometry;
use super::packed_patches::PhaseLayout;
use std::arch::x86_64::*;

/// Floats past a phase plane's last one that an 8-lane access may touch.
const SLACK: usize = 8;

/// col2im through one channel's stride phases (see the module's notes).
/// Built once per geometry and kept by the thread with the other copy
/// tables (`conv_scratch.rs`).
pub(crate) struct PhaseCol2im {
    geo: ConvGeometry,
    /// How the channel is stored: split by the stride.
    layout: PhaseLayout,
    /// For kernel tap `(kh, kw)`: where output pixel `(0, 0)`'s entry lands
    /// in the channel's phases.
    tap_offsets: Vec<usize>,
    /// One channel, padded and split, then [`SLACK`] floats.
    phases: Vec<f32>,
}

impl PhaseCol2im {
    /// The col2im for `geo`, or `None` if some window reaches past the
    /// padded image (a geometry the ops never build) or the CPU lacks AVX2.
    pub(crate) fn new(geo: &ConvGeometry) -> Option<Self> {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return None;
        }
        let layout = PhaseLayout::new(geo, geo.stride)?;
        let kw = geo.kernel[1];
        let tap_offsets = (0..geo.kernel[0] * kw)
            .map(|t| layout.offset((t / kw) * geo.dilation[0], (t % kw) * geo.dilation[1]))
            .collect();
        Some(PhaseCol2im {
            geo: *geo,
            layout,
            tap_offsets,
            phases: vec![0.0; layout.channel_len() + SLACK],
        })
    }

    /// The same sums as [`col2im`](super::patches::col2im): adds every
    /// entry `cols[row·ld + j]` onto the pixel of `image` that
    /// [`im2col`](super::patches::im2col) reads it from. `image` may hold
    /// fewer channels than the geometry (`[C', H, W]`, `C' ≤ C`): then
    /// `cols` starts at the rows of its first channel.
    ///
    /// # Panics
    /// If `image` has more channels than the geometry or `cols` is too
    /// short for them.
    pub(crate) fn col2im(&mut self, cols: &[f32], ld: usize, image: &mut [f32]) {
        let geo = self.geo;
        let plane = geo.in_size[0] * geo.in_size[1];
        let taps = geo.kernel[0] * geo.kernel[1];
        let channels = image.len() / plane;
        assert_eq!(channels * plane, image.len(), "col2im: not whole channels");
        assert!(channels <= geo.in_channels, "col2im: image too long");
        assert!(
            channels * taps == 0 || cols.len() >= (channels * taps - 1) * ld + geo.out_pixels(),
            "col2im: cols too short"
        );
        assert!(ld >= geo.out_pixels(), "col2im: rows overlap");
        for (c, channel) in image.chunks_exact_mut(plane).enumerate() {
            // SAFETY: `new` found AVX2; the rows of channel c are inside
            // `cols` (checked above).
            unsafe { self.channel_avx2(&cols[c * taps * ld..], ld, channel) };
        }
    }

    /// One channel: in to the phases, every tap's runs added, back out.
    ///
    /// # Safety
    /// The CPU has AVX2; `cols` holds the channel's `KH·KW` rows, `ld` apart.
    #[target_feature(enable = "avx2")]
    unsafe fn channel_avx2(&mut self, cols: &[f32], ld: usize, channel: &mut [f32]) {
        let (geo, layout) = (self.geo, self.layout);
        let (w, phase_width) = (geo.in_size[1], layout.phase_width());
        // In: every image row to its place in the phases.
        for (y, row) in channel.chunks_exact_mut(w).enumerate() {
            // SAFETY: AVX2 is enabled in this function; `row` is the row.
            unsafe { layout.move_row::<true, true>(&mut self.phases, y, row.as_mut_ptr()) };
        }
        // Per tap, in increasing order, per output row: a run of `ow` adds,
        // 8 lanes at a time, the lanes past the run left as they were (a
        // blend, not an add of 0, which would turn a −0 into +0).
        let [oh, ow] = geo.out_size;
        let last = (ow - 1) / 8 * 8;
        // SAFETY: AVX2 is enabled in this function.
        let tail = unsafe { lane_mask(ow - last) };
        for (t, &tap) in self.tap_offsets.iter().enumerate() {
            let entries = &cols[t * ld..t * ld + oh * ow];
            for (r, run) in entries.chunks_exact(ow).enumerate() {
                // SAFETY: the run lands on `ow` adjacent floats of one phase
                // row from `tap + r·phase_width` (the tap's window lies inside
                // the padded image, checked by `new`); an 8-lane access from
                // any of them ends at most 7 floats past the row, inside
                // `phases` (its slack covers the last row). The run's loads
                // are whole inside it, or masked to it. AVX2 is enabled in
                // this function.
                unsafe {
                    let dst = self.phases.as_mut_ptr().add(tap + r * phase_width);
                    let mut j = 0;
                    while j < last {
                        let sum =
                            _mm256_add_ps(_mm256_loadu_ps(dst.add(j)), _mm256_loadu_ps(run.as_ptr().add(j)));
                        _mm256_storeu_ps(dst.add(j), sum);
                        j += 8;
                    }
                    let old = _mm256_loadu_ps(dst.add(last));
                    let sum = _mm256_add_ps(old, _mm256_maskload_ps(run.as_ptr().add(last), tail));
                    _mm256_storeu_ps(
                        dst.add(last),
                        _mm256_blendv_ps(old, sum, _mm256_castsi256_ps(tail)),
                    );
                }
            }
        }
        // Out: the same places, read back.
        for (y, row) in channel.chunks_exact_mut(w).enumerate() {
            // SAFETY: AVX2 is enabled in this function; `row` is the row.
            unsafe { layout.move_row::<false, true>(&mut self.phases, y, row.as_mut_ptr()) };
        }
    }
}

/// A mask whose first `count` (1 ≤ count ≤ 8) lanes are all ones.
///
/// # Safety
/// Runs inside a function with AVX2 enabled.
#[inline(always)]
unsafe fn lane_mask(count: usize) -> __m256i {
    // SAFETY: AVX2 is enabled (caller's contract); no memory is touched.
    unsafe {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(count as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::PhaseCol2im;
    use crate::kernels::patches::col2im;
    use crate::kernels::patches::tests::geometries;

    #[test]
    fn the_phase_col2im_adds_what_the_direct_col2im_adds() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("note: this CPU has no AVX2; the phase col2im was not run");
            return;
        }
        for geo in geometries() {
            let (rows, p, len) = (geo.patch_len(), geo.out_pixels(), geo.sample_len());
            // Rows further apart than a sample, as in a group of samples.
            let ld = p + 5;
            let cols: Vec<f32> = (0..rows * ld)
                .map(|i| ((i * 37) % 101) as f32 / 7.0 - 7.0)
                .collect();
            let start: Vec<f32> = (0..len).map(|i| ((i * 13) % 17) as f32 / 3.0).collect();
            let mut want = start.clone();
            col2im(&geo, &cols, ld, &mut want);
            let mut phases = PhaseCol2im::new(&geo).expect("a consistent geometry");
            // Twice, so that the second call sees what the first left.
            for _ in 0..2 {
                let mut got = start.clone();
                phases.col2im(&cols, ld, &mut got);
                let same = want.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{geo:?}");
            }
            // Fewer channels than the geometry: the first channel's rows on.
            let plane = geo.in_size[0] * geo.in_size[1];
            if geo.in_channels > 1 {
                let mut want = start[..plane].to_vec();
                let mut got = want.clone();
                let one = crate::kernels::im2col::ConvGeometry {
                    in_channels: 1,
                    ..geo
                };
                col2im(&one, &cols, ld, &mut want);
                phases.col2im(&cols, ld, &mut got);
                let same = want.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "one channel of {geo:?}");
            }
        }
    }
}
