//! Training runs end to end: a real MNIST run that must behave like a working
//! GAN, bitwise determinism, and exact resumption after an interruption.

mod common;

use datasets::synthetic_mnist;
use datasets::{Dataset, Downloader, ImageSet, Split};
use gan::config::TrainConfig;
use gan::models::{GanModel, ModelKind};
use rand::SeedableRng;
use runs::Error;
use runs::checkpoint;
use runs::run::{self, RunOptions};
use std::path::{Path, PathBuf};
use tensor::{Tensor, no_grad};

fn mnist(split: Split) -> ImageSet {
    let dir = common::shared_data().join("mnist");
    datasets::load(Dataset::Mnist, split, Some(&dir), &Downloader::offline()).expect("the shared MNIST loads")
}

fn short_config(model: ModelKind, steps: u64, seed: u64) -> TrainConfig {
    TrainConfig {
        max_steps: Some(steps),
        log_every: 5,
        seed,
        ..TrainConfig::new(model)
    }
}

/// The model of the newest checkpoint in `run_dir`, in evaluation mode.
fn trained_model(run_dir: &Path) -> Box<dyn GanModel> {
    let ckpt = runs::sample::resolve_checkpoint(run_dir).unwrap();
    let config = checkpoint::read_state(&ckpt).unwrap().config;
    let mut model = config
        .model
        .build(&mut rand_chacha::ChaCha8Rng::seed_from_u64(99))
        .unwrap();
    nn::checkpoint::load_module(model.generator(), &ckpt.join("generator.safetensors")).unwrap();
    nn::checkpoint::load_module(model.discriminator(), &ckpt.join("discriminator.safetensors")).unwrap();
    model.set_training(false);
    model
}

#[test]
fn mlp_on_real_mnist_learns_like_a_gan() {
    let dir = common::scratch_dir("train-e2e-mlp");
    let config = TrainConfig {
        max_steps: Some(400),
        log_every: 50,
        seed: 3,
        ..TrainConfig::new(ModelKind::Mlp)
    };
    let summary = run::start(config, mnist(Split::Train), &dir, &RunOptions::default()).unwrap();
    assert_eq!(summary.steps, 400);
    assert!(!summary.interrupted);

    let rows = runs::metrics::read_metrics(&dir.join("metrics.csv")).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.step).collect::<Vec<_>>(),
        (1..=8).map(|i| i * 50).collect::<Vec<_>>()
    );
    for r in &rows {
        let s = r.stats;
        assert!(
            [s.loss_d, s.loss_g, s.d_real, s.d_fake]
                .iter()
                .all(|v| v.is_finite()),
            "{r:?}"
        );
    }
    // The discriminator learns at once: its loss falls below chance (2·ln 2,
    // the loss of D = ½ everywhere) and it scores real above fake.
    let first = rows[0].stats;
    assert!(first.loss_d < 2.0 * 2f64.ln(), "first rows: {first:?}");
    assert!(rows.iter().all(|r| r.stats.d_real > r.stats.d_fake), "{rows:?}");
    // ...but the generator keeps it from winning outright: D(G(z)) stays
    // clearly above 0, and the generator's loss stays finite and moderate.
    let last = rows.last().unwrap().stats;
    assert!(last.d_fake > 0.02 && last.loss_g < 6.0, "last row: {last:?}");

    // The generator has moved towards MNIST's dark background (mean pixel
    // −0.74 in [−1, 1]): its samples are clearly darker than those of the
    // untrained generator of the same seed. (How far it gets in 400 steps
    // varies from run to run, as GAN training does: −0.28 to −0.63 over
    // seeds 0–3.)
    let model = trained_model(&dir);
    let untrained = ModelKind::Mlp.build(&mut gan::streams::stream_rng(3, 0)).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let z = Tensor::randn(&[256, 100], 0.0, 1.0, &mut rng).unwrap();
    let fakes = no_grad(|| model.generate(&z, &[])).unwrap();
    let mean = fakes.mean().item().unwrap();
    let untrained_mean = no_grad(|| untrained.generate(&z, &[]))
        .unwrap()
        .mean()
        .item()
        .unwrap();
    assert!(
        mean < -0.2 && mean < untrained_mean - 0.2,
        "mean generated pixel {mean}, untrained {untrained_mean}"
    );
    // The discriminator tells real test images from fakes better than chance:
    // it ranks a real image above a fake one in most pairs (the area under
    // its ROC curve; 0.5 is chance). A threshold-free measure, since where
    // D puts the boundary between "real" and "fake" drifts during training.
    let test = mnist(Split::Test);
    let real = test
        .batch(&(0..256).collect::<Vec<_>>(), model.batch_options())
        .unwrap()
        .images;
    let real_logits = no_grad(|| model.discriminate(&real, &[])).unwrap().to_vec();
    let fake_logits = no_grad(|| model.discriminate(&fakes, &[])).unwrap().to_vec();
    let ranked = real_logits
        .iter()
        .map(|r| fake_logits.iter().filter(|&f| r > f).count())
        .sum::<usize>();
    let auc = ranked as f64 / (256.0 * 256.0);
    eprintln!(
        "first row {first:?}\nlast row {last:?}\nmean generated pixel {mean} (untrained {untrained_mean}), D's AUC {auc}"
    );
    assert!(
        auc > 0.6,
        "the discriminator ranks real above fake in {auc} of pairs"
    );

    // The pictures: an 8×8 grid of 28×28 tiles with 2-pixel borders.
    let grid = runs::grid::read_png(&dir.join("samples.png")).unwrap();
    assert_eq!((grid.width, grid.height), (242, 242));
    assert!(dir.join("loss.svg").is_file() && dir.join("config.json").is_file());
}

fn assert_same_files(a: &Path, b: &Path) {
    let (files_a, files_b) = (common::run_files(a), common::run_files(b));
    assert_eq!(files_a.len(), files_b.len());
    for ((name, x), (_, y)) in files_a.into_iter().zip(files_b) {
        assert!(
            x == y,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

fn scratch(name: &str) -> PathBuf {
    common::scratch_dir(name)
}

#[test]
fn same_seed_same_bits_other_seed_other_bits() {
    let data = || synthetic_mnist(256, 1).unwrap();
    let (a, b, c) = (scratch("det-a"), scratch("det-b"), scratch("det-c"));
    let options = RunOptions::default();
    run::start(short_config(ModelKind::Mlp, 12, 7), data(), &a, &options).unwrap();
    run::start(short_config(ModelKind::Mlp, 12, 7), data(), &b, &options).unwrap();
    run::start(short_config(ModelKind::Mlp, 12, 8), data(), &c, &options).unwrap();
    assert_same_files(&a, &b);
    assert_ne!(
        std::fs::read(a.join("metrics.csv")).unwrap(),
        std::fs::read(c.join("metrics.csv")).unwrap()
    );
}

/// Interrupt at step `k`, resume, and compare with a run that never stopped.
/// 256 images in batches of 64 make 4 steps an epoch, so the runs cross
/// epoch boundaries (reshuffles) before and after the interruption.
fn resume_matches_uninterrupted(model: ModelKind, steps: u64, k: u64) {
    resume_config_matches_uninterrupted(short_config(model, steps, 11), k);
}

/// `resume_matches_uninterrupted` for any `config` (given 100 epochs so
/// that `max_steps` ends it).
fn resume_config_matches_uninterrupted(config: TrainConfig, k: u64) {
    let model = config.model;
    let steps = config.max_steps.expect("a step count");
    let data = || synthetic_mnist(256, 2).unwrap();
    let config = TrainConfig {
        epochs: 100,
        ..config
    };
    // Folders named after everything the tests vary, as they run in parallel.
    let model = format!(
        "{model}{}{}",
        if config.r1.is_some() { "-r1" } else { "" },
        if config.spectral_norm { "-sn" } else { "" }
    );
    let straight = scratch(&format!("resume-{model}-straight"));
    run::start(config.clone(), data(), &straight, &RunOptions::default()).unwrap();

    let stopped = scratch(&format!("resume-{model}-stopped"));
    let interrupt = RunOptions {
        interrupt_at: Some(k),
        ..RunOptions::default()
    };
    let summary = run::start(config.clone(), data(), &stopped, &interrupt).unwrap();
    assert!(summary.interrupted && summary.steps == k);
    let saved = run::saved_config(&stopped).unwrap();
    assert_eq!(saved, config);
    let summary = run::resume(saved, data(), &stopped, &RunOptions::default()).unwrap();
    assert_eq!(summary.steps, steps);
    assert_same_files(&straight, &stopped);
}

#[test]
fn mlp_resumes_bit_for_bit() {
    resume_matches_uninterrupted(ModelKind::Mlp, 14, 7);
}

#[test]
fn dcgan_resumes_bit_for_bit() {
    resume_matches_uninterrupted(ModelKind::Dcgan, 10, 6);
}

#[test]
fn cgan_resumes_bit_for_bit() {
    resume_matches_uninterrupted(ModelKind::Cgan, 10, 5);
}

/// WGAN-GP draws its interpolation weights from the noise stream, which the
/// checkpoint saves: the resumed run draws the same ones. Batches of 16 with
/// 5 critic steps make 3 generator steps an epoch of 256 images.
#[test]
fn wgan_gp_resumes_bit_for_bit() {
    let config = TrainConfig {
        batch_size: 16,
        ..short_config(ModelKind::DcganCritic, 5, 11)
    };
    resume_config_matches_uninterrupted(config, 2);
}

/// Lazy R1 (every 2nd update) and spectral normalisation: the resumed run
/// keeps R1's schedule (stopped after an odd number of updates) and the
/// power iteration's vectors, which the checkpoint saves with the weights.
#[test]
fn dcgan_with_r1_and_spectral_norm_resumes_bit_for_bit() {
    let config = TrainConfig {
        r1: Some(gan::r1::R1 { gamma: 1.0, every: 2 }),
        spectral_norm: true,
        ..short_config(ModelKind::Dcgan, 6, 11)
    };
    resume_config_matches_uninterrupted(config, 3);
}

#[test]
fn a_folder_with_a_run_is_not_overwritten() {
    let dir = scratch("no-overwrite");
    run::start(
        short_config(ModelKind::Mlp, 2, 1),
        synthetic_mnist(256, 1).unwrap(),
        &dir,
        &RunOptions::default(),
    )
    .unwrap();
    let before = std::fs::read(dir.join("metrics.csv")).unwrap();
    let err = run::start(
        short_config(ModelKind::Mlp, 2, 2),
        synthetic_mnist(256, 1).unwrap(),
        &dir,
        &RunOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Folder { .. }), "{err}");
    assert!(err.to_string().contains("--resume"), "{err}");
    assert_eq!(std::fs::read(dir.join("metrics.csv")).unwrap(), before);
}

#[test]
fn bad_configs_are_refused_with_the_value_named() {
    let data = || synthetic_mnist(256, 1).unwrap();
    let dir = scratch("bad-config");
    for (config, expected) in [
        (
            TrainConfig {
                batch_size: 0,
                ..TrainConfig::new(ModelKind::Mlp)
            },
            "batch size must be at least 1",
        ),
        (
            TrainConfig {
                batch_size: 300,
                ..TrainConfig::new(ModelKind::Mlp)
            },
            "larger than the 256 training images",
        ),
        (
            TrainConfig {
                lr_g: -1.0,
                ..TrainConfig::new(ModelKind::Mlp)
            },
            "lr-g must be a positive number",
        ),
        (
            TrainConfig {
                betas: (1.0, 0.9),
                ..TrainConfig::new(ModelKind::Mlp)
            },
            "betas must lie in [0, 1)",
        ),
        (
            TrainConfig {
                label_smoothing: 0.1,
                ..TrainConfig::new(ModelKind::DcganCritic)
            },
            "the wgan-gp loss has none",
        ),
    ] {
        let err = run::start(config, data(), &dir, &RunOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{err}");
        assert!(
            !dir.join("config.json").exists(),
            "nothing is written for a bad config"
        );
    }
}
