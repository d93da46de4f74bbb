//! The `tutorial` model on real MNIST must not collapse onto a few digits.
//!
//! Before issue #18 it did: its samples were a few stroke blobs, and after
//! one epoch (937 steps) the judge put all but a handful of 1,000 samples
//! in one class (1 of 10 digits seen, seed 0; 3 after 2 epochs, 5 after
//! 5). With BatchNorm in the generator and its recipe (label smoothing 0.1,
//! samples from the averaged generator, `TrainConfig::new`'s defaults) it
//! spreads out within the first thousand steps. Measured every 100 steps
//! on 2 threads (the judge's count of digits that are at least 1% of 1,000
//! samples): seed 1 saw 2 at step 300, 6 at 400–500, then 7, 9, 5, 7 at
//! steps 600–900, 9 at 1,000 and 10 at 1,100–1,200; seed 0 saw 8 or 9 from
//! step 600 on. Early on the count still swings by a few digits from one
//! hundred steps to the next, so "8 digits after a few hundred steps" would
//! be a coin toss; after 1,000 steps the threshold of 7 leaves room for
//! that swing (and for another thread count, which changes the bits) while
//! failing a relapse into the old collapse (1–5 digits).

mod common;

use datasets::{Dataset, Downloader, ImageSet, Split};
use gan::config::TrainConfig;
use gan::models::ModelKind;
use gan::train::Trainer;
use judge::judge::Judge;
use judge::{Reference, quality_rng, sample_quality};

/// Generator steps of the short run.
const STEPS: u64 = 1000;
/// Samples the judge classifies after it.
const SAMPLES: usize = 1000;
/// How many of the ten digits must each be at least 1% of the samples.
const MIN_DIGITS: usize = 7;

fn mnist(split: Split) -> ImageSet {
    let dir = common::shared_data().join("mnist");
    datasets::load(Dataset::Mnist, split, Some(&dir), &Downloader::offline()).expect("the shared MNIST loads")
}

#[test]
fn the_tutorial_model_draws_most_digits_after_a_short_run() {
    let config = TrainConfig {
        max_steps: Some(STEPS),
        seed: 1,
        ..TrainConfig::new(ModelKind::Tutorial)
    };
    let mut trainer = Trainer::new(config, mnist(Split::Train)).unwrap();
    for _ in 0..STEPS {
        trainer.step().unwrap();
    }

    let test = mnist(Split::Test);
    let indices: Vec<usize> = (0..SAMPLES).collect();
    let reference = Reference::new(Judge::pretrained(Dataset::Mnist).unwrap(), &test, &indices).unwrap();
    let range = trainer.model().batch_options().range;
    let noise_dim = trainer.model().noise_dim();
    let quality = sample_quality(
        &reference,
        SAMPLES,
        noise_dim,
        false,
        range,
        &mut quality_rng(1, 0),
        |z, labels| trainer.generate_eval(z, labels),
    )
    .unwrap();
    let seen = 10 - quality.missing_classes.len();
    eprintln!(
        "tutorial after {STEPS} steps: {seen} digits seen, score {:.2}, shares {:?}",
        quality.classifier_score, quality.class_shares
    );
    assert!(
        seen >= MIN_DIGITS,
        "after {STEPS} steps the judge sees only {seen} digits among {SAMPLES} samples \
         (missing {:?}, shares {:?}): the tutorial model collapses again",
        quality.missing_classes,
        quality.class_shares
    );
}
