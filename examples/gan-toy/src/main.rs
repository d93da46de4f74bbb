//! `cargo run --release -p gan-toy`: a GAN on 2-D points (work in progress).

fn main() {
    println!("gan-toy: not written yet");
}
