//! Spectral normalisation: σ against the exact largest singular value, the
//! gradient through `W / σ(W)` (u, v fixed) against finite differences,
//! checkpoints of u and v, determinism, and wrapping a network's layers.

// The gradient-check helpers of the tensor crate's tests, shared.
#[path = "../../tensor/tests/common/mod.rs"]
mod common;

use nn::checkpoint;
use nn::{Conv2d, LeakyReLU, Linear, Module, Sequential, SpectralNorm};
use tensor::Conv2dParams;
use tensor::Tensor;
use tensor::gradcheck::{GradcheckMode, GradcheckOptions, gradcheck};

/// The largest singular value of a `[rows, 2]` matrix, exactly: the square
/// root of the larger eigenvalue of the 2×2 matrix `WᵀW = [[a, b], [b, c]]`.
fn exact_sigma(w: &[f64], rows: usize) -> f64 {
    let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
    for r in 0..rows {
        let (x, y) = (w[2 * r], w[2 * r + 1]);
        a += x * x;
        b += x * y;
        c += y * y;
    }
    let mean = (a + c) / 2.0;
    (mean + (((a - c) / 2.0).powi(2) + b * b).sqrt()).sqrt()
}

#[test]
fn power_iteration_finds_the_largest_singular_value() {
    let mut rng = common::rng(1);
    // A Linear [3, 2] and a Conv2d whose weight [3, 1, 2, 1] is a [3, 2] matrix.
    let weight = common::randn(&[3, 2], &mut rng);
    let exact = exact_sigma(&weight.to_vec(), 3);
    let linear = SpectralNorm::new(Linear::from_tensors(weight.clone(), None).unwrap(), &mut rng).unwrap();
    let conv = Conv2d {
        weight: weight
            .reshape(&[3, 1, 2, 1])
            .unwrap()
            .detach()
            .with_requires_grad(),
        bias: None,
        params: Conv2dParams::new(1, 0),
    };
    let conv = SpectralNorm::new(conv, &mut rng).unwrap();
    let first = linear.sigma().unwrap().item().unwrap();
    for _ in 0..100 {
        linear.forward(&Tensor::zeros(&[1, 2])).unwrap();
        conv.forward(&Tensor::zeros(&[1, 1, 2, 1])).unwrap();
    }
    // The random start is a rough estimate; the iteration converges.
    assert!((first - exact).abs() > 1e-3, "first {first}, exact {exact}");
    for sigma in [linear.sigma(), conv.sigma()] {
        let sigma = sigma.unwrap().item().unwrap();
        assert!((sigma - exact).abs() < 1e-9, "σ {sigma}, exact {exact}");
    }
    // The normalised weight's largest singular value is 1.
    let normalised = linear.normalised_weight().unwrap().to_vec();
    assert!((exact_sigma(&normalised, 3) - 1.0).abs() < 1e-9);
    // A linear map by W_SN: y = W x / σ.
    let x = Tensor::from_vec(vec![0.5, -2.0], &[1, 2]).unwrap();
    let y = linear.forward(&x).unwrap().to_vec();
    let w = weight.to_vec();
    for (i, yi) in y.iter().enumerate() {
        let expected = (w[2 * i] * 0.5 - w[2 * i + 1] * 2.0) / exact;
        assert!((yi - expected).abs() < 1e-9, "{yi} vs {expected}");
    }
}

#[test]
fn evaluation_mode_uses_the_stored_vectors_and_changes_nothing() {
    let mut rng = common::rng(2);
    let mut layer = SpectralNorm::new(Linear::<f64>::new(4, 3, &mut rng), &mut rng).unwrap();
    let x = common::randn(&[2, 4], &mut rng);
    layer.forward(&x).unwrap();
    layer.eval();
    let (u, v) = (layer.u().to_vec(), layer.v().to_vec());
    let y1 = layer.forward(&x).unwrap().to_vec();
    let y2 = layer.forward(&x).unwrap().to_vec();
    assert_eq!((y1, layer.u().to_vec(), layer.v().to_vec()), (y2, u.clone(), v));
    layer.train();
    layer.forward(&x).unwrap();
    assert_ne!(layer.u().to_vec(), u, "a training forward iterates");
}

/// The gradient of a loss through `W / σ(W)` with u and v held fixed (as in
/// training: they are constants to autodiff) matches finite differences,
/// for a Conv2d and a Linear. Evaluation mode keeps u and v fixed while the
/// check perturbs the weights; the same seed gives the same u and v.
#[test]
fn the_gradient_through_the_normalised_weight_matches_finite_differences() {
    let mut rng = common::rng(3);
    let conv_w = common::randn(&[2, 1, 3, 3], &mut rng).with_requires_grad();
    let conv_b = common::randn(&[2], &mut rng).with_requires_grad();
    let lin_w = common::randn(&[1, 8], &mut rng).with_requires_grad();
    let x = common::randn(&[2, 1, 4, 4], &mut rng);
    let target = common::randn(&[2, 1], &mut rng);
    let net = |ws: &[Tensor<f64>]| -> tensor::Result<Tensor<f64>> {
        let mut layers = common::rng(4);
        let conv = Conv2d {
            weight: ws[0].clone(),
            bias: Some(ws[1].clone()),
            params: Conv2dParams::new(2, 1),
        };
        let mut conv = SpectralNorm::new(conv, &mut layers)?;
        let mut linear = SpectralNorm::new(Linear::from_tensors(ws[2].clone(), None)?, &mut layers)?;
        conv.eval();
        linear.eval();
        let h = conv.forward(&x)?.leaky_relu(0.2).reshape(&[2, 8])?;
        // A squared error, so that the check is of a non-linear function.
        linear
            .forward(&h)?
            .sub(&target)?
            .square()
            .sum_axes(&[0, 1], false)
    };
    let options = GradcheckOptions {
        mode: GradcheckMode::Full,
        ..GradcheckOptions::default()
    };
    let report = gradcheck(net, &[conv_w, conv_b, lin_w], &options).unwrap();
    assert_eq!(report.compared, 18 + 2 + 8);
}

fn network(seed: u64) -> Sequential<f32> {
    let mut rng = common::rng(seed);
    Sequential::new()
        .push(Conv2d::new(1, 3, 3, 2, 1, &mut rng))
        .push(LeakyReLU::new(0.2))
        .push(nn::Flatten)
        .push(Linear::new(3 * 2 * 2, 1, &mut rng))
}

#[test]
fn wrapping_a_network_renames_and_shares_its_weights() {
    let mut net = network(5);
    let before = net.named_parameters();
    let replaced = net.spectral_normalise_children(&mut common::rng(6));
    assert_eq!(replaced, 2);
    // Wrapping twice wraps nothing more.
    assert_eq!(net.spectral_normalise_children(&mut common::rng(6)), 0);
    let after = net.named_parameters();
    let names: Vec<&str> = after.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0.weight_orig", "0.bias", "3.weight_orig", "3.bias"]);
    // The same tensors: an optimizer built before wrapping still trains them.
    for ((_, a), (_, b)) in before.iter().zip(&after) {
        a.set_array(a.array().mapv(|v| v + 1.0).into_shared()).unwrap();
        assert_eq!(a.to_vec(), b.to_vec());
    }
    let out = net.forward(&Tensor::zeros(&[2, 1, 4, 4])).unwrap();
    assert_eq!(out.shape(), [2, 1]);
}

#[test]
fn u_and_v_are_saved_and_restored_and_drawn_from_the_seed() {
    let dir = std::env::temp_dir().join(format!("gan-from-scratch-test-{}-sn", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sn.safetensors");
    let mut net = network(7);
    net.spectral_normalise_children(&mut common::rng(8));
    let x = Tensor::from_vec((0..32).map(|i| (i as f32 * 0.37).sin()).collect(), &[2, 1, 4, 4]).unwrap();
    for _ in 0..3 {
        net.forward(&x).unwrap();
    }
    checkpoint::save_module(&net, &path).unwrap();
    let keys: Vec<String> = checkpoint::module_entries(&net)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for key in ["0.weight_u", "0.weight_v", "3.weight_u", "3.weight_v"] {
        assert!(keys.iter().any(|k| k == key), "{key} not in {keys:?}");
    }

    // Another seed draws other weights and other vectors ...
    let mut other = network(9);
    other.spectral_normalise_children(&mut common::rng(10));
    assert_ne!(
        checkpoint::module_entries(&other),
        checkpoint::module_entries(&net)
    );
    // ... and the same seed the same ones.
    let mut same = network(7);
    same.spectral_normalise_children(&mut common::rng(8));
    let mut fresh = network(7);
    fresh.spectral_normalise_children(&mut common::rng(8));
    assert_eq!(
        checkpoint::module_entries(&same),
        checkpoint::module_entries(&fresh)
    );

    // Loading restores every value, u and v included: same outputs after.
    checkpoint::load_module(&other, &path).unwrap();
    assert_eq!(
        checkpoint::module_entries(&other),
        checkpoint::module_entries(&net)
    );
    other.eval();
    net.eval();
    assert_eq!(
        net.forward(&x).unwrap().to_vec(),
        other.forward(&x).unwrap().to_vec()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
