//! Measuring images with a classifier trained on the real data (the
//! *judge*): what a GAN learned, without anything of run folders.
//!
//! * the **classifier score** `exp(E_x KL(p(y|x) ‖ p(y)))`: the Inception
//!   Score with our judge; 10 at most for 10 classes (`score.rs`);
//! * the **Fréchet distance** between the judge's penultimate-layer features
//!   of the samples and of real images (`frechet.rs`, on `linalg.rs`);
//! * the **share of each class** among the samples, and the classes missing;
//! * for class-conditional models, how often the judge agrees with the
//!   class a sample was drawn as.
//!
//! [`Reference`] holds a judge and the feature statistics of a set of real
//! images; [`sample_quality`] draws samples and measures them against it.
//! `gan-mnist eval` (`runs::eval::evaluate_run`) uses the whole test set as the
//! reference and also measures real training images, the ceiling; `train`
//! measures a smaller sample at the end of every epoch for `metrics.csv`.
//!
//! The pieces: [`judge`] (the network), [`judge_train`] (its training),
//! [`score`], [`frechet`], on [`linalg`]; [`Error`] is the crate's one error type.

pub mod error;
pub mod frechet;
pub mod judge;
pub mod judge_train;
pub mod linalg;
pub mod score;

pub use error::{Error, Result};

use datasets::{ImageSet, NUM_CLASSES, PixelRange};
use frechet::{FeatureStats, frechet_distance};
use gan::streams::stream_rng;
use judge::{CLASSES, FEATURES, Judge, to_judge_input};
use judge_train::{EVAL_CHUNK, judge_set, predictions};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tensor::{Tensor, no_grad};

/// The first random stream of evaluation draws. A run's own streams are
/// 0–5 (`gan::streams`); evaluation takes streams from 2³² up, so it can
/// never draw a number training would have drawn.
pub const QUALITY_STREAM_BASE: u64 = 1 << 32;

/// The random generator of the quality check after `epoch` of a run with
/// seed `seed` (epoch 0 for `gan-mnist eval`): independent of every stream
/// training uses, and the same on a resumed run.
pub fn quality_rng(seed: u64, epoch: u64) -> ChaCha8Rng {
    stream_rng(seed, QUALITY_STREAM_BASE + epoch)
}

/// The figures for one set of images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quality {
    /// How many images were measured.
    pub count: usize,
    /// `exp(E_x KL(p(y|x) ‖ p(y)))`, between 1 and 10.
    pub classifier_score: f64,
    /// The score's two factors: how many classes the images spread over,
    /// and how sure the judge is of each (`spread × certainty = score`).
    pub score_parts: score::ScoreParts,
    /// The Fréchet distance of the judge's features to the reference's
    /// (NaN, written `null` in JSON, if the features were not finite).
    pub frechet_distance: f64,
    /// The share of the images the judge puts in each class.
    pub class_shares: Vec<f64>,
    /// The smallest of `class_shares`.
    pub min_share: f64,
    /// The largest of `class_shares`.
    pub max_share: f64,
    /// The classes with a share below [`score::MISSING_SHARE`].
    pub missing_classes: Vec<usize>,
    /// For class-conditional samples: per class `d`, the share of the
    /// samples drawn as `d` that the judge classifies as `d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_class_agreement: Option<Vec<f64>>,
}

/// A judge and the feature statistics of the real images samples are
/// compared with.
pub struct Reference {
    judge: Judge,
    stats: FeatureStats,
}

impl Reference {
    /// `judge`, with the images `indices` of `set` (at least two) as the
    /// reference.
    pub fn new(judge: Judge, set: &ImageSet, indices: &[usize]) -> Result<Reference> {
        let (_, features) = judge_set(&judge, set, indices)?;
        let stats = FeatureStats::from_rows(&features, FEATURES).ok_or_else(|| {
            Error::argument(
                "quality reference",
                format!("needs at least 2 real images, got {}", indices.len()),
            )
        })?;
        Ok(Reference { judge, stats })
    }

    /// The judge.
    pub fn judge(&self) -> &Judge {
        &self.judge
    }

    /// The reference's feature statistics.
    pub fn stats(&self) -> &FeatureStats {
        &self.stats
    }

    /// The figures for images whose judge logits and features are given
    /// (`[n, CLASSES]` and `[n, FEATURES]`, flattened); `asked` is the
    /// class each was drawn as, for conditional samples.
    pub fn quality(&self, logits: &[f32], features: &[f32], asked: Option<&[usize]>) -> Quality {
        let probabilities = score::softmax_rows(logits, CLASSES);
        let predicted = predictions(logits);
        let class_shares = score::class_shares(&predicted, CLASSES);
        let frechet = FeatureStats::from_rows(features, FEATURES)
            .and_then(|s| frechet_distance(&s, &self.stats))
            .unwrap_or(f64::NAN);
        Quality {
            count: predicted.len(),
            classifier_score: score::classifier_score(&probabilities, CLASSES).unwrap_or(f64::NAN),
            score_parts: score::score_parts(&probabilities, CLASSES).unwrap_or(score::ScoreParts {
                spread: f64::NAN,
                certainty: f64::NAN,
            }),
            frechet_distance: frechet,
            min_share: class_shares.iter().copied().fold(f64::INFINITY, f64::min),
            max_share: class_shares.iter().copied().fold(0.0, f64::max),
            missing_classes: score::missing_classes(&class_shares),
            class_shares,
            per_class_agreement: asked.map(|asked| {
                score::per_class_agreement(asked, &predicted, CLASSES)
                    .into_iter()
                    .map(|a| a.unwrap_or(f64::NAN))
                    .collect()
            }),
        }
    }

    /// The figures for the real images `indices` of `set`.
    pub fn quality_of_set(&self, set: &ImageSet, indices: &[usize]) -> Result<Quality> {
        let (logits, features) = judge_set(&self.judge, set, indices)?;
        Ok(self.quality(&logits, &features, None))
    }
}

/// Draws `n` samples and measures them against `reference`.
///
/// `generate(z, labels)` must return images `[B, 1, H, W]` in `range`
/// without recording gradients or changing the model (evaluation mode).
/// The noise comes from `rng` only, one chunk at a time. A conditional
/// model is asked for every class in turn (`i mod 10`), so the classes are
/// balanced and each gets `n/10` samples for its agreement figure.
pub fn sample_quality<R: Rng + ?Sized>(
    reference: &Reference,
    n: usize,
    noise_dim: usize,
    conditional: bool,
    range: PixelRange,
    rng: &mut R,
    mut generate: impl FnMut(&Tensor, &[usize]) -> tensor::Result<Tensor>,
) -> Result<Quality> {
    let (mut logits, mut features) = (Vec::with_capacity(n * CLASSES), Vec::with_capacity(n * FEATURES));
    let asked: Vec<usize> = (0..n)
        .map(|i| if conditional { i % NUM_CLASSES } else { 0 })
        .collect();
    for chunk in asked.chunks(EVAL_CHUNK) {
        let z = Tensor::randn(&[chunk.len(), noise_dim], 0.0, 1.0, rng)?;
        let images = to_judge_input(&generate(&z, chunk)?, range)?;
        let out = no_grad(|| reference.judge.run(&images))?;
        logits.extend(out.logits.to_vec());
        features.extend(out.features.to_vec());
    }
    Ok(reference.quality(&logits, &features, conditional.then_some(asked.as_slice())))
}
