//! Training the judge (`gan-mnist classifier train`): plain supervised
//! learning with this engine, a task whose right answer is known, so it is
//! also the engine's end-to-end proof outside the GAN game.
//!
//! Cross-entropy on the logits, Adam (lr 1e-3, PyTorch's betas), batches of
//! 64 in a fresh seeded order every epoch, and the learning rate halved
//! after each epoch (large steps find the basin, small ones settle in it).
//! No augmentation: MNIST's 60,000 images are plenty for 185k parameters.

use crate::judge::{CLASSES, Judge};
use crate::{Error, Result};
use datasets::{BatchOptions, ImageSet, PixelRange};
use gan::streams::stream_rng;
use nn::loss::{Reduction, cross_entropy};
use nn::{Adam, AdamConfig, Module, Optimizer};
use std::time::{Duration, Instant};
use tensor::no_grad;

/// How the judge sees real images: `[−1, 1]`, unpadded (as a `tanh`
/// generator draws them).
pub const JUDGE_BATCH: BatchOptions = BatchOptions {
    range: PixelRange::Symmetric,
    pad_to: None,
};

/// Images per forward pass when only evaluating (no gradients are kept,
/// so memory is only the activations of one chunk).
pub const EVAL_CHUNK: usize = 100;

/// The settings of a judge's training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JudgeTrainConfig {
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Adam's learning rate in the first epoch (halved after each).
    pub lr: f64,
    /// Seed of the weights and the data order.
    pub seed: u64,
}

impl Default for JudgeTrainConfig {
    /// 4 epochs of batches of 64 at lr 1e-3, seed 0: the committed judges.
    fn default() -> Self {
        JudgeTrainConfig {
            epochs: 4,
            batch_size: 64,
            lr: 1e-3,
            seed: 0,
        }
    }
}

/// What one epoch of training did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JudgeEpoch {
    /// The epoch (1-based).
    pub epoch: usize,
    /// The mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Accuracy on the held-out images after the epoch.
    pub test_accuracy: f64,
    /// Wall-clock time of the epoch (training and the accuracy check).
    pub elapsed: Duration,
}

/// Trains a judge on `train`, reporting each epoch (with its accuracy on
/// `test`) to `on_epoch` as it ends. Returns the judge and the epochs.
pub fn train_judge(
    train: &ImageSet,
    test: &ImageSet,
    config: JudgeTrainConfig,
    mut on_epoch: impl FnMut(&JudgeEpoch),
) -> Result<(Judge, Vec<JudgeEpoch>)> {
    if config.epochs == 0 || config.batch_size == 0 {
        return Err(Error::argument(
            "classifier train",
            "epochs and batch size must be at least 1",
        ));
    }
    let judge = Judge::new(&mut stream_rng(config.seed, 0));
    let mut data_rng = stream_rng(config.seed, 1);
    let mut optimizer = Adam::new(
        judge.named_parameters(),
        AdamConfig {
            lr: config.lr,
            ..AdamConfig::default()
        },
    );
    let mut epochs = Vec::with_capacity(config.epochs);
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        optimizer.set_learning_rate(config.lr * 0.5f64.powi(epoch as i32 - 1));
        let (mut loss_sum, mut batches) = (0.0, 0usize);
        let batches_of_epoch = train
            .epoch(config.batch_size, JUDGE_BATCH, false, &mut data_rng)
            .map_err(Error::data("classifier train"))?;
        for batch in batches_of_epoch {
            let batch = batch.map_err(Error::data("classifier train"))?;
            optimizer.zero_grad();
            let loss = cross_entropy(&judge.forward(&batch.images)?, &batch.labels, Reduction::Mean)?;
            loss.backward()?;
            optimizer.step()?;
            loss_sum += f64::from(loss.item()?);
            batches += 1;
        }
        let report = JudgeEpoch {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            test_accuracy: accuracy(&judge, test)?,
            elapsed: started.elapsed(),
        };
        on_epoch(&report);
        epochs.push(report);
    }
    Ok((judge, epochs))
}

/// The judge's logits for images `indices` of `set`, `[len, CLASSES]`, and
/// its features `[len, FEATURES]`, computed in chunks without gradients.
pub fn judge_set(judge: &Judge, set: &ImageSet, indices: &[usize]) -> Result<(Vec<f32>, Vec<f32>)> {
    let (mut logits, mut features) = (Vec::new(), Vec::new());
    for chunk in indices.chunks(EVAL_CHUNK) {
        let batch = set.batch(chunk, JUDGE_BATCH).map_err(Error::data("judge"))?;
        let out = no_grad(|| judge.run(&batch.images))?;
        logits.extend(out.logits.to_vec());
        features.extend(out.features.to_vec());
    }
    Ok((logits, features))
}

/// The share of `set`'s images the judge classifies as their label.
pub fn accuracy(judge: &Judge, set: &ImageSet) -> Result<f64> {
    let indices: Vec<usize> = (0..set.len()).collect();
    let (logits, _) = judge_set(judge, set, &indices)?;
    let correct = predictions(&logits)
        .iter()
        .zip(set.labels())
        .filter(|&(&p, &l)| p == usize::from(l))
        .count();
    Ok(correct as f64 / set.len().max(1) as f64)
}

/// The class with the largest logit of each row of `[n, CLASSES]` logits.
pub fn predictions(logits: &[f32]) -> Vec<usize> {
    crate::score::argmax_rows(logits, CLASSES)
}
