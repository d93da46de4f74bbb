//! Gradient checks (first and second derivatives) and forward values of the
//! reductions: sum, mean, var, max, min, and the broadcasting pair
//! broadcast_to / sum_to.

mod common;

use common::{bits, check, distinct, randn, rng};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tensor::{Tensor, TensorError};

/// A random shape of the given rank with sizes in `low..=high`.
fn random_shape(rng: &mut ChaCha8Rng, rank: usize, low: usize, high: usize) -> Vec<usize> {
    (0..rank).map(|_| rng.random_range(low..=high)).collect()
}

/// Every non-empty subset of the axes of a rank-`rank` tensor.
fn axis_subsets(rank: usize) -> Vec<Vec<usize>> {
    (1..1usize << rank)
        .map(|bits| (0..rank).filter(|a| bits & (1 << a) != 0).collect())
        .collect()
}

fn values(t: &Tensor<f64>) -> Vec<f64> {
    t.to_vec()
}

fn assert_close(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a - e).abs() <= 1e-12 * (1.0 + e.abs()),
            "{actual:?} vs {expected:?}"
        );
    }
}

/// The message of an error, which must exist.
fn message<T: std::fmt::Debug>(result: tensor::Result<T>) -> String {
    result.expect_err("expected an error").to_string()
}

#[test]
fn sum_and_mean_of_all_elements() {
    let mut rng = rng(1);
    for rank in 0..=3 {
        let x = randn(&random_shape(&mut rng, rank, 1, 4), &mut rng);
        check("sum", |xs| Ok(xs[0].sum()), std::slice::from_ref(&x));
        check("mean", |xs| Ok(xs[0].mean()), std::slice::from_ref(&x));
        // Squared afterwards, so the second derivative depends on x too.
        check(
            "sum²",
            |xs| xs[0].sum().mul(&xs[0].sum()),
            std::slice::from_ref(&x),
        );
    }
}

#[test]
fn sum_axes_and_mean_axes_over_every_subset_of_axes() {
    let mut rng = rng(2);
    for rank in 1..=3 {
        let x = randn(&random_shape(&mut rng, rank, 1, 4), &mut rng);
        for axes in axis_subsets(rank) {
            for keepdim in [false, true] {
                let axes = axes.as_slice();
                check(
                    &format!("sum_axes({axes:?}, {keepdim}) of {:?}", x.shape()),
                    move |xs| xs[0].sum_axes(axes, keepdim),
                    std::slice::from_ref(&x),
                );
                check(
                    &format!("mean_axes({axes:?}, {keepdim})² of {:?}", x.shape()),
                    move |xs| {
                        let m = xs[0].mean_axes(axes, keepdim)?;
                        m.mul(&m)
                    },
                    std::slice::from_ref(&x),
                );
            }
        }
    }
}

#[test]
fn var_and_var_axes_with_both_corrections() {
    let mut rng = rng(3);
    for rank in 1..=3 {
        // Sizes of at least 2, so that correction 1 never divides by zero.
        let x = randn(&random_shape(&mut rng, rank, 2, 4), &mut rng);
        for correction in [0, 1] {
            check(
                &format!("var({correction}) of {:?}", x.shape()),
                move |xs| xs[0].var(correction),
                std::slice::from_ref(&x),
            );
            for axes in axis_subsets(rank) {
                for keepdim in [false, true] {
                    let axes = axes.as_slice();
                    check(
                        &format!("var_axes({axes:?}, {keepdim}, {correction}) of {:?}", x.shape()),
                        move |xs| xs[0].var_axes(axes, keepdim, correction),
                        std::slice::from_ref(&x),
                    );
                }
            }
        }
    }
}

#[test]
fn max_and_min_of_all_elements_and_along_each_axis() {
    let mut rng = rng(4);
    for rank in 1..=3 {
        // Distinct values: no ties, where max has no derivative.
        let x = distinct(&random_shape(&mut rng, rank, 1, 4), &mut rng);
        check("max", |xs| Ok(xs[0].max()), std::slice::from_ref(&x));
        check("min", |xs| Ok(xs[0].min()), std::slice::from_ref(&x));
        // max(x)·x: the second derivative is not identically zero.
        check("max·x", |xs| xs[0].mul(&xs[0].max()), std::slice::from_ref(&x));
        for axis in 0..rank {
            for keepdim in [false, true] {
                check(
                    &format!("max_axis({axis}, {keepdim}) of {:?}", x.shape()),
                    move |xs| xs[0].max_axis(axis, keepdim),
                    std::slice::from_ref(&x),
                );
                check(
                    &format!("min_axis({axis}, {keepdim})² of {:?}", x.shape()),
                    move |xs| {
                        let m = xs[0].min_axis(axis, keepdim)?;
                        m.mul(&m)
                    },
                    std::slice::from_ref(&x),
                );
            }
        }
    }
}

#[test]
fn broadcast_to_and_sum_to_edge_cases() {
    let mut rng = rng(5);
    // (small shape, big shape): size-1 dims, rank mismatch, scalar, no-op.
    let cases: [(&[usize], &[usize]); 7] = [
        (&[3, 1], &[2, 3, 4]),
        (&[1], &[3]),
        (&[], &[2, 3]),
        (&[1, 1], &[1, 1]),
        (&[1, 1, 1], &[2, 3, 4]),
        (&[1, 4], &[2, 3, 4]),
        (&[2, 1, 3], &[2, 2, 3]),
    ];
    for (small, big) in cases {
        let x = randn(small, &mut rng);
        check(
            &format!("broadcast_to {small:?} → {big:?}"),
            move |xs| xs[0].broadcast_to(big),
            std::slice::from_ref(&x),
        );
        let y = randn(big, &mut rng);
        check(
            &format!("sum_to {big:?} → {small:?}"),
            move |xs| xs[0].sum_to(small),
            std::slice::from_ref(&y),
        );
        // Round trip squared, so that the second derivative involves both.
        check(
            &format!("sum_to(broadcast_to)² {small:?} ↔ {big:?}"),
            move |xs| {
                let z = xs[0].broadcast_to(big)?.mul(&xs[1])?.sum_to(small)?;
                z.mul(&z)
            },
            &[x.clone(), y.clone()],
        );
    }
}

#[test]
fn broadcast_to_and_sum_to_forward_values_and_errors() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2, 1]).unwrap();
    assert_eq!(
        values(&x.broadcast_to(&[2, 3]).unwrap()),
        vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    );
    assert_eq!(x.broadcast_to(&[2, 2, 1]).unwrap().shape(), vec![2, 2, 1]);
    let y = Tensor::<f64>::from_vec((1..=6).map(f64::from).collect(), &[2, 3]).unwrap();
    assert_eq!(values(&y.sum_to(&[2, 1]).unwrap()), vec![6.0, 15.0]);
    assert_eq!(values(&y.sum_to(&[3]).unwrap()), vec![5.0, 7.0, 9.0]);
    assert_eq!(values(&y.sum_to(&[1, 3]).unwrap()), vec![5.0, 7.0, 9.0]);
    assert_eq!(y.sum_to(&[]).unwrap().item().unwrap(), 21.0);
    assert_eq!(y.sum_to(&[1, 1]).unwrap().shape(), vec![1, 1]);

    let e = message(y.broadcast_to(&[3]));
    assert!(
        e.contains("broadcast_to") && e.contains("[2, 3]") && e.contains("[3]"),
        "{e}"
    );
    let e = message(y.sum_to(&[4]));
    assert!(
        e.contains("sum_to") && e.contains("[2, 3]") && e.contains("[4]"),
        "{e}"
    );
    let e = message(y.sum_to(&[1, 2, 3]));
    assert!(e.contains("sum_to") && e.contains("[1, 2, 3]"), "{e}");
}

#[test]
fn sums_per_channel_have_the_same_bits_on_one_thread_and_two() {
    // [N, C, H, W] summed to [C] (a convolution's bias gradient) runs the
    // channels in parallel when the input is large, each channel's sum in
    // the serial walk's order: one thread (the serial walk) and two must
    // give the same bits. In f32, where another order of additions shows;
    // W2's first convolution's shape, one past the parallel threshold, and
    // a small one that stays serial on both.
    let mut r = rng(61);
    let shapes: [&[usize]; 3] = [&[64, 64, 14, 14], &[2, 3, 73, 75], &[3, 5, 7, 11]];
    for shape in shapes {
        let wide: Vec<f32> = randn(shape, &mut r).to_vec().iter().map(|&v| v as f32).collect();
        let x = Tensor::<f32>::from_vec(wide.clone(), shape).unwrap();
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| x.sum_axes(&[0, 2, 3], false).unwrap().to_vec())
        };
        let (one, two) = (on(1), on(2));
        assert_eq!(bits(&one), bits(&two), "{shape:?}");
        // And they are the sums: within f32 rounding of the f64 ones.
        let plane = shape[2] * shape[3];
        for (c, &got) in two.iter().enumerate() {
            let exact: f64 = (0..shape[0])
                .flat_map(|n| &wide[(n * shape[1] + c) * plane..][..plane])
                .map(|&v| f64::from(v))
                .sum();
            let scale = (shape[0] * plane) as f64;
            assert!(
                (f64::from(got) - exact).abs() <= 1e-5 * scale,
                "{shape:?} channel {c}: {got} vs {exact}"
            );
        }
    }
}

#[test]
fn sum_and_mean_forward_values() {
    // [[1, 2, 3], [4, 5, 6]]
    let x = Tensor::<f64>::from_vec((1..=6).map(f64::from).collect(), &[2, 3]).unwrap();
    assert_eq!(x.sum().item().unwrap(), 21.0);
    assert_eq!(x.mean().item().unwrap(), 3.5);
    assert_eq!(values(&x.sum_axes(&[0], false).unwrap()), vec![5.0, 7.0, 9.0]);
    assert_eq!(values(&x.sum_axes(&[1], false).unwrap()), vec![6.0, 15.0]);
    assert_eq!(x.sum_axes(&[1], true).unwrap().shape(), vec![2, 1]);
    assert_eq!(x.sum_axes(&[0, 1], false).unwrap().shape(), Vec::<usize>::new());
    assert_eq!(x.sum_axes(&[1, 0], true).unwrap().to_vec(), vec![21.0]);
    assert_eq!(values(&x.mean_axes(&[0], false).unwrap()), vec![2.5, 3.5, 4.5]);
    assert_eq!(values(&x.mean_axes(&[1], true).unwrap()), vec![2.0, 5.0]);

    // 3-D: [2, 2, 2] holding 0..8
    let z = Tensor::<f64>::from_vec((0..8).map(f64::from).collect(), &[2, 2, 2]).unwrap();
    assert_eq!(
        values(&z.sum_axes(&[0, 2], false).unwrap()),
        vec![1.0 + 4.0 + 5.0, 2.0 + 3.0 + 6.0 + 7.0]
    );
}

#[test]
fn var_forward_values() {
    // Rows [1, 2, 3] and [4, 6, 8]: means 2 and 6, squared deviations 2 and 8.
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 6.0, 8.0], &[2, 3]).unwrap();
    assert_close(
        &values(&x.var_axes(&[1], false, 0).unwrap()),
        &[2.0 / 3.0, 8.0 / 3.0],
    );
    assert_close(&values(&x.var_axes(&[1], false, 1).unwrap()), &[1.0, 4.0]);
    let v = x.var_axes(&[1], true, 1).unwrap();
    assert_eq!(v.shape(), vec![2, 1]);
    // Columns: (1, 4), (2, 6), (3, 8): deviations 1.5, 2, 2.5.
    assert_close(&values(&x.var_axes(&[0], false, 0).unwrap()), &[2.25, 4.0, 6.25]);
    // All: mean 4, squared deviations 9 + 4 + 1 + 0 + 4 + 16 = 34.
    assert_close(&[x.var(0).unwrap().item().unwrap()], &[34.0 / 6.0]);
    assert_close(&[x.var(1).unwrap().item().unwrap()], &[34.0 / 5.0]);
    assert_close(
        &[x.var_axes(&[0, 1], false, 1).unwrap().item().unwrap()],
        &[34.0 / 5.0],
    );

    // The gradient of the population variance: 2(x − μ)/n.
    let x = x.with_requires_grad();
    x.var(0).unwrap().backward().unwrap();
    let expected: Vec<f64> = [-3.0, -2.0, -1.0, 0.0, 2.0, 4.0]
        .iter()
        .map(|d| 2.0 * d / 6.0)
        .collect();
    assert_close(&x.grad().unwrap().to_vec(), &expected);
}

#[test]
fn var_refuses_too_few_elements() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]).unwrap();
    let e = message(x.var_axes(&[1], false, 1));
    assert!(
        e.contains("var_axes") && e.contains("[3, 1]") && e.contains("correction 1"),
        "{e}"
    );
    assert!(x.var_axes(&[1], false, 0).is_ok());
    let e = message(Tensor::<f64>::scalar(2.0).var(1));
    assert!(e.contains("var") && e.contains("correction 1"), "{e}");
    assert_eq!(Tensor::<f64>::scalar(2.0).var(0).unwrap().item().unwrap(), 0.0);
}

#[test]
fn max_and_min_forward_values_and_tie_breaking() {
    // [[1, 7, 3], [9, 0, 9]]
    let x = Tensor::<f64>::from_vec(vec![1.0, 7.0, 3.0, 9.0, 0.0, 9.0], &[2, 3])
        .unwrap()
        .with_requires_grad();
    assert_eq!(x.max().item().unwrap(), 9.0);
    assert_eq!(x.min().item().unwrap(), 0.0);
    assert_eq!(values(&x.max_axis(1, false).unwrap()), vec![7.0, 9.0]);
    assert_eq!(values(&x.max_axis(0, false).unwrap()), vec![9.0, 7.0, 9.0]);
    assert_eq!(values(&x.min_axis(1, false).unwrap()), vec![1.0, 0.0]);
    assert_eq!(x.min_axis(0, true).unwrap().shape(), vec![1, 3]);
    assert_eq!(x.argmax_axis(1).unwrap(), vec![1, 0]);
    assert_eq!(x.argmin_axis(0).unwrap(), vec![0, 1, 0]);

    // The tie between the two 9s goes to the first (row-major) one.
    x.max().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    x.zero_grad();
    // Along axis 1, row 1 ties at positions 0 and 2: the gradient goes to 0.
    let seed = Tensor::from_vec(vec![10.0, 20.0], &[2]).unwrap();
    x.max_axis(1, false)
        .unwrap()
        .backward_with(Some(&seed), Default::default())
        .unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, 10.0, 0.0, 20.0, 0.0, 0.0]);
}

#[test]
fn max_of_non_contiguous_input_picks_by_logical_position() {
    // x = [[1, 5], [4, 2]]; its transpose [[1, 4], [5, 2]] has its max at
    // logical position 2, which is position 1 in memory.
    let x = Tensor::<f64>::from_vec(vec![1.0, 5.0, 4.0, 2.0], &[2, 2]).unwrap();
    let xt = x.t().unwrap().with_requires_grad();
    assert!(!xt.array().is_standard_layout());
    xt.max().backward().unwrap();
    assert_eq!(xt.grad().unwrap().to_vec(), vec![0.0, 0.0, 1.0, 0.0]);
    assert_eq!(xt.argmax_axis(1).unwrap(), vec![1, 0]);
}

#[test]
fn max_propagates_nan_and_handles_empty_tensors() {
    let x = Tensor::<f64>::from_vec(vec![1.0, f64::NAN, 3.0], &[3]).unwrap();
    assert!(x.max().item().unwrap().is_nan());
    assert!(x.min().item().unwrap().is_nan());
    let empty = Tensor::<f64>::zeros(&[0, 3]);
    assert_eq!(empty.max().item().unwrap(), f64::NEG_INFINITY);
    assert_eq!(empty.min().item().unwrap(), f64::INFINITY);
    // Reducing the non-empty axis of an empty tensor gives an empty result;
    // reducing the empty axis itself has no answer.
    assert_eq!(empty.max_axis(1, false).unwrap().shape(), vec![0]);
    let e = message(empty.max_axis(0, false));
    assert!(e.contains("max_axis") && e.contains("[0, 3]"), "{e}");
}

#[test]
fn bad_axes_are_reported_with_op_and_shape() {
    let x = Tensor::<f64>::zeros(&[2, 3]);
    let cases: Vec<(&str, String)> = vec![
        ("sum_axes", message(x.sum_axes(&[2], false))),
        ("sum_axes", message(x.sum_axes(&[0, 0], false))),
        ("mean_axes", message(x.mean_axes(&[5], true))),
        ("var_axes", message(x.var_axes(&[2], false, 0))),
        ("max_axis", message(x.max_axis(2, false))),
        ("min_axis", message(x.min_axis(3, true))),
        ("argmax_axis", message(x.argmax_axis(2))),
    ];
    for (op, e) in cases {
        assert!(e.starts_with(op), "{e}");
        // A repeated axis names the axes; an out-of-range one the shape.
        assert!(e.contains("[2, 3]") || e.contains("[0, 0]"), "{e}");
    }
    assert!(matches!(
        x.max_axis(2, false),
        Err(TensorError::Argument { op: "max_axis", .. })
    ));
}
