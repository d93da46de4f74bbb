//! Which f32 matrix-multiply path runs: chosen once per process from what the
//! CPU can do, or forced by the `TENSOR_GEMM` environment variable.
//!
//! | path | when | what runs |
//! |---|---|---|
//! | `avx512` | x86-64 with AVX-512F | the engine's 8×48 microkernel ([`super::simd::Avx512`]) |
//! | `avx2` | x86-64 with AVX2 and FMA | the engine's 6×16 microkernel ([`super::simd::Avx2`]) |
//! | `portable` | anything else (aarch64, old x86) | `matrixmultiply::sgemm` |
//!
//! The best path the CPU has is the default. `TENSOR_GEMM=portable|avx2|avx512`
//! forces one, so that every path can be tested and timed on a machine that
//! has it; asking for a path the CPU lacks falls back to the best one it
//! has (a forced AVX-512 kernel on an AVX2-only CPU would crash with an
//! illegal instruction), and [`GemmPath::forced_but_unavailable`] says so.
//! f64 products always go to `matrixmultiply` (they serve gradient checks,
//! where exactness matters and speed does not).

use std::fmt;
use std::sync::OnceLock;

/// The environment variable that forces a path.
pub const GEMM_PATH_VAR: &str = "TENSOR_GEMM";

/// One of the f32 matrix-multiply implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemmPath {
    /// `matrixmultiply::sgemm`: runs everywhere.
    Portable,
    /// The engine's microkernel for 256-bit AVX2 + FMA registers.
    Avx2,
    /// The engine's microkernel for 512-bit AVX-512F registers.
    Avx512,
}

impl GemmPath {
    /// The name `TENSOR_GEMM` takes and benchmarks report.
    pub fn name(self) -> &'static str {
        match self {
            GemmPath::Portable => "portable",
            GemmPath::Avx2 => "avx2",
            GemmPath::Avx512 => "avx512",
        }
    }

    /// Parses a `TENSOR_GEMM` value (`portable`, `avx2` or `avx512`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "portable" => Some(GemmPath::Portable),
            "avx2" => Some(GemmPath::Avx2),
            "avx512" => Some(GemmPath::Avx512),
            _ => None,
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_available(self) -> bool {
        match self {
            GemmPath::Portable => true,
            #[cfg(target_arch = "x86_64")]
            GemmPath::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            // The AVX-512 path also packs with AVX2 shuffles; every CPU with
            // AVX-512F has them, but we check rather than assume.
            GemmPath::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            GemmPath::Avx2 | GemmPath::Avx512 => false,
        }
    }

    /// The fastest path this CPU has.
    pub fn best_available() -> Self {
        [GemmPath::Avx512, GemmPath::Avx2]
            .into_iter()
            .find(|path| path.is_available())
            .unwrap_or(GemmPath::Portable)
    }

    /// The path `TENSOR_GEMM` asked for when the CPU cannot run it (the
    /// process then uses [`GemmPath::best_available`] instead), or an
    /// unrecognised value. `None` when the variable is unset or honoured.
    pub fn forced_but_unavailable() -> Option<String> {
        let value = std::env::var(GEMM_PATH_VAR).ok()?;
        match GemmPath::parse(&value) {
            Some(path) if path.is_available() => None,
            Some(path) => Some(format!(
                "{GEMM_PATH_VAR}={} asked for a path this CPU lacks; using {}",
                path.name(),
                GemmPath::best_available()
            )),
            None => Some(format!(
                "{GEMM_PATH_VAR}={value:?} is not one of portable, avx2, avx512; using {}",
                GemmPath::best_available()
            )),
        }
    }

    /// The path this process uses: decided on the first call and fixed for
    /// the rest of the process, so that every product of a run goes the same
    /// way (and results stay reproducible).
    pub fn active() -> Self {
        static ACTIVE: OnceLock<GemmPath> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            std::env::var(GEMM_PATH_VAR)
                .ok()
                .and_then(|value| GemmPath::parse(&value))
                .filter(|path| path.is_available())
                .unwrap_or_else(GemmPath::best_available)
        })
    }
}

impl fmt::Display for GemmPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_refused() {
        for path in [GemmPath::Portable, GemmPath::Avx2, GemmPath::Avx512] {
            assert_eq!(GemmPath::parse(path.name()), Some(path));
        }
        assert_eq!(GemmPath::parse(" AVX512 "), Some(GemmPath::Avx512));
        assert_eq!(GemmPath::parse("sse"), None);
    }

    #[test]
    fn the_active_path_is_one_the_cpu_has() {
        assert!(GemmPath::Portable.is_available());
        assert!(GemmPath::active().is_available());
        assert!(GemmPath::best_available().is_available());
    }
}
