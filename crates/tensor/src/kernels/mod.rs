//! The loops under the ops: plain functions on ndarray arrays, with no
//! autodiff in sight. The ops (`src/ops/`) call these for their forward
//! passes; backward passes call the ops again.

mod channels_last_col2im;
mod conv_scratch;
pub mod elementwise;
mod gathered_col2im;
pub mod gemm;
pub mod im2col;
#[cfg(target_arch = "x86_64")]
mod interleaved_patches;
pub mod norm;
pub mod norm_grad;
#[cfg(target_arch = "x86_64")]
mod packed_patches;
mod patches;
#[cfg(target_arch = "x86_64")]
mod phase_col2im;
pub mod tanh;

pub(crate) use crate::parallel::{CHUNK, PARALLEL_THRESHOLD};
use std::mem::MaybeUninit;

/// Writes zeros into every slot of `out` and hands it back as values: for
/// the paths that add into an output they were given unwritten.
fn zeroed<T: crate::Element>(out: &mut [MaybeUninit<T>]) -> &mut [T] {
    out.fill(MaybeUninit::new(T::zero()));
    // SAFETY: every slot was written just above, and MaybeUninit<T> has
    // T's layout.
    unsafe { &mut *(out as *mut [MaybeUninit<T>] as *mut [T]) }
}

#[cfg(target_arch = "x86_64")]
use crate::Element;

// The vector paths of the kernels (x86-64 only) take f32 slices out of
// generic ones.

/// Whether `T` is `f32`, the only type the engine's own gemm (and so
/// implicit GEMM) and the kernels' vector paths handle.
#[cfg(target_arch = "x86_64")]
fn is_f32<T: Element>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
}

/// `values` as `f32`, if `T` is `f32`.
#[cfg(target_arch = "x86_64")]
fn f32s<T: Element>(values: &[T]) -> Option<&[f32]> {
    // SAFETY: T is f32 (checked), so the slice is one of f32 already.
    is_f32::<T>().then(|| unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<f32>(), values.len()) })
}

/// `values` as `f32`, if `T` is `f32`.
#[cfg(target_arch = "x86_64")]
fn f32s_mut<T: Element>(values: &mut [T]) -> Option<&mut [f32]> {
    // SAFETY: as for `f32s`; the borrow is handed on.
    is_f32::<T>()
        .then(|| unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<f32>(), values.len()) })
}

/// `slots` as `f32` slots, if `T` is `f32`.
#[cfg(target_arch = "x86_64")]
fn f32s_uninit<T: Element>(slots: &mut [MaybeUninit<T>]) -> Option<&mut [MaybeUninit<f32>]> {
    // SAFETY: as for `f32s` (MaybeUninit<T> has T's layout); the borrow is
    // handed on.
    is_f32::<T>().then(|| unsafe {
        std::slice::from_raw_parts_mut(slots.as_mut_ptr().cast::<MaybeUninit<f32>>(), slots.len())
    })
}

/// `view` as `f32`, if `T` is `f32` (and its strides are not negative).
#[cfg(target_arch = "x86_64")]
fn f32_view<T: Element>(view: ndarray::ArrayView2<'_, T>) -> Option<ndarray::ArrayView2<'_, f32>> {
    use ndarray::ShapeBuilder;
    let strides = view.strides();
    let (rows, cols) = (
        usize::try_from(strides[0]).ok()?,
        usize::try_from(strides[1]).ok()?,
    );
    // SAFETY: T is f32 (checked), so the view's elements are f32 already:
    // the same pointer, shape and (non-negative) strides, borrowed as long.
    is_f32::<T>().then(|| unsafe {
        ndarray::ArrayView2::from_shape_ptr(view.dim().strides((rows, cols)), view.as_ptr().cast::<f32>())
    })
}
