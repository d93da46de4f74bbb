//! The loops under the ops: plain functions on ndarray arrays, with no
//! autodiff in sight. The ops (`src/ops/`) call these for their forward
//! passes; backward passes call the ops again.

pub mod elementwise;
pub mod gemm;
pub mod im2col;
mod patches;
pub mod tanh;

/// Below this many elements, work stays on the calling thread: handing it to
/// rayon would cost more than it saves.
pub const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Elements per parallel chunk of elementwise work. Fixed (not derived from
/// the thread count) so that results never depend on how work was split.
pub const CHUNK: usize = 1 << 13;
