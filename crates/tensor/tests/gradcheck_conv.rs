//! Gradient and second-derivative checks of convolution, transposed
//! convolution, convolution's weight gradient, pooling, upsampling and the
//! flat gather / scatter-add pair.

mod common;

use common::{check, distinct, randn, rng};
use std::sync::Arc;
use tensor::Tensor;
use tensor::{Conv2dParams, ConvTranspose2dParams};

/// (x shape, w shape, stride, padding, dilation).
type ConvCase = ([usize; 4], [usize; 4], [usize; 2], [usize; 2], [usize; 2]);
/// (x shape [N, Cin, H, W], w shape [Cin, Cout, KH, KW], stride, padding, output_padding, dilation).
type TransposeCase = (
    [usize; 4],
    [usize; 4],
    [usize; 2],
    [usize; 2],
    [usize; 2],
    [usize; 2],
);

/// (x shape, w shape, stride, padding, dilation): strides 1–2, paddings
/// 0–2, dilations 1–2, non-square inputs and kernels, batch 2.
const CONV_CASES: [ConvCase; 6] = [
    ([2, 2, 5, 4], [3, 2, 3, 2], [1, 1], [0, 0], [1, 1]),
    ([2, 2, 5, 4], [3, 2, 2, 3], [2, 1], [1, 2], [1, 1]),
    ([2, 3, 6, 5], [2, 3, 3, 3], [2, 2], [2, 1], [1, 2]),
    ([2, 2, 7, 4], [2, 2, 2, 2], [1, 2], [0, 1], [2, 1]),
    ([2, 1, 6, 6], [3, 1, 4, 4], [2, 2], [1, 1], [1, 1]),
    ([2, 3, 4, 5], [2, 3, 1, 1], [1, 1], [0, 0], [1, 1]),
];

#[test]
fn conv2d_gradients() {
    for (i, (xs, ws, stride, padding, dilation)) in CONV_CASES.into_iter().enumerate() {
        let mut r = rng(i as u64);
        let (x, w, b) = (randn(&xs, &mut r), randn(&ws, &mut r), randn(&[ws[0]], &mut r));
        let params = Conv2dParams {
            stride,
            padding,
            dilation,
        };
        // Case/param pairs are captured by copy so the closures stay `Copy`.
        let without_bias = move |t: &[Tensor<f64>]| t[0].conv2d(&t[1], None, params);
        check(&format!("conv2d case {i}"), without_bias, &[x.clone(), w.clone()]);
        let with_bias = move |t: &[Tensor<f64>]| t[0].conv2d(&t[1], Some(&t[2]), params);
        check(&format!("conv2d+bias case {i}"), with_bias, &[x, w, b]);
    }
}

#[test]
fn conv_transpose2d_gradients() {
    // (x shape [N, Cin, H, W], w shape [Cin, Cout, KH, KW], stride, padding, output_padding, dilation)
    let cases: [TransposeCase; 5] = [
        ([2, 2, 3, 4], [2, 3, 3, 2], [1, 1], [0, 0], [0, 0], [1, 1]),
        ([2, 3, 3, 2], [3, 2, 4, 4], [2, 2], [1, 1], [0, 0], [1, 1]),
        ([2, 2, 3, 3], [2, 2, 3, 2], [2, 1], [1, 0], [1, 0], [1, 1]),
        ([2, 2, 2, 3], [2, 2, 2, 3], [1, 2], [0, 2], [1, 1], [2, 2]),
        ([2, 3, 3, 2], [3, 1, 3, 3], [2, 2], [2, 1], [1, 1], [2, 1]),
    ];
    for (i, (xs, ws, stride, padding, output_padding, dilation)) in cases.into_iter().enumerate() {
        let mut r = rng(10 + i as u64);
        let (x, w, b) = (randn(&xs, &mut r), randn(&ws, &mut r), randn(&[ws[1]], &mut r));
        let params = ConvTranspose2dParams {
            stride,
            padding,
            output_padding,
            dilation,
        };
        let without_bias = move |t: &[Tensor<f64>]| t[0].conv_transpose2d(&t[1], None, params);
        check(
            &format!("conv_transpose2d case {i}"),
            without_bias,
            &[x.clone(), w.clone()],
        );
        let with_bias = move |t: &[Tensor<f64>]| t[0].conv_transpose2d(&t[1], Some(&t[2]), params);
        check(&format!("conv_transpose2d+bias case {i}"), with_bias, &[x, w, b]);
    }
}

#[test]
fn conv2d_weight_grad_gradients() {
    for (i, (xs, ws, stride, padding, dilation)) in CONV_CASES.into_iter().enumerate().take(4) {
        let mut r = rng(20 + i as u64);
        let params = Conv2dParams {
            stride,
            padding,
            dilation,
        };
        let x = randn(&xs, &mut r);
        let y_shape = x.conv2d(&Tensor::zeros(&ws), None, params).unwrap().shape();
        let g = randn(&y_shape, &mut r);
        let kernel = [ws[2], ws[3]];
        let f = move |t: &[Tensor<f64>]| t[0].conv2d_weight_grad(&t[1], kernel, params);
        check(&format!("conv2d_weight_grad case {i}"), f, &[x, g]);
    }
}

#[test]
fn a_conv_stack_has_exact_second_derivatives() {
    // Nonlinear in the weights through the product of two convolutions, so the
    // second derivatives mix all three ops.
    let mut r = rng(30);
    let x = randn(&[2, 2, 6, 5], &mut r);
    let w1 = randn(&[3, 2, 3, 3], &mut r);
    let w2 = randn(&[3, 2, 2, 2], &mut r);
    let f = |t: &[Tensor<f64>]| {
        let h = t[0].conv2d(&t[1], None, Conv2dParams::new(2, 1))?; // [2, 3, 3, 3]
        let up = h.conv_transpose2d(&t[2], None, ConvTranspose2dParams::new(2, 0))?; // [2, 2, 6, 6]
        up.mul(&up)?.sum_axes(&[1], false)
    };
    check("conv -> conv_transpose -> square", f, &[x, w1, w2]);
}

#[test]
fn avg_pool2d_gradients() {
    let mut r = rng(40);
    let x = randn(&[2, 2, 5, 6], &mut r);
    for (kernel, stride, padding) in [
        ([2, 2], [2, 2], [0, 0]),
        ([3, 2], [1, 2], [1, 1]),
        ([3, 3], [2, 1], [1, 0]),
    ] {
        let f = move |t: &[Tensor<f64>]| t[0].avg_pool2d(kernel, stride, padding);
        check(
            &format!("avg_pool2d {kernel:?} {stride:?} {padding:?}"),
            f,
            std::slice::from_ref(&x),
        );
    }
}

#[test]
fn max_pool2d_gradients() {
    // Distinct, well-separated values: no ties, so the arg-max does not move
    // under the finite-difference step.
    let x = distinct(&[2, 2, 5, 6], &mut rng(41));
    for (kernel, stride, padding) in [
        ([2, 2], [2, 2], [0, 0]),
        ([3, 2], [1, 2], [1, 1]),
        ([3, 3], [2, 1], [1, 0]),
    ] {
        let f = move |t: &[Tensor<f64>]| t[0].max_pool2d(kernel, stride, padding);
        check(
            &format!("max_pool2d {kernel:?} {stride:?} {padding:?}"),
            f,
            std::slice::from_ref(&x),
        );
    }
    // Squared, so that the second derivative is not zero.
    let f = |t: &[Tensor<f64>]| {
        let y = t[0].max_pool2d([3, 3], [2, 2], [1, 1])?;
        y.mul(&y)
    };
    check("max_pool2d squared", f, &[x]);
}

#[test]
fn max_pool2d_routes_the_gradient_to_the_arg_max() {
    let x = Tensor::<f64>::from_vec((0..16).map(|v| ((v * 7) % 16) as f64).collect(), &[1, 1, 4, 4])
        .unwrap()
        .with_requires_grad();
    // x = [[0, 7, 14, 5], [12, 3, 10, 1], [8, 15, 6, 13], [4, 11, 2, 9]]: the 2×2
    // windows' maxima 12, 14, 15, 13 sit at flat indices 4, 2, 9, 11.
    let y = x.max_pool2d([2, 2], [2, 2], [0, 0]).unwrap();
    assert_eq!(y.to_vec(), vec![12.0, 14.0, 15.0, 13.0]);
    y.backward_with(
        Some(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]).unwrap()),
        Default::default(),
    )
    .unwrap();
    let mut want = vec![0.0; 16];
    for (k, g) in [(4, 1.0), (2, 2.0), (9, 3.0), (11, 4.0)] {
        want[k] = g;
    }
    assert_eq!(x.grad().unwrap().to_vec(), want);
}

#[test]
fn max_pool2d_padding_never_wins() {
    let x = Tensor::<f64>::full(&[1, 1, 3, 3], -5.0);
    let y = x.max_pool2d([3, 3], [1, 1], [1, 1]).unwrap();
    assert!(y.to_vec().iter().all(|&v| v == -5.0), "{y:?}");
}

#[test]
fn upsample_nearest2d_gradients() {
    let mut r = rng(42);
    let x = randn(&[2, 2, 3, 2], &mut r);
    for scale in [[2, 2], [2, 3], [1, 2]] {
        let f = move |t: &[Tensor<f64>]| t[0].upsample_nearest2d(scale);
        check(
            &format!("upsample_nearest2d {scale:?}"),
            f,
            std::slice::from_ref(&x),
        );
    }
    let f = |t: &[Tensor<f64>]| {
        let y = t[0].upsample_nearest2d([2, 1])?;
        y.mul(&y)
    };
    check("upsample_nearest2d squared", f, &[x]);
}

/// Flat indices with repeats (5 three times) and unused positions.
const PICKS: [usize; 6] = [5, 0, 11, 5, 3, 5];

#[test]
fn gather_and_scatter_add_gradients() {
    let mut r = rng(43);
    let x = randn(&[3, 4], &mut r);
    // Squared, so that the second derivative is not zero.
    let gather = |t: &[Tensor<f64>]| {
        let y = t[0].gather_flat(Arc::from(&PICKS[..]), &[2, 3])?;
        y.mul(&y)
    };
    check("gather_flat", gather, &[x]);
    let y = randn(&[6], &mut r);
    let scatter = |t: &[Tensor<f64>]| {
        let z = t[0].scatter_add_flat(Arc::from(&PICKS[..]), &[3, 4])?;
        z.mul(&z)
    };
    check("scatter_add_flat", scatter, &[y]);
}
