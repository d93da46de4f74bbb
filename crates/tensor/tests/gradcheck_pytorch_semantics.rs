//! Gradient checks (first and second order) of the ops and forms that follow
//! PyTorch's semantics (issue 16): strided slices, index_select on any axis,
//! negative dims, torch.matmul's broadcasting and vector operands, linear on
//! `[…, in]`, a tensor exponent, reverse scalar division, one-bound clamps,
//! softplus's beta and threshold, and average pooling without the padding;
//! plus their values on small hand-worked examples and their errors (the
//! layers' side, `Linear` on `[…, in]` and `Embedding` of any index shape:
//! `crates/nn/tests/pytorch_semantics.rs`). Values against PyTorch itself:
//! `tests/torch_reference.rs`.
//!
//! Inputs avoid the non-differentiable points by construction (clamp bounds,
//! softplus's threshold, a zero or negative base).

mod common;

use common::{away_from_zero, check, randn, rng, uniform};
use tensor::{Result, Tensor};

fn sq(t: Tensor<f64>) -> Result<Tensor<f64>> {
    t.mul(&t)
}

fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
    result.expect_err("expected an error").to_string()
}

#[test]
fn strided_slice_gradients_and_values() {
    let mut rng = rng(160);
    let x = randn(&[3, 8, 2], &mut rng);
    for (axis, start, end, step) in [
        (1, 1, 7, 2),
        (1, 0, 8, 3),
        (-2, 2, 100, 4),
        (0, 0, 3, 2),
        (2, 1, 2, 5),
    ] {
        check(
            &format!("slice({axis}, {start}, {end}, {step})"),
            move |xs| sq(xs[0].slice(axis, start, end, step)?),
            std::slice::from_ref(&x),
        );
    }
    let v = Tensor::<f64>::from_vec((0..10).map(f64::from).collect(), &[10]).unwrap();
    assert_eq!(v.slice(0, 1, 10, 3).unwrap().to_vec(), vec![1.0, 4.0, 7.0]);
    assert_eq!(v.slice(-1, 8, 20, 5).unwrap().to_vec(), vec![8.0]);
    assert_eq!(v.slice(0, 5, 5, 2).unwrap().shape(), vec![0]);
    // The gradient lands on the picked entries only.
    let v = v.with_requires_grad();
    v.slice(0, 1, 10, 3).unwrap().sum().backward().unwrap();
    let mut expected = vec![0.0; 10];
    for i in [1, 4, 7] {
        expected[i] = 1.0;
    }
    assert_eq!(v.grad().unwrap().to_vec(), expected);
    let e = message(v.slice(0, 0, 4, 0));
    assert!(e.contains("slice") && e.contains("step"), "{e}");
    let e = message(v.slice(1, 0, 4, 1));
    assert!(e.contains("slice") && e.contains("[10]"), "{e}");
}

#[test]
fn index_select_on_any_axis() {
    let mut rng = rng(161);
    let x = randn(&[2, 3, 4], &mut rng);
    for axis in [0, 1, 2, -1, -2] {
        check(
            &format!("index_select axis {axis}"),
            move |xs| sq(xs[0].index_select(axis, &[1, 0, 1])?),
            std::slice::from_ref(&x),
        );
    }
    let m = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[2, 3]).unwrap();
    assert_eq!(
        m.index_select(1, &[2, 2, 0]).unwrap().to_vec(),
        vec![2.0, 2.0, 0.0, 5.0, 5.0, 3.0]
    );
    let e = message(m.index_select(1, &[3]));
    assert!(e.contains("index_select") && e.contains("index 3"), "{e}");
    let e = message(m.index_select(-3, &[0]));
    assert!(e.contains("index_select") && e.contains("-3"), "{e}");
}

#[test]
fn negative_dims_count_from_the_back() {
    let mut rng = rng(162);
    let x = randn(&[2, 3, 4], &mut rng);
    let same = |a: Tensor<f64>, b: Tensor<f64>| {
        assert_eq!(a.shape(), b.shape());
        assert_eq!(a.to_vec(), b.to_vec());
    };
    same(x.softmax(-1).unwrap(), x.softmax(2).unwrap());
    same(x.log_softmax(-3).unwrap(), x.log_softmax(0).unwrap());
    same(
        x.sum_axes(&[0, -1], true).unwrap(),
        x.sum_axes(&[0, 2], true).unwrap(),
    );
    same(
        x.mean_axes(&[-2], false).unwrap(),
        x.mean_axes(&[1], false).unwrap(),
    );
    same(
        x.var_axes(&[-1], false, 1).unwrap(),
        x.var_axes(&[2], false, 1).unwrap(),
    );
    same(x.max_axis(-1, false).unwrap(), x.max_axis(2, false).unwrap());
    same(x.min_axis(-2, true).unwrap(), x.min_axis(1, true).unwrap());
    assert_eq!(x.argmax_axis(-1).unwrap(), x.argmax_axis(2).unwrap());
    same(x.transpose(-1, 0).unwrap(), x.transpose(2, 0).unwrap());
    same(x.permute(&[-1, 0, 1]).unwrap(), x.permute(&[2, 0, 1]).unwrap());
    same(x.flatten(-2, -1).unwrap(), x.flatten(1, 2).unwrap());
    same(x.unsqueeze(-1).unwrap(), x.unsqueeze(3).unwrap());
    same(x.unsqueeze(-4).unwrap(), x.unsqueeze(0).unwrap());
    same(x.narrow(-1, 1, 2).unwrap(), x.narrow(2, 1, 2).unwrap());
    same(
        Tensor::concat(&[&x, &x], -2).unwrap(),
        Tensor::concat(&[&x, &x], 1).unwrap(),
    );
    same(
        Tensor::stack(&[&x, &x], -1).unwrap(),
        Tensor::stack(&[&x, &x], 3).unwrap(),
    );
    let y = randn(&[2, 1, 3], &mut rng);
    same(y.squeeze(-2).unwrap(), y.squeeze(1).unwrap());
    check("softmax(-1)", |xs| xs[0].softmax(-1), std::slice::from_ref(&x));
    check(
        "sum_axes(&[-1, 0])",
        |xs| sq(xs[0].sum_axes(&[-1, 0], false)?),
        std::slice::from_ref(&x),
    );
    for (what, e) in [
        ("softmax", message(x.softmax(-4))),
        ("sum_axes", message(x.sum_axes(&[3], false))),
        ("unsqueeze", message(x.unsqueeze(-5))),
        ("transpose", message(x.transpose(0, -4))),
        ("sum_axes", message(x.sum_axes(&[2, -1], false))),
    ] {
        assert!(
            (e.contains(what) && e.contains("[2, 3, 4]")) || e.contains("repeat"),
            "{e}"
        );
    }
}

#[test]
fn matmul_broadcasts_batch_dims_and_takes_vectors() {
    let mut rng = rng(163);
    let pairs: [(&[usize], &[usize], &[usize]); 9] = [
        (&[2, 3, 4], &[4, 5], &[2, 3, 5]),
        (&[2, 1, 3, 4], &[3, 4, 2], &[2, 3, 3, 2]),
        (&[1, 3, 4], &[2, 4, 5], &[2, 3, 5]),
        (&[3, 4], &[2, 4, 2], &[2, 3, 2]),
        (&[5, 7], &[7], &[5]),
        (&[7], &[7, 5], &[5]),
        (&[4], &[4], &[]),
        (&[3], &[2, 3, 4], &[2, 4]),
        (&[2, 3, 4], &[4], &[2, 3]),
    ];
    for (a_shape, b_shape, out_shape) in pairs {
        let (a, b) = (randn(a_shape, &mut rng), randn(b_shape, &mut rng));
        assert_eq!(
            a.matmul(&b).unwrap().shape(),
            out_shape,
            "{a_shape:?}·{b_shape:?}"
        );
        check(
            &format!("matmul {a_shape:?}·{b_shape:?}"),
            |xs| xs[0].matmul(&xs[1]),
            &[a, b],
        );
    }
    // Broadcasting is a copy: each batch entry is the 2-D product.
    let a = randn(&[2, 3, 4], &mut rng);
    let b = randn(&[4, 5], &mut rng);
    let batched = a.matmul(&b).unwrap();
    for i in 0..2 {
        let row = a
            .narrow(0, i, 1)
            .unwrap()
            .reshape(&[3, 4])
            .unwrap()
            .matmul(&b)
            .unwrap();
        assert_eq!(batched.narrow(0, i, 1).unwrap().to_vec(), row.to_vec());
    }
    let e = message(randn(&[2, 3, 4], &mut rng).matmul(&randn(&[3, 4, 5], &mut rng)));
    assert!(e.contains("matmul") && e.contains("batch"), "{e}");
    let e = message(randn(&[3], &mut rng).matmul(&randn(&[4], &mut rng)));
    assert!(e.contains("matmul") && e.contains("inner"), "{e}");
    let e = message(Tensor::<f64>::scalar(1.0).matmul(&randn(&[4], &mut rng)));
    assert!(
        e.contains("matmul") && e.contains("at least one dimension"),
        "{e}"
    );
}

#[test]
fn linear_takes_any_leading_dims() {
    let mut rng = rng(164);
    let (w, b) = (randn(&[5, 3], &mut rng), randn(&[5], &mut rng));
    for shape in [&[2, 4, 3][..], &[3], &[2, 1, 2, 3]] {
        let x = randn(shape, &mut rng);
        let y = x.linear(&w, Some(&b)).unwrap();
        let mut expected = shape.to_vec();
        *expected.last_mut().unwrap() = 5;
        assert_eq!(y.shape(), expected);
        check(
            &format!("linear {shape:?}"),
            |xs| xs[0].linear(&xs[1], Some(&xs[2])),
            &[x.clone(), w.clone(), b.clone()],
        );
        // The same as the 2-D product of the flattened rows.
        let flat = x
            .reshape(&[x.numel() / 3, 3])
            .unwrap()
            .linear(&w, Some(&b))
            .unwrap();
        assert_eq!(y.to_vec(), flat.to_vec());
    }
    let e = message(randn(&[2, 4, 2], &mut rng).linear(&w, None));
    assert!(e.contains("linear") && e.contains("features"), "{e}");
}

#[test]
fn tensor_exponent_pow() {
    let mut rng = rng(165);
    for (a_shape, b_shape) in [
        (&[2, 3][..], &[2, 3][..]),
        (&[3, 1], &[1, 4]),
        (&[2, 3], &[]),
        (&[], &[4]),
    ] {
        let (a, b) = (uniform(a_shape, 0.3, 2.0, &mut rng), randn(b_shape, &mut rng));
        check(
            &format!("pow {a_shape:?} {b_shape:?}"),
            |xs| xs[0].pow(&xs[1]),
            &[a, b],
        );
    }
    // d(aᵇ)/db = aᵇ ln a; at a = 0 (b ≥ 0) PyTorch's 0, not NaN.
    let a = Tensor::<f64>::from_vec(vec![2.0, 0.0], &[2])
        .unwrap()
        .with_requires_grad();
    let b = Tensor::<f64>::from_vec(vec![3.0, 2.0], &[2])
        .unwrap()
        .with_requires_grad();
    let y = a.pow(&b).unwrap();
    assert_eq!(y.to_vec(), vec![8.0, 0.0]);
    y.sum().backward().unwrap();
    let grad_b = b.grad().unwrap().to_vec();
    assert!(
        (grad_b[0] - 8.0 * 2f64.ln()).abs() < 1e-12 && grad_b[1] == 0.0,
        "{grad_b:?}"
    );
    assert_eq!(a.grad().unwrap().to_vec(), vec![12.0, 0.0]); // b·aᵇ⁻¹
    let e = message(a.pow(&randn(&[3], &mut rng)));
    assert!(e.contains("pow"), "{e}");
}

#[test]
fn reverse_scalar_ops_and_one_bound_clamps() {
    let mut rng = rng(166);
    let x = away_from_zero(&[2, 3], 0.3, &mut rng);
    check(
        "rdiv_scalar",
        |xs| Ok(xs[0].rdiv_scalar(2.5)),
        std::slice::from_ref(&x),
    );
    check(
        "rsub_scalar",
        |xs| Ok(xs[0].rsub_scalar(-1.5)),
        std::slice::from_ref(&x),
    );
    // Bounds at ±0.05 and inputs at least 0.3 from 0: never on a bound.
    check(
        "clamp_min",
        |xs| sq(xs[0].clamp_min(0.05)?),
        std::slice::from_ref(&x),
    );
    check(
        "clamp_max",
        |xs| sq(xs[0].clamp_max(-0.05)?),
        std::slice::from_ref(&x),
    );
    let v = Tensor::<f64>::from_vec(vec![-2.0, 0.5, 4.0, f64::NAN], &[4]).unwrap();
    assert_eq!(v.rdiv_scalar(1.0).to_vec()[..3], [-0.5, 2.0, 0.25]);
    let low = v.clamp_min(0.0).unwrap().to_vec();
    assert_eq!(low[..3], [0.0, 0.5, 4.0]);
    assert!(low[3].is_nan());
    assert_eq!(v.clamp_max(1.0).unwrap().to_vec()[..3], [-2.0, 0.5, 1.0]);
    let e = message(v.clamp_min(f64::NAN));
    assert!(e.contains("clamp_min") && e.contains("NaN"), "{e}");
}

#[test]
fn softplus_beta_and_threshold() {
    // Away from the threshold: βx ∉ (t − 0.2, t + 0.2).
    let x = Tensor::<f64>::from_vec(vec![-3.0, -0.4, 0.3, 1.7, 4.5, 8.0, 12.0], &[7]).unwrap();
    for (beta, threshold) in [(1.0, 20.0), (2.0, 5.0), (0.5, 1.0)] {
        check(
            &format!("softplus_with({beta}, {threshold})"),
            move |xs| Ok(xs[0].softplus_with(beta, threshold)),
            std::slice::from_ref(&x),
        );
    }
    let y = x.softplus_with(2.0, 5.0).to_vec();
    assert_eq!(y[4..], [4.5, 8.0, 12.0]); // 2x > 5: x itself
    assert!((y[2] - (1.0 + 0.6f64.exp()).ln() / 2.0).abs() < 1e-15);
    // The default is PyTorch's (β = 1, threshold 20): linear above 20.
    let big = Tensor::<f64>::from_vec(vec![20.5], &[1])
        .unwrap()
        .with_requires_grad();
    let y = big.softplus();
    assert_eq!(y.to_vec(), vec![20.5]);
    y.sum().backward().unwrap();
    assert_eq!(big.grad().unwrap().to_vec(), vec![1.0]);
}

#[test]
fn avg_pool2d_without_the_padding() {
    let mut rng = rng(167);
    let x = randn(&[2, 2, 5, 4], &mut rng);
    for (kernel, stride, padding) in [
        ([3, 3], [2, 2], [1, 1]),
        ([2, 3], [1, 1], [1, 1]),
        ([2, 2], [2, 2], [1, 0]),
    ] {
        check(
            &format!("avg_pool2d_with {kernel:?} {stride:?} {padding:?} count_include_pad=false"),
            move |xs| xs[0].avg_pool2d_with(kernel, stride, padding, false),
            std::slice::from_ref(&x),
        );
    }
    // A 3×3 image of ones: every window's in-image average is 1 (to the
    // rounding of the 1/9-then-rescale computation).
    let ones = Tensor::<f64>::ones(&[1, 1, 3, 3]);
    let without = ones
        .avg_pool2d_with([3, 3], [1, 1], [1, 1], false)
        .unwrap()
        .to_vec();
    assert!(without.iter().all(|v| (v - 1.0).abs() < 1e-15), "{without:?}");
    let with_pad = ones
        .avg_pool2d_with([3, 3], [1, 1], [1, 1], true)
        .unwrap()
        .to_vec();
    assert_eq!(with_pad[0], 4.0 / 9.0);
}
