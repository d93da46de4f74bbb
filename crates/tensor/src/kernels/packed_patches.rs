//! A group's patch matrix as a gemm operand that is never written out
//! ([`PatchSource`]): each sliver the gemm asks for is copied straight from
//! a zero-padded copy of the images (*implicit GEMM*, `gemm/implicit.rs`).
//!
//! ## Why not im2col first
//! For W2's 14→7 convolution one group's patch matrix is 1024 × 784
//! floats, 3.2 MB: written out, it leaves the level-2 cache (1 MB here) on
//! its way to level 3 and comes back when the gemm reads it. The gemm
//! reads it as slivers of 256 rows by 48 columns, 48 KB each. Packed from
//! the images right before the microkernel needs them, those stay in the
//! level-1/2 cache, and only the padded images (1 MB for the group)
//! are written out.
//!
//! ## Every entry is one sum of two offsets
//! Entry `(tap, pixel)` of the patch matrix is the value that kernel tap
//! `(c, kh, kw)` sees from output pixel `(b, oh, ow)`: padded image `b`,
//! channel `c`, row `oh·sh + kh·dh`, column `ow·sw + kw·dw`. Its place in
//! the buffer splits into a part that depends on the tap and a part that
//! depends on the pixel, so two tables of offsets describe the whole
//! matrix: `images[tap_offsets[tap] + pixel_offsets[pixel]]`.
//!
//! ## Contiguous runs instead of gathers
//! With stride 2, neighbouring output pixels read every other column of
//! the padded image, so a row of the forward product's patch matrix
//! (one tap, consecutive pixels) would be a gather, which is slow on
//! x86 (writing im2col's gathers into a cache-resident buffer instead of
//! the matrix saved almost nothing: the gathers themselves were the cost,
//! README "What bounds W2"). So the
//! padded image is stored split into *stride phases*: for stride 2, its
//! even columns, then its odd columns (and likewise for rows), each a
//! smaller plane of its own. Output pixel `ow` and tap `kw` then read
//! phase `(kw·dw) mod 2` at column `ow + ⌊kw·dw / 2⌋`: consecutive output
//! pixels read consecutive floats. A sliver row of 48 pixels is then a few
//! runs of up to 7 floats (one per output row of 7 pixels), each copied
//! with one 8-float load and store.
//!
//! The weight gradient reads the transpose (pixels down, taps across, see
//! "Which way round the patches are copied" in `im2col.rs`): there the
//! runs are along the kernel's columns (4 taps of a 4×4 kernel are 4
//! adjacent floats of the unsplit padded image), so its copy is not split.

use super::gemm::implicit::PackB;
use super::im2col::ConvGeometry;
use std::arch::x86_64::*;

/// Which way round the gemm reads the patch matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Orientation {
    /// im2col's `[C·KH·KW, nb·OH·OW]`, the forward product's `B`: the
    /// padded images are split into stride phases.
    TapsByPixels,
    /// im2row's `[nb·OH·OW, C·KH·KW]`, the weight gradient's `B`: the
    /// padded images are stored whole.
    PixelsByTaps,
}

/// The widest block of columns [`PatchSource::pack`] takes at once (the
/// gemm asks for 48 at most).
const MAX_COLUMNS: usize = 64;

/// Floats read past the last one in use by an 8-float load.
const SLACK: usize = 8;

/// The patch matrix of a group of samples, as a [`PackB`] (see the
/// module's notes). Built once per geometry and orientation, and kept by
/// the thread with the other copy tables (`im2col.rs`).
pub(crate) struct PatchSource {
    geo: ConvGeometry,
    orientation: Orientation,
    /// Phases per axis: the stride for [`Orientation::TapsByPixels`], else 1.
    split: [usize; 2],
    /// Rows and columns of one phase plane.
    phase_size: [usize; 2],
    /// Floats per sample in `images`: `C · split[0] · split[1]` phase planes.
    sample_len: usize,
    /// The loaded samples, padded and split, then [`SLACK`] zeros. The
    /// floats that stand for padding are zero from the start and never
    /// written; only the images' own pixels are rewritten per group.
    images: Vec<f32>,
    /// Where kernel tap `(c, kh, kw)` reads, relative to a window.
    tap_offsets: Vec<u32>,
    /// Where output pixel `(b, oh, ow)`'s window starts, for every sample
    /// `images` has room for.
    pixel_offsets: Vec<u32>,
    /// Samples loaded by the last [`PatchSource::load`].
    samples: usize,
}

impl PatchSource {
    /// Which way round the gemm reads this source.
    pub(crate) fn orientation(&self) -> Orientation {
        self.orientation
    }

    /// The source for `geo` read as `orientation`, or `None` if some window
    /// reaches past the padded image (a geometry the ops never build).
    pub(crate) fn new(geo: &ConvGeometry, orientation: Orientation) -> Option<Self> {
        let [ph, pw] = geo.padding;
        let padded = [geo.in_size[0] + 2 * ph, geo.in_size[1] + 2 * pw];
        let [oh, ow] = geo.out_size;
        let [kh, kw] = geo.kernel;
        let (stride, dilation) = (geo.stride, geo.dilation);
        if oh == 0 || ow == 0 || kh == 0 || kw == 0 || geo.in_channels == 0 {
            return None;
        }
        let fits = (0..2).all(|axis| {
            let last = [oh, ow][axis] - 1;
            last * stride[axis] + ([kh, kw][axis] - 1) * dilation[axis] < padded[axis]
        });
        if !fits {
            return None;
        }
        let split = match orientation {
            Orientation::TapsByPixels => stride,
            Orientation::PixelsByTaps => [1, 1],
        };
        let phase_size = [padded[0].div_ceil(split[0]), padded[1].div_ceil(split[1])];
        let plane = phase_size[0] * phase_size[1];
        let sample_len = geo.in_channels * split[0] * split[1] * plane;
        // Where padded position (row, col) of channel 0 lies in a sample.
        let at = |row: usize, col: usize| {
            ((row % split[0]) * split[1] + col % split[1]) * plane
                + (row / split[0]) * phase_size[1]
                + col / split[1]
        };
        let mut source = PatchSource {
            geo: *geo,
            orientation,
            split,
            phase_size,
            sample_len,
            images: vec![0.0; SLACK],
            tap_offsets: Vec::with_capacity(geo.patch_len()),
            pixel_offsets: Vec::new(),
            samples: 0,
        };
        // Offsets are sums `tap + pixel`; with split phases, row
        // `oh·sh + kh·dh` is phase `(kh·dh) mod sh`, phase row
        // `oh + ⌊kh·dh / sh⌋` (as `oh·sh` is a multiple of `sh`), and the
        // same for columns. Checked below: every sum fits in `u32`.
        for c in 0..geo.in_channels {
            for ty in 0..kh {
                for tx in 0..kw {
                    let offset = c * split[0] * split[1] * plane + at(ty * dilation[0], tx * dilation[1]);
                    source.tap_offsets.push(u32::try_from(offset).ok()?);
                }
            }
        }
        source.grow(1)?;
        Some(source)
    }

    /// Makes room for `samples` samples; `None` if their offsets would
    /// overflow `u32`.
    fn grow(&mut self, samples: usize) -> Option<()> {
        let have = self.pixel_offsets.len() / self.geo.out_pixels();
        if samples <= have {
            return Some(());
        }
        let len = samples.checked_mul(self.sample_len)?.checked_add(SLACK)?;
        u32::try_from(len).ok()?;
        let [oh, ow] = self.geo.out_size;
        let (stride, split) = (self.geo.stride, self.split);
        for b in have..samples {
            for y in 0..oh {
                for x in 0..ow {
                    // Row y·sh is in phase 0 at phase row y·sh / split.
                    let start = b * self.sample_len
                        + (y * stride[0] / split[0]) * self.phase_size[1]
                        + x * stride[1] / split[1];
                    self.pixel_offsets.push(start as u32);
                }
            }
        }
        self.images.resize(len, 0.0);
        Some(())
    }

    /// Copies samples `first..first + nb` of `x` (`[N, C, H, W]`) into the
    /// padded images; the source then describes their patch matrix.
    /// `false` (and nothing loaded) if so many samples would overflow the
    /// offsets.
    ///
    /// # Panics
    /// If `x` holds fewer samples.
    pub(crate) fn load(&mut self, x: &[f32], first: usize, nb: usize) -> bool {
        if self.grow(nb).is_none() {
            return false;
        }
        let len = self.geo.sample_len();
        let x = &x[first * len..(first + nb) * len];
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { self.copy_in_avx2(x) };
        } else {
            self.copy_in::<false>(x);
        }
        self.samples = nb;
        true
    }

    /// [`PatchSource::copy_in`] with AVX2's 8-float moves.
    ///
    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn copy_in_avx2(&mut self, x: &[f32]) {
        self.copy_in::<true>(x);
    }

    /// Writes the images `x` into the interior of their padded, split
    /// copies, row by row: image row `y` is padded row `y + ph`, in row
    /// phase `(y + ph) mod sh`, and its column `x` goes to column phase
    /// `(x + pw) mod sw`, at `⌊(x + pw) / sw⌋`. With `VECTOR` (AVX2 enabled
    /// by the caller), rows of 8 or more floats go 8 at a time.
    #[inline(always)]
    fn copy_in<const VECTOR: bool>(&mut self, x: &[f32]) {
        let geo = self.geo;
        let ([h, w], [ph, pw]) = (geo.in_size, geo.padding);
        let [sy, sx] = self.split;
        let plane = self.phase_size[0] * self.phase_size[1];
        let phase_width = self.phase_size[1];
        for (image, sample) in x
            .chunks_exact(h * w * geo.in_channels)
            .zip(self.images.chunks_mut(self.sample_len))
        {
            for (channel, phases) in image
                .chunks_exact(h * w)
                .zip(sample.chunks_exact_mut(sy * sx * plane))
            {
                for (y, src) in channel.chunks_exact(w).enumerate() {
                    let row = y + ph;
                    // Where column phase 0 of this row starts; phase px is
                    // `px · plane` further on.
                    let start = (row % sy) * sx * plane + (row / sy) * phase_width;
                    let dst = &mut phases[start..];
                    if VECTOR {
                        // SAFETY: AVX2 is enabled (caller's contract); `src`
                        // is the row's `w` floats, which `move_row` only
                        // reads when moving in.
                        unsafe { move_row::<true>(dst, src.as_ptr().cast_mut(), w, pw, sx, plane) };
                    } else {
                        for (col, &v) in src.iter().enumerate() {
                            let q = col + pw;
                            dst[(q % sx) * plane + q / sx] = v;
                        }
                    }
                }
            }
        }
    }
}

/// Moves one image row between `row` and its place in the phase planes
/// (`phases` starting at the row's place in column phase 0; phase `px` is
/// `px·plane` further): into the phases if `IN`, out of them otherwise.
/// Image column `x` is padded column `x + pw`, in column phase
/// `(x + pw) mod sx` at `⌊(x + pw) / sx⌋`. Rows of 8 or more with a split
/// of 1 or 2 go 8 floats at a time (the last 8 overlapping the ones before
/// when the length is not a multiple of 8; they move the same values
/// again); others one by one.
///
/// Shared by [`PatchSource`] (in) and the phase col2im (in and out).
///
/// # Safety
/// Runs inside a function with AVX2 enabled; `row` is valid for reading
/// `w` floats, and for writing them when not `IN`.
#[inline(always)]
pub(super) unsafe fn move_row<const IN: bool>(
    phases: &mut [f32],
    row: *mut f32,
    w: usize,
    pw: usize,
    sx: usize,
    plane: usize,
) {
    if w < 8 || sx > 2 {
        for x in 0..w {
            let q = x + pw;
            let at = (q % sx) * plane + q / sx;
            // SAFETY: x < w, inside `row` (caller's contract).
            unsafe {
                if IN {
                    phases[at] = *row.add(x);
                } else {
                    *row.add(x) = phases[at];
                }
            }
        }
        return;
    }
    let mut x = 0;
    loop {
        let at = x.min(w - 8);
        let q = at + pw;
        // SAFETY: the 8 floats of `row` from `at ≤ w − 8` are inside it
        // (written only when not IN); the phase accesses are slices of
        // `phases` (bounds-checked), inside the row's place in its phases.
        // AVX2 is enabled (caller's contract).
        unsafe {
            let image = row.add(at);
            if sx == 1 {
                let place = phases[q..q + 8].as_mut_ptr();
                if IN {
                    _mm256_storeu_ps(place, _mm256_loadu_ps(image));
                } else {
                    _mm256_storeu_ps(image, _mm256_loadu_ps(place));
                }
            } else {
                // Lanes 0, 2, 4, 6 are padded columns q, q + 2, … (one
                // phase), lanes 1, 3, 5, 7 the columns between (the other).
                let (first, second) = ((q % 2) * plane + q / 2, ((q + 1) % 2) * plane + q.div_ceil(2));
                let first = phases[first..first + 4].as_mut_ptr();
                let second = phases[second..second + 4].as_mut_ptr();
                if IN {
                    let split = _mm256_permutevar8x32_ps(
                        _mm256_loadu_ps(image),
                        _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7),
                    );
                    _mm_storeu_ps(first, _mm256_castps256_ps128(split));
                    _mm_storeu_ps(second, _mm256_extractf128_ps::<1>(split));
                } else {
                    let halves = _mm256_set_m128(_mm_loadu_ps(second), _mm_loadu_ps(first));
                    let merged = _mm256_permutevar8x32_ps(halves, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
                    _mm256_storeu_ps(image, merged);
                }
            }
        }
        if at == w - 8 {
            break;
        }
        x += 8;
    }
}

impl PackB for PatchSource {
    fn shape(&self) -> (usize, usize) {
        let (taps, pixels) = (self.geo.patch_len(), self.samples * self.geo.out_pixels());
        match self.orientation {
            Orientation::TapsByPixels => (taps, pixels),
            Orientation::PixelsByTaps => (pixels, taps),
        }
    }

    /// Copies the block run by run: the columns `j0..j0 + cols` fall into
    /// runs whose offsets go up by one (at most 8 long), the same for
    /// every row; each row then copies each run with one 8-float load and
    /// store. A shorter run's store writes past its end, and the next
    /// run's store (or the next row's) overwrites that.
    ///
    /// # Panics
    /// If `cols` exceeds 64.
    #[inline(always)]
    unsafe fn pack(&self, p0: usize, j0: usize, rows: usize, cols: usize, width: usize, dst: *mut f32) {
        assert!(cols <= MAX_COLUMNS, "pack: {cols} columns");
        let (row_offsets, col_offsets) = match self.orientation {
            Orientation::TapsByPixels => (&self.tap_offsets, &self.pixel_offsets),
            Orientation::PixelsByTaps => (&self.pixel_offsets, &self.tap_offsets),
        };
        let (row_offsets, col_offsets) = (&row_offsets[p0..p0 + rows], &col_offsets[j0..j0 + cols]);
        // (column in the block, offset) of each run.
        let mut runs = [(0_usize, 0_usize); MAX_COLUMNS];
        let mut count = 0;
        let mut j = 0;
        while j < cols {
            let start = col_offsets[j];
            let mut len = 1;
            while len < 8 && j + len < cols && col_offsets[j + len] == start + len as u32 {
                len += 1;
            }
            runs[count] = (j, start as usize);
            count += 1;
            j += len;
        }
        let runs = &runs[..count];
        let images = self.images.as_ptr();
        for (p, &row) in row_offsets.iter().enumerate() {
            // SAFETY: every entry `row + offset + i` of the block lies
            // inside the loaded images (the tables describe them), so an
            // 8-float load from `row + offset` ends at most 7 floats past
            // the last one, inside the slack. Each store starts inside
            // row p of `dst` and ends at most 8 floats past it, which the
            // caller provides. AVX is enabled (caller's contract).
            unsafe {
                let (src, out) = (images.add(row as usize), dst.add(p * width));
                for &(at, offset) in runs {
                    _mm256_storeu_ps(out.add(at), _mm256_loadu_ps(src.add(offset)));
                }
            }
        }
        if cols < width {
            for p in 0..rows {
                // SAFETY: columns cols..width of row p are inside `dst`.
                unsafe { std::ptr::write_bytes(dst.add(p * width + cols), 0, width - cols) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Orientation, PatchSource};
    use crate::kernels::gemm::implicit::PackB;
    use crate::kernels::patches::im2col;
    use crate::kernels::patches::tests::{geometries, geometry};

    /// Packs all of `source` through `pack`, in blocks of at most 48
    /// columns and 5 rows, as `[k, n]` row-major.
    fn unpacked(source: &PatchSource) -> Vec<f32> {
        let (k, n) = source.shape();
        let mut whole = vec![f32::NAN; k * n];
        for p0 in (0..k).step_by(5) {
            let rows = 5.min(k - p0);
            for j0 in (0..n).step_by(48) {
                let cols = 48.min(n - j0);
                let width = cols.div_ceil(16) * 16;
                let mut block = vec![f32::NAN; rows * width + 8];
                // SAFETY: AVX2 is on every x86-64 CPU this suite runs on
                // (checked); the block is inside the matrix; `block` has
                // rows·width + 8 floats.
                assert!(std::arch::is_x86_feature_detected!("avx2"));
                unsafe { source.pack(p0, j0, rows, cols, width, block.as_mut_ptr()) };
                for p in 0..rows {
                    whole[(p0 + p) * n + j0..(p0 + p) * n + j0 + cols]
                        .copy_from_slice(&block[p * width..p * width + cols]);
                    assert!(block[p * width + cols..(p + 1) * width].iter().all(|&v| v == 0.0));
                }
            }
        }
        whole
    }

    #[test]
    fn the_packed_patches_are_im2cols_matrix_either_way_round() {
        for geo in geometries() {
            let (len, k, p) = (geo.sample_len(), geo.patch_len(), geo.out_pixels());
            let batch: Vec<f32> = (0..5 * len).map(|i| i as f32 + 1.0).collect();
            for orientation in [Orientation::TapsByPixels, Orientation::PixelsByTaps] {
                let mut source = PatchSource::new(&geo, orientation).expect("a consistent geometry");
                // Two groups, the second smaller, as a batch's last group is.
                for (first, nb) in [(1, 3), (4, 1)] {
                    assert!(source.load(&batch, first, nb));
                    let mut expected = vec![f32::NAN; k * nb * p];
                    for b in 0..nb {
                        let image = &batch[(first + b) * len..(first + b + 1) * len];
                        im2col(&geo, image, &mut expected[b * p..], nb * p);
                    }
                    let got = unpacked(&source);
                    for t in 0..k {
                        for j in 0..nb * p {
                            let v = match orientation {
                                Orientation::TapsByPixels => got[t * nb * p + j],
                                Orientation::PixelsByTaps => got[j * k + t],
                            };
                            assert_eq!(
                                v,
                                expected[t * nb * p + j],
                                "tap {t}, pixel {j}, {orientation:?}, {geo:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_window_past_the_padded_image_is_refused() {
        let mut geo = geometry(1, [8, 8], [3, 3], [1, 1], [0, 0], [1, 1]);
        geo.out_size = [7, 6]; // 7 rows of 3-tall windows need 9 input rows
        assert!(PatchSource::new(&geo, Orientation::TapsByPixels).is_none());
    }
}
