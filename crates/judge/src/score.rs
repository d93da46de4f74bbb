//! What a classifier's verdicts on a set of samples say about them: the
//! classifier score, the share of each class, the classes missing, and,
//! for samples drawn as a given class, how often the classifier agrees.
//!
//! The classifier score is the Inception Score of Salimans et al. (2016)
//! with our own MNIST classifier in place of Inception:
//!
//! ```text
//! score = exp( E_x KL( p(y|x) ‖ p(y) ) ),    p(y) = E_x p(y|x)
//! ```
//!
//! It is high when each sample is classified confidently (`p(y|x)` peaked)
//! *and* the samples spread over the classes (`p(y)` flat): for `C` classes
//! it lies between 1 (every sample gets the same distribution) and `C`
//! (every sample is certain, the classes equally often).

/// A class counts as missing when its share of the samples is below this:
/// a tenth of the 1/10 it would have if the classes were balanced. Lower
/// than any share a working generator produces by chance (for 1,000
/// samples, a fair share of 100 would have to fall to 10), high enough
/// that a few stray samples do not hide a collapsed mode.
pub const MISSING_SHARE: f64 = 0.01;

/// The classifier score of samples whose class probabilities are
/// `probabilities` (`classes` per sample, one sample after another). `None`
/// if there are no samples or the rows are not whole.
///
/// `0 · ln 0` is taken as 0 (the limit), so one-hot rows are fine.
///
/// ```
/// use judge::score::classifier_score;
/// // Two samples, each certain, of different classes: score 2.
/// let s = classifier_score(&[1.0, 0.0, 0.0, 1.0], 2).unwrap();
/// assert!((s - 2.0).abs() < 1e-12);
/// ```
pub fn classifier_score(probabilities: &[f64], classes: usize) -> Option<f64> {
    let count = whole_rows(probabilities, classes)?;
    let marginal = marginal(probabilities, classes);
    // KL(p(y|x) ‖ p(y)) = Σ_y p(y|x) (ln p(y|x) − ln p(y)); a term with
    // p(y|x) = 0 contributes 0, and p(y) ≥ p(y|x)/count > 0 wherever p(y|x) > 0.
    let mean_kl = probabilities
        .chunks_exact(classes)
        .map(|row| {
            row.iter()
                .zip(&marginal)
                .filter(|&(&p, _)| p > 0.0)
                .map(|(&p, &m)| p * (p.ln() - m.ln()))
                .sum::<f64>()
        })
        .sum::<f64>()
        / count as f64;
    Some(mean_kl.exp())
}

/// The classifier score split into its two factors.
///
/// Since `p(y)` is the mean of `p(y|x)`, `E_x KL(p(y|x) ‖ p(y)) = H(p(y)) −
/// E_x H(p(y|x))` (entropies `H`), so the score is exactly
/// `spread × certainty` with
///
/// ```text
/// spread    = exp( H(p(y)) )          how many classes the samples spread over (1 … C)
/// certainty = exp( −E_x H(p(y|x)) )   how sure the classifier is of each sample (0 … 1]
/// ```
///
/// A low score from over-drawn classes shows in `spread`; one from
/// ambiguous, malformed samples shows in `certainty`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ScoreParts {
    /// `exp(H(p(y)))`: the effective number of classes drawn.
    pub spread: f64,
    /// `exp(−E_x H(p(y|x)))`: 1 when every sample is classified with certainty.
    pub certainty: f64,
}

/// The two factors of [`classifier_score`] for the same `probabilities`;
/// `None` in the same cases.
///
/// ```
/// use judge::score::{classifier_score, score_parts};
/// // Two certain samples of one class and one unsure sample.
/// let p = [1.0, 0.0, 1.0, 0.0, 0.5, 0.5];
/// let parts = score_parts(&p, 2).unwrap();
/// let score = classifier_score(&p, 2).unwrap();
/// assert!((parts.spread * parts.certainty - score).abs() < 1e-12);
/// ```
pub fn score_parts(probabilities: &[f64], classes: usize) -> Option<ScoreParts> {
    let count = whole_rows(probabilities, classes)? as f64;
    let mean_entropy = probabilities.chunks_exact(classes).map(entropy).sum::<f64>() / count;
    Some(ScoreParts {
        spread: entropy(&marginal(probabilities, classes)).exp(),
        certainty: (-mean_entropy).exp(),
    })
}

/// The number of rows of `classes` values in `probabilities`; `None` if
/// there are none or the last is not whole.
fn whole_rows(probabilities: &[f64], classes: usize) -> Option<usize> {
    (classes > 0 && !probabilities.is_empty() && probabilities.len() % classes == 0)
        .then(|| probabilities.len() / classes)
}

/// `p(y)`: the mean of the rows (`classes` per row) of `probabilities`.
fn marginal(probabilities: &[f64], classes: usize) -> Vec<f64> {
    let count = (probabilities.len() / classes).max(1) as f64;
    let mut marginal = vec![0.0; classes];
    for row in probabilities.chunks_exact(classes) {
        for (m, &p) in marginal.iter_mut().zip(row) {
            *m += p;
        }
    }
    marginal.iter().map(|m| m / count).collect()
}

/// `H(p) = −Σ p ln p`, with `0 · ln 0 = 0`.
fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|&&p| p > 0.0).map(|&p| p * p.ln()).sum::<f64>()
}

/// The share of each class among `predicted` (class indices below
/// `classes`; others are not counted). All zeros for no samples.
///
/// ```
/// use judge::score::class_shares;
/// assert_eq!(class_shares(&[0, 1, 1, 1], 3), vec![0.25, 0.75, 0.0]);
/// ```
pub fn class_shares(predicted: &[usize], classes: usize) -> Vec<f64> {
    let mut counts = vec![0usize; classes];
    for &p in predicted {
        if let Some(c) = counts.get_mut(p) {
            *c += 1;
        }
    }
    let total = predicted.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / total).collect()
}

/// The classes whose share is below [`MISSING_SHARE`], in order.
///
/// ```
/// use judge::score::missing_classes;
/// assert_eq!(missing_classes(&[0.5, 0.495, 0.005]), vec![2]);
/// ```
pub fn missing_classes(shares: &[f64]) -> Vec<usize> {
    (0..shares.len()).filter(|&c| shares[c] < MISSING_SHARE).collect()
}

/// For each class `d`, the share of the samples asked to be `d` (`asked`)
/// that the classifier put in class `d` (`predicted`, in the same order).
/// `None` for a class nothing was asked of.
///
/// ```
/// use judge::score::per_class_agreement;
/// let a = per_class_agreement(&[0, 0, 1, 1], &[0, 1, 1, 1], 3);
/// assert_eq!(a, vec![Some(0.5), Some(1.0), None]);
/// ```
pub fn per_class_agreement(asked: &[usize], predicted: &[usize], classes: usize) -> Vec<Option<f64>> {
    let mut asked_count = vec![0usize; classes];
    let mut agreed = vec![0usize; classes];
    for (&a, &p) in asked.iter().zip(predicted) {
        if a < classes {
            asked_count[a] += 1;
            if p == a {
                agreed[a] += 1;
            }
        }
    }
    asked_count
        .into_iter()
        .zip(agreed)
        .map(|(n, k)| (n > 0).then(|| k as f64 / n as f64))
        .collect()
}

/// Row-wise softmax of `logits` (`classes` per row) in `f64`, shifted by
/// each row's maximum so that no exponential overflows.
///
/// ```
/// use judge::score::softmax_rows;
/// let p = softmax_rows(&[0.0, 0.0, 1000.0, 0.0], 2);
/// assert_eq!(p[..2], [0.5, 0.5]);
/// assert_eq!(p[2], 1.0);
/// ```
pub fn softmax_rows(logits: &[f32], classes: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks_exact(classes.max(1)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f64> = row.iter().map(|&l| f64::from(l - max).exp()).collect();
        let total: f64 = exps.iter().sum();
        out.extend(exps.into_iter().map(|e| e / total));
    }
    out
}

/// The index of the largest value of each row (`classes` per row; the
/// first one at a tie).
pub fn argmax_rows<T: PartialOrd + Copy>(values: &[T], classes: usize) -> Vec<usize> {
    values
        .chunks_exact(classes.max(1))
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}
