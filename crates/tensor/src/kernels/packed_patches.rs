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
//! `docs/speed-log.md`, "What bounds W2"). So the
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
    /// How one channel is stored: split by the stride for
    /// [`Orientation::TapsByPixels`], whole (a split of 1) otherwise.
    layout: PhaseLayout,
    /// Floats per sample in `images`: `C` channels of `layout`.
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
    /// `(k, n)` of the patch matrix of `samples` samples, as the gemm
    /// reads it.
    pub(crate) fn shape_for(&self, samples: usize) -> (usize, usize) {
        let (taps, pixels) = (self.geo.patch_len(), samples * self.geo.out_pixels());
        match self.orientation {
            Orientation::TapsByPixels => (taps, pixels),
            Orientation::PixelsByTaps => (pixels, taps),
        }
    }

    /// Which way round the gemm reads this source.
    pub(crate) fn orientation(&self) -> Orientation {
        self.orientation
    }

    /// The source for `geo` read as `orientation`, or `None` if some window
    /// reaches past the padded image (a geometry the ops never build).
    pub(crate) fn new(geo: &ConvGeometry, orientation: Orientation) -> Option<Self> {
        let split = match orientation {
            Orientation::TapsByPixels => geo.stride,
            Orientation::PixelsByTaps => [1, 1],
        };
        let layout = PhaseLayout::new(geo, split)?;
        let [kh, kw] = geo.kernel;
        let mut source = PatchSource {
            geo: *geo,
            orientation,
            layout,
            sample_len: geo.in_channels * layout.channel_len(),
            images: vec![0.0; SLACK],
            tap_offsets: Vec::with_capacity(geo.patch_len()),
            pixel_offsets: Vec::new(),
            samples: 0,
        };
        // Offsets are sums `tap + pixel`: with split phases, row
        // `oh·sh + kh·dh` is phase `(kh·dh) mod sh`, phase row
        // `oh + ⌊kh·dh / sh⌋` (as `oh·sh` is a multiple of `sh`), and the
        // same for columns (see `grow` for the pixels). Checked: every sum
        // fits in `u32`.
        for c in 0..geo.in_channels {
            for ty in 0..kh {
                for tx in 0..kw {
                    let offset =
                        c * layout.channel_len() + layout.offset(ty * geo.dilation[0], tx * geo.dilation[1]);
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
        let ([oh, ow], [sh, sw]) = (self.geo.out_size, self.geo.stride);
        for b in have..samples {
            for y in 0..oh {
                for x in 0..ow {
                    // The window's corner: padded row y·sh, column x·sw.
                    let start = b * self.sample_len + self.layout.offset(y * sh, x * sw);
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
    /// copies, row by row ([`PhaseLayout::move_row`]). With `VECTOR` (AVX2
    /// enabled by the caller), rows of 8 or more floats go 8 at a time.
    #[inline(always)]
    fn copy_in<const VECTOR: bool>(&mut self, x: &[f32]) {
        let geo = self.geo;
        let [h, w] = geo.in_size;
        let layout = self.layout;
        for (image, sample) in x
            .chunks_exact(h * w * geo.in_channels)
            .zip(self.images.chunks_mut(self.sample_len))
        {
            for (channel, phases) in image
                .chunks_exact(h * w)
                .zip(sample.chunks_exact_mut(layout.channel_len()))
            {
                for (y, row) in channel.chunks_exact(w).enumerate() {
                    // SAFETY: AVX2 is enabled if VECTOR (caller's contract);
                    // `row` is the image row's `w` floats, which
                    // `move_row` only reads when moving in.
                    unsafe { layout.move_row::<true, VECTOR>(phases, y, row.as_ptr().cast_mut()) };
                }
            }
        }
    }
}

/// One channel of a zero-padded image stored split by stride phase (see
/// the module's notes): for a split `[sy, sx]`, padded row `r`, column `q`
/// lies in phase plane `(r mod sy, q mod sx)` at `(⌊r/sy⌋, ⌊q/sx⌋)`. A split
/// of `[1, 1]` is the padded image as it is. Shared by [`PatchSource`]
/// and the phase col2im (`phase_col2im.rs`).
#[derive(Debug, Clone, Copy)]
pub(super) struct PhaseLayout {
    /// Phases per axis.
    split: [usize; 2],
    /// Rows and columns of one phase plane.
    phase_size: [usize; 2],
    /// The image's padding and width.
    padding: [usize; 2],
    width: usize,
}

impl PhaseLayout {
    /// The layout of `geo`'s input split by `split`, or `None` if the
    /// geometry is empty or some window reaches past the padded image (a
    /// geometry the ops never build).
    pub(super) fn new(geo: &ConvGeometry, split: [usize; 2]) -> Option<Self> {
        let [ph, pw] = geo.padding;
        let padded = [geo.in_size[0] + 2 * ph, geo.in_size[1] + 2 * pw];
        let ([oh, ow], [kh, kw]) = (geo.out_size, geo.kernel);
        if [oh, ow, kh, kw, geo.in_channels, geo.in_size[0], geo.in_size[1]].contains(&0) {
            return None;
        }
        let fits = (0..2).all(|axis| {
            (geo.out_size[axis] - 1) * geo.stride[axis] + (geo.kernel[axis] - 1) * geo.dilation[axis]
                < padded[axis]
        });
        fits.then(|| PhaseLayout {
            split,
            phase_size: [padded[0].div_ceil(split[0]), padded[1].div_ceil(split[1])],
            padding: geo.padding,
            width: geo.in_size[1],
        })
    }

    /// Floats of one phase plane.
    pub(super) fn plane(&self) -> usize {
        self.phase_size[0] * self.phase_size[1]
    }

    /// Columns of one phase plane: the distance between its rows.
    pub(super) fn phase_width(&self) -> usize {
        self.phase_size[1]
    }

    /// Floats of one channel: every phase plane.
    pub(super) fn channel_len(&self) -> usize {
        self.split[0] * self.split[1] * self.plane()
    }

    /// Where padded row `row`, column `col` lies in a channel.
    pub(super) fn offset(&self, row: usize, col: usize) -> usize {
        let [sy, sx] = self.split;
        ((row % sy) * sx + col % sx) * self.plane() + (row / sy) * self.phase_size[1] + col / sx
    }

    /// Moves image row `y` between `row` (the image's `width` floats) and
    /// its place in `channel` (one channel of this layout): into the
    /// channel if `IN`, out of it otherwise. Image column `x` is padded
    /// column `x + pw`. With `VECTOR`, rows of 8 or more with a column
    /// split of 1 or 2 go 8 floats at a time (the last 8 overlapping the
    /// ones before when the width is not a multiple of 8; they move the
    /// same values again); others one by one.
    ///
    /// # Safety
    /// With `VECTOR`, runs inside a function with AVX2 enabled; `row` is
    /// valid for reading `width` floats, and for writing them when not `IN`.
    #[inline(always)]
    pub(super) unsafe fn move_row<const IN: bool, const VECTOR: bool>(
        &self,
        channel: &mut [f32],
        y: usize,
        row: *mut f32,
    ) {
        let ([ph, pw], w, sx, plane) = (self.padding, self.width, self.split[1], self.plane());
        // The row's place in column phase 0; phase px is px·plane further.
        let phases = &mut channel[self.offset(y + ph, 0)..];
        if !VECTOR || w < 8 || sx > 2 {
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
            // `phases` (bounds-checked), inside the row's place in its
            // phases. AVX2 is enabled (caller's contract).
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
                        let merged =
                            _mm256_permutevar8x32_ps(halves, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
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
}

impl PackB for PatchSource {
    fn shape(&self) -> (usize, usize) {
        self.shape_for(self.samples)
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
