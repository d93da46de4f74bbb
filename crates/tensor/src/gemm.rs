//! The engine's f32 matrix multiply, for code outside the ops: benchmarks,
//! the book's figures, tools that report which path ran.
//!
//! Tensors multiply with [`Tensor::matmul`](crate::Tensor::matmul) (and
//! `linear`, the convolutions); those call the same gemm. This module opens
//! the gemm itself: choosing a path ([`GemmPath`]: the AVX-512 or AVX2
//! microkernels, or the portable `matrixmultiply`; `TENSOR_GEMM` forces one),
//! products of plain arrays ([`matmul`], [`gemm_into`], …) and on a chosen
//! path ([`sgemm_row_major`], or [`sgemm_on`] for strided operands), and
//! counting the work done ([`f32_flop_count`]).
//!
//! How it works is in the (crate-private) `kernels/gemm/` folder: start with
//! `microkernel.rs`, then `blocked.rs`; the book's chapter "How a fast
//! matrix multiply works" walks through both.

pub use crate::kernels::gemm::{
    GEMM_PATH_VAR, GemmPath, f32_flop_count, gemm_into, gemm_serial, matmul, matmul_batched, sgemm, sgemm_on,
    sgemm_row_major,
};
