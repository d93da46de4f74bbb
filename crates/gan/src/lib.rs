//! GANs on MNIST: data loading, models, the training loop, sampling and
//! metrics, built on [`nn`] and [`tensor`].
//!
//! * [`data`]: MNIST and Fashion-MNIST, from the published files (found,
//!   verified or downloaded) to batches of `[B, 1, H, W]` tensors.
//! * [`models`]: the generators and discriminators (`mlp`, `dcgan`, `dcgan-global`,
//!   `tutorial`, the class-conditional `cgan`, `cgan-conv` and `cgan-global`, and `wgan-gp`).
//! * [`objective`]: the losses each player minimises (`bce`, `lsgan`, `hinge`,
//!   `wgan-gp`); [`wasserstein`] is WGAN-GP's, with its gradient penalty;
//!   [`r1`] is the R1 penalty any of them can add (`--r1`).
//! * [`grid`]: sample images tiled into a greyscale grid, written as PNG.
//! * [`plot`]: a run's loss and discriminator-score curves, drawn as SVG.
//! * [`report`]: `report.html`, a self-contained page of a whole run.
//! * [`ema`]: the averaged generator (`--ema`); [`schedule`]: the learning
//!   rates' decay at the end of a run (`--lr-decay`).
//! * [`train`]: one step of the GAN game, in the order of the paper's algorithm.
//! * [`run`]: a training run on disk (`runs/<name>/`), resumable bit for bit
//!   from its [`checkpoint`]s, the [`best`] of them kept; [`metrics`] is its
//!   `metrics.csv`.
//! * [`sample`]: grids from a trained generator, or arrays of samples
//!   written as [`npy`] files; [`interpolate`]: walks between latent points.
//! * [`bench`](mod@bench): the workloads W1 and W2, timed.
//! * [`eval`]: what a generator learned, measured by a classifier trained on
//!   the real data: classifier score, Fréchet distance, class coverage.

pub mod bench;
pub mod best;
pub mod checkpoint;
pub mod data;
pub mod ema;
pub mod eval;
pub mod grid;
pub mod interpolate;
pub mod metrics;
pub mod models;
pub mod npy;
pub mod objective;
pub mod plot;
pub mod r1;
pub mod report;
pub mod run;
pub mod sample;
pub mod schedule;
pub mod train;
pub mod wasserstein;

pub use nn;
