//! The loops under the ops: plain functions on ndarray arrays, with no
//! autodiff in sight. The ops (`src/ops/`) call these for their forward
//! passes; backward passes call the ops again.

mod channels_last_col2im;
mod conv_scratch;
pub mod elementwise;
mod gathered_col2im;
pub mod gemm;
pub mod im2col;
pub mod norm;
#[cfg(target_arch = "x86_64")]
mod packed_patches;
mod patches;
#[cfg(target_arch = "x86_64")]
mod phase_col2im;
pub mod tanh;

pub(crate) use crate::parallel::{CHUNK, PARALLEL_THRESHOLD};
