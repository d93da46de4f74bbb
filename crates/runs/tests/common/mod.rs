//! Helpers shared by the runs tests: those of the datasets tests (IDX
//! files, scratch directories, the shared data), and comparing runs.
#![allow(dead_code)] // each test file uses a different subset

#[path = "../../../datasets/tests/common/mod.rs"]
mod data;
pub use data::*;

/// The files of a run that must be identical between equivalent runs:
/// `metrics.csv` and every file of the newest checkpoint that a run writes
/// (the averaged generator's too, if the run keeps one).
pub fn run_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let ckpt = runs::sample::resolve_checkpoint(dir).expect("a run folder");
    let mut files = vec![(
        "metrics.csv".to_string(),
        std::fs::read(dir.join("metrics.csv")).expect("metrics.csv"),
    )];
    for name in [
        runs::checkpoint::EMA_FILE,
        "generator.safetensors",
        "discriminator.safetensors",
        "optim_g.safetensors",
        "optim_d.safetensors",
        "state.json",
    ] {
        if let Ok(bytes) = std::fs::read(ckpt.join(name)) {
            files.push((name.to_string(), bytes));
        } else {
            assert_eq!(name, runs::checkpoint::EMA_FILE, "{name} is missing");
        }
    }
    files
}
