//! The independent random streams of a run, all derived from its one seed:
//! one ChaCha8 stream per kind of draw, so that drawing more of one kind
//! (a second discriminator step's noise) never shifts another (the data
//! order). A module of its own because the trainer, the averaged generator,
//! the judge and the application all draw from it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Weight initialisation.
pub const WEIGHTS: u64 = 0;
/// Noise for training steps.
pub const NOISE: u64 = 1;
/// Data order.
pub const DATA: u64 = 2;
/// The fixed noise behind every sample grid.
pub const SAMPLES: u64 = 3;
/// The noise that re-estimates the averaged generator's BatchNorm
/// statistics (`ema.rs`).
pub const EMA_STATISTICS: u64 = 4;
/// The initial vectors of spectral normalisation's power iteration
/// (a stream of its own, so the weights are the same with it or without).
pub const SPECTRAL_NORM: u64 = 5;

/// A ChaCha8 generator for stream `stream` (one of the constants above) of
/// run seed `seed`.
pub fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}
