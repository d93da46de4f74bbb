//! Gradient checks (first and second derivatives) and forward values of the
//! ops that move values around: reshape, permute, transpose, t, flatten,
//! squeeze, unsqueeze, concat, stack, narrow, index_select, index_add_rows
//! and pad, on contiguous and non-contiguous inputs.

mod common;

use common::{check, randn, rng};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tensor::{Result, Tensor};

/// A random shape of the given rank with sizes in `low..=high`.
fn random_shape(rng: &mut ChaCha8Rng, rank: usize, low: usize, high: usize) -> Vec<usize> {
    (0..rank).map(|_| rng.random_range(low..=high)).collect()
}

/// `t ⊙ t`: applied after a linear op so that the second derivative depends
/// on the input as well as on the seed.
fn sq(t: Tensor<f64>) -> Result<Tensor<f64>> {
    t.mul(&t)
}

/// A random normal leaf whose memory layout is *not* row-major: the values
/// are made in the permuted shape, then permuted to `shape`.
fn non_contiguous(shape: &[usize], rng: &mut ChaCha8Rng) -> Tensor<f64> {
    let mut reversed = shape.to_vec();
    reversed.reverse();
    let axes: Vec<usize> = (0..shape.len()).rev().collect();
    let x = randn(&reversed, rng).permute(&axes).expect("a permutation");
    assert!(x.is_leaf(), "permuting a tensor without grad records nothing");
    assert_eq!(x.shape(), shape);
    assert!(
        shape.iter().filter(|&&d| d > 1).count() < 2 || !x.array().is_standard_layout(),
        "the leaf should be non-contiguous"
    );
    x
}

fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
    result.expect_err("expected an error").to_string()
}

#[test]
fn reshape_permute_transpose_t() {
    let mut rng = rng(10);
    for rank in 2..=4 {
        let shape = random_shape(&mut rng, rank, 1, 3);
        for x in [randn(&shape, &mut rng), non_contiguous(&shape, &mut rng)] {
            let n = x.numel();
            check("reshape", move |xs| xs[0].reshape(&[n]), std::slice::from_ref(&x));
            let mut perm: Vec<usize> = (0..rank).collect();
            perm.shuffle(&mut rng);
            let perm = perm.as_slice();
            check(
                "permute",
                move |xs| sq(xs[0].permute(perm)?),
                std::slice::from_ref(&x),
            );
            check(
                "permute then reshape",
                move |xs| xs[0].permute(perm)?.reshape(&[n, 1]),
                std::slice::from_ref(&x),
            );
            check(
                "transpose",
                |xs| sq(xs[0].transpose(0, rank - 1)?),
                std::slice::from_ref(&x),
            );
            check("t", |xs| xs[0].t(), std::slice::from_ref(&x));
        }
    }
}

#[test]
fn flatten_squeeze_unsqueeze() {
    let mut rng = rng(11);
    let shape = [2, 1, 3, 2];
    for x in [randn(&shape, &mut rng), non_contiguous(&shape, &mut rng)] {
        check(
            "flatten(1, 3)",
            |xs| sq(xs[0].flatten(1, 3)?),
            std::slice::from_ref(&x),
        );
        check(
            "flatten(0, 1)",
            |xs| xs[0].flatten(0, 1),
            std::slice::from_ref(&x),
        );
        check(
            "flatten(2, 2)",
            |xs| xs[0].flatten(2, 2),
            std::slice::from_ref(&x),
        );
        check("squeeze", |xs| sq(xs[0].squeeze(1)?), std::slice::from_ref(&x));
        for axis in 0..=4 {
            check(
                "unsqueeze",
                move |xs| xs[0].unsqueeze(axis),
                std::slice::from_ref(&x),
            );
        }
    }
}

#[test]
fn flatten_squeeze_unsqueeze_shapes_and_errors() {
    let x = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[2, 1, 3, 2]).unwrap();
    assert_eq!(x.flatten(1, 3).unwrap().shape(), vec![2, 6]);
    assert_eq!(x.flatten(0, 3).unwrap().shape(), vec![12]);
    assert_eq!(x.flatten(2, 2).unwrap().shape(), vec![2, 1, 3, 2]);
    assert_eq!(x.squeeze(1).unwrap().shape(), vec![2, 3, 2]);
    assert_eq!(x.unsqueeze(4).unwrap().shape(), vec![2, 1, 3, 2, 1]);
    assert_eq!(x.flatten(1, 3).unwrap().to_vec(), x.to_vec());

    let e = message(x.flatten(2, 1));
    assert!(e.contains("flatten") && e.contains("[2, 1, 3, 2]"), "{e}");
    let e = message(x.flatten(0, 4));
    assert!(e.contains("flatten") && e.contains("[2, 1, 3, 2]"), "{e}");
    let e = message(x.squeeze(0));
    assert!(
        e.contains("squeeze") && e.contains("size 2") && e.contains("[2, 1, 3, 2]"),
        "{e}"
    );
    let e = message(x.squeeze(4));
    assert!(e.contains("squeeze") && e.contains("[2, 1, 3, 2]"), "{e}");
    let e = message(x.unsqueeze(5));
    assert!(e.contains("unsqueeze") && e.contains("[2, 1, 3, 2]"), "{e}");
}

#[test]
fn concat_of_two_and_three_inputs_on_every_axis() {
    let mut rng = rng(12);
    for axis in 0..3 {
        let mut shape = random_shape(&mut rng, 3, 1, 3);
        let mut inputs = Vec::new();
        for i in 0..3 {
            shape[axis] = rng.random_range(1..=3);
            // Every other input non-contiguous.
            inputs.push(if i % 2 == 0 {
                randn(&shape, &mut rng)
            } else {
                non_contiguous(&shape, &mut rng)
            });
        }
        check(
            &format!("concat of 2 on axis {axis}"),
            move |xs| sq(Tensor::concat(&[&xs[0], &xs[1]], axis)?),
            &inputs[..2],
        );
        check(
            &format!("concat of 3 on axis {axis}"),
            move |xs| Tensor::concat(&[&xs[0], &xs[1], &xs[2]], axis),
            &inputs,
        );
        // The same tensor twice (and a third time): its gradients add up.
        check(
            &format!("concat of x with itself on axis {axis}"),
            move |xs| sq(Tensor::concat(&[&xs[0], &xs[1], &xs[0]], axis)?),
            &inputs[..2],
        );
    }
}

#[test]
fn stack_on_every_axis() {
    let mut rng = rng(13);
    let shape = random_shape(&mut rng, 2, 1, 3);
    let inputs = [
        randn(&shape, &mut rng),
        non_contiguous(&shape, &mut rng),
        randn(&shape, &mut rng),
    ];
    for axis in 0..=2 {
        check(
            &format!("stack on axis {axis}"),
            move |xs| sq(Tensor::stack(&[&xs[0], &xs[1], &xs[2]], axis)?),
            &inputs,
        );
        check(
            &format!("stack of x with itself on axis {axis}"),
            move |xs| Tensor::stack(&[&xs[0], &xs[0]], axis),
            &inputs[..1],
        );
    }
}

#[test]
fn concat_and_stack_values_and_errors() {
    let a = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let b = Tensor::<f64>::from_vec(vec![5.0, 6.0], &[2, 1]).unwrap();
    let y = Tensor::concat(&[&a, &b], 1).unwrap();
    assert_eq!(y.shape(), vec![2, 3]);
    assert_eq!(y.to_vec(), vec![1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    let s = Tensor::stack(&[&a, &a], 2).unwrap();
    assert_eq!(s.shape(), vec![2, 2, 2]);
    assert_eq!(s.to_vec(), vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]);

    let e = message(Tensor::concat(&[&a, &b], 0));
    assert!(
        e.contains("concat") && e.contains("tensor 1") && e.contains("[2, 1]") && e.contains("[2, 2]"),
        "{e}"
    );
    let e = message(Tensor::concat(&[&a, &a, &b.reshape(&[2]).unwrap()], 0));
    assert!(
        e.contains("concat") && e.contains("tensor 2") && e.contains("[2]"),
        "{e}"
    );
    let e = message(Tensor::concat(&[&a, &b], 2));
    assert!(
        e.contains("concat") && e.contains("axis 2") && e.contains("[2, 2]"),
        "{e}"
    );
    let e = message(Tensor::<f64>::concat(&[], 0));
    assert!(e.contains("concat") && e.contains("none"), "{e}");
    let e = message(Tensor::stack(&[&a, &b], 0));
    assert!(
        e.contains("stack") && e.contains("tensor 1") && e.contains("[2, 1]") && e.contains("[2, 2]"),
        "{e}"
    );
    let e = message(Tensor::stack(&[&a], 3));
    assert!(e.contains("stack") && e.contains("[2, 2]"), "{e}");
    let e = message(Tensor::<f64>::stack(&[], 0));
    assert!(e.contains("stack") && e.contains("none"), "{e}");
}

#[test]
fn narrow_on_contiguous_and_non_contiguous_inputs() {
    let mut rng = rng(14);
    let shape = random_shape(&mut rng, 3, 3, 4);
    for x in [randn(&shape, &mut rng), non_contiguous(&shape, &mut rng)] {
        for axis in 0..3 {
            let size = shape[axis];
            let start = rng.random_range(0..size);
            let len = rng.random_range(1..=size - start);
            check(
                &format!("narrow({axis}, {start}, {len}) of {shape:?}"),
                move |xs| sq(xs[0].narrow(axis, start, len)?),
                std::slice::from_ref(&x),
            );
        }
        // Narrow twice on the same axis, and a full-width narrow (a no-op).
        check(
            "narrow∘narrow",
            |xs| xs[0].narrow(1, 1, 2)?.narrow(1, 1, 1),
            std::slice::from_ref(&x),
        );
        let full = shape[2];
        check(
            "full narrow",
            move |xs| sq(xs[0].narrow(2, 0, full)?),
            std::slice::from_ref(&x),
        );
    }
}

#[test]
fn narrow_is_a_view_and_checks_its_range() {
    let x = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[3, 4]).unwrap();
    let y = x.narrow(1, 1, 2).unwrap();
    assert_eq!(y.to_vec(), vec![1.0, 2.0, 5.0, 6.0, 9.0, 10.0]);
    // The same buffer, one element in.
    let offset = y.array().as_ptr() as usize - x.array().as_ptr() as usize;
    assert_eq!(offset, std::mem::size_of::<f64>());
    assert_eq!(x.narrow(0, 2, 1).unwrap().to_vec(), vec![8.0, 9.0, 10.0, 11.0]);
    assert_eq!(x.narrow(0, 3, 0).unwrap().shape(), vec![0, 4]);

    let e = message(x.narrow(1, 3, 2));
    assert!(
        e.contains("narrow") && e.contains("[3, 4]") && e.contains("axis 1"),
        "{e}"
    );
    let e = message(x.narrow(2, 0, 1));
    assert!(e.contains("narrow") && e.contains("[3, 4]"), "{e}");
    assert!(x.narrow(0, usize::MAX, 2).is_err());
}

#[test]
fn index_select_and_index_add_rows() {
    let mut rng = rng(15);
    let x = randn(&[4, 3], &mut rng);
    let indices: &[usize] = &[2, 0, 2, 3, 2];
    check(
        "index_select",
        move |xs| sq(xs[0].index_select(0, indices)?),
        std::slice::from_ref(&x),
    );
    let xt = non_contiguous(&[4, 2], &mut rng);
    check(
        "index_select of a non-contiguous input",
        move |xs| xs[0].index_select(0, indices),
        &[xt],
    );
    let rows = randn(&[5, 2, 2], &mut rng);
    check(
        "index_add_rows",
        move |xs| sq(xs[0].index_add_rows(indices, 4)?),
        std::slice::from_ref(&rows),
    );
    // Adjoint pair: ⟨index_select(x), r⟩ = ⟨x, index_add_rows(r)⟩.
    let r = randn(&[5, 3], &mut rng);
    let lhs = x
        .index_select(0, indices)
        .unwrap()
        .mul(&r)
        .unwrap()
        .sum()
        .item()
        .unwrap();
    let rhs = x
        .mul(&r.index_add_rows(indices, 4).unwrap())
        .unwrap()
        .sum()
        .item()
        .unwrap();
    assert!((lhs - rhs).abs() < 1e-12, "{lhs} vs {rhs}");
}

#[test]
fn index_select_and_index_add_rows_values_and_errors() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).unwrap();
    assert_eq!(
        x.index_select(0, &[1, 1]).unwrap().to_vec(),
        vec![3.0, 4.0, 3.0, 4.0]
    );
    assert_eq!(x.index_select(0, &[]).unwrap().shape(), vec![0, 2]);
    let added = x.index_add_rows(&[3, 0, 3], 4).unwrap();
    assert_eq!(added.shape(), vec![4, 2]);
    assert_eq!(added.to_vec(), vec![3.0, 4.0, 0.0, 0.0, 0.0, 0.0, 6.0, 8.0]);

    let e = message(x.index_select(0, &[0, 3]));
    assert!(
        e.contains("index_select") && e.contains("index 3") && e.contains("[3, 2]"),
        "{e}"
    );
    let e = message(Tensor::<f64>::scalar(1.0).index_select(0, &[0]));
    assert!(e.contains("index_select"), "{e}");
    let e = message(x.index_add_rows(&[0, 1], 4));
    assert!(e.contains("index_add_rows") && e.contains("[3, 2]"), "{e}");
    let e = message(x.index_add_rows(&[0, 1, 4], 4));
    assert!(
        e.contains("index_add_rows") && e.contains("index 4") && e.contains("[4, 2]"),
        "{e}"
    );
}

#[test]
fn pad_asymmetric() {
    let mut rng = rng(16);
    let shape = random_shape(&mut rng, 3, 1, 3);
    let padding: &[(usize, usize)] = &[(1, 0), (0, 2), (2, 1)];
    for x in [randn(&shape, &mut rng), non_contiguous(&shape, &mut rng)] {
        check("pad", move |xs| sq(xs[0].pad(padding)?), std::slice::from_ref(&x));
        check(
            "pad (linear)",
            move |xs| xs[0].pad(padding),
            std::slice::from_ref(&x),
        );
        // pad then narrow back to the original entries of axis 1.
        let size = shape[1];
        check(
            "narrow∘pad",
            move |xs| xs[0].pad(padding)?.narrow(1, 0, size),
            std::slice::from_ref(&x),
        );
    }
}

#[test]
fn pad_values_and_errors() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap();
    assert_eq!(
        x.pad(&[(2, 1)]).unwrap().to_vec(),
        vec![0.0, 0.0, 1.0, 2.0, 3.0, 0.0]
    );
    assert_eq!(x.pad(&[(0, 0)]).unwrap().to_vec(), x.to_vec());
    let m = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let y = m.t().unwrap().pad(&[(1, 0), (0, 1)]).unwrap();
    assert_eq!(y.shape(), vec![3, 3]);
    assert_eq!(y.to_vec(), vec![0.0, 0.0, 0.0, 1.0, 3.0, 0.0, 2.0, 4.0, 0.0]);
    let e = message(m.pad(&[(1, 1)]));
    assert!(e.contains("pad") && e.contains("[2, 2]"), "{e}");
}

#[test]
fn diamond_graph_of_narrow_and_concat() {
    // x → (top, bottom) by narrow; branches combined and joined back with x
    // itself by concat; every path must add its share of the gradient.
    let mut rng = rng(17);
    let inputs = [randn(&[4, 3], &mut rng), non_contiguous(&[3, 3], &mut rng)];
    check(
        "diamond",
        |xs| {
            let x = &xs[0];
            let top = x.narrow(0, 0, 3)?;
            let bottom = x.narrow(0, 1, 3)?;
            let mixed = top.mul(&bottom)?.add(&xs[1].t()?)?;
            let joined = Tensor::concat(&[&mixed, x, &bottom], 0)?;
            joined
                .narrow(1, 1, 2)?
                .pad(&[(0, 1), (1, 0)])?
                .mul(&joined.narrow(1, 0, 2)?.pad(&[(1, 0), (0, 1)])?)
        },
        &inputs,
    );
}
