//! When work is split across rayon's threads, and in what pieces: one policy
//! for the whole engine (and the layers above it, such as Adam's update), so
//! that no result depends on how many threads there are.

/// Below this many elements, work stays on the calling thread: handing it to
/// rayon would cost more than it saves.
pub const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Elements per parallel chunk of elementwise work. Fixed (not derived from
/// the thread count) so that results never depend on how work was split.
pub const CHUNK: usize = 1 << 13;
