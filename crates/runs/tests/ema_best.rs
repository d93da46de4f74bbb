//! The averaged generator (`--ema`) and the best checkpoint (`--which best`):
//! the update rule against a hand computation, the averaged copy's
//! BatchNorm statistics, exact resumption, `sample` and `eval` drawing from
//! the average, and the best pointer following the lowest Fréchet distance.

mod common;

use datasets::synthetic_mnist;
use gan::config::TrainConfig;
use gan::ema::{Ema, GeneratorKind, average_into, warmup_decay};
use gan::models::{GanModel, ModelKind};
use nn::{Module, State};
use rand::SeedableRng;
use runs::best::{self, BestCheckpoint};
use runs::checkpoint::EMA_FILE;
use runs::metrics::read_metrics;
use runs::run::{self, RunOptions};
use runs::sample::{SampleRequest, Which, resolve, sample_grid};
use tensor::Tensor;

fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(seed)
}

/// Sets every parameter of `module` to `value`.
fn fill(module: &dyn Module, value: f32) {
    for p in module.parameters() {
        p.update_in_place(|a| a.fill(value));
    }
}

/// The first value of every parameter of `module`.
fn firsts(module: &dyn Module) -> Vec<f32> {
    module.parameters().iter().map(|p| p.to_vec()[0]).collect()
}

#[test]
fn warm_up_keeps_the_first_averages_short() {
    // min(decay, (1 + t) / (10 + t))
    assert_eq!(warmup_decay(0.999, 0), 0.1);
    assert_eq!(warmup_decay(0.999, 8), 0.5);
    assert_eq!(warmup_decay(0.999, 90), 91.0 / 100.0);
    assert_eq!(warmup_decay(0.999, 1_000_000), 0.999);
    assert_eq!(warmup_decay(0.0, 5), 0.0);
}

#[test]
fn the_average_follows_the_update_rule_by_hand() {
    let live = ModelKind::Mlp.build(&mut rng(1)).unwrap();
    let other = ModelKind::Mlp.build(&mut rng(2)).unwrap();
    fill(live.generator(), 1.0);
    let mut ema = Ema::new(0.9, other, live.as_ref(), 0).unwrap();
    // It starts as a copy of the live generator.
    assert!(firsts(ema.generator()).iter().all(|&v| v == 1.0));

    // Update 1: β = min(0.9, 1/10) = 0.1 → 0.1·1 + 0.9·3 = 2.8.
    fill(live.generator(), 3.0);
    ema.update(live.as_ref()).unwrap();
    // Update 2: β = min(0.9, 2/11) → (2/11)·2.8 + (9/11)·(−1).
    let last = -1.0;
    fill(live.generator(), last);
    ema.update(live.as_ref()).unwrap();
    let beta = 2.0f64 / 11.0;
    let expected = beta * 2.8 + (1.0 - beta) * f64::from(last);
    for v in firsts(ema.generator()) {
        assert!((f64::from(v) - expected).abs() < 1e-6, "{v} vs {expected}");
    }
    assert_eq!(ema.updates(), 2);

    // The rule on its own, with a β past the warm-up.
    let a = ModelKind::Mlp.build(&mut rng(3)).unwrap();
    fill(a.generator(), 10.0);
    average_into(a.generator(), live.generator(), 0.75).unwrap();
    for v in firsts(a.generator()) {
        assert!((v - (0.75 * 10.0 + 0.25 * last)).abs() < 1e-6);
    }
    // A network of another shape is refused.
    let dcgan = ModelKind::Dcgan.build(&mut rng(4)).unwrap();
    assert!(average_into(dcgan.generator(), live.generator(), 0.5).is_err());
}

/// The running mean of the first BatchNorm of a DCGAN-shaped generator.
fn first_running_mean(module: &dyn Module) -> Vec<f32> {
    let mut found = None;
    module.visit(&mut |name, state| {
        if let (true, State::Buffer(b)) = (name == "2.running_mean", state) {
            found = Some(b.to_vec());
        }
    });
    found.expect("the generator has a BatchNorm at index 2")
}

#[test]
fn the_averaged_copy_gets_batch_norm_statistics_of_its_own() {
    let live = ModelKind::Dcgan.build(&mut rng(5)).unwrap();
    let mut ema = Ema::new(
        0.5,
        ModelKind::Dcgan.build(&mut rng(6)).unwrap(),
        live.as_ref(),
        9,
    )
    .unwrap();
    // The live generator's first BatchNorm has seen inputs of mean 4.
    live.generator().visit(&mut |name, state| {
        if let (true, State::Buffer(b)) = (name == "2.running_mean", state) {
            b.update_in_place(|a| a.fill(4.0));
        }
    });
    // The average's first layer (Linear 100 → 128·7·7, "0") gets bias 1 for
    // channel 0 and 2 for every other: its outputs have those means.
    ema.update(live.as_ref()).unwrap();
    for (name, p) in ema.generator().named_parameters() {
        if name == "0.bias" {
            p.update_in_place(|a| {
                for (i, v) in a.iter_mut().enumerate() {
                    *v = if i < 49 { 1.0 } else { 2.0 };
                }
            });
        }
    }
    let before: Vec<Vec<f32>> = ema.generator().parameters().iter().map(Tensor::to_vec).collect();
    let average = ema.refreshed(live.as_ref()).unwrap();
    // Starting from the live statistics (weight 0.9²⁰), twenty batches move
    // the estimate to the averaged copy's own means (weight 1 − 0.9²⁰).
    let kept = 0.9f64.powi(20);
    let mean = first_running_mean(average.generator());
    for (c, &m) in mean.iter().enumerate() {
        let own = if c == 0 { 1.0 } else { 2.0 };
        let expected = kept * 4.0 + (1.0 - kept) * own;
        assert!(
            (f64::from(m) - expected).abs() < 0.02,
            "channel {c}: {m} vs {expected}"
        );
    }
    // The live generator's statistics and the parameters are untouched.
    assert!(first_running_mean(live.generator()).iter().all(|&m| m == 4.0));
    let after: Vec<Vec<f32>> = ema.generator().parameters().iter().map(Tensor::to_vec).collect();
    assert_eq!(before, after);
}

fn short_config(model: ModelKind, steps: u64) -> TrainConfig {
    TrainConfig {
        max_steps: Some(steps),
        epochs: 100,
        log_every: 5,
        seed: 11,
        ema: Some(0.9),
        ..TrainConfig::new(model)
    }
}

/// Interrupt at step `k`, resume, and compare every file with a run that
/// never stopped (256 images: the runs cross epoch ends, where the average
/// draws grids and the quality check, before and after the interruption).
fn resumes_bit_for_bit(config: TrainConfig, k: u64) {
    let data = || synthetic_mnist(256, 2).unwrap();
    let model = config.model;
    let straight = common::scratch_dir(&format!("ema-resume-{model}-straight"));
    run::start(config.clone(), data(), &straight, &RunOptions::default()).unwrap();
    let stopped = common::scratch_dir(&format!("ema-resume-{model}-stopped"));
    let interrupt = RunOptions {
        interrupt_at: Some(k),
        ..RunOptions::default()
    };
    run::start(config.clone(), data(), &stopped, &interrupt).unwrap();
    let state = runs::checkpoint::read_state(&resolve(&stopped, Which::Latest).unwrap()).unwrap();
    assert_eq!(state.ema_updates, Some(k));
    run::resume(config, data(), &stopped, &RunOptions::default()).unwrap();
    let (files_a, files_b) = (common::run_files(&straight), common::run_files(&stopped));
    assert!(files_a.iter().any(|(name, _)| name == EMA_FILE));
    assert_eq!(files_a.len(), files_b.len());
    for ((name, a), (_, b)) in files_a.into_iter().zip(files_b) {
        assert!(a == b, "{name} differs after resuming");
    }
    assert_eq!(
        std::fs::read(straight.join("samples.png")).unwrap(),
        std::fs::read(stopped.join("samples.png")).unwrap()
    );
}

#[test]
fn a_run_with_an_average_resumes_bit_for_bit() {
    resumes_bit_for_bit(short_config(ModelKind::Mlp, 11), 6);
    // With BatchNorm in the generator, and batches of 32: 8 steps an epoch.
    resumes_bit_for_bit(short_config(ModelKind::DcganGlobal, 10), 3);
}

#[test]
fn sample_and_eval_draw_from_the_average() {
    let dir = common::scratch_dir("ema-sample");
    run::start(
        short_config(ModelKind::Dcgan, 6),
        synthetic_mnist(256, 3).unwrap(),
        &dir,
        &RunOptions::default(),
    )
    .unwrap();
    let averaged = sample_grid(&dir, SampleRequest::default()).unwrap();
    assert_eq!(averaged.generator, GeneratorKind::Averaged);

    // The same checkpoint without its average draws from the live generator,
    // and draws something else.
    let ckpt = resolve(&dir, Which::Latest).unwrap();
    let bare = common::scratch_dir("ema-sample-bare");
    for entry in std::fs::read_dir(&ckpt).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != EMA_FILE {
            std::fs::copy(&path, bare.join(path.file_name().unwrap())).unwrap();
        }
    }
    let live = sample_grid(&bare, SampleRequest::default()).unwrap();
    assert_eq!(live.generator, GeneratorKind::Live);
    assert_ne!(live.image, averaged.image);

    let (model, kind) = runs::sample::load_generator(&ckpt, ModelKind::Dcgan, 0).unwrap();
    assert_eq!(kind, GeneratorKind::Averaged);
    let saved = nn::checkpoint::load_entries::<f32>(&ckpt.join(EMA_FILE)).unwrap();
    let (name, weight) = &model.generator().named_parameters()[0];
    match &saved[name] {
        nn::checkpoint::Entry::Array(a) => assert_eq!(a.iter().copied().collect::<Vec<_>>(), weight.to_vec()),
        _ => panic!("{name} is not an array"),
    }

    let data = synthetic_mnist(64, 4).unwrap();
    let request = runs::eval::EvalRequest {
        n: 32,
        seed: 0,
        which: Which::Latest,
    };
    let report = runs::eval::evaluate_run(&dir, request, &data, &data).unwrap();
    assert_eq!(report.generator, GeneratorKind::Averaged);
    let report = runs::eval::evaluate_run(&bare, request, &data, &data).unwrap();
    assert_eq!(report.generator, GeneratorKind::Live);
}

#[test]
fn the_best_pointer_follows_the_lowest_frechet_distance() {
    let dir = common::scratch_dir("best-run");
    // 256 images in batches of 64: four epochs of four steps, each judged.
    let config = TrainConfig {
        max_steps: Some(16),
        epochs: 4,
        seed: 5,
        ..TrainConfig::new(ModelKind::Mlp)
    };
    let options = RunOptions {
        quality_samples: 100,
        ..RunOptions::default()
    };
    run::start(config, synthetic_mnist(256, 6).unwrap(), &dir, &options).unwrap();
    let rows = read_metrics(&dir.join("metrics.csv")).unwrap();
    let judged: Vec<(u64, f64)> = rows
        .iter()
        .filter_map(|r| r.quality.map(|q| (r.step, q.frechet_distance)))
        .collect();
    assert_eq!(judged.len(), 4);
    let lowest = judged
        .iter()
        .copied()
        .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
    let recorded = best::read(&dir.join("checkpoint")).unwrap().unwrap();
    assert_eq!((recorded.step, recorded.frechet_distance), lowest);
    let best_dir = resolve(&dir, Which::Best).unwrap();
    assert!(best_dir.ends_with(format!("step-{:09}", lowest.0)) && best_dir.is_dir());
    let state = runs::checkpoint::read_state(&best_dir).unwrap();
    assert_eq!(state.step, lowest.0);
    // Only the newest and the best checkpoint folders are kept.
    let kept = std::fs::read_dir(dir.join("checkpoint"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(kept, if lowest.0 == 16 { 1 } else { 2 });
    // `sample --which best` reads it.
    let grid = sample_grid(
        &dir,
        SampleRequest {
            which: Which::Best,
            ..SampleRequest::default()
        },
    )
    .unwrap();
    assert_eq!(grid.checkpoint, best_dir);
}

#[test]
fn offers_keep_the_lower_distance_and_ignore_nan() {
    let dir = common::scratch_dir("best-offers");
    let at = |step: u64, frechet_distance: f64| BestCheckpoint {
        checkpoint: format!("step-{step:09}"),
        step,
        epoch: step as usize,
        frechet_distance,
    };
    assert!(best::read(&dir).unwrap().is_none());
    assert!(best::offer(&dir, &at(1, 50.0)).unwrap());
    assert!(!best::offer(&dir, &at(2, 60.0)).unwrap());
    assert!(!best::offer(&dir, &at(3, f64::NAN)).unwrap());
    assert!(best::offer(&dir, &at(4, 20.0)).unwrap());
    assert!(!best::offer(&dir, &at(5, 20.0)).unwrap());
    assert_eq!(best::read(&dir).unwrap().unwrap(), at(4, 20.0));
    std::fs::write(dir.join(best::BEST_FILE), "{\"checkpoint\": \"../x\"").unwrap();
    assert!(best::read(&dir).is_err());
}

#[test]
fn without_a_best_checkpoint_which_best_says_why() {
    let dir = common::scratch_dir("best-none");
    let config = TrainConfig {
        max_steps: Some(3),
        ..TrainConfig::new(ModelKind::Mlp)
    };
    let off = RunOptions {
        quality_samples: 0,
        ..RunOptions::default()
    };
    run::start(config, synthetic_mnist(256, 6).unwrap(), &dir, &off).unwrap();
    let err = resolve(&dir, Which::Best).unwrap_err().to_string();
    assert!(
        err.contains("no best checkpoint") && err.contains("--which latest"),
        "{err}"
    );
    let ckpt = resolve(&dir, Which::Latest).unwrap();
    let err = resolve(&ckpt, Which::Best).unwrap_err().to_string();
    assert!(err.contains("run folder"), "{err}");
    assert!("worst".parse::<Which>().unwrap_err().contains("best or latest"));
}

/// A few steps of the default model and recipe on real-sized batches: the
/// losses stay finite and the average is saved.
#[test]
fn dcgan_global_trains_a_few_steps() {
    let dir = common::scratch_dir("dcgan-global-smoke");
    let config = TrainConfig {
        max_steps: Some(4),
        log_every: 1,
        ..TrainConfig::new(ModelKind::DcganGlobal)
    };
    assert_eq!(config.ema, Some(0.999));
    let summary = run::start(
        config,
        synthetic_mnist(256, 7).unwrap(),
        &dir,
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!(summary.steps, 4);
    let rows = read_metrics(&dir.join("metrics.csv")).unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .all(|r| r.stats.loss_d.is_finite() && r.stats.loss_g.is_finite())
    );
    assert!(summary.checkpoint.join(EMA_FILE).is_file());
    let model: Box<dyn GanModel> =
        runs::sample::load_generator(&summary.checkpoint, ModelKind::DcganGlobal, 0)
            .unwrap()
            .0;
    let images = model.generate(&Tensor::zeros(&[2, 100]), &[]).unwrap();
    assert_eq!(images.shape(), [2, 1, 28, 28]);
}
