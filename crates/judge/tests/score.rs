//! The classifier score and the coverage figures, at their known extremes.

use judge::score::{
    MISSING_SHARE, argmax_rows, class_shares, classifier_score, missing_classes, per_class_agreement,
    score_parts, softmax_rows,
};

/// `n` one-hot rows of 10 classes, row `i` certain of class `class(i)`.
fn one_hot(n: usize, class: impl Fn(usize) -> usize) -> Vec<f64> {
    let mut p = vec![0.0; n * 10];
    for i in 0..n {
        p[i * 10 + class(i)] = 1.0;
    }
    p
}

#[test]
fn a_classifier_that_always_says_the_same_scores_one() {
    // Always certain of the same digit.
    let score = classifier_score(&one_hot(100, |_| 3), 10).unwrap();
    assert_eq!(score, 1.0);
    // Always the same (uncertain) distribution: p(y|x) = p(y), KL = 0.
    let row = [0.3, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03];
    let same: Vec<f64> = (0..50).flat_map(|_| row).collect();
    let score = classifier_score(&same, 10).unwrap();
    assert!((score - 1.0).abs() < 1e-12, "{score}");
}

#[test]
fn a_confident_classifier_over_balanced_classes_scores_the_class_count() {
    let score = classifier_score(&one_hot(1000, |i| i % 10), 10).unwrap();
    assert!((score - 10.0).abs() < 1e-12, "{score}");
    // Confident, but only five classes ever: 5.
    let score = classifier_score(&one_hot(1000, |i| i % 5), 10).unwrap();
    assert!((score - 5.0).abs() < 1e-12, "{score}");
    // Balanced but unsure (half on the right class, half on the next)
    // scores in between.
    let mut p = vec![0.0; 1000 * 10];
    for i in 0..1000 {
        p[i * 10 + i % 10] = 0.5;
        p[i * 10 + (i + 1) % 10] = 0.5;
    }
    let score = classifier_score(&p, 10).unwrap();
    // KL = ln 10 − ln 2 for every row: exp gives 5.
    assert!((score - 5.0).abs() < 1e-12, "{score}");
}

#[test]
fn the_score_splits_into_spread_times_certainty() {
    // Certain samples of five classes: all of the loss is in the spread.
    let parts = score_parts(&one_hot(1000, |i| i % 5), 10).unwrap();
    assert!(
        (parts.spread - 5.0).abs() < 1e-12 && parts.certainty == 1.0,
        "{parts:?}"
    );
    // Balanced classes, each sample split evenly between two: all of it is
    // in the certainty, exp(−ln 2) = ½.
    let mut halves = vec![0.0; 1000 * 10];
    for i in 0..1000 {
        halves[i * 10 + i % 10] = 0.5;
        halves[i * 10 + (i + 1) % 10] = 0.5;
    }
    let parts = score_parts(&halves, 10).unwrap();
    assert!(
        (parts.spread - 10.0).abs() < 1e-12 && (parts.certainty - 0.5).abs() < 1e-12,
        "{parts:?}"
    );
    // Arbitrary rows: the product is the score.
    let logits: Vec<f32> = (0..300 * 10)
        .map(|i| ((i * 7919 % 101) as f32 - 50.0) / 9.0)
        .collect();
    let p = softmax_rows(&logits, 10);
    let parts = score_parts(&p, 10).unwrap();
    let score = classifier_score(&p, 10).unwrap();
    assert!(
        (parts.spread * parts.certainty - score).abs() < 1e-9 * score,
        "{parts:?} vs {score}"
    );
    assert!(parts.spread <= 10.0 && parts.certainty <= 1.0 && parts.certainty > 0.0);
    assert!(score_parts(&[], 10).is_none() && score_parts(&[1.0, 0.0, 0.0], 2).is_none());
}

#[test]
fn bad_inputs_have_no_score() {
    assert!(classifier_score(&[], 10).is_none());
    assert!(classifier_score(&[1.0, 0.0, 0.0], 2).is_none());
    assert!(classifier_score(&[1.0], 0).is_none());
}

#[test]
fn shares_missing_classes_and_agreement() {
    let predicted: Vec<usize> = (0..1000).map(|i| if i < 5 { 9 } else { i % 9 }).collect();
    let shares = class_shares(&predicted, 10);
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert_eq!(shares[9], 0.005);
    // 5 of 1000 is below the threshold (a tenth of a fair share): missing.
    assert!(shares[9] < MISSING_SHARE);
    assert_eq!(missing_classes(&shares), vec![9]);
    assert_eq!(missing_classes(&[0.1; 10]), Vec::<usize>::new());

    let asked = [0, 0, 0, 0, 1, 1, 2];
    let judged = [0, 0, 0, 7, 1, 1, 0];
    let agreement = per_class_agreement(&asked, &judged, 4);
    assert_eq!(agreement, vec![Some(0.75), Some(1.0), Some(0.0), None]);
}

#[test]
fn softmax_and_argmax_rows() {
    let p = softmax_rows(&[1.0, 2.0, 3.0, -1e30, 0.0, 0.0], 3);
    let e = [1f64.exp(), 2f64.exp(), 3f64.exp()];
    let total: f64 = e.iter().sum();
    for i in 0..3 {
        assert!((p[i] - e[i] / total).abs() < 1e-7);
    }
    assert_eq!(p[3], 0.0);
    assert_eq!(argmax_rows(&p, 3), vec![2, 1]);
}
