//! `gan-mnist`: the project's main job.
//!
//! The tensor engine has landed; the GAN training loop has not yet. Until it
//! does, this binary says so and exits successfully.

fn main() {
    println!(
        "gan-mnist: not yet. The tensor engine (crates/tensor) is in place; \
         the nn layers and the GAN training loop come next. \
         Try `cargo test` to watch the gradient-check suite prove every op."
    );
}
