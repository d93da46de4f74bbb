//! The discriminator's regularisers: the R1 penalty's own gradient (a second
//! derivative of the critic) against finite differences, spectral
//! normalisation on every model's discriminator, and old run configurations
//! (from before these options) loading unchanged.

mod critic_common;

use critic_common::{check_penalty_gradient, randn, tiny_critic};
use datasets::synthetic_mnist;
use gan::config::TrainConfig;
use gan::models::ModelKind;
use gan::r1::{R1, r1_penalty};
use gan::train::Trainer;
use rand::SeedableRng;
use tensor::Tensor;

#[test]
fn the_r1_gradient_matches_finite_differences() {
    let real = randn(&[3, 1, 5, 5], 4);
    let penalty = |ws: &[Tensor<f64>]| r1_penalty(|x| tiny_critic(x, ws), &real);
    check_penalty_gradient(penalty);
}

#[test]
fn r1_is_the_mean_squared_input_gradient() {
    // D(x) = ⟨w, x⟩ + 0.5·x₀² has gradient w + (x₀, 0): per sample
    // ‖∇‖² = (w₀ + x₀)² + w₁².
    let w = Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2, 1]).unwrap();
    let critic = |x: &Tensor<f64>| -> tensor::Result<Tensor<f64>> {
        let x0 = x.narrow(1, 0, 1)?;
        x.matmul(&w)?.add(&x0.square().mul_scalar(0.5))
    };
    let real = Tensor::from_vec(vec![0.5, 9.0, -3.0, 7.0], &[2, 2]).unwrap();
    let expected = ((1.5f64.powi(2) + 4.0) + (2.0f64.powi(2) + 4.0)) / 2.0;
    let penalty = r1_penalty(critic, &real).unwrap().item().unwrap();
    assert!((penalty - expected).abs() < 1e-12, "{penalty} vs {expected}");
    let empty = Tensor::<f64>::zeros(&[0, 2]);
    let err = r1_penalty(critic, &empty).unwrap_err();
    assert!(err.to_string().contains("r1_penalty"), "{err}");
}

#[test]
fn bad_r1_settings_are_refused_with_the_value_named() {
    for (r1, expected) in [
        (
            R1 {
                gamma: -1.0,
                every: 1,
            },
            "r1 γ must be a positive number, got -1",
        ),
        (
            R1 {
                gamma: f64::NAN,
                every: 1,
            },
            "r1 γ must be a positive number",
        ),
        (R1 { gamma: 1.0, every: 0 }, "r1-every must be at least 1"),
    ] {
        let config = TrainConfig {
            r1: Some(r1),
            ..TrainConfig::new(ModelKind::Mlp)
        };
        let err = config.validate(1000).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
}

/// Every model's discriminator gets spectral normalisation on all of its
/// Linear and Conv2d layers (no raw `weight` of rank ≥ 2 is left but the
/// class tables: a conditional model's label table, a projection
/// discriminator's class vectors), still scores a batch, and the generator is untouched.
#[test]
fn spectral_norm_wraps_every_discriminator() {
    for kind in ModelKind::ALL {
        let mut model = kind
            .build(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0))
            .unwrap();
        let generator_before = model.generator().named_parameters().len();
        let wrapped = model.spectral_normalise_discriminator(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
        assert!(wrapped >= 2, "{kind}: {wrapped} layers wrapped");
        let names: Vec<String> = model
            .discriminator()
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| p.shape().len() >= 2)
            .map(|(n, _)| n)
            .collect();
        let normalised = names.iter().filter(|n| n.ends_with(".weight_orig")).count();
        assert_eq!(normalised, wrapped, "{kind}: {names:?}");
        assert!(
            names.iter().all(|n| n.ends_with(".weight_orig")
                || ["label_embedding.weight", "projection.weight"].contains(&n.as_str())),
            "{kind}: {names:?}"
        );
        assert_eq!(model.generator().named_parameters().len(), generator_before);
        let images = Tensor::zeros(&[2, 1, 28, 28]);
        let images = match kind {
            ModelKind::Tutorial => Tensor::zeros(&[2, 1, 32, 32]),
            _ => images,
        };
        let scores = model.discriminate(&images, &[3, 4]).unwrap();
        assert_eq!(scores.shape(), [2, 1], "{kind}");
    }
}

/// Spectral norm and R1 train: finite losses, and the trainer refuses
/// nothing. (Resumption with both: `train_runs.rs`.)
#[test]
fn a_trainer_with_r1_and_spectral_norm_takes_steps() {
    let config = TrainConfig {
        r1: Some(R1 {
            gamma: 10.0,
            every: 1,
        }),
        spectral_norm: true,
        batch_size: 16,
        ..TrainConfig::new(ModelKind::Cgan)
    };
    let mut trainer = Trainer::new(config, synthetic_mnist(64, 1).unwrap()).unwrap();
    for _ in 0..3 {
        let s = trainer.step().unwrap();
        assert!(s.loss_d.is_finite() && s.loss_g.is_finite(), "{s:?}");
    }
}

/// A `config.json` written before `r1` and `spectral_norm` existed loads,
/// with both off, so old runs still resume.
#[test]
fn old_configs_load_without_the_new_fields() {
    let config = TrainConfig::new(ModelKind::Dcgan);
    let mut json: serde_json::Value = serde_json::to_value(&config).unwrap();
    let fields = json.as_object_mut().unwrap();
    assert!(fields.remove("r1").is_some() && fields.remove("spectral_norm").is_some());
    let old: TrainConfig = serde_json::from_value(json).unwrap();
    assert_eq!(old, config);
    assert_eq!((old.r1, old.spectral_norm), (None, false));
}
