//! Drawing samples from a trained generator: `gan-mnist sample`.

use crate::checkpoint;
use crate::grid::{self, GrayImage};
use crate::run::RunError;
use crate::train::stream_rng;
use std::path::{Path, PathBuf};
use tensor::{Tensor, no_grad};

/// The checkpoint folder `path` names: a run folder (its newest checkpoint)
/// or a checkpoint folder itself.
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf, RunError> {
    if path.join("state.json").is_file() {
        return Ok(path.to_path_buf());
    }
    if path.join("checkpoint").is_dir() {
        return Ok(checkpoint::latest(&path.join("checkpoint"))?);
    }
    Err(RunError::Folder {
        path: path.to_path_buf(),
        detail: "is neither a run folder (with checkpoint/) nor a checkpoint folder (with state.json)".into(),
    })
}

/// A grid of `n` samples (about √n per row) from the generator saved at
/// `path`, for noise drawn with `seed`. Conditional models get the digits
/// 0–9 in turn.
pub fn sample_grid(path: &Path, n: u64, seed: u64) -> Result<GrayImage, RunError> {
    let checkpoint = resolve_checkpoint(path)?;
    let config = checkpoint::read_state(&checkpoint)?.config;
    // The weights are replaced by the checkpoint's right away.
    let mut model = config.model.build(&mut stream_rng(seed, 0))?;
    nn::checkpoint::load_module(model.generator(), &checkpoint.join("generator.safetensors"))
        .map_err(|e| RunError::Checkpoint(e.into()))?;
    model.set_training(false);
    let n = n as usize;
    let z = Tensor::randn(&[n, model.noise_dim()], 0.0, 1.0, &mut stream_rng(seed, 1))?;
    let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let images = no_grad(|| model.generate(&z, &labels))?;
    let columns = (n as f64).sqrt().ceil() as usize;
    Ok(grid::image_grid(&images, columns, model.batch_options().range)?)
}
