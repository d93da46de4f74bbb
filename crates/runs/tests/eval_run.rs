//! The quality check at epoch ends: its figures land in `metrics.csv`, and
//! measuring changes nothing about training.

mod common;

use datasets::synthetic_mnist;
use gan::config::TrainConfig;
use gan::models::ModelKind;
use runs::metrics::read_metrics;
use runs::run::{self, RunOptions};

fn config(model: ModelKind) -> TrainConfig {
    TrainConfig {
        max_steps: Some(9),
        epochs: 100,
        log_every: 5,
        seed: 4,
        ..TrainConfig::new(model)
    }
}

#[test]
fn epoch_ends_get_quality_figures_and_training_is_unchanged() {
    for model in [ModelKind::Mlp, ModelKind::Cgan] {
        let with = common::scratch_dir(&format!("quality-on-{model}"));
        let without = common::scratch_dir(&format!("quality-off-{model}"));
        // 256 images in batches of 64: epochs end at steps 4 and 8.
        let on = RunOptions {
            quality_samples: 200,
            ..RunOptions::default()
        };
        let off = RunOptions {
            quality_samples: 0,
            ..RunOptions::default()
        };
        run::start(config(model), synthetic_mnist(256, 3).unwrap(), &with, &on).unwrap();
        run::start(config(model), synthetic_mnist(256, 3).unwrap(), &without, &off).unwrap();

        let text = std::fs::read_to_string(with.join("metrics.csv")).unwrap();
        assert!(text.starts_with(
            "step,epoch,loss_d,loss_g,d_real,d_fake,classifier_score,frechet_distance,missing_digits\n"
        ));
        let rows = read_metrics(&with.join("metrics.csv")).unwrap();
        let steps: Vec<u64> = rows.iter().map(|r| r.step).collect();
        assert_eq!(steps, vec![4, 5, 8, 9], "{text}");
        for row in &rows {
            let epoch_end = row.step % 4 == 0;
            assert_eq!(row.quality.is_some(), epoch_end, "{text}");
            if let Some(q) = row.quality {
                assert!(q.classifier_score >= 1.0 && q.classifier_score <= 10.0, "{q:?}");
                assert!(
                    q.frechet_distance.is_finite() && q.frechet_distance > 0.0,
                    "{q:?}"
                );
                assert!(q.missing_digits <= 10);
            }
        }
        // Non-epoch rows leave the three cells empty.
        assert!(
            text.lines().any(|l| l.starts_with("5,") && l.ends_with(",,,")),
            "{text}"
        );

        // Measuring draws nothing from training's random streams and leaves
        // the model in training mode: same weights, same losses.
        let ckpt = |dir: &std::path::Path| runs::sample::resolve_checkpoint(dir).unwrap();
        for name in ["generator.safetensors", "discriminator.safetensors", "state.json"] {
            assert_eq!(
                std::fs::read(ckpt(&with).join(name)).unwrap(),
                std::fs::read(ckpt(&without).join(name)).unwrap(),
                "{model}: {name} differs with the quality check on"
            );
        }
        let losses = |dir: &std::path::Path| -> Vec<String> {
            std::fs::read_to_string(dir.join("metrics.csv"))
                .unwrap()
                .lines()
                .skip(1)
                .map(|l| l.split(',').take(6).collect::<Vec<_>>().join(","))
                .collect()
        };
        assert_eq!(losses(&with), losses(&without));
    }
}
