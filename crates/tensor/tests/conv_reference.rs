//! Forward values of conv2d, conv_transpose2d and the pooling ops against
//! plain nested loops written straight from the definitions, in f32 and f64;
//! and a determinism check under a two-thread pool.

mod common;

use tensor::{Conv2dParams, ConvTranspose2dParams};
use tensor::{Element, Tensor};

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

/// A tensor of values from `rng`, in any element type.
fn random<T: Element>(shape: &[usize], seed: u64) -> Tensor<T> {
    common::randn(shape, &mut common::rng(seed)).cast::<T>()
}

/// `y[n,o,i,j] = b[o] + Σ_{c,a,e} w[o,c,a,e] · x[n, c, i·s−p+a·d, j·s−p+e·d]`,
/// skipping positions outside the image.
fn conv2d_direct(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: Option<&Tensor<f64>>,
    p: Conv2dParams,
) -> (Vec<f64>, Vec<usize>) {
    let (xs, ws) = (x.shape(), w.shape());
    let (xa, wa) = (x.array(), w.array());
    let out_size = |axis: usize| {
        (xs[2 + axis] + 2 * p.padding[axis] - p.dilation[axis] * (ws[2 + axis] - 1) - 1) / p.stride[axis] + 1
    };
    let (oh, ow) = (out_size(0), out_size(1));
    let mut y = Vec::new();
    for n in 0..xs[0] {
        for o in 0..ws[0] {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b.to_vec()[o]);
                    for c in 0..xs[1] {
                        for a in 0..ws[2] {
                            for e in 0..ws[3] {
                                let r =
                                    (i * p.stride[0] + a * p.dilation[0]) as isize - p.padding[0] as isize;
                                let q =
                                    (j * p.stride[1] + e * p.dilation[1]) as isize - p.padding[1] as isize;
                                if r >= 0 && q >= 0 && (r as usize) < xs[2] && (q as usize) < xs[3] {
                                    acc += wa[[o, c, a, e]] * xa[[n, c, r as usize, q as usize]];
                                }
                            }
                        }
                    }
                    y.push(acc);
                }
            }
        }
    }
    (y, vec![xs[0], ws[0], oh, ow])
}

/// The transposed convolution as a scatter: every input pixel `x[n,ci,h,w]`
/// adds `x · w[ci,co,a,e]` at output `(h·s − p + a·d, w·s − p + e·d)`.
fn conv_transpose2d_direct(
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: Option<&Tensor<f64>>,
    p: ConvTranspose2dParams,
) -> (Vec<f64>, Vec<usize>) {
    let (xs, ws) = (x.shape(), w.shape());
    let (xa, wa) = (x.array(), w.array());
    let size = |axis: usize| {
        (xs[2 + axis] - 1) * p.stride[axis]
            + p.dilation[axis] * (ws[2 + axis] - 1)
            + p.output_padding[axis]
            + 1
            - 2 * p.padding[axis]
    };
    let (oh, ow) = (size(0), size(1));
    let mut y = vec![0.0; xs[0] * ws[1] * oh * ow];
    for n in 0..xs[0] {
        for co in 0..ws[1] {
            let bias = b.map_or(0.0, |b| b.to_vec()[co]);
            y[(n * ws[1] + co) * oh * ow..(n * ws[1] + co + 1) * oh * ow].fill(bias);
            for ci in 0..xs[1] {
                for h in 0..xs[2] {
                    for wi in 0..xs[3] {
                        for a in 0..ws[2] {
                            for e in 0..ws[3] {
                                let r =
                                    (h * p.stride[0] + a * p.dilation[0]) as isize - p.padding[0] as isize;
                                let q =
                                    (wi * p.stride[1] + e * p.dilation[1]) as isize - p.padding[1] as isize;
                                if r >= 0 && q >= 0 && (r as usize) < oh && (q as usize) < ow {
                                    y[((n * ws[1] + co) * oh + r as usize) * ow + q as usize] +=
                                        xa[[n, ci, h, wi]] * wa[[ci, co, a, e]];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (y, vec![xs[0], ws[1], oh, ow])
}

/// Max or average over each window (padding excluded from max, counted as 0 in the average).
fn pool_direct(x: &Tensor<f64>, k: [usize; 2], s: [usize; 2], p: [usize; 2], max: bool) -> Vec<f64> {
    let xs = x.shape();
    let xa = x.array();
    let (oh, ow) = (
        (xs[2] + 2 * p[0] - k[0]) / s[0] + 1,
        (xs[3] + 2 * p[1] - k[1]) / s[1] + 1,
    );
    let mut y = Vec::new();
    for n in 0..xs[0] {
        for c in 0..xs[1] {
            for i in 0..oh {
                for j in 0..ow {
                    let (mut best, mut sum) = (f64::NEG_INFINITY, 0.0);
                    for a in 0..k[0] {
                        for e in 0..k[1] {
                            let r = (i * s[0] + a) as isize - p[0] as isize;
                            let q = (j * s[1] + e) as isize - p[1] as isize;
                            if r >= 0 && q >= 0 && (r as usize) < xs[2] && (q as usize) < xs[3] {
                                let v = xa[[n, c, r as usize, q as usize]];
                                best = best.max(v);
                                sum += v;
                            }
                        }
                    }
                    y.push(if max { best } else { sum / (k[0] * k[1]) as f64 });
                }
            }
        }
    }
    y
}

/// Asserts `got` (any precision) matches `want` within `tol` relative to the largest value.
fn assert_close<T: Element>(what: &str, got: &Tensor<T>, want: &[f64], shape: &[usize], tol: f64) {
    assert_eq!(got.shape(), shape, "{what}: shape");
    let got: Vec<f64> = got.to_vec().into_iter().map(|v| v.to_f64()).collect();
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * scale,
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

const CONV_CASES: [ConvCase; 8] = [
    // (x shape, w shape, stride, padding, dilation)
    ([2, 3, 7, 6], [4, 3, 3, 3], [1, 1], [0, 0], [1, 1]),
    ([2, 3, 7, 6], [4, 3, 3, 2], [2, 1], [1, 2], [1, 1]),
    ([1, 2, 9, 8], [3, 2, 2, 3], [1, 2], [2, 0], [2, 1]),
    ([3, 1, 28, 28], [5, 1, 4, 4], [2, 2], [1, 1], [1, 1]),
    ([2, 5, 6, 6], [2, 5, 1, 1], [1, 1], [0, 0], [1, 1]),
    ([2, 2, 5, 11], [3, 2, 3, 5], [3, 2], [1, 2], [1, 2]),
    // Batches that take several groups of samples (im2col.rs), the last one
    // partial: 14×14 outputs go in groups of 4, 30×30 alone.
    ([6, 1, 28, 28], [2, 1, 4, 4], [2, 2], [1, 1], [1, 1]),
    ([3, 1, 30, 30], [2, 1, 3, 3], [1, 1], [1, 1], [1, 1]),
];

#[test]
fn conv2d_matches_direct_loops() {
    for (i, (xs, ws, stride, padding, dilation)) in CONV_CASES.into_iter().enumerate() {
        let (x, w, b) = (
            random::<f64>(&xs, i as u64),
            random::<f64>(&ws, 100 + i as u64),
            random::<f64>(&[ws[0]], 200),
        );
        let params = Conv2dParams {
            stride,
            padding,
            dilation,
        };
        for bias in [None, Some(&b)] {
            let (want, shape) = conv2d_direct(&x, &w, bias, params);
            let got = x.conv2d(&w, bias, params).unwrap();
            assert_close(&format!("conv2d f64 case {i}"), &got, &want, &shape, 1e-12);
            let (x32, w32, b32) = (x.cast::<f32>(), w.cast::<f32>(), bias.map(|b| b.cast::<f32>()));
            let got = x32.conv2d(&w32, b32.as_ref(), params).unwrap();
            assert_close(&format!("conv2d f32 case {i}"), &got, &want, &shape, 1e-5);
        }
    }
}

#[test]
fn conv_transpose2d_matches_direct_loops() {
    let cases: [TransposeCase; 6] = [
        // (x shape [N, Cin, H, W], w shape [Cin, Cout, KH, KW], stride, padding, output_padding, dilation)
        ([2, 3, 4, 5], [3, 2, 3, 3], [1, 1], [0, 0], [0, 0], [1, 1]),
        ([2, 3, 4, 5], [3, 2, 3, 2], [2, 1], [1, 0], [1, 0], [1, 1]),
        ([1, 4, 7, 7], [4, 3, 4, 4], [2, 2], [1, 1], [0, 0], [1, 1]),
        ([2, 2, 3, 4], [2, 3, 2, 3], [2, 3], [0, 1], [1, 2], [2, 1]),
        ([1, 2, 5, 3], [2, 2, 3, 2], [1, 1], [2, 1], [1, 0], [2, 1]),
        ([2, 3, 3, 3], [3, 1, 5, 4], [3, 2], [2, 1], [2, 1], [1, 2]),
    ];
    for (i, (xs, ws, stride, padding, output_padding, dilation)) in cases.into_iter().enumerate() {
        let (x, w, b) = (
            random::<f64>(&xs, i as u64),
            random::<f64>(&ws, 50 + i as u64),
            random::<f64>(&[ws[1]], 7),
        );
        let params = ConvTranspose2dParams {
            stride,
            padding,
            output_padding,
            dilation,
        };
        for bias in [None, Some(&b)] {
            let (want, shape) = conv_transpose2d_direct(&x, &w, bias, params);
            let got = x.conv_transpose2d(&w, bias, params).unwrap();
            assert_close(
                &format!("conv_transpose2d f64 case {i}"),
                &got,
                &want,
                &shape,
                1e-12,
            );
            let (x32, w32, b32) = (x.cast::<f32>(), w.cast::<f32>(), bias.map(|b| b.cast::<f32>()));
            let got = x32.conv_transpose2d(&w32, b32.as_ref(), params).unwrap();
            assert_close(
                &format!("conv_transpose2d f32 case {i}"),
                &got,
                &want,
                &shape,
                1e-5,
            );
        }
    }
}

#[test]
fn weight_grad_matches_the_gradient_of_a_direct_sum() {
    // Σ_{n,o,i,j} g·conv2d(x, w) is linear in w with coefficient Cwᵀ(x, g):
    // compare with the difference quotient along each basis direction of w,
    // which for a linear function is exact.
    for (i, (xs, ws, stride, padding, dilation)) in CONV_CASES.into_iter().enumerate().take(4) {
        let x = random::<f64>(&xs, i as u64);
        let params = Conv2dParams {
            stride,
            padding,
            dilation,
        };
        let (probe, shape) = conv2d_direct(&x, &Tensor::zeros(&ws), None, params);
        let g = random::<f64>(&shape, 9);
        let got = x.conv2d_weight_grad(&g, [ws[2], ws[3]], params).unwrap();
        let mut want = Vec::new();
        let numel: usize = ws.iter().product();
        for k in 0..numel {
            let mut e = vec![0.0; numel];
            e[k] = 1.0;
            let (y, _) = conv2d_direct(&x, &Tensor::from_vec(e, &ws).unwrap(), None, params);
            want.push(y.iter().zip(g.to_vec()).map(|(y, g)| y * g).sum::<f64>());
        }
        assert_eq!(probe.len(), g.numel());
        assert_close(&format!("weight grad case {i}"), &got, &want, &ws, 1e-12);
    }
}

#[test]
fn pools_and_upsampling_match_direct_loops() {
    let cases = [
        ([2, 3, 6, 7], [2, 2], [2, 2], [0, 0]),
        ([1, 2, 7, 5], [3, 3], [2, 1], [1, 1]),
        ([2, 1, 5, 8], [3, 2], [1, 2], [1, 0]),
    ];
    for (i, (xs, k, s, p)) in cases.into_iter().enumerate() {
        let x = random::<f64>(&xs, 30 + i as u64);
        let oh = (xs[2] + 2 * p[0] - k[0]) / s[0] + 1;
        let ow = (xs[3] + 2 * p[1] - k[1]) / s[1] + 1;
        let shape = [xs[0], xs[1], oh, ow];
        for max in [false, true] {
            let want = pool_direct(&x, k, s, p, max);
            let pool = |t: &Tensor<f64>| {
                if max {
                    t.max_pool2d(k, s, p)
                } else {
                    t.avg_pool2d(k, s, p)
                }
            };
            assert_close(
                &format!("pool case {i} max={max} f64"),
                &pool(&x).unwrap(),
                &want,
                &shape,
                1e-12,
            );
            let x32 = x.cast::<f32>();
            let got = if max {
                x32.max_pool2d(k, s, p)
            } else {
                x32.avg_pool2d(k, s, p)
            }
            .unwrap();
            assert_close(&format!("pool case {i} max={max} f32"), &got, &want, &shape, 1e-5);
        }
        // Nearest upsampling: y[n, c, h, w] = x[n, c, h / sh, w / sw].
        let scale = [k[0], s[1] + 1];
        let up = x.upsample_nearest2d(scale).unwrap();
        let xa = x.array();
        let mut want = Vec::new();
        for n in 0..xs[0] {
            for c in 0..xs[1] {
                for h in 0..xs[2] * scale[0] {
                    for w in 0..xs[3] * scale[1] {
                        want.push(xa[[n, c, h / scale[0], w / scale[1]]]);
                    }
                }
            }
        }
        let up_shape = [xs[0], xs[1], xs[2] * scale[0], xs[3] * scale[1]];
        assert_close(&format!("upsample case {i}"), &up, &want, &up_shape, 0.0);
        assert_close(
            &format!("upsample case {i} f32"),
            &x.cast::<f32>().upsample_nearest2d(scale).unwrap(),
            &want,
            &up_shape,
            1e-7,
        );
    }
}

#[test]
fn conv_ops_are_bitwise_deterministic_on_two_threads() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    // Big enough to take the parallel path (many groups, over a million multiply-adds).
    let run = || {
        pool.install(|| {
            let x = random::<f32>(&[32, 8, 14, 14], 1).with_requires_grad();
            let w = random::<f32>(&[16, 8, 4, 4], 2).with_requires_grad();
            let wt = random::<f32>(&[16, 4, 4, 4], 3).with_requires_grad();
            let b = random::<f32>(&[4], 4).with_requires_grad();
            let y = x.conv2d(&w, None, Conv2dParams::new(2, 1)).unwrap();
            let z = y
                .conv_transpose2d(&wt, Some(&b), ConvTranspose2dParams::new(2, 1))
                .unwrap();
            let loss = z.mul(&z).unwrap().sum();
            loss.backward().unwrap();
            let grads: Vec<Vec<u32>> = [&x, &w, &wt, &b]
                .iter()
                .map(|t| common::bits(&t.grad().unwrap().to_vec()))
                .collect();
            (common::bits(&z.to_vec()), grads)
        })
    };
    let (first, second) = (run(), run());
    assert!(first.0.iter().any(|&v| v != 0));
    assert_eq!(first.0, second.0, "forward differs between runs");
    assert_eq!(first.1, second.1, "gradients differ between runs");
}

#[test]
fn bad_arguments_are_reported_with_op_and_shapes() {
    let x = Tensor::<f32>::zeros(&[2, 3, 5, 5]);
    let err = x
        .conv2d(&Tensor::zeros(&[4, 2, 3, 3]), None, Conv2dParams::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("conv2d") && err.to_string().contains("[4, 2, 3, 3]"),
        "{err}"
    );
    let err = x
        .conv2d(&Tensor::zeros(&[4, 3, 8, 3]), None, Conv2dParams::default())
        .unwrap_err();
    assert!(err.to_string().contains("padded input"), "{err}");
    let err = x
        .conv2d(&Tensor::zeros(&[4, 3, 3, 3]), None, Conv2dParams::new(0, 0))
        .unwrap_err();
    assert!(err.to_string().contains("stride"), "{err}");
    let err = Tensor::<f32>::zeros(&[3, 5, 5])
        .conv2d(&Tensor::zeros(&[4, 3, 3, 3]), None, Conv2dParams::default())
        .unwrap_err();
    assert!(
        err.to_string().contains("4-D") && err.to_string().contains("[3, 5, 5]"),
        "{err}"
    );
    let err = x
        .conv2d(
            &Tensor::zeros(&[4, 3, 3, 3]),
            Some(&Tensor::zeros(&[3])),
            Conv2dParams::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("bias"), "{err}");
    let params = ConvTranspose2dParams::new(2, 1).with_output_padding(2);
    let err = x
        .conv_transpose2d(&Tensor::zeros(&[3, 2, 4, 4]), None, params)
        .unwrap_err();
    assert!(
        err.to_string().contains("conv_transpose2d") && err.to_string().contains("output_padding"),
        "{err}"
    );
    let err = x.max_pool2d([2, 2], [2, 2], [2, 2]).unwrap_err();
    assert!(err.to_string().contains("max_pool2d"), "{err}");
    let err = x.avg_pool2d([2, 2], [0, 1], [0, 0]).unwrap_err();
    assert!(err.to_string().contains("avg_pool2d"), "{err}");
    let err = x
        .gather_flat(std::sync::Arc::from(vec![0, 150]), &[2])
        .unwrap_err();
    assert!(
        err.to_string().contains("gather_flat") && err.to_string().contains("150"),
        "{err}"
    );
}

#[test]
fn an_empty_batch_gives_an_empty_output_and_zero_weight_gradient() {
    let x = Tensor::<f64>::zeros(&[0, 2, 5, 5]).with_requires_grad();
    let w = Tensor::<f64>::ones(&[3, 2, 3, 3]).with_requires_grad();
    let y = x.conv2d(&w, None, Conv2dParams::new(1, 1)).unwrap();
    assert_eq!(y.shape(), vec![0, 3, 5, 5]);
    y.sum().backward().unwrap();
    assert_eq!(w.grad().unwrap().to_vec(), vec![0.0; 54]);
}
