//! NaN and infinity in training: a non-finite gradient stops the run before
//! the optimizer writes it into the weights, naming the step, the network
//! and the parameter, and the last good checkpoint stays loadable.

mod common;

use datasets::synthetic_mnist;
use gan::config::TrainConfig;
use gan::models::ModelKind;
use gan::train::{Trainer, first_non_finite_gradient};
use nn::Module;
use rand::SeedableRng;
use runs::Error;
use runs::checkpoint;
use runs::run::{self, RunOptions};
use tensor::Tensor;

#[test]
fn the_gradient_check_names_the_first_non_finite_parameter() {
    let param = |values: Vec<f32>| {
        let p = Tensor::from_vec(vec![0.0; values.len()], &[values.len()])
            .unwrap()
            .with_requires_grad();
        p.set_grad(Some(Tensor::from_vec(values.clone(), &[values.len()]).unwrap()));
        p
    };
    let mut params = vec![
        ("a.weight".to_string(), param(vec![1.0, -2.0])),
        ("a.bias".to_string(), param(vec![0.5])),
    ];
    assert_eq!(first_non_finite_gradient(&params), None);
    // A parameter without a gradient (not in this step's graph) is skipped.
    params.push(("b.weight".to_string(), Tensor::zeros(&[3]).with_requires_grad()));
    assert_eq!(first_non_finite_gradient(&params), None);
    // Large gradients, split across threads: the bad value is found anywhere.
    let mut big = vec![0.25f32; 200_000];
    big[199_999] = f32::NEG_INFINITY;
    params.push(("c.weight".to_string(), param(big)));
    params.push(("d.weight".to_string(), param(vec![f32::NAN])));
    assert_eq!(
        first_non_finite_gradient(&params),
        Some(("c.weight".to_string(), f32::NEG_INFINITY))
    );
}

/// Scales every value of the parameter `name` of `module` by `factor`.
fn scale(module: &dyn Module, name: &str, factor: f32) {
    let (_, p) = module
        .named_parameters()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no parameter {name}"));
    p.update_in_place(|w| w.mapv_inplace(|v| v * factor));
}

#[test]
fn a_non_finite_gradient_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = common::scratch_dir("divergence-gradient");
    let data = || synthetic_mnist(256, 4).unwrap();
    let config = TrainConfig {
        max_steps: Some(2),
        epochs: 100,
        log_every: 1,
        ..TrainConfig::new(ModelKind::Mlp)
    };
    run::start(config.clone(), data(), &dir, &RunOptions::default()).unwrap();

    // Make the discriminator's gradient overflow while its loss stays
    // finite: a tiny first layer and huge later ones keep the forward pass
    // small (logits ~1e20: a finite BCE loss), but the backward pass
    // multiplies by the huge layers twice before reaching the first one
    // (~1e46 > f32::MAX). The D of `mlp` is Flatten (0), Linear (1), LeakyReLU,
    // Linear (3), LeakyReLU, Linear (5).
    let good = checkpoint::latest(&dir.join("checkpoint")).unwrap();
    assert!(good.ends_with("step-000000002"));
    let model = ModelKind::Mlp
        .build(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0))
        .unwrap();
    let d_file = good.join("discriminator.safetensors");
    nn::checkpoint::load_module(model.discriminator(), &d_file).unwrap();
    let names: Vec<String> = model
        .discriminator()
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let first_weight = names[0].clone();
    assert!(first_weight.ends_with("1.weight"), "{names:?}");
    scale(model.discriminator(), &first_weight, 1e-30);
    for later in names
        .iter()
        .filter(|n| n.ends_with("3.weight") || n.ends_with("5.weight"))
    {
        scale(model.discriminator(), later, 1e25);
    }
    nn::checkpoint::save_module(model.discriminator(), &d_file).unwrap();
    let before: Vec<Vec<u8>> = ["discriminator.safetensors", "generator.safetensors", "state.json"]
        .iter()
        .map(|f| std::fs::read(good.join(f)).unwrap())
        .collect();

    let resumed = TrainConfig {
        max_steps: Some(4),
        ..config
    };
    let err = run::resume(resumed.clone(), data(), &dir, &RunOptions::default()).unwrap_err();
    let message = err.to_string();
    eprintln!("{message}");
    assert!(
        matches!(&err, Error::NonFinite { step: 3, checkpoint: Some(c), .. } if c == &good),
        "{err:?}"
    );
    assert!(
        message.starts_with(&format!(
            "step 3: the gradient of discriminator parameter `{first_weight}` holds"
        )),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(
            "training diverged (the last good checkpoint is {})",
            good.display()
        )),
        "{message}"
    );
    assert!(!message.contains('\n'));

    // LATEST still names the step-2 checkpoint, untouched, and it loads.
    assert_eq!(checkpoint::latest(&dir.join("checkpoint")).unwrap(), good);
    let after: Vec<Vec<u8>> = ["discriminator.safetensors", "generator.safetensors", "state.json"]
        .iter()
        .map(|f| std::fs::read(good.join(f)).unwrap())
        .collect();
    assert!(before == after, "the last good checkpoint was rewritten");
    let mut trainer = Trainer::new(resumed, data()).unwrap();
    checkpoint::restore(&mut trainer, &good).unwrap();
    assert_eq!(trainer.steps_done(), 2);
    // The metrics rows stop at the last good step.
    let rows = runs::metrics::read_metrics(&dir.join("metrics.csv")).unwrap();
    assert_eq!(rows.last().unwrap().step, 2);
}
