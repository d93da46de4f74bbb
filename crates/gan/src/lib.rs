//! The GAN algorithm, and nothing around it: the models, the losses each
//! player minimises, and the training step of Goodfellow et al. (2014),
//! Algorithm 1. Built on [`nn`] and [`tensor`]; the images come from
//! [`datasets`]. Run folders, checkpoints, pictures and the judge live in
//! the `judge` and `runs` crates, which build on this one.
//!
//! * [`models`]: the generators and discriminators (`mlp`, `dcgan`, `dcgan-global`,
//!   `tutorial`, the class-conditional `cgan`, `cgan-conv` and `cgan-global`, and `wgan-gp`).
//! * [`loss`]: the closed list of losses (`bce`, `lsgan`, `hinge`, `wgan-gp`);
//!   [`objective`]: what each player minimises under them; [`wasserstein`] is
//!   WGAN-GP's, with its gradient penalty;
//!   [`r1`] is the R1 penalty any of them can add (`--r1`).
//! * [`ema`]: the averaged generator (`--ema`); [`schedule`]: the learning
//!   rates' decay at the end of a run (`--lr-decay`).
//! * [`streams`]: the seeded random streams every draw comes from.
//! * [`config`]: what defines a run ([`config::TrainConfig`]) and its checks.
//! * [`train`]: one step of the GAN game, in the order of the paper's algorithm.
//! * [`Error`]: the crate's one error type.

pub mod config;
pub mod ema;
pub mod error;
pub mod loss;
pub mod models;
pub mod objective;
pub mod r1;
pub mod schedule;
pub mod streams;
pub mod train;
pub mod wasserstein;

pub use error::{Error, StepResult};
pub use nn;
