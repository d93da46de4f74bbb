//! The element types a [`Tensor`](crate::Tensor) can hold: `f32` for training
//! and `f64` for gradient checking.
//!
//! Everything generic in the crate is written against [`Element`], so both
//! precisions go through the very same op code; only the matrix product picks
//! a different kernel: the engine's own f32 gemm
//! ([`kernels::gemm::sgemm`](crate::kernels::gemm::sgemm), AVX-512 or AVX2
//! microkernels chosen at run time, `matrixmultiply` elsewhere) or
//! `matrixmultiply`'s `dgemm` for f64.

use ndarray::NdFloat;
use rand::Rng;
use rand_distr::uniform::SampleUniform;
use rand_distr::{Distribution, StandardNormal};
use std::iter::Sum;

/// A floating-point element type: implemented for `f32` and `f64`.
pub trait Element: NdFloat + Default + Sum + SampleUniform + 'static {
    /// The type's name, used in error messages (`"f32"` or `"f64"`).
    const NAME: &'static str;

    /// Converts from `f64`, rounding to the nearest representable value.
    fn from_f64(value: f64) -> Self;

    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;

    /// Draws one sample of the standard normal distribution N(0, 1).
    fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;

    /// `C = alpha * A·B + beta * C` for row/column-strided matrices, on the
    /// calling thread (the engine's `sgemm`, or `matrixmultiply`'s `dgemm`).
    ///
    /// # Safety
    /// The pointers and strides must describe valid `m×k`, `k×n` and `m×n`
    /// matrices, and `c` must not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        a_strides: (isize, isize),
        b: *const Self,
        b_strides: (isize, isize),
        beta: Self,
        c: *mut Self,
        c_strides: (isize, isize),
    );

    /// Replaces every value by its hyperbolic tangent: the engine's
    /// vectorised kernel for `f32` (`kernels/tanh.rs`,
    /// within 2 ulps), the C library's `tanh` for `f64` (the precision
    /// gradient checks rely on).
    fn tanh_in_place(values: &mut [Self]);
}

macro_rules! impl_element {
    ($t:ty, $name:literal, $gemm:path, $tanh_in_place:expr) => {
        impl Element for $t {
            const NAME: &'static str = $name;

            fn from_f64(value: f64) -> Self {
                value as $t
            }

            fn to_f64(self) -> f64 {
                self as f64
            }

            fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
                <StandardNormal as Distribution<$t>>::sample(&StandardNormal, rng)
            }

            unsafe fn gemm(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                a_strides: (isize, isize),
                b: *const Self,
                b_strides: (isize, isize),
                beta: Self,
                c: *mut Self,
                c_strides: (isize, isize),
            ) {
                // SAFETY: forwarded from the caller's contract.
                unsafe {
                    $gemm(
                        m,
                        k,
                        n,
                        alpha,
                        a,
                        a_strides.0,
                        a_strides.1,
                        b,
                        b_strides.0,
                        b_strides.1,
                        beta,
                        c,
                        c_strides.0,
                        c_strides.1,
                    )
                }
            }

            fn tanh_in_place(values: &mut [Self]) {
                $tanh_in_place(values)
            }
        }
    };
}

impl_element!(
    f32,
    "f32",
    crate::kernels::gemm::sgemm,
    crate::kernels::tanh::tanh_f32
);
impl_element!(f64, "f64", matrixmultiply::dgemm, |values: &mut [f64]| {
    values.iter_mut().for_each(|v| *v = v.tanh())
});
