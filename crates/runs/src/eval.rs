//! `gan-mnist eval`: the judge's verdict on a run's checkpoint
//! ([`evaluate_run`]). It draws samples from the checkpoint's generator
//! (the averaged one if the run keeps one) and measures them with the
//! [`judge`] against the whole test set, and measures as many real training
//! images as the ceiling. The figures themselves (classifier score, Fréchet
//! distance, class shares) are the `judge` crate's.

use crate::checkpoint;
use crate::error::Error;
use crate::sample::{Which, load_generator, resolve};
use datasets::{Dataset, ImageSet};
use gan::ema::GeneratorKind;
use gan::models::ModelKind;
use judge::judge::Judge;
use judge::{Quality, Reference, quality_rng, sample_quality};
use serde::Serialize;
use std::path::Path;
use tensor::no_grad;

/// What `gan-mnist eval` reports about a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// The run's model.
    pub model: ModelKind,
    /// The run's dataset.
    pub dataset: Dataset,
    /// The generator steps of the evaluated checkpoint.
    pub step: u64,
    /// Which generator of the checkpoint drew the samples.
    pub generator: GeneratorKind,
    /// The reference: how many test images the Fréchet distance compares with.
    pub reference_count: usize,
    /// The generated samples.
    pub samples: Quality,
    /// As many real training images (never seen by the reference): the
    /// ceiling a perfect generator would reach.
    pub real: Quality,
}

/// What to evaluate: how many samples, with which noise seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalRequest {
    /// How many samples (and real images for the ceiling row).
    pub n: usize,
    /// Seed of the noise.
    pub seed: u64,
    /// Which checkpoint of a run folder.
    pub which: Which,
}

/// The dataset a run (or checkpoint) folder was trained on, read from its
/// newest checkpoint.
pub fn run_dataset(path: &Path, which: Which) -> crate::Result<Dataset> {
    let checkpoint = resolve(path, which)?;
    Ok(checkpoint::read_state(&checkpoint)?.config.dataset)
}

/// Evaluates the generator saved at `path` (`request.which` checkpoint of a
/// run folder, or a checkpoint folder; its averaged generator if it has
/// one): `request.n` samples against the whole of `test`, and the first
/// `request.n` images of `train` as the real-data ceiling. `test` and
/// `train` must be the run's dataset (see [`run_dataset`]).
pub fn evaluate_run(
    path: &Path,
    request: EvalRequest,
    test: &ImageSet,
    train: &ImageSet,
) -> crate::Result<EvalReport> {
    let checkpoint = resolve(path, request.which)?;
    let state = checkpoint::read_state(&checkpoint)?;
    let config = state.config;
    if request.n < 2 {
        return Err(Error::argument(
            "eval",
            format!("--n {}: a covariance needs at least 2 samples", request.n),
        ));
    }
    let (model, generator) = load_generator(&checkpoint, config.model, request.seed)?;
    let judge = Judge::pretrained(config.dataset)?;
    let all_test: Vec<usize> = (0..test.len()).collect();
    let reference = Reference::new(judge, test, &all_test)?;
    let samples = sample_quality(
        &reference,
        request.n,
        model.noise_dim(),
        config.model.is_conditional(),
        model.batch_options().range,
        &mut quality_rng(request.seed, 0),
        |z, labels| no_grad(|| model.generate(z, labels)),
    )?;
    let real_indices: Vec<usize> = (0..request.n.min(train.len())).collect();
    let real = reference.quality_of_set(train, &real_indices)?;
    Ok(EvalReport {
        model: config.model,
        dataset: config.dataset,
        step: state.step,
        generator,
        reference_count: test.len(),
        samples,
        real,
    })
}
