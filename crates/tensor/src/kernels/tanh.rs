//! The hyperbolic tangent of `f32` slices, written so that the compiler can
//! turn it into vector code.
//!
//! ## Why not `f32::tanh`
//!
//! `f32::tanh` calls the C library's `tanhf`: one number per call, with
//! branches on the size of the input. A generator that ends in `tanh` over
//! 64 × 784 pixels calls it 50,176 times per forward pass; on W1 `perf`
//! put 5% of a training step in `tanhf` (and the `expm1f` it calls). PyTorch
//! evaluates tanh with vectorised polynomials instead; so does this file.
//!
//! ## The method
//!
//! tanh is odd, so work with `a = |x|` and copy the sign of `x` back at the
//! end. Two formulas cover `a`:
//!
//! ```text
//! a < 0.55:   tanh(a) = a + a³·P(a²)           P of degree 4, fitted to (tanh(a) − a)/a³
//! a ≥ 0.55:   tanh(a) = 1 − 2 / (e^{2a} + 1)
//! ```
//!
//! The second formula is exact algebra, but near 0 it subtracts two nearly
//! equal numbers and loses the small result's digits; the first keeps them
//! (its polynomial is a least-squares fit on Chebyshev points whose error,
//! 4·10⁻⁹ relative, is below f32's spacing of 6·10⁻⁸). Above `a ≈ 9.02`,
//! tanh(a) rounds to 1 in f32, so `a` is capped at 10 and `e^{2a}` stays
//! finite.
//!
//! `e^y` (for `y = 2a` in `[1.1, 20]`) is computed the usual way: write
//! `y = n·ln 2 + r` with `n` an integer and `|r| ≤ ln 2 / 2`, so that
//! `e^y = 2ⁿ · eʳ`. `eʳ` is a degree-6 polynomial (relative error 10⁻⁸ on
//! that interval), and `2ⁿ` is built directly from its bits: a float whose
//! exponent field holds `n + 127` and whose mantissa is 0. `ln 2` is split
//! into a short high part and a low part (Cody and Waite), so that `n·ln2_hi`
//! is exact and `r` keeps its digits.
//!
//! Every element computes both formulas and keeps one: a selection, not a
//! branch, so the loop has no control flow and vectorises. The result is
//! within 2 units in the last place of the exact tanh (the tests sweep
//! millions of inputs against `f64`), and NaN stays NaN.

use rayon::prelude::*;

use super::{CHUNK, PARALLEL_THRESHOLD};

/// Below this `|x|`, the polynomial; from it on, the exponential formula.
const SMALL: f32 = 0.55;

/// `tanh(x)` rounds to ±1 in f32 for `|x|` above 9.02; inputs are capped
/// here, where that holds and `e^{2|x|}` is still far from overflowing.
const SATURATES: f32 = 10.0;

/// `P(t) = Σ P[i]·tⁱ` with `tanh(a) ≈ a + a³·P(a²)` for `a < 0.55`.
const P: [f32; 5] = [
    -0.333_333_3,
    0.133_331_18,
    -0.053_910_054,
    0.021_312_688,
    -0.006_615_659_7,
];

/// `Q(r) = Σ Q[i]·rⁱ` with `eʳ ≈ 1 + r + r²·Q(r)` for `|r| ≤ ln 2 / 2`.
const Q: [f32; 5] = [0.5, 0.166_665_76, 0.041_666_467, 0.008_363_179, 0.001_393_364_3];

/// `1 / ln 2`.
const LOG2_E: f32 = std::f32::consts::LOG2_E;

/// `ln 2 = LN2_HI + LN2_LO`, where `LN2_HI` has only 16 significant bits,
/// so `n · LN2_HI` is exact for the `n < 32` used here.
const LN2_HI: f32 = 0.693_145_75;
/// The rest of `ln 2`.
const LN2_LO: f32 = 1.428_606_8e-6;

/// Adding then subtracting `1.5·2²³` rounds a float of magnitude below 2²²
/// to the nearest integer (ties to even): the sum has no bits left for a
/// fraction. The sum's low mantissa bits then hold that integer.
const ROUND: f32 = 12_582_912.0;

/// `e^y` for `y` in `[0, 20]` (see the module's notes).
#[inline(always)]
fn exp_small_range(y: f32) -> f32 {
    let shifted = y * LOG2_E + ROUND;
    let n = shifted - ROUND;
    // `shifted`'s bits minus `ROUND`'s bits are `n` as an integer.
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let r = (y - n * LN2_HI) - n * LN2_LO;
    let q = Q[0] + r * (Q[1] + r * (Q[2] + r * (Q[3] + r * Q[4])));
    let e_r = 1.0 + r + r * r * q;
    // 2ⁿ: exponent field n + 127, mantissa 0.
    let two_to_n = f32::from_bits((n_int + 127) << 23);
    e_r * two_to_n
}

/// tanh of one value (see the module's notes); inlined into the loops below.
#[inline(always)]
fn tanh_one(x: f32) -> f32 {
    let a = x.abs().min(SATURATES);
    let t = a * a;
    let small = a + a * t * (P[0] + t * (P[1] + t * (P[2] + t * (P[3] + t * P[4]))));
    let large = 1.0 - 2.0 / (exp_small_range(2.0 * a) + 1.0);
    let magnitude = if a < SMALL { small } else { large };
    // `min` above turned NaN into 10; give NaN back.
    if x.is_nan() { x } else { magnitude.copysign(x) }
}

/// The loop over one slice, in place.
#[inline(always)]
fn tanh_loop(values: &mut [f32]) {
    for v in values {
        *v = tanh_one(*v);
    }
}

/// [`tanh_loop`] compiled with AVX-512F: 16 lanes per instruction.
///
/// Safety: only call on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tanh_loop_avx512(values: &mut [f32]) {
    tanh_loop(values);
}

/// [`tanh_loop`] compiled with AVX2 and FMA: 8 lanes per instruction.
///
/// Safety: only call on a CPU with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tanh_loop_avx2(values: &mut [f32]) {
    tanh_loop(values);
}

/// [`tanh_loop`] on the widest vector unit this CPU has. Each lane performs
/// the same IEEE operations in the same order whatever the width, so every
/// path returns the same bits.
fn tanh_serial(values: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            unsafe { tanh_loop_avx512(values) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { tanh_loop_avx2(values) };
            return;
        }
    }
    tanh_loop(values);
}

/// Replaces every value by its hyperbolic tangent, within 2 units in the
/// last place; split across threads for large slices (each element on its
/// own, so the split cannot change a bit).
///
/// `Tensor::tanh` on f32 tensors runs this (see the tests below for its
/// accuracy).
pub fn tanh_f32(values: &mut [f32]) {
    if values.len() >= PARALLEL_THRESHOLD {
        values.par_chunks_mut(CHUNK).for_each(tanh_serial);
    } else {
        tanh_serial(values);
    }
}

#[cfg(test)]
mod tests {
    use super::{tanh_f32, tanh_loop};

    /// Distance in units in the last place between `got` and the exact
    /// value, measured at the exact value's scale.
    fn ulps(got: f32, exact: f64) -> f64 {
        let exact32 = exact as f32;
        let spacing = if exact32 == 0.0 {
            f32::from_bits(1) as f64
        } else {
            let next = f32::from_bits(exact32.abs().to_bits() + 1) as f64;
            next - exact32.abs() as f64
        };
        (got as f64 - exact).abs() / spacing
    }

    #[test]
    fn within_two_ulps_everywhere() {
        // Every 97th positive float from 1e-30 to past saturation: about
        // 11 million inputs covering both formulas, the switch at 0.55,
        // where tanh starts rounding to 1 (9.02) and the cap at 10.
        let mut inputs = Vec::new();
        let mut bits = 1e-30f32.to_bits();
        while f32::from_bits(bits) < 12.0 {
            inputs.push(f32::from_bits(bits));
            bits += 97;
        }
        let mut got: Vec<f32> = inputs.iter().flat_map(|&x| [x, -x]).collect();
        tanh_f32(&mut got);
        let mut worst = (0.0, 0.0);
        for (pair, &x) in got.chunks_exact(2).zip(&inputs) {
            let exact = (x as f64).tanh();
            let e = ulps(pair[0], exact);
            if e > worst.0 {
                worst = (e, x);
            }
            assert_eq!(pair[1], -pair[0], "tanh must be odd at {x}");
        }
        eprintln!("worst error: {:.3} ulps at x = {}", worst.0, worst.1);
        assert!(worst.0 <= 2.0, "{} ulps at x = {}", worst.0, worst.1);
    }

    #[test]
    fn special_values() {
        let mut v = [
            0.0f32,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            1e-40,
            f32::MAX,
        ];
        tanh_f32(&mut v);
        assert_eq!(v[0].to_bits(), 0.0f32.to_bits());
        assert_eq!(v[1].to_bits(), (-0.0f32).to_bits());
        assert_eq!((v[2], v[3]), (1.0, -1.0));
        assert!(v[4].is_nan());
        assert_eq!(v[5], 1e-40, "a subnormal's tanh is itself");
        assert_eq!(v[6], 1.0);
    }

    #[test]
    fn every_vector_path_gives_the_plain_loops_bits() {
        let inputs: Vec<f32> = (0..100_000).map(|i| (i as f32 - 50_000.0) * 3e-4).collect();
        let (mut plain, mut fast) = (inputs.clone(), inputs);
        tanh_loop(&mut plain);
        tanh_f32(&mut fast);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&plain), bits(&fast));
    }
}
