//! Subcommands: the ones that measure quality (`eval`, `classifier
//! train`) and the latent walk (`interpolate`).

pub mod classifier;
pub mod eval;
pub mod interpolate;

use datasets::{Dataset, ImageSet, Split};
use std::path::Path;

/// Loads one split of `dataset` (from `dir`, the environment or the default
/// folder; downloaded unless `offline`).
pub fn load_split(
    dataset: Dataset,
    split: Split,
    dir: Option<&Path>,
    offline: bool,
) -> Result<ImageSet, String> {
    let downloader = dataset.downloader().with_offline(offline);
    datasets::load(dataset, split, dir, &downloader).map_err(|e| e.to_string())
}
