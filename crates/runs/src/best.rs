//! The best checkpoint of a run: the one whose samples the per-epoch
//! quality check found closest to the real digits.
//!
//! Quality can worsen late in a run (a generator that starts to collapse
//! onto a few digits, a discriminator that wins for a while), so the last
//! checkpoint is not always the one to keep. At each epoch end, after the
//! checkpoint is written, a Fréchet distance lower than every earlier one
//! makes that checkpoint the best: `checkpoint/best.json` names it, and it
//! is kept when newer checkpoints replace older ones. `sample` and `eval`
//! pick it with `--which best`.
//!
//! The pointer is written after the checkpoint it names, and replaced
//! atomically, so it always names a complete checkpoint.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The name of the pointer file inside a run's checkpoint folder.
pub const BEST_FILE: &str = "best.json";

/// The contents of `best.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestCheckpoint {
    /// The checkpoint's folder name, e.g. `step-000001875`.
    pub checkpoint: String,
    /// Its generator steps.
    pub step: u64,
    /// The epoch that ended there.
    pub epoch: usize,
    /// The Fréchet distance the per-epoch check measured there.
    pub frechet_distance: f64,
}

/// The best checkpoint recorded in `dir` (a run's checkpoint folder), or
/// `None` if there is none yet.
pub fn read(dir: &Path) -> Result<Option<BestCheckpoint>> {
    let path = dir.join(BEST_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::io(&path, "reading")(source)),
    };
    let best: BestCheckpoint = serde_json::from_slice(&bytes).map_err(|e| Error::Format {
        path: path.clone(),
        detail: format!("not a valid best-checkpoint record: {e}"),
    })?;
    if !best.checkpoint.starts_with("step-") || best.checkpoint.contains(['/', '\\']) {
        return Err(Error::Format {
            path,
            detail: format!("does not name a checkpoint: {:?}", best.checkpoint),
        });
    }
    Ok(Some(best))
}

/// Makes `candidate` the best checkpoint of `dir` if no best is recorded or
/// its Fréchet distance is lower than the recorded one (a NaN distance
/// never wins). Returns whether it did.
pub fn offer(dir: &Path, candidate: &BestCheckpoint) -> Result<bool> {
    if !candidate.frechet_distance.is_finite() {
        return Ok(false);
    }
    if let Some(best) = read(dir)?
        && best.frechet_distance <= candidate.frechet_distance
    {
        return Ok(false);
    }
    let json = serde_json::to_vec_pretty(candidate).expect("the record serialises");
    crate::error::write_atomically(&dir.join(BEST_FILE), &json)?;
    Ok(true)
}

/// The folder of the best checkpoint in `dir`, or an error saying why there
/// is none.
pub fn path(dir: &Path) -> Result<PathBuf> {
    match read(dir)? {
        Some(best) => Ok(dir.join(best.checkpoint)),
        None => Err(Error::Format {
            path: dir.join(BEST_FILE),
            detail: "this run has no best checkpoint: none is recorded until an epoch ends with the \
                     per-epoch quality check on (--quality-samples above 1); use --which latest"
                .into(),
        }),
    }
}
