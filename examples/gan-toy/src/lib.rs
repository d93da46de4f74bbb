//! Small GANs learning 2-D point clouds, drawn frame by frame: mode collapse
//! you can watch. The binary (`main.rs`) is the command line over this.
//!
//! * [`datasets`]: `ring8`, `grid25`, `moons`, `spiral`, as seeded samplers.
//! * [`models`]: the fully connected generator and discriminator.
//! * [`noise`]: the generator's input noise, and instance noise for D.
//! * [`train`]: the alternating loop (the MNIST trainer's updates and losses).
//! * [`frames`]: D's score as a heat map, real and generated points on top.
//! * [`optimal`]: the ideal discriminator `D* = p_data/(p_data + p_g)`.
//! * [`animate`]: the frames as a GIF and as an HTML page with a slider.
//! * [`coverage`]: modes covered, high-quality share, nearest distances.
//! * [`run`]: all of it into a folder.

pub mod animate;
pub mod coverage;
pub mod datasets;
pub mod frames;
pub mod models;
pub mod noise;
pub mod optimal;
pub mod run;
pub mod train;
