//! col2im by gathering: [`GatheredCol2im`], the fast col2im of the input
//! gradient (`im2col.rs`), beside the direct [`col2im`](super::patches::col2im) of `patches.rs`
//! whose sums it reproduces bit for bit.

use super::im2col::ConvGeometry;
use crate::Element;

/// col2im turned around: instead of adding every column entry onto its
/// pixel (a scattered read-modify-write per entry, in loops of a few
/// entries each), every pixel *gathers* the entries that land on it and
/// adds them in one pass. Built once per convolution call and reused for
/// every sample a worker handles.
///
/// For a stride-2, 4×4 kernel (every up- and down-sampling layer of the
/// DCGAN) each pixel receives at most 2×2 entries: the *slots* below. The
/// table holds, per slot and pixel, where in a channel's block of rows the
/// entry sits (`tap·ld + output pixel`), and whether the slot is used at
/// all (border pixels receive fewer). The inner loop is then the same
/// shape as [`PaddedGather`](super::patches::PaddedGather)'s, one gather per slot and pixel, which the
/// compiler turns into vector gathers; an unused slot reads a harmless
/// in-bounds entry and leaves the pixel as it was (a select, not an add
/// of 0, which would turn a −0 into +0).
///
/// Within a pixel the slots are in increasing tap order, the order in which
/// [`col2im`](super::patches::col2im) adds them, so both give the same bits.
///
/// The gathers wait on their entries: in `perf` of W2 at one thread (AMD
/// EPYC Zen 4) this loop took 7.0% of the step reading a group's whole
/// im2col matrix (3.2 MB, out in level 3), against 6.9% for the direct
/// [`col2im`](super::patches::col2im); reading blocks of 128 rows (8 channels) right after the gemm
/// wrote them, from level 2, it took 5.2% (the direct one 6.6%). So the
/// input gradient (`im2col.rs`) runs its product and this loop block by
/// block.
pub(crate) struct GatheredCol2im {
    geo: ConvGeometry,
    /// Entries that land on the busiest pixel.
    slots: usize,
    /// `[slots, H·W]`: the kernel tap (`kh·KW + kw`) of each slot's entry.
    taps: Vec<i32>,
    /// `[slots, H·W]`: the output pixel of each slot's entry.
    pixels: Vec<i32>,
    /// `[slots, H·W]`: whether the slot holds an entry.
    used: Vec<bool>,
    /// `[slots, H·W]`: `tap·ld + pixel` for the `ld` of the last call (0
    /// for an unused slot).
    offsets: Vec<i32>,
    /// The row distance `offsets` were computed for.
    ld: usize,
}

impl GatheredCol2im {
    /// The table for `geo`, or `None` if an offset could overflow `i32`.
    pub(crate) fn new(geo: &ConvGeometry) -> Option<Self> {
        let [h, w] = geo.in_size;
        let [oh, ow] = geo.out_size;
        let [kh, kw] = geo.kernel;
        let hw = h * w;
        if kh * kw * oh * ow > i32::MAX as usize {
            return None;
        }
        // Calls `visit(tap, output pixel, pixel)` for every entry that lands
        // inside the image, in tap order.
        let for_each_entry = |visit: &mut dyn FnMut(usize, usize, usize)| {
            for tap in 0..kh * kw {
                let (ty, tx) = (tap / kw, tap % kw);
                for pixel in 0..oh * ow {
                    let y = (pixel / ow * geo.stride[0] + ty * geo.dilation[0]).checked_sub(geo.padding[0]);
                    let x = (pixel % ow * geo.stride[1] + tx * geo.dilation[1]).checked_sub(geo.padding[1]);
                    if let (Some(y), Some(x)) = (y, x)
                        && y < h
                        && x < w
                    {
                        visit(tap, pixel, y * w + x);
                    }
                }
            }
        };
        // First count the entries per pixel, then fill the slots in order.
        let mut filled = vec![0usize; hw];
        for_each_entry(&mut |_, _, q| filled[q] += 1);
        let slots = filled.iter().copied().max().unwrap_or(0);
        let mut table = GatheredCol2im {
            geo: *geo,
            slots,
            taps: vec![0; slots * hw],
            pixels: vec![0; slots * hw],
            used: vec![false; slots * hw],
            offsets: vec![0; slots * hw],
            ld: 0,
        };
        filled.fill(0);
        for_each_entry(&mut |tap, pixel, q| {
            let at = filled[q] * hw + q;
            table.taps[at] = tap as i32;
            table.pixels[at] = pixel as i32;
            table.used[at] = true;
            filled[q] += 1;
        });
        Some(table)
    }

    /// The same sums as [`col2im`](super::patches::col2im): adds every entry `cols[row·ld + j]`
    /// onto the pixel of `image` that [`im2col`](super::patches::im2col) reads it from. `image` may
    /// hold fewer channels than the geometry (`[C', H, W]`, `C' ≤ C`): then
    /// `cols` starts at the rows of its first channel.
    ///
    /// # Panics
    /// If `image` has more channels than the geometry, `cols` is too short
    /// for them, or `ld` is so large that an offset overflows `i32`.
    pub(crate) fn col2im<T: Element>(&mut self, cols: &[T], ld: usize, image: &mut [T]) {
        let geo = self.geo;
        let plane = geo.in_size[0] * geo.in_size[1];
        let taps = geo.kernel[0] * geo.kernel[1];
        let Some(channels) = image.len().checked_div(plane) else {
            return; // an empty image receives nothing
        };
        assert!(channels <= geo.in_channels, "col2im: image too long");
        assert!(
            channels * taps == 0 || cols.len() >= (channels * taps - 1) * ld + geo.out_pixels(),
            "col2im: cols too short"
        );
        if self.ld != ld {
            assert!(
                taps.saturating_mul(ld) <= i32::MAX as usize,
                "col2im: rows {ld} apart overflow the offsets"
            );
            for ((offset, &tap), (&pixel, &used)) in self
                .offsets
                .iter_mut()
                .zip(&self.taps)
                .zip(self.pixels.iter().zip(&self.used))
            {
                *offset = if used { tap * ld as i32 + pixel } else { 0 };
            }
            self.ld = ld;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                unsafe { self.sums_avx512(cols, image) };
                return;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                unsafe { self.sums_avx2(cols, image) };
                return;
            }
        }
        self.sums(cols, image);
    }

    /// The sums themselves: per channel and slot, one pass over the
    /// channel's pixels. Compiled for AVX-512 and AVX2 by the wrappers below.
    #[inline(always)]
    fn sums<T: Element>(&self, cols: &[T], image: &mut [T]) {
        let [h, w] = self.geo.in_size;
        let hw = h * w;
        let rows_per_channel = (self.geo.kernel[0] * self.geo.kernel[1]) * self.ld;
        for (c, plane) in image.chunks_exact_mut(hw).enumerate() {
            let block = &cols[c * rows_per_channel..];
            for slot in 0..self.slots {
                let offsets = &self.offsets[slot * hw..(slot + 1) * hw];
                let used = &self.used[slot * hw..(slot + 1) * hw];
                for ((v, &offset), &used) in plane.iter_mut().zip(offsets).zip(used) {
                    // SAFETY: an unused slot's offset is 0, and `block` is
                    // not empty (channel `c`'s rows are in `cols`, checked
                    // by the caller); a used one is `tap·ld + pixel` with
                    // `tap < KH·KW` and `pixel < OH·OW`, inside the
                    // channel's `KH·KW` rows, which the caller's length
                    // check guarantees. The load is unconditional, so the
                    // loop vectorises into gathers.
                    let entry = unsafe { *block.as_ptr().offset(offset as isize) };
                    let sum = *v + entry;
                    *v = if used { sum } else { *v };
                }
            }
        }
    }

    /// [`GatheredCol2im::sums`] with AVX-512F enabled.
    ///
    /// Safety: only call on a CPU with AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn sums_avx512<T: Element>(&self, cols: &[T], image: &mut [T]) {
        self.sums(cols, image);
    }

    /// [`GatheredCol2im::sums`] with AVX2 enabled.
    ///
    /// Safety: only call on a CPU with AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn sums_avx2<T: Element>(&self, cols: &[T], image: &mut [T]) {
        self.sums(cols, image);
    }
}

#[cfg(test)]
mod tests {
    use super::GatheredCol2im;
    use crate::Element;
    use crate::kernels::im2col::ConvGeometry;
    use crate::kernels::patches::col2im;
    use crate::kernels::patches::tests::geometry;

    #[test]
    fn the_gathered_col2im_adds_what_the_direct_col2im_adds() {
        let cases = [
            geometry(8, [14, 14], [4, 4], [2, 2], [1, 1], [1, 1]),
            geometry(1, [28, 28], [4, 4], [2, 2], [1, 1], [1, 1]),
            geometry(2, [15, 13], [4, 4], [2, 2], [1, 1], [1, 1]),
            geometry(3, [9, 7], [3, 2], [1, 2], [2, 0], [1, 1]),
            geometry(2, [10, 11], [3, 3], [3, 1], [1, 2], [2, 3]),
            geometry(2, [7, 7], [1, 1], [3, 3], [0, 0], [1, 1]),
            geometry(1, [5, 5], [5, 5], [1, 1], [0, 0], [1, 1]),
        ];
        for geo in cases {
            gathered_matches_direct::<f64>(&geo);
            gathered_matches_direct::<f32>(&geo);
        }
    }

    /// [`GatheredCol2im::col2im`] against [`col2im`](super::patches::col2im) on one geometry, in
    /// `T` (small integers and halves, exact in both types).
    fn gathered_matches_direct<T: Element>(geo: &ConvGeometry) {
        let (rows, p) = (geo.patch_len(), geo.out_pixels());
        let plane = geo.in_size[0] * geo.in_size[1];
        let taps = geo.kernel[0] * geo.kernel[1];
        let mut table = GatheredCol2im::new(geo).expect("small offsets");
        // Two row distances, so the offsets are recomputed once.
        for ld in [p + 3, p] {
            let cols: Vec<T> = (0..rows * ld)
                .map(|i| T::from_f64((i % 97) as f64 - 40.0))
                .collect();
            let start: Vec<T> = (0..geo.sample_len())
                .map(|i| T::from_f64(i as f64 * 0.5))
                .collect();
            let mut direct = start.clone();
            col2im(geo, &cols, ld, &mut direct);
            let mut gathered = start.clone();
            table.col2im(&cols, ld, &mut gathered);
            assert_eq!(direct, gathered, "{geo:?}, ld {ld}");
            // The last channel alone, from its own rows, as the input
            // gradient calls it for a block of channels.
            let last = geo.in_channels - 1;
            let mut one = start[last * plane..].to_vec();
            table.col2im(&cols[last * taps * ld..], ld, &mut one);
            assert_eq!(one, direct[last * plane..], "{geo:?}, last channel");
            // −0 everywhere: a pixel with fewer entries than the busiest
            // must keep its sign (`==` does not tell −0 from +0; the bits do).
            let minus_zero = T::from_f64(-0.0);
            let zeros = vec![minus_zero; cols.len()];
            let (mut direct, mut gathered) = (
                vec![minus_zero; geo.sample_len()],
                vec![minus_zero; geo.sample_len()],
            );
            col2im(geo, &zeros, ld, &mut direct);
            table.col2im(&zeros, ld, &mut gathered);
            let sign = |v: &T| v.to_f64().map(f64::is_sign_negative);
            let flipped = direct.iter().zip(&gathered).position(|(a, b)| sign(a) != sign(b));
            assert_eq!(flipped, None, "{geo:?}, ld {ld}: the sign of −0 at this pixel");
        }
    }
}
