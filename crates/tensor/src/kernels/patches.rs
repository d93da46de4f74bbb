//! Copying patches: *im2col* (every window of the image into a column of a
//! matrix) and its adjoint *col2im* (every column entry added back onto the
//! pixel it came from), which `im2col.rs` builds the convolutions on.
//!
//! Two ways to do the copy live here:
//!
//! * [`im2col`] and [`col2im`] walk the image directly. For each kernel tap
//!   they work out which output rows and columns fall inside the image
//!   ([`TapRange`]), copy those, and write zeros for the rest. They accept
//!   any [`ConvGeometry`].
//! * [`PaddedGather`] first copies the image into a buffer with the padding
//!   written out as real zeros. Then every window lies inside the buffer, and
//!   im2col becomes one gather per kernel tap through a table of offsets: no
//!   bounds, no zero-filling, one loop of `OH·OW` iterations that the
//!   compiler turns into vector gathers (AVX-512 has an instruction that
//!   loads 16 floats from 16 offsets). In `perf` of W2 at one thread on
//!   an AMD EPYC (Zen 4), im2col with its copies and zero-filling fell from
//!   15% of a step to 13%: a small gain, because the gathers themselves are
//!   slow on that CPU and the padded copy is a row of `memcpy` calls. The
//!   convolutions use it whenever the geometry is consistent (the windows
//!   fit in the padded image), which the ops guarantee.
//!
//! A third, for col2im only, has a file of its own: `GatheredCol2im`
//! (`gathered_col2im.rs`), where every pixel gathers the few entries that
//! land on it, through a table built once per geometry, instead of every
//! entry being added onto its pixel.

use super::im2col::ConvGeometry;
use crate::Element;

/// Where one kernel tap reads along one axis: outputs `lo..hi` read input
/// index `first + (o − lo)·stride`, inside the image; the other outputs fall
/// on padding.
#[derive(Debug, Clone, Copy)]
struct TapRange {
    lo: usize,
    hi: usize,
    first: usize,
}

/// The [`TapRange`] of every tap `k < kernel` along one axis: tap `k` of
/// output `o` reads input `o·stride + k·dilation − padding`, which is inside
/// `0..len` for `o` in `lo..hi`.
fn tap_ranges(
    out: usize,
    len: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
) -> Vec<TapRange> {
    (0..kernel)
        .map(|k| {
            let offset = (k * dilation) as isize - padding as isize;
            // o·stride + offset ≥ 0  ⇔  o ≥ ⌈−offset / stride⌉
            let lo = if offset >= 0 {
                0
            } else {
                offset.unsigned_abs().div_ceil(stride)
            };
            // o·stride + offset ≤ len − 1
            let last = len as isize - 1 - offset;
            let hi = if last < 0 {
                0
            } else {
                (last as usize / stride + 1).min(out)
            };
            let lo = lo.min(hi);
            let first = if lo < hi {
                ((lo * stride) as isize + offset) as usize
            } else {
                0
            };
            TapRange { lo, hi, first }
        })
        .collect()
}

/// Calls `visit(row, c, rows, cols)` once per im2col row, i.e. per kernel
/// tap `(c, kh, kw)`, with the tap's [`TapRange`]s along both axes. Shared by
/// [`im2col`] and [`col2im`], so that both walk exactly the same positions;
/// the tap tables are computed once per call, so the visitors' inner loops
/// are plain strided copies.
fn for_each_tap(geo: &ConvGeometry, mut visit: impl FnMut(usize, usize, TapRange, TapRange)) {
    let [h, w] = geo.in_size;
    let [oh, ow] = geo.out_size;
    let [kh, kw] = geo.kernel;
    let rows = tap_ranges(oh, h, kh, geo.stride[0], geo.padding[0], geo.dilation[0]);
    let cols = tap_ranges(ow, w, kw, geo.stride[1], geo.padding[1], geo.dilation[1]);
    let mut row = 0;
    for c in 0..geo.in_channels {
        for &tr in &rows {
            for &tc in &cols {
                visit(row, c, tr, tc);
                row += 1;
            }
        }
    }
}

/// Sets `values` to zero (a loop: the ranges are mostly 0–2 long, too short
/// for a call to memset).
fn zero<T: Element>(values: &mut [T]) {
    values.iter_mut().for_each(|v| *v = T::zero());
}

/// im2col of one sample: `cols[row·ld + j]`, for `row < C·KH·KW` and
/// `j < OH·OW`, receives the input value that kernel tap `row` sees from
/// output pixel `j` (0 on padding). `image` is `[C, H, W]`, row-major; `ld`
/// is the distance between rows of `cols` (wider than `OH·OW` when several
/// samples share the matrix).
///
/// # Panics
/// If `image` or `cols` is too short for the geometry.
pub fn im2col<T: Element>(geo: &ConvGeometry, image: &[T], cols: &mut [T], ld: usize) {
    let [h, w] = geo.in_size;
    let [oh, ow] = geo.out_size;
    let [sh, sw] = geo.stride;
    assert!(image.len() >= geo.sample_len(), "im2col: image too short");
    assert!(
        geo.patch_len() == 0 || cols.len() >= (geo.patch_len() - 1) * ld + geo.out_pixels(),
        "im2col: cols too short"
    );
    for_each_tap(geo, |row, c, tr, tc| {
        let dst = &mut cols[row * ld..row * ld + oh * ow];
        let plane = &image[c * h * w..(c + 1) * h * w];
        // Output rows whose tap falls above or below the image read padding.
        zero(&mut dst[..tr.lo * ow]);
        zero(&mut dst[tr.hi * ow..]);
        for (i, out_row) in dst[tr.lo * ow..tr.hi * ow].chunks_exact_mut(ow).enumerate() {
            zero(&mut out_row[..tc.lo]);
            zero(&mut out_row[tc.hi..]);
            let out_row = &mut out_row[tc.lo..tc.hi];
            if out_row.is_empty() {
                continue;
            }
            let start = (tr.first + i * sh) * w + tc.first;
            if sw == 1 {
                out_row.copy_from_slice(&plane[start..start + out_row.len()]);
            } else {
                // Indexing, not `step_by`, whose length costs a division per row.
                let src = &plane[start..start + (out_row.len() - 1) * sw + 1];
                out_row.iter_mut().enumerate().for_each(|(j, d)| *d = src[j * sw]);
            }
        }
    });
}

/// col2im of one sample, the adjoint of [`im2col`]: adds every entry
/// `cols[row·ld + j]` onto the input pixel that [`im2col`] would have read it
/// from (entries on padding are dropped). `image` (`[C, H, W]`) is added to,
/// not overwritten.
///
/// # Panics
/// If `image` or `cols` is too short for the geometry.
pub fn col2im<T: Element>(geo: &ConvGeometry, cols: &[T], ld: usize, image: &mut [T]) {
    let [h, w] = geo.in_size;
    let [oh, ow] = geo.out_size;
    let [sh, sw] = geo.stride;
    assert!(image.len() >= geo.sample_len(), "col2im: image too short");
    assert!(
        geo.patch_len() == 0 || cols.len() >= (geo.patch_len() - 1) * ld + geo.out_pixels(),
        "col2im: cols too short"
    );
    for_each_tap(geo, |row, c, tr, tc| {
        let src = &cols[row * ld..row * ld + oh * ow];
        let plane = &mut image[c * h * w..(c + 1) * h * w];
        for (i, in_row) in src[tr.lo * ow..tr.hi * ow].chunks_exact(ow).enumerate() {
            let in_row = &in_row[tc.lo..tc.hi];
            if in_row.is_empty() {
                continue;
            }
            let start = (tr.first + i * sh) * w + tc.first;
            let dst = &mut plane[start..start + (in_row.len() - 1) * sw + 1];
            if sw == 1 {
                dst.iter_mut().zip(in_row).for_each(|(d, s)| *d += *s);
            } else {
                in_row.iter().enumerate().for_each(|(j, s)| dst[j * sw] += *s);
            }
        }
    });
}

/// im2col through a zero-padded copy of the image and a table of offsets
/// (see the module's notes). Built once per geometry and reused for every
/// sample a worker handles.
pub(crate) struct PaddedGather<T> {
    geo: ConvGeometry,
    /// Height and width of a padded plane, `H + 2·ph` and `W + 2·pw`.
    padded_size: [usize; 2],
    /// The sample with zeros around every channel plane,
    /// `[C, H + 2·ph, W + 2·pw]`. Only the interior is rewritten per sample,
    /// so the border stays zero.
    padded: Vec<T>,
    /// For output pixel `(oh, ow)`: where its window starts in a padded
    /// plane, `oh·sh·Wp + ow·sw`.
    window_starts: Vec<i32>,
    /// For kernel tap `(kh, kw)`: its place inside a window,
    /// `kh·dh·Wp + kw·dw`.
    tap_offsets: Vec<usize>,
}

impl<T: Element> PaddedGather<T> {
    /// The gather for `geo`, or `None` if some window reaches past the padded
    /// image (a geometry the ops never build) or the offsets overflow `i32`.
    pub(crate) fn new(geo: &ConvGeometry) -> Option<Self> {
        let [ph, pw] = geo.padding;
        let padded_size = [geo.in_size[0] + 2 * ph, geo.in_size[1] + 2 * pw];
        let plane = padded_size[0] * padded_size[1];
        let wp = padded_size[1];
        let [oh, ow] = geo.out_size;
        let [sh, sw] = geo.stride;
        let [dh, dw] = geo.dilation;
        let [kh, kw] = geo.kernel;
        if oh == 0 || ow == 0 || kh == 0 || kw == 0 || geo.in_channels == 0 {
            return None;
        }
        // The furthest element any window reads, which must be in the plane.
        let last = (oh - 1) * sh * wp + (ow - 1) * sw + (kh - 1) * dh * wp + (kw - 1) * dw;
        let fits_rows = (oh - 1) * sh + (kh - 1) * dh < padded_size[0];
        let fits_cols = (ow - 1) * sw + (kw - 1) * dw < wp;
        if !fits_rows || !fits_cols || last >= plane || plane > i32::MAX as usize {
            return None;
        }
        let window_starts = (0..oh * ow)
            .map(|j| ((j / ow) * sh * wp + (j % ow) * sw) as i32)
            .collect();
        let tap_offsets = (0..kh * kw).map(|t| (t / kw) * dh * wp + (t % kw) * dw).collect();
        Some(PaddedGather {
            geo: *geo,
            padded_size,
            padded: vec![T::zero(); geo.in_channels * plane],
            window_starts,
            tap_offsets,
        })
    }

    /// The same output as [`im2col`]: `cols[row·ld + j]` receives what
    /// kernel tap `row` sees from output pixel `j`. `image` is one sample
    /// `[C, H, W]`.
    ///
    /// # Panics
    /// If `image` or `cols` is too short for the geometry.
    pub(crate) fn im2col(&mut self, image: &[T], cols: &mut [T], ld: usize) {
        let geo = self.geo;
        let p = geo.out_pixels();
        assert!(image.len() >= geo.sample_len(), "im2col: image too short");
        assert!(
            cols.len() >= (geo.patch_len() - 1) * ld + p,
            "im2col: cols too short"
        );
        self.copy_in(image);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                unsafe { self.gather_avx512(cols, ld) };
                return;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                unsafe { self.gather_avx2(cols, ld) };
                return;
            }
        }
        self.gather(cols, ld);
    }

    /// im2col transposed (*im2row*): `rows[j·CKK + row]` receives what
    /// kernel tap `row` sees from output pixel `j`, i.e. each output pixel's
    /// patch as one contiguous row. `image` is one sample `[C, H, W]`;
    /// `rows` holds `OH·OW` rows of `C·KH·KW`.
    ///
    /// This order suits the copy: for one pixel, channel and kernel row,
    /// the `KW` taps are adjacent floats of the padded image (when the
    /// dilation is 1), copied as one short run instead of gathered one by
    /// one; and it suits the weight gradient, whose product reads the
    /// patches as a row-major `B` in place (`im2col.rs`).
    ///
    /// # Panics
    /// If `image` or `rows` is too short for the geometry.
    pub(crate) fn im2row(&mut self, image: &[T], rows: &mut [T]) {
        let geo = self.geo;
        let ckk = geo.patch_len();
        assert!(image.len() >= geo.sample_len(), "im2row: image too short");
        assert!(rows.len() >= geo.out_pixels() * ckk, "im2row: rows too short");
        self.copy_in(image);
        let plane = self.padded_size[0] * self.padded_size[1];
        let [kh, kw] = geo.kernel;
        let (row_step, dw) = (geo.dilation[0] * self.padded_size[1], geo.dilation[1]);
        for (&start, patch) in self.window_starts.iter().zip(rows.chunks_exact_mut(ckk)) {
            for (channel, taps) in self
                .padded
                .chunks_exact(plane)
                .zip(patch.chunks_exact_mut(kh * kw))
            {
                for (ty, run) in taps.chunks_exact_mut(kw).enumerate() {
                    let src = &channel[start as usize + ty * row_step..];
                    if dw == 1 && kw == 4 {
                        // The DCGAN's 4×4 kernels: one 4-float move.
                        let moved: [T; 4] = src[..4].try_into().expect("4 taps");
                        run.copy_from_slice(&moved);
                    } else {
                        run.iter_mut().enumerate().for_each(|(tx, v)| *v = src[tx * dw]);
                    }
                }
            }
        }
    }

    /// Copies `image` into the interior of the padded buffer.
    fn copy_in(&mut self, image: &[T]) {
        let [h, w] = self.geo.in_size;
        let [ph, pw] = self.geo.padding;
        let [hp, wp] = self.padded_size;
        for (plane, channel) in self
            .padded
            .chunks_exact_mut(hp * wp)
            .zip(image.chunks_exact(h * w))
        {
            for (y, row) in channel.chunks_exact(w).enumerate() {
                let start = (y + ph) * wp + pw;
                plane[start..start + w].copy_from_slice(row);
            }
        }
    }

    /// The gather itself: for every channel and tap, one loop over the
    /// output pixels. Compiled for AVX-512 and AVX2 by the two wrappers
    /// below; every path copies the same values.
    #[inline(always)]
    fn gather(&self, cols: &mut [T], ld: usize) {
        let p = self.geo.out_pixels();
        let plane = self.padded_size[0] * self.padded_size[1];
        let mut row = 0;
        for channel in self.padded.chunks_exact(plane) {
            for &tap in &self.tap_offsets {
                let dst = &mut cols[row * ld..row * ld + p];
                let src = &channel[tap..];
                for (d, &start) in dst.iter_mut().zip(&self.window_starts) {
                    // SAFETY: `new` checked that the furthest element any
                    // window reads, the largest tap offset plus the largest
                    // window start, lies inside the plane; so
                    // `0 ≤ tap + start < plane`, i.e. `start < src.len()`.
                    // (Signed 32-bit offsets let AVX-512 gather 16 lanes at
                    // once; 64-bit ones would take two gathers of 8.)
                    *d = unsafe { *src.as_ptr().offset(start as isize) };
                }
                row += 1;
            }
        }
    }

    /// [`PaddedGather::gather`] with AVX-512F enabled.
    ///
    /// Safety: only call on a CPU with AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn gather_avx512(&self, cols: &mut [T], ld: usize) {
        self.gather(cols, ld);
    }

    /// [`PaddedGather::gather`] with AVX2 enabled.
    ///
    /// Safety: only call on a CPU with AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn gather_avx2(&self, cols: &mut [T], ld: usize) {
        self.gather(cols, ld);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::{PaddedGather, im2col};
    use crate::kernels::im2col::ConvGeometry;

    /// A geometry whose output size is the convolution's, as the ops build it.
    pub(in crate::kernels) fn geometry(
        c: usize,
        size: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> ConvGeometry {
        let out = |i: usize| (size[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) / stride[i] + 1;
        ConvGeometry {
            batch: 1,
            in_channels: c,
            out_channels: 1,
            in_size: size,
            out_size: [out(0), out(1)],
            kernel,
            stride,
            padding,
            dilation,
        }
    }

    /// Geometries with every edge a copy can trip on: the DCGAN's two
    /// layers, rectangular images, strides and dilations that differ per
    /// axis, padding on one axis only, a window as large as the image, and
    /// a 7-pixel-wide image (narrower than an 8-float move).
    pub(in crate::kernels) fn geometries() -> Vec<ConvGeometry> {
        vec![
            geometry(64, [14, 14], [4, 4], [2, 2], [1, 1], [1, 1]),
            geometry(1, [28, 28], [4, 4], [2, 2], [1, 1], [1, 1]),
            geometry(3, [9, 7], [3, 2], [1, 2], [2, 0], [1, 1]),
            geometry(2, [10, 11], [3, 3], [3, 1], [1, 2], [2, 3]),
            geometry(1, [5, 5], [5, 5], [1, 1], [0, 0], [1, 1]),
            geometry(3, [9, 10], [4, 4], [1, 3], [2, 1], [1, 1]),
            geometry(2, [12, 12], [4, 4], [2, 2], [1, 1], [2, 2]),
            geometry(2, [7, 7], [4, 4], [2, 2], [1, 1], [1, 1]),
        ]
    }

    #[test]
    fn the_padded_gather_copies_what_the_direct_im2col_copies() {
        for geo in geometries() {
            let image: Vec<f64> = (0..geo.sample_len()).map(|i| i as f64 + 1.0).collect();
            let (rows, p) = (geo.patch_len(), geo.out_pixels());
            // Padded rows (ld > p) as when samples share the matrix, and NaN
            // everywhere first, so a skipped entry shows.
            let ld = p + 3;
            let mut direct = vec![f64::NAN; rows * ld];
            let mut gathered = direct.clone();
            im2col(&geo, &image, &mut direct, ld);
            let mut gather = PaddedGather::new(&geo).expect("a consistent geometry");
            // Twice, so the second sample sees the buffer the first left.
            for _ in 0..2 {
                gather.im2col(&image, &mut gathered, ld);
            }
            for r in 0..rows {
                let (a, b) = (&direct[r * ld..r * ld + p], &gathered[r * ld..r * ld + p]);
                assert_eq!(a, b, "row {r} of {geo:?}");
            }
            // im2row: the same matrix transposed, every entry written.
            let mut transposed = vec![f64::NAN; p * rows];
            gather.im2row(&image, &mut transposed);
            for (j, patch) in transposed.chunks_exact(rows).enumerate() {
                for (r, v) in patch.iter().enumerate() {
                    assert_eq!(*v, direct[r * ld + j], "im2row: pixel {j}, tap {r} of {geo:?}");
                }
            }
        }
    }

    #[test]
    fn a_window_past_the_padded_image_is_refused() {
        let mut geo = geometry(1, [8, 8], [3, 3], [1, 1], [0, 0], [1, 1]);
        geo.out_size = [7, 6]; // 7 rows of 3-tall windows need 9 input rows
        assert!(PaddedGather::<f32>::new(&geo).is_none());
    }
}
