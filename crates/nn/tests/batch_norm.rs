//! BatchNorm layers on the fused normalisation op (`Tensor::batch_normalize`,
//! checked on its own in `crates/tensor/tests/gradcheck_fused.rs`): first- and
//! second-derivative checks with γ and β, the layer against the same
//! computation composed of plain ops on large inputs (the parallel paths),
//! its running estimates, bitwise reproducibility on two threads, and a
//! `Sequential` running BatchNorm and the rectifier after it as one op.

// The gradient-check helpers of the tensor crate's tests, shared.
#[path = "../../tensor/tests/common/mod.rs"]
mod common;

use common::{
    assert_close, assert_same_bits_on_two_threads, bits, check, composed_batch_normalize, input_grad, randn,
    rng,
};
use nn::{BatchNorm1d, BatchNorm2d, LeakyReLU, Module, ReLU, Sequential};
use tensor::{Tensor, no_grad};

#[test]
fn fused_batch_norm_first_and_second_derivatives() {
    let mut r = rng(42);
    let inputs = [
        randn(&[3, 2, 2, 3], &mut r),
        randn(&[2], &mut r),
        randn(&[2], &mut r),
    ];
    check(
        "BatchNorm2d",
        |xs| BatchNorm2d::with_affine(xs[1].clone(), xs[2].clone())?.forward(&xs[0]),
        &inputs,
    );
    // Without the affine part, and through a nonlinearity so that the
    // second derivative of the normalisation itself is exercised.
    check(
        "BatchNorm1d [N, C, L] then tanh",
        |xs| {
            let bn = BatchNorm1d::with_affine(Tensor::ones(&[3]), Tensor::zeros(&[3]))?;
            bn.forward(&xs[0])?.tanh().mul(&xs[1])
        },
        &[randn(&[4, 3, 2], &mut r), randn(&[4, 3, 2], &mut r)],
    );
}

#[test]
fn fused_batch_norm_matches_the_composed_ops_on_large_inputs() {
    // Large enough for the parallel paths; f64 so the comparison is tight.
    let mut r = rng(43);
    let x = randn(&[16, 24, 9, 11], &mut r).with_requires_grad();
    let seed = randn(&[16, 24, 9, 11], &mut r);
    let bn = BatchNorm2d::<f64>::new(24);
    let fused = bn.forward(&x).unwrap();
    let composed = composed_batch_normalize(&x, &[0, 2, 3], 1e-5);
    assert_close(&fused.to_vec(), &composed.to_vec(), 1e-10);
    assert_close(
        &input_grad(&x, &fused, &seed),
        &input_grad(&x, &composed, &seed),
        1e-9,
    );
    // Running statistics: mean and unbiased variance, momentum 0.1.
    let n = (16 * 9 * 11) as f64;
    let var = x.var_axes(&[0, 2, 3], false, 0).unwrap().to_vec();
    let expected: Vec<f64> = var.iter().map(|v| 0.9 + 0.1 * v * n / (n - 1.0)).collect();
    assert_close(&bn.running_var().to_vec(), &expected, 1e-12);
}

#[test]
fn fast_paths_are_bitwise_reproducible_on_two_threads() {
    assert_same_bits_on_two_threads(|| {
        let mut r = rng(46);
        let x = Tensor::<f32>::randn(&[64, 128, 7, 7], 0.0, 1.0, &mut r)
            .unwrap()
            .with_requires_grad();
        let bn = BatchNorm2d::<f32>::new(128);
        let y = bn.forward(&x).unwrap().leaky_relu(0.2);
        let s = no_grad(|| y.sum_axes(&[0, 2, 3], false).unwrap());
        y.sum().backward().unwrap();
        (y.to_vec(), s.to_vec(), x.grad().unwrap().to_vec())
    });
}

#[test]
fn sequential_runs_batch_norm_and_its_rectifier_as_one_op_with_the_same_bits() {
    // BatchNorm2d then ReLU or LeakyReLU(0.2), as DCGAN's generator and
    // discriminator have them: in training mode a `Sequential` makes them
    // one op (`batch_normalize_affine_rectified`); its output, the running
    // estimates and the gradients of x, γ and β are those of the two
    // layers run one after the other, to the bit. In evaluation mode the
    // layers run as they are.
    let mut r = rng(47);
    let x = Tensor::<f32>::randn(&[16, 8, 5, 5], 0.5, 2.0, &mut r).unwrap();
    let seed = Tensor::<f32>::randn(&[16, 8, 5, 5], 0.0, 1.0, &mut r).unwrap();
    let gamma = Tensor::<f32>::randn(&[8], 1.0, 0.5, &mut r).unwrap();
    let beta = Tensor::<f32>::randn(&[8], 0.0, 0.5, &mut r).unwrap();
    for leaky in [false, true] {
        let run = |together: bool, training: bool| {
            let bn = BatchNorm2d::with_affine(gamma.detach(), beta.detach()).unwrap();
            let (weight, bias) = (bn.weight().clone(), bn.bias().clone());
            let mut net = Sequential::new().push(bn);
            net = if leaky {
                net.push(LeakyReLU::new(0.2))
            } else {
                net.push(ReLU)
            };
            net.set_training(training);
            let x = x.detach().with_requires_grad();
            let y = if together {
                net.forward(&x).unwrap()
            } else {
                // The same layers, one at a time, outside the Sequential.
                let bn_out = BatchNorm2d::with_affine(weight.clone(), bias.clone())
                    .map(|mut bn| {
                        bn.set_training(training);
                        bn
                    })
                    .unwrap()
                    .forward(&x)
                    .unwrap();
                if leaky {
                    bn_out.leaky_relu(0.2)
                } else {
                    bn_out.relu()
                }
            };
            let op = y.op_name();
            y.mul(&seed).unwrap().sum().backward().unwrap();
            let grads = [&x, &weight, &bias].map(|t| bits(&t.grad().unwrap().to_vec()));
            (op, bits(&y.to_vec()), grads)
        };
        for training in [true, false] {
            let (op, y, grads) = run(true, training);
            let (_, y_apart, grads_apart) = run(false, training);
            let fused = op == Some("batch_normalize_affine_rectified");
            assert_eq!(fused, training, "leaky {leaky}, training {training}: op {op:?}");
            assert_eq!(y, y_apart, "leaky {leaky}, training {training}: values");
            assert_eq!(
                grads, grads_apart,
                "leaky {leaky}, training {training}: gradients"
            );
        }
    }
}
