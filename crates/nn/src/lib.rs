//! Neural-network building blocks on top of [`tensor`]: layers, losses,
//! optimizers and checkpoints. (Filled in by the nn issue; the engine it
//! stands on is complete.)

pub use tensor;
