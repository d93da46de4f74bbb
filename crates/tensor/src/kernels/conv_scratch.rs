//! The scratch space of the convolution kernels (`im2col.rs`): each
//! worker's matrices and copy tables, kept by its thread between calls so
//! that a training step neither allocates nor rebuilds them, and the choice
//! between writing the patch matrix out and packing it straight from the
//! images (implicit GEMM, `packed_patches.rs`).

use super::channels_last_col2im::{self, ChannelsLastCol2im};
use super::gathered_col2im::GatheredCol2im;
use super::im2col::ConvGeometry;
#[cfg(target_arch = "x86_64")]
use super::interleaved_patches::InterleavedPatches;
#[cfg(target_arch = "x86_64")]
use super::packed_patches::{Orientation, PatchSource};
use super::patches::PaddedGather;
#[cfg(target_arch = "x86_64")]
use super::phase_col2im::PhaseCol2im;
#[cfg(target_arch = "x86_64")]
use super::{f32s, f32s_mut, is_f32};
use crate::Element;
use std::any::Any;
use std::cell::RefCell;

/// Scratch space one worker reuses across groups.
///
/// The two matrices are the large part (a group's im2col matrix for W2's
/// second convolution is 3.2 MB). They are taken from the thread's spare
/// buffers ([`SPARE`]) and given back on drop, so that a training step does
/// not allocate and zero them afresh for every convolution: in `perf` of W2
/// at one thread that zeroing was 1.5% of the step (`memset`).
pub(super) struct Scratch<T: Element> {
    /// The group's im2col matrix `[C·KH·KW, nb·OH·OW]`.
    pub(super) cols: Vec<T>,
    /// A `[O, nb·OH·OW]` matrix: the gemm's output, or `ȳ` regrouped.
    pub(super) stage: Vec<T>,
    /// The fast im2col for this geometry (`None` if the geometry's windows
    /// do not fit its padded image, or the caller needs no im2col; then the
    /// direct [`im2col`](super::patches::im2col) runs).
    pub(super) gather: Option<PaddedGather<T>>,
    /// The fast col2im for this geometry (`None` if its offsets would
    /// overflow, or the caller needs no col2im; then the direct [`col2im`](super::patches::col2im)
    /// runs).
    pub(super) scatter: Option<GatheredCol2im>,
    /// The f32 col2im through stride phases, when the caller needs a col2im
    /// of f32 and the CPU has AVX2 (then `scatter` is `None`).
    #[cfg(target_arch = "x86_64")]
    pub(super) phases: Option<PhaseCol2im>,
    /// The patches as a source the gemm packs from (implicit GEMM, see
    /// `packed_patches.rs`), when the product can take one: f32, the
    /// engine's own gemm, on one thread. Then `cols` and `gather` go unused.
    #[cfg(target_arch = "x86_64")]
    source: Option<PatchSource>,
    /// The forward product's patches as images interleaving 8 samples
    /// (`interleaved_patches.rs`), when the product can take them: like
    /// `source`, and the geometry and the AVX-512 gemm allow it. Then
    /// `source` goes unused.
    #[cfg(target_arch = "x86_64")]
    pub(super) interleaved: Option<InterleavedPatches>,
    /// col2im with pixels as rows and channels last, when the caller needs
    /// a col2im of an image with many channels (`channels_last_col2im.rs`).
    /// Then `gather`, `scatter` and `phases` are `None`, and `cols` holds
    /// a block of the product.
    pub(super) channels_last: Option<ChannelsLastCol2im<T>>,
    /// The geometry, under which the tables go back to [`SPARE_TABLES`].
    geo: ConvGeometry,
}

/// Which copy a convolution kernel makes: the forward product reads the
/// patches as columns (im2col), the weight gradient's as rows (im2row),
/// the input gradient adds them back (col2im).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Patches {
    Im2col,
    Im2row,
    Col2im,
}

/// The two matrices of a [`Scratch`] while no convolution holds them.
struct Matrices<T> {
    cols: Vec<T>,
    stage: Vec<T>,
}

thread_local! {
    /// Each thread's spare [`Matrices`], one per element type that has
    /// used them (a `Box<dyn Any>` because a `thread_local` cannot be
    /// generic over the element type).
    static SPARE: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };

    /// Each thread's spare copy tables ([`PaddedGather`], [`GatheredCol2im`],
    /// and on x86-64 `PatchSource` and `PhaseCol2im`), under the geometry
    /// they were built for (with the batch size set to 0: the tables do not
    /// depend on it). A training step runs the same few
    /// convolutions again and again, so a table is built once per thread
    /// instead of once per call, and the padded image's zero border is
    /// written once. At most [`SPARE_TABLES_KEPT`], the oldest dropped first.
    static SPARE_TABLES: RefCell<Vec<(ConvGeometry, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
}

/// How many copy tables a thread keeps (a DCGAN step in f32 on x86-64 uses
/// seven: two patch sources and a col2im for each of its two geometries,
/// and on AVX-512 the interleaved images of the 64-channel one).
const SPARE_TABLES_KEPT: usize = 16;

/// A spare table of type `X` built for `geo`, for which `fits` holds, if
/// this thread kept one.
fn take_table<X: 'static>(geo: &ConvGeometry, fits: impl Fn(&X) -> bool) -> Option<X> {
    let key = ConvGeometry { batch: 0, ..*geo };
    SPARE_TABLES.with_borrow_mut(|tables| {
        let i = tables
            .iter()
            .position(|(g, t)| *g == key && t.downcast_ref::<X>().is_some_and(&fits))?;
        tables.remove(i).1.downcast::<X>().ok().map(|t| *t)
    })
}

/// Keeps `table`, built for `geo`, for the next convolution on this thread.
fn keep_table<X: 'static>(geo: &ConvGeometry, table: X) {
    let key = ConvGeometry { batch: 0, ..*geo };
    // `try_with`: during thread teardown the slot may be gone already; the
    // table is then simply freed.
    let _ = SPARE_TABLES.try_with(|tables| {
        let mut tables = tables.borrow_mut();
        if tables.len() >= SPARE_TABLES_KEPT {
            tables.remove(0);
        }
        tables.push((key, Box::new(table)));
    });
}

impl<T: Element> Scratch<T> {
    /// Scratch for one worker of a convolution copying `patches`; its
    /// products run on this thread alone if `serial_products`.
    pub(super) fn new(geo: &ConvGeometry, patches: Patches, serial_products: bool) -> Self {
        #[cfg(target_arch = "x86_64")]
        let source = {
            let orientation = match patches {
                Patches::Im2col => Some(Orientation::TapsByPixels),
                Patches::Im2row => Some(Orientation::PixelsByTaps),
                Patches::Col2im => None,
            };
            let implicit = serial_products
                && is_f32::<T>()
                && super::gemm::implicit::packed_b_available()
                && !writes_patches_out();
            orientation.filter(|_| implicit).and_then(|orientation| {
                take_table(geo, |s: &PatchSource| s.orientation() == orientation)
                    .or_else(|| PatchSource::new(geo, orientation))
            })
        };
        #[cfg(target_arch = "x86_64")]
        let implicit = source.is_some();
        #[cfg(target_arch = "x86_64")]
        let interleaved = (implicit && patches == Patches::Im2col && InterleavedPatches::applies(geo))
            .then(|| take_table(geo, |_: &InterleavedPatches| true).or_else(|| InterleavedPatches::new(geo)))
            .flatten();
        let channels_last = (patches == Patches::Col2im && channels_last_col2im::applies(geo)).then(|| {
            take_table(geo, |_: &ChannelsLastCol2im<T>| true).unwrap_or_else(|| ChannelsLastCol2im::new(geo))
        });
        let col2im = patches == Patches::Col2im && channels_last.is_none();
        #[cfg(target_arch = "x86_64")]
        let phases = (col2im && is_f32::<T>())
            .then(|| take_table(geo, |_| true).or_else(|| PhaseCol2im::new(geo)))
            .flatten();
        #[cfg(target_arch = "x86_64")]
        let scatters = col2im && phases.is_none();
        #[cfg(not(target_arch = "x86_64"))]
        let scatters = col2im;
        #[cfg(not(target_arch = "x86_64"))]
        let implicit = {
            let _ = serial_products;
            false
        };
        let width = geo.group_size() * geo.out_pixels();
        let spare = SPARE
            .with_borrow_mut(|spare| {
                let i = spare.iter().position(|m| m.is::<Matrices<T>>())?;
                spare.swap_remove(i).downcast::<Matrices<T>>().ok()
            })
            .map(|m| *m);
        let Matrices { mut cols, mut stage } = spare.unwrap_or(Matrices {
            cols: Vec::new(),
            stage: Vec::new(),
        });
        // Grown with zeros when too short; what a previous convolution left
        // is overwritten before it is read (the gemms run with β = 0 or
        // write their output first). With a patch source, `cols` is grown
        // only if a product writes its patches out after all
        // (`grow_cols`).
        if !implicit {
            grow(&mut cols, geo.patch_len() * width);
        }
        grow(&mut stage, geo.out_channels * width);
        let gathers = patches != Patches::Col2im && !implicit;
        Scratch {
            cols,
            stage,
            gather: gathers
                .then(|| take_table(geo, |_| true).or_else(|| PaddedGather::new(geo)))
                .flatten(),
            scatter: scatters
                .then(|| take_table(geo, |_| true).or_else(|| GatheredCol2im::new(geo)))
                .flatten(),
            #[cfg(target_arch = "x86_64")]
            phases,
            #[cfg(target_arch = "x86_64")]
            source,
            #[cfg(target_arch = "x86_64")]
            interleaved,
            channels_last,
            geo: *geo,
        }
    }
}

impl<T: Element> Scratch<T> {
    /// Makes `cols` hold a group's im2col matrix: for a product that
    /// writes its patches out although this scratch has a patch source
    /// (one its source declined, see `implicit_fits`), whose `cols` was not
    /// grown up front.
    pub(super) fn grow_cols(&mut self) {
        let geo = self.geo;
        grow(
            &mut self.cols,
            geo.patch_len() * geo.group_size() * geo.out_pixels(),
        );
    }
}

/// Makes `v` at least `len` long, with zeros.
fn grow<T: Element>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize(len, T::zero());
    }
}

impl<T: Element> Drop for Scratch<T> {
    fn drop(&mut self) {
        let matrices = Matrices {
            cols: std::mem::take(&mut self.cols),
            stage: std::mem::take(&mut self.stage),
        };
        // `try_with`: during thread teardown the slot may be gone already;
        // the matrices are then simply freed.
        let _ = SPARE.try_with(|spare| spare.borrow_mut().push(Box::new(matrices)));
        if let Some(gather) = self.gather.take() {
            keep_table(&self.geo, gather);
        }
        if let Some(scatter) = self.scatter.take() {
            keep_table(&self.geo, scatter);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(source) = self.source.take() {
            keep_table(&self.geo, source);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(phases) = self.phases.take() {
            keep_table(&self.geo, phases);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(interleaved) = self.interleaved.take() {
            keep_table(&self.geo, interleaved);
        }
        if let Some(channels_last) = self.channels_last.take() {
            keep_table(&self.geo, channels_last);
        }
    }
}

impl<T: Element> Scratch<T> {
    /// `out ← a · patches + β·out` (`a` and `out` row-major, the patches of
    /// samples `first..first + nb` of `x` as the `B` of `source`), with the
    /// patches packed straight from the images: implicit GEMM, when this
    /// scratch has a source. `false` (nothing done) when it has not; the
    /// caller then writes the patches out and multiplies them.
    #[allow(unused_variables)]
    pub(super) fn implicit_product(
        &mut self,
        x: &[T],
        first: usize,
        nb: usize,
        a: &[T],
        beta: T,
        out: &mut [T],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if let (Some(source), Some(x), Some(a), Some(out)) =
            (self.source.as_mut(), f32s(x), f32s(a), f32s_mut(out))
            && implicit_fits(source, nb, a.len())
            && source.load(x, first, nb)
        {
            let beta = beta.to_f64() as f32; // exact: T is f32
            super::gemm::implicit::sgemm_packed_b(1.0, a, source, beta, out);
            return true;
        }
        false
    }
}

/// Whether a product of `a_len` floats of `A` by `source`'s patches of
/// `samples` samples goes through the blocked loops, as its written-out
/// twin does: a product with a dimension of 1 (one output channel, say)
/// takes loops of its own when its `B` is a matrix (`gemm/skinny.rs`), so
/// the patches are then written out (and not loaded first), and the two
/// ways give the same bits.
#[cfg(target_arch = "x86_64")]
fn implicit_fits(source: &PatchSource, samples: usize, a_len: usize) -> bool {
    let (k, n) = source.shape_for(samples);
    n > 1 && a_len > k
}

/// Tests set this to make every convolution write its patches out, so that
/// they can compare both ways (always `false` outside tests).
#[cfg(test)]
pub(super) static WRITE_PATCHES_OUT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn writes_patches_out() -> bool {
    #[cfg(test)]
    return WRITE_PATCHES_OUT.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(test))]
    false
}

/// col2im through `phases` ([`PhaseCol2im`]), if there is one (then `T`
/// is f32): adds the entries of `cols` (rows `ld` apart) onto `image`.
/// `false` (nothing done) otherwise.
#[cfg(target_arch = "x86_64")]
pub(super) fn phase_col2im<T: Element>(
    phases: &mut Option<PhaseCol2im>,
    cols: &[T],
    ld: usize,
    image: &mut [T],
) -> bool {
    if let (Some(phases), Some(cols), Some(image)) = (phases.as_mut(), f32s(cols), f32s_mut(image)) {
        phases.col2im(cols, ld, image);
        return true;
    }
    false
}
