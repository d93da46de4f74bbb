//! The application around the GAN algorithm: a training run on disk
//! (`runs/<name>/`), its checkpoints and resume, its pictures and report,
//! sampling from a trained generator, the `eval` command and the bench.
//! Built on [`gan`] (the step), [`judge`] (measuring images) and
//! [`datasets`].
//!
//! * [`run`]: a training run on disk, the loop around
//!   [`Trainer::step`](gan::train::Trainer::step), resumable bit for bit from
//!   its [`checkpoint`]s, the [`best`] of them kept; [`metrics`] is its
//!   `metrics.csv`.
//! * [`grid`]: sample images tiled into a greyscale grid, written as PNG.
//! * [`plot`]: a run's loss and discriminator-score curves, drawn as SVG.
//! * [`report`]: `report.html`, a self-contained page of a whole run.
//! * [`sample`]: grids from a trained generator, or arrays of samples
//!   written as [`npy`] files; [`interpolate`]: walks between latent points.
//! * [`eval`]: the judge's verdict on a run's checkpoint (`gan-mnist eval`).
//! * [`bench`](mod@bench): the workloads W1 and W2, timed.
//! * [`Error`]: the crate's one error type; every file error names its file.

pub mod bench;
pub mod best;
pub mod checkpoint;
pub mod error;
pub mod eval;
pub mod grid;
pub mod interpolate;
pub mod metrics;
pub mod npy;
pub mod plot;
pub mod report;
pub mod run;
pub mod sample;

pub use error::{Error, Result};
