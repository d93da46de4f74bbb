//! Class-conditional GANs: the label reaches both networks, the label tables
//! learn, labels are checked, and grids put one class per row.

mod common;

use datasets::NUM_CLASSES;
use datasets::synthetic_mnist;
use gan::config::TrainConfig;
use gan::models::{EMBEDDING_DIM, GanModel, ModelKind};
use gan::train::Trainer;
use nn::Module;
use rand::SeedableRng;
use runs::run::{self, RunOptions};
use runs::sample::{SampleRequest, sample_grid};
use tensor::{Tensor, no_grad};

const CONDITIONAL: [ModelKind; 3] = [ModelKind::Cgan, ModelKind::CganConv, ModelKind::CganGlobal];

fn build(kind: ModelKind) -> Box<dyn GanModel> {
    let mut model = kind
        .build(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0))
        .unwrap();
    model.set_training(false);
    model
}

fn noise(batch: usize) -> Tensor {
    Tensor::randn(
        &[batch, 100],
        0.0,
        1.0,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(1),
    )
    .unwrap()
}

fn max_abs_difference(a: &Tensor, b: &Tensor) -> f32 {
    a.to_vec()
        .iter()
        .zip(b.to_vec())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_label_changes_what_both_networks_compute() {
    for kind in CONDITIONAL {
        assert!(kind.is_conditional());
        let model = build(kind);
        // The same noise twice, asked for a 3 and for a 7.
        let z = noise(1);
        let z = Tensor::concat(&[&z, &z], 0).unwrap();
        let images = no_grad(|| model.generate(&z, &[3, 7])).unwrap();
        assert_eq!(images.shape(), [2, 1, 28, 28], "{kind}");
        let three = images.narrow(0, 0, 1).unwrap();
        let seven = images.narrow(0, 1, 1).unwrap();
        assert!(
            max_abs_difference(&three, &seven) > 1e-3,
            "{kind}: the label is ignored"
        );
        // ...and the same label gives the same image.
        let again = no_grad(|| model.generate(&z, &[3, 3])).unwrap();
        assert_eq!(again.narrow(0, 1, 1).unwrap().to_vec(), three.to_vec(), "{kind}");

        // The discriminator judges the same image differently per class.
        let same = Tensor::concat(&[&three, &three], 0).unwrap();
        let scores = no_grad(|| model.discriminate(&same, &[3, 7])).unwrap().to_vec();
        assert_eq!(scores.len(), 2);
        assert!((scores[0] - scores[1]).abs() > 1e-5, "{kind}: {scores:?}");
    }
    for kind in [
        ModelKind::Mlp,
        ModelKind::Dcgan,
        ModelKind::Tutorial,
        ModelKind::DcganCritic,
    ] {
        assert!(!kind.is_conditional(), "{kind}");
    }
}

#[test]
fn labels_are_checked_and_the_unlabelled_forward_refuses() {
    for kind in CONDITIONAL {
        let model = build(kind);
        let err = model.generate(&noise(2), &[1]).unwrap_err().to_string();
        assert!(err.contains("1 labels for a batch of 2"), "{kind}: {err}");
        let err = model.generate(&noise(2), &[1, 10]).unwrap_err().to_string();
        assert!(err.contains("label 10 is not a class (0–9)"), "{kind}: {err}");
        let err = model.generator().forward(&noise(2)).unwrap_err().to_string();
        assert!(err.contains("without class labels"), "{kind}: {err}");
    }
}

/// The dotted names of `module`'s parameters, in order.
fn parameter_names(module: &dyn Module) -> Vec<String> {
    module.named_parameters().into_iter().map(|(n, _)| n).collect()
}

#[test]
fn parameter_names_and_counts() {
    let linear = |i: usize, o: usize| i * o + o;
    let table = NUM_CLASSES * EMBEDDING_DIM;
    let model = build(ModelKind::Cgan);
    assert_eq!(
        model.generator().parameter_count(),
        table + linear(110, 256) + linear(256, 512) + linear(512, 1024) + linear(1024, 784)
    );
    assert_eq!(
        model.discriminator().parameter_count(),
        table + linear(794, 512) + linear(512, 256) + linear(256, 1)
    );
    let names = parameter_names(model.discriminator());
    assert_eq!(
        names,
        [
            "label_embedding.weight",
            "head.0.weight",
            "head.0.bias",
            "head.2.weight",
            "head.2.bias",
            "head.4.weight",
            "head.4.bias"
        ]
    );
    let model = build(ModelKind::CganConv);
    // As dcgan, with 10 more inputs to G's Linear and 10 more channels into D's second conv.
    assert_eq!(
        model.generator().parameter_count(),
        table + linear(110, 6272) + 2 * 128 + (128 * 64 * 16 + 64) + 2 * 64 + (64 * 16 + 1)
    );
    assert_eq!(
        model.discriminator().parameter_count(),
        table + (64 * 16 + 64) + (74 * 128 * 16 + 128) + 2 * 128 + linear(6272, 1)
    );
    let model = build(ModelKind::CganGlobal);
    // As dcgan-global, with 10 more inputs to G's Linear; D's label is a
    // 256-long vector per class, projected onto the global hidden layer.
    assert_eq!(
        model.generator().parameter_count(),
        table + linear(110, 192 * 49) + 2 * 192 + (192 * 96 * 16 + 96) + 2 * 96 + (96 * 16 + 1)
    );
    assert_eq!(
        model.discriminator().parameter_count(),
        (64 * 16 + 64) + (64 * 128 * 16 + 128) + 2 * 128 + linear(6272, 256) + linear(256, 1) + 10 * 256
    );
    let names = parameter_names(model.discriminator());
    assert_eq!(
        names[names.len() - 3..],
        ["output.0.weight", "output.0.bias", "projection.weight"]
    );
}

/// The projection discriminator's logit is the unconditional verdict plus
/// `emb(y)·φ(x)`: with the class vectors zeroed, every class gets the same
/// score; with class 7's vector set to `v`, class 7's score rises by `v·φ(x)`.
#[test]
fn the_projection_adds_the_class_vector_dotted_with_the_features() {
    let mut model = ModelKind::CganGlobal
        .build(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0))
        .unwrap();
    model.set_training(false);
    let table = model
        .discriminator()
        .named_parameters()
        .into_iter()
        .find(|(n, _)| n == "projection.weight")
        .unwrap()
        .1;
    table.update_in_place(|a| a.fill(0.0));
    let image = no_grad(|| model.generate(&noise(1), &[2])).unwrap();
    let images = Tensor::concat(&[&image, &image], 0).unwrap();
    let flat = no_grad(|| model.discriminate(&images, &[3, 7])).unwrap().to_vec();
    assert_eq!(flat[0], flat[1]);
    // Class 7's vector: c everywhere, so its score moves by c·Σφ(x), linearly
    // in c, and class 3's does not move.
    let score_with = |c: f32| {
        table.update_in_place(|a| {
            for j in 0..256 {
                a[&[7, j][..]] = c;
            }
        });
        no_grad(|| model.discriminate(&images, &[3, 7])).unwrap().to_vec()
    };
    let (once, twice) = (score_with(0.01), score_with(0.02));
    assert_eq!((once[0], twice[0]), (flat[0], flat[0]));
    let (step1, step2) = (once[1] - flat[1], twice[1] - flat[1]);
    assert!(step1.abs() > 1e-6, "the class vector is ignored");
    assert!(
        (step2 - 2.0 * step1).abs() < 1e-4 * step1.abs().max(1.0),
        "{step1} {step2}"
    );
}

/// The current values of the parameter `name` of `module`.
fn values(module: &dyn Module, name: &str) -> Vec<f32> {
    let (_, p) = module
        .named_parameters()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap();
    p.to_vec()
}

#[test]
fn the_label_tables_are_trained() {
    for kind in CONDITIONAL {
        let config = TrainConfig {
            batch_size: 32,
            ..TrainConfig::new(kind)
        };
        let mut trainer = Trainer::new(config, synthetic_mnist(128, 3).unwrap()).unwrap();
        let table = "label_embedding.weight";
        // The projection discriminator's class vectors are its label table.
        let d_table = match kind {
            ModelKind::CganGlobal => "projection.weight",
            _ => table,
        };
        let g_before = values(trainer.model().generator(), table);
        let d_before = values(trainer.model().discriminator(), d_table);
        for _ in 0..3 {
            trainer.step().unwrap();
        }
        let changed = |a: &[f32], b: &[f32]| a.iter().zip(b).filter(|(x, y)| x != y).count();
        // Every row is drawn in 3 batches of 32 uniform labels (a row
        // missed by all has probability 3·0.9⁹⁶ ≈ 1e-4; the seed is fixed).
        let g_after = values(trainer.model().generator(), table);
        let d_after = values(trainer.model().discriminator(), d_table);
        assert_eq!(changed(&g_before, &g_after), g_before.len(), "{kind} G");
        assert!(changed(&d_before, &d_after) > d_before.len() / 2, "{kind} D");
    }
}

/// A 2-step run of `model` in batches of 32, in the scratch folder `name`.
fn short_run(name: &str, model: ModelKind) -> std::path::PathBuf {
    let dir = common::scratch_dir(name);
    let config = TrainConfig {
        max_steps: Some(2),
        batch_size: 32,
        ..TrainConfig::new(model)
    };
    let data = synthetic_mnist(128, 4).unwrap();
    run::start(config, data, &dir, &RunOptions::default()).unwrap();
    dir
}

#[test]
fn grids_put_one_class_per_row_and_sampling_honours_the_digit() {
    let dir = short_run("cgan-run", ModelKind::Cgan);
    // 10 rows × 8 columns of 28×28 tiles with 2-pixel borders, and the legend.
    let grid = runs::grid::read_png(&dir.join("samples.png")).unwrap();
    assert_eq!((grid.width, grid.height), (8 * 28 + 9 * 2, 10 * 28 + 11 * 2));
    let legend = std::fs::read_to_string(dir.join("samples.txt")).unwrap();
    assert_eq!(legend.lines().count(), 10);
    assert!(
        legend.starts_with("row 0: 0\n") && legend.contains("row 7: 7\n"),
        "{legend}"
    );

    // The grid of every class: 80 by default, rows 0–9, the legend alongside.
    let all = sample_grid(&dir, SampleRequest::default()).unwrap();
    assert_eq!(all.count, 80);
    assert_eq!((all.image.width, all.image.height), (grid.width, grid.height));
    assert_eq!(all.legend.as_deref(), Some(legend.as_str()));
    // One digit: n samples of it, no legend, and a different picture per digit.
    let of = |class| {
        sample_grid(
            &dir,
            SampleRequest {
                n: Some(4),
                seed: 0,
                class: Some(class),
                ..SampleRequest::default()
            },
        )
        .unwrap()
    };
    let (sevens, threes) = (of(7), of(3));
    assert_eq!((sevens.count, sevens.legend.clone()), (4, None));
    assert_eq!(
        (sevens.image.width, sevens.image.height),
        (2 * 28 + 3 * 2, 2 * 28 + 3 * 2)
    );
    assert_ne!(sevens.image, threes.image);
    assert_eq!(sevens.image, of(7).image, "same seed, same digit: same picture");

    let refused = |request| sample_grid(&dir, request).unwrap_err().to_string();
    let err = refused(SampleRequest {
        n: Some(64),
        ..SampleRequest::default()
    });
    assert!(err.contains("multiple of 10"), "{err}");
    let err = refused(SampleRequest {
        class: Some(10),
        ..SampleRequest::default()
    });
    assert!(err.contains("--digit 10 is not a class"), "{err}");

    // An unconditional run keeps its 8×8 grid and refuses --digit.
    let plain = short_run("cgan-plain-run", ModelKind::Mlp);
    assert!(!plain.join("samples.txt").exists());
    let err = sample_grid(
        &plain,
        SampleRequest {
            class: Some(3),
            ..SampleRequest::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("--digit needs a class-conditional model") && err.contains("mlp"),
        "{err}"
    );
    assert_eq!(sample_grid(&plain, SampleRequest::default()).unwrap().count, 64);
}

#[test]
fn fashion_grids_are_labelled_with_class_names() {
    let legend = runs::sample::class_legend(datasets::Dataset::Fashion);
    assert_eq!(legend.lines().count(), 10);
    assert!(
        legend.starts_with("row 0: T-shirt/top\n") && legend.ends_with("row 9: Ankle boot\n"),
        "{legend}"
    );
}
