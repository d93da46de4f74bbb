//! The nn layers: gradient checks in f64 (first and second order), naming,
//! train/eval behaviour and initialisation statistics.

// The gradient-check helpers of the tensor crate's tests, shared.
#[path = "../../tensor/tests/common/mod.rs"]
mod common;

use common::{check, randn, rng};
use nn::init;
use nn::{
    BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Embedding, Flatten, LeakyReLU, Linear,
    Module, ReLU, Reshape, Sequential, Sigmoid, Tanh,
};
use tensor::{Conv2dParams, ConvTranspose2dParams, Tensor};

#[test]
fn linear_gradients_wrt_input_weight_and_bias() {
    let mut r = rng(1);
    let inputs = [
        randn(&[3, 4], &mut r),
        randn(&[5, 4], &mut r),
        randn(&[5], &mut r),
    ];
    check(
        "Linear",
        |xs| Linear::from_tensors(xs[1].clone(), Some(xs[2].clone()))?.forward(&xs[0]),
        &inputs,
    );
}

#[test]
fn conv_layers_gradients() {
    let mut r = rng(2);
    let params = Conv2dParams {
        stride: [2, 1],
        padding: [1, 0],
        dilation: [1, 1],
    };
    let inputs = [
        randn(&[2, 2, 5, 4], &mut r),
        randn(&[3, 2, 3, 2], &mut r),
        randn(&[3], &mut r),
    ];
    check(
        "Conv2d",
        |xs| {
            Conv2d {
                weight: xs[1].clone(),
                bias: Some(xs[2].clone()),
                params,
            }
            .forward(&xs[0])
        },
        &inputs,
    );
    let params = ConvTranspose2dParams {
        stride: [2, 2],
        padding: [1, 0],
        output_padding: [1, 0],
        dilation: [1, 1],
    };
    let inputs = [
        randn(&[2, 3, 3, 2], &mut r),
        randn(&[3, 2, 3, 3], &mut r),
        randn(&[2], &mut r),
    ];
    check(
        "ConvTranspose2d",
        |xs| {
            ConvTranspose2d {
                weight: xs[1].clone(),
                bias: Some(xs[2].clone()),
                params,
            }
            .forward(&xs[0])
        },
        &inputs,
    );
}

#[test]
fn batch_norm_gradients_in_training_mode() {
    let mut r = rng(3);
    let inputs = [randn(&[4, 3], &mut r), randn(&[3], &mut r), randn(&[3], &mut r)];
    check(
        "BatchNorm1d",
        |xs| BatchNorm1d::with_affine(xs[1].clone(), xs[2].clone())?.forward(&xs[0]),
        &inputs,
    );
    let inputs = [
        randn(&[2, 3, 2, 3], &mut r),
        randn(&[3], &mut r),
        randn(&[3], &mut r),
    ];
    check(
        "BatchNorm2d",
        |xs| BatchNorm2d::with_affine(xs[1].clone(), xs[2].clone())?.forward(&xs[0]),
        &inputs,
    );
}

#[test]
fn batch_norm_running_statistics_and_eval_mode() {
    // Channel 0 holds 1, 2, 3, 4; channel 1 holds 10, 10, 10, 10 (N=2, L=2).
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 10.0, 10.0, 3.0, 4.0, 10.0, 10.0], &[2, 2, 2]).unwrap();
    let mut bn = BatchNorm1d::<f64>::new(2);
    let y = bn.forward(&x).unwrap();
    // Batch mean 2.5, biased variance 1.25 for channel 0.
    let expected0 = (1.0 - 2.5) / (1.25f64 + 1e-5).sqrt();
    assert!((y.to_vec()[0] - expected0).abs() < 1e-12);
    // Running mean: 0.9·0 + 0.1·2.5; running var: 0.9·1 + 0.1·(unbiased 5/3).
    let rm = bn.running_mean().to_vec();
    let rv = bn.running_var().to_vec();
    assert!((rm[0] - 0.25).abs() < 1e-12 && (rm[1] - 1.0).abs() < 1e-12);
    assert!((rv[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-12 && (rv[1] - 0.9).abs() < 1e-12);
    assert_eq!(bn.num_batches_tracked(), 1);
    // Eval mode normalises with the running estimates and leaves them alone.
    bn.eval();
    let y = bn.forward(&x).unwrap();
    assert!((y.to_vec()[0] - (1.0 - 0.25) / (rv[0] + 1e-5).sqrt()).abs() < 1e-12);
    assert_eq!(bn.num_batches_tracked(), 1);
    // Wrong channel count and wrong rank are named.
    let err = BatchNorm2d::<f64>::new(3)
        .forward(&Tensor::zeros(&[2, 4, 2, 2]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("BatchNorm2d") && err.contains("[2, 4, 2, 2]"),
        "{err}"
    );
    let err = BatchNorm2d::<f64>::new(3)
        .forward(&Tensor::zeros(&[2, 3]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("BatchNorm2d") && err.contains("rank"), "{err}");
}

#[test]
fn embedding_dropout_and_shape_layers_gradients() {
    let mut r = rng(4);
    check(
        "Embedding",
        |xs| {
            Embedding {
                weight: xs[0].clone(),
            }
            .lookup(&[2, 0, 2, 1])
        },
        &[randn(&[3, 4], &mut r)],
    );
    // A fresh layer with the same seed draws the same mask on every call.
    check(
        "Dropout",
        |xs| Module::<f64>::forward(&Dropout::new(0.3, 7), &xs[0]),
        &[randn(&[4, 5], &mut r)],
    );
    check(
        "Sequential(Flatten, Reshape, Tanh, Sigmoid, LeakyReLU)",
        |xs| {
            Sequential::new()
                .push(Flatten)
                .push(Reshape::new(&[2, 6]))
                .push(Tanh)
                .push(Sigmoid)
                .push(LeakyReLU::new(0.2))
                .forward(&xs[0])
        },
        &[randn(&[2, 3, 4], &mut r)],
    );
}

#[test]
fn dropout_is_identity_in_eval_and_seeded_in_training() {
    let x = Tensor::<f32>::ones(&[1000]);
    let mut a = Dropout::new(0.5, 1);
    let b = Dropout::new(0.5, 1);
    let ya = Module::<f32>::forward(&a, &x).unwrap().to_vec();
    let yb = Module::<f32>::forward(&b, &x).unwrap().to_vec();
    assert_eq!(ya, yb, "same seed, same mask");
    let kept = ya.iter().filter(|&&v| v != 0.0).count();
    assert!((400..600).contains(&kept), "kept {kept} of 1000 at p = 0.5");
    assert!(ya.iter().all(|&v| v == 0.0 || v == 2.0));
    Module::<f32>::eval(&mut a);
    assert_eq!(Module::<f32>::forward(&a, &x).unwrap().to_vec(), x.to_vec());
}

#[test]
fn parameter_names_are_dotted_and_stable() {
    let mut r = rng(5);
    let net = Sequential::<f32>::new()
        .push(Linear::new(4, 8, &mut r))
        .push(BatchNorm1d::new(8))
        .push(ReLU)
        .push(Linear::new(8, 1, &mut r).without_bias());
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight"]);
    let all: Vec<String> = nn::checkpoint::module_entries(&net)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        all,
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
            "3.weight"
        ]
    );
    assert_eq!(net.parameter_count(), 4 * 8 + 8 + 8 + 8 + 8);
}

#[test]
fn initialisation_follows_pytorch_and_dcgan() {
    let mut r = rng(6);
    // PyTorch's default Linear init is U(±1/√fan_in) for weight and bias.
    let layer = Linear::<f64>::new(400, 300, &mut r);
    let bound = 1.0 / 400f64.sqrt();
    let w = layer.weight.to_vec();
    assert!(w.iter().all(|v| v.abs() <= bound));
    let max = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(max > 0.99 * bound, "the bound is reached: {max} vs {bound}");
    let var = w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64;
    assert!(
        (var - bound * bound / 3.0).abs() < 0.03 * bound * bound,
        "uniform variance b²/3"
    );
    // Transposed conv: fan_in is out_channels·k·k, as in PyTorch.
    let deconv = ConvTranspose2d::<f64>::new(128, 64, 4, 2, 1, &mut r);
    let bound = 1.0 / (64.0f64 * 16.0).sqrt();
    assert!(deconv.weight.to_vec().iter().all(|v| v.abs() <= bound));
    // Xavier normal: std = √(2/(fan_in + fan_out)).
    let x = init::xavier_normal::<f64, _>(&[200, 300], 1.0, &mut r)
        .unwrap()
        .to_vec();
    let std = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
    assert!((std - (2.0f64 / 500.0).sqrt()).abs() < 0.002, "{std}");
    // DCGAN: conv weights N(0, 0.02), BatchNorm γ N(1, 0.02) and β = 0.
    let net = Sequential::<f64>::new()
        .push(Conv2d::new(16, 32, 4, 2, 1, &mut r))
        .push(BatchNorm2d::new(32));
    init::dcgan(&net, &mut r).unwrap();
    let params = net.named_parameters();
    let conv = params[0].1.to_vec();
    let std = (conv.iter().map(|v| v * v).sum::<f64>() / conv.len() as f64).sqrt();
    assert!((std - 0.02).abs() < 0.001, "{std}");
    let gamma = params[2].1.to_vec();
    assert!(gamma.iter().all(|g| (g - 1.0).abs() < 0.1) && gamma.iter().any(|&g| g != 1.0));
    assert!(params[3].1.to_vec().iter().all(|&b| b == 0.0));
}
