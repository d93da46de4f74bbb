//! The handful of vector instructions a gemm microkernel needs, for the two
//! register widths the engine has kernels for.
//!
//! A microkernel (see `microkernel.rs`) is written once, generically, over
//! the [`Simd`] trait; each instruction set supplies the same seven
//! operations on its own register type:
//!
//! | operation | AVX-512F (`__m512`, 16 floats) | AVX2 + FMA (`__m256`, 8 floats) |
//! |---|---|---|
//! | `zero` | `vxorps zmm` | `vxorps ymm` |
//! | `load` | `vmovups zmm, [p]` | `vmovups ymm, [p]` |
//! | `broadcast` | `vbroadcastss zmm, [p]` | `vbroadcastss ymm, [p]` |
//! | `mul_add` | `vfmadd231ps zmm` | `vfmadd231ps ymm` |
//! | `mul` | `vmulps zmm` | `vmulps ymm` |
//! | `load_first` / `store_first` | masked `vmovups` with a `k` register | `vmaskmovps` with a lane mask |
//! | `store` | `vmovups [p], zmm` | `vmovups [p], ymm` |
//!
//! Every method is `#[inline(always)]` and carries no `#[target_feature]`
//! of its own: it is only ever inlined into a function that *does* enable
//! the instruction set (the entry points in `blocked.rs`), so the compiler
//! may emit those instructions there. Calling one from anywhere else would
//! be undefined behaviour on a CPU without the feature, hence `unsafe`.

use std::arch::x86_64::*;

/// One SIMD register of f32 lanes and the operations a gemm needs on it.
///
/// # Safety
/// Implementations use instructions of one instruction set. Every method may
/// only run inside a function compiled with that set enabled, on a CPU that
/// has it (checked once by `GemmPath::is_available`).
pub(super) unsafe trait Simd {
    /// The register type.
    type Vector: Copy;
    /// f32 lanes per register.
    const LANES: usize;

    /// All lanes zero.
    unsafe fn zero() -> Self::Vector;
    /// `LANES` floats from `p` (no alignment needed).
    unsafe fn load(p: *const f32) -> Self::Vector;
    /// The float at `p` in every lane.
    unsafe fn broadcast(p: *const f32) -> Self::Vector;
    /// `a·b + c` in each lane, rounded once (a fused multiply-add).
    unsafe fn mul_add(a: Self::Vector, b: Self::Vector, c: Self::Vector) -> Self::Vector;
    /// `a·b` in each lane.
    unsafe fn mul(a: Self::Vector, b: Self::Vector) -> Self::Vector;
    /// `value` in every lane.
    unsafe fn splat(value: f32) -> Self::Vector;
    /// The first `count` (< `LANES`) floats from `p`, the other lanes zero;
    /// memory past them is not touched.
    unsafe fn load_first(p: *const f32, count: usize) -> Self::Vector;
    /// `LANES` floats to `p`.
    unsafe fn store(p: *mut f32, v: Self::Vector);
    /// The first `count` (< `LANES`) lanes to `p`; memory past them is not
    /// touched.
    unsafe fn store_first(p: *mut f32, v: Self::Vector, count: usize);
}

/// AVX-512F: 32 registers of 16 floats.
pub(super) struct Avx512;

// SAFETY: every method uses AVX-512F instructions only.
unsafe impl Simd for Avx512 {
    type Vector = __m512;
    const LANES: usize = 16;

    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY (for every method of this impl): the caller runs us inside
        // an `avx512f` function on a CPU that has it (the trait's contract);
        // pointers are valid for the lanes read or written (each method's
        // contract).
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m512 {
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn splat(value: f32) -> __m512 {
        unsafe { _mm512_set1_ps(value) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, count: usize) -> __m512 {
        // Lane i is loaded when bit i of the mask is set; masked-off lanes
        // are neither read (no fault past the end) nor kept (zeroed).
        let mask = ((1u32 << count) - 1) as __mmask16;
        unsafe { _mm512_maskz_loadu_ps(mask, p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: __m512, count: usize) {
        let mask = ((1u32 << count) - 1) as __mmask16;
        unsafe { _mm512_mask_storeu_ps(p, mask, v) }
    }
}

/// AVX2 with FMA: 16 registers of 8 floats.
pub(super) struct Avx2;

/// Lane masks for AVX2's masked moves: row `count` enables the first `count`
/// lanes (all bits set in a lane's integer means "on").
static AVX2_MASKS: [[i32; 8]; 8] = {
    let mut masks = [[0; 8]; 8];
    let mut count = 0;
    while count < 8 {
        let mut lane = 0;
        while lane < count {
            masks[count][lane] = -1;
            lane += 1;
        }
        count += 1;
    }
    masks
};

// SAFETY: every method uses AVX and AVX2/FMA instructions only.
unsafe impl Simd for Avx2 {
    type Vector = __m256;
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY (for every method of this impl): as for `Avx512`, with
        // `avx2,fma` functions.
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn broadcast(p: *const f32) -> __m256 {
        unsafe { _mm256_broadcast_ss(&*p) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn splat(value: f32) -> __m256 {
        unsafe { _mm256_set1_ps(value) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, count: usize) -> __m256 {
        unsafe {
            let mask = _mm256_loadu_si256(AVX2_MASKS[count].as_ptr().cast());
            _mm256_maskload_ps(p, mask)
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: __m256, count: usize) {
        unsafe {
            let mask = _mm256_loadu_si256(AVX2_MASKS[count].as_ptr().cast());
            _mm256_maskstore_ps(p, mask, v)
        }
    }
}
