//! The fused ops and fast-path kernels added for training speed: first- and
//! second-derivative checks of `linear`, of BatchNorm's normalisation
//! (`batch_normalize`) and affine step (`channel_affine`) and of both as one
//! op (`batch_normalize_affine`, also with a rectifier after it), and of
//! the fused
//! binary cross-entropy on logits
//! (`bce_with_logits`), and their values (including the strided broadcast
//! loops, the per-channel sums and the parallel paths) against the plain
//! composed ops or direct loops, with bitwise reproducibility on a fixed
//! thread count. The layers built on them (`nn::BatchNorm2d`, its running
//! estimates): `crates/nn/tests/batch_norm.rs`.

mod common;

use common::{
    assert_close, assert_same_bits_on_two_threads, bits, check, composed_batch_normalize, input_grad, randn,
    rng,
};
use tensor::{BackwardOptions, Rectifier, Tensor, grad, no_grad};

#[test]
fn linear_gradients_with_and_without_bias() {
    let mut r = rng(40);
    let inputs = [
        randn(&[3, 4], &mut r),
        randn(&[5, 4], &mut r),
        randn(&[5], &mut r),
    ];
    check("linear", |xs| xs[0].linear(&xs[1], Some(&xs[2])), &inputs);
    check(
        "linear without bias",
        |xs| xs[0].linear(&xs[1], None),
        &inputs[..2],
    );
}

#[test]
fn linear_matches_matmul_plus_bias_and_gives_row_major_weight_grads() {
    let mut r = rng(41);
    let (x, w, b) = (
        randn(&[6, 7], &mut r),
        randn(&[3, 7], &mut r),
        randn(&[3], &mut r),
    );
    let fused = x.linear(&w, Some(&b)).unwrap();
    let composed = x.matmul(&w.t().unwrap()).unwrap().add(&b).unwrap();
    assert_close(&fused.to_vec(), &composed.to_vec(), 1e-12);
    let w = w.with_requires_grad();
    x.linear(&w, Some(&b)).unwrap().sum().backward().unwrap();
    // The optimizer walks W and W̄ together: W̄ must be in W's own layout.
    assert!(w.grad().unwrap().array().is_standard_layout());
    let err = x.linear(&w, Some(&randn(&[4], &mut r))).unwrap_err().to_string();
    assert!(err.contains("linear") && err.contains("[4]"), "{err}");
    let err = x.linear(&randn(&[3, 6], &mut r), None).unwrap_err().to_string();
    assert!(err.contains("[6, 7]") && err.contains("[3, 6]"), "{err}");
}

#[test]
fn broadcasting_loops_match_direct_indexing() {
    let mut r = rng(44);
    // Channel pattern, row pattern, both-sided broadcast, and a transposed view.
    let cases: [(&[usize], &[usize]); 4] = [
        (&[5, 6, 3, 4], &[1, 6, 1, 1]),
        (&[7, 9], &[9]),
        (&[4, 1, 3], &[5, 1]),
        (&[1], &[2, 3]),
    ];
    for (sa, sb) in cases {
        let (a, b) = (randn(sa, &mut r), randn(sb, &mut r));
        let got = a.mul(&b).unwrap().sub(&b).unwrap();
        let (av, bv) = (a.array(), b.array());
        let shape = got.shape();
        let full = ndarray::IxDyn(&shape);
        let expected: Vec<f64> = av
            .broadcast(full.clone())
            .unwrap()
            .iter()
            .zip(bv.broadcast(full).unwrap().iter())
            .map(|(x, y)| x * y - y)
            .collect();
        assert_eq!(got.to_vec(), expected, "{sa:?} with {sb:?}");
    }
    let m = randn(&[5, 8], &mut r);
    let t = m.t().unwrap();
    let doubled = t.mul_scalar(2.0);
    let expected: Vec<f64> = t.to_vec().iter().map(|v| v * 2.0).collect();
    assert_eq!(doubled.to_vec(), expected);
    // Two transposed views: both operands strided the same way.
    let shifted = t.sub(&m.t().unwrap()).unwrap();
    assert!(shifted.to_vec().iter().all(|&v| v == 0.0));
}

#[test]
fn sums_to_a_shape_match_loops_and_broadcast_is_their_adjoint() {
    let mut r = rng(45);
    let x = randn(&[3, 4, 5, 6], &mut r);
    let v = x.to_vec();
    for target in [
        [1, 4, 1, 1],
        [3, 1, 5, 1],
        [1, 1, 1, 6],
        [3, 4, 5, 6],
        [1, 1, 1, 1],
    ] {
        let got = x.sum_to(&target).unwrap().to_vec();
        for (flat, &g) in got.iter().enumerate() {
            // The target index of `flat`, then the sum over matching x indices.
            let mut idx = [0; 4];
            let mut rest = flat;
            for a in (0..4).rev() {
                idx[a] = rest % target[a];
                rest /= target[a];
            }
            let mut want = 0.0;
            for (i, &value) in v.iter().enumerate() {
                let (mut j, mut hit) = (i, true);
                for a in (0..4).rev() {
                    let d = [3, 4, 5, 6][a];
                    if target[a] != 1 && j % d != idx[a] {
                        hit = false;
                    }
                    j /= d;
                }
                if hit {
                    want += value;
                }
            }
            assert!((g - want).abs() < 1e-12, "{target:?}: {g} vs {want}");
        }
    }
    // ⟨broadcast(y), x⟩ = ⟨y, sum_to(x)⟩
    let y = randn(&[4, 1, 6], &mut r);
    let lhs = y
        .broadcast_to(&[3, 4, 5, 6])
        .unwrap()
        .mul(&x)
        .unwrap()
        .sum()
        .item()
        .unwrap();
    let rhs = y
        .mul(&x.sum_to(&[4, 1, 6]).unwrap())
        .unwrap()
        .sum()
        .item()
        .unwrap();
    assert!((lhs - rhs).abs() < 1e-10, "{lhs} vs {rhs}");
}

#[test]
fn batch_normalize_first_and_second_derivatives() {
    let mut r = rng(47);
    // Through a nonlinearity and a weighting, so that the second derivative
    // of the normalisation itself is exercised; [N, C, H, W] and [N, C].
    check(
        "batch_normalize [N, C, H, W] then tanh",
        |xs| xs[0].batch_normalize(1e-5)?.0.tanh().mul(&xs[1]),
        &[randn(&[3, 2, 2, 3], &mut r), randn(&[3, 2, 2, 3], &mut r)],
    );
    check(
        "batch_normalize [N, C] squared",
        |xs| {
            let y = xs[0].batch_normalize(1e-5)?.0;
            y.mul(&y)?.mul(&xs[1])
        },
        &[randn(&[5, 3], &mut r), randn(&[5, 3], &mut r)],
    );
}

#[test]
fn batch_normalize_matches_the_composed_ops_and_returns_the_statistics() {
    // Large enough for the parallel paths; f64 so the comparison is tight.
    let mut r = rng(48);
    let x = randn(&[16, 24, 9, 11], &mut r).with_requires_grad();
    let seed = randn(&[16, 24, 9, 11], &mut r);
    let (fused, mean, var) = x.batch_normalize(1e-5).unwrap();
    let composed = composed_batch_normalize(&x, &[0, 2, 3], 1e-5);
    assert_close(&fused.to_vec(), &composed.to_vec(), 1e-10);
    assert_close(
        &input_grad(&x, &fused, &seed),
        &input_grad(&x, &composed, &seed),
        1e-9,
    );
    let axes = [0, 2, 3];
    assert_close(
        &mean.to_vec(),
        &x.mean_axes(&axes, false).unwrap().to_vec(),
        1e-12,
    );
    assert_close(
        &var.to_vec(),
        &x.var_axes(&axes, false, 0).unwrap().to_vec(),
        1e-12,
    );
    assert!(!mean.requires_grad() && !var.requires_grad());
    // Bad shapes are errors that name the op, not panics.
    let e = randn(&[4], &mut r).batch_normalize(1e-5).unwrap_err().to_string();
    assert!(e.contains("batch_normalize") && e.contains("[4]"), "{e}");
    let e = Tensor::<f64>::zeros(&[0, 3])
        .batch_normalize(1e-5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch_normalize") && e.contains("[0, 3]"), "{e}");
}

#[test]
fn bce_with_logits_first_and_second_derivatives_and_values() {
    let mut r = rng(49);
    // Logits on both sides of 0 (the loss is smooth there; its pieces are not).
    check(
        "bce_with_logits",
        |xs| xs[0].bce_with_logits(&xs[1]),
        &[randn(&[3, 4], &mut r), common::uniform(&[3, 4], 0.0, 1.0, &mut r)],
    );
    // Against the definition −[y·log σ(x) + (1−y)·log(1 − σ(x))].
    let (x, y) = (randn(&[50], &mut r), common::uniform(&[50], 0.0, 1.0, &mut r));
    let p = x.sigmoid();
    let direct = y
        .mul(&p.log())
        .unwrap()
        .add(&y.rsub_scalar(1.0).mul(&p.rsub_scalar(1.0).log()).unwrap())
        .unwrap()
        .neg();
    assert_close(&x.bce_with_logits(&y).unwrap().to_vec(), &direct.to_vec(), 1e-12);
    let e = x.bce_with_logits(&randn(&[5], &mut r)).unwrap_err().to_string();
    assert!(e.contains("[50]") && e.contains("[5]"), "{e}");
}

#[test]
fn fast_paths_are_bitwise_reproducible_on_two_threads() {
    assert_same_bits_on_two_threads(|| {
        let mut r = rng(46);
        let x = Tensor::<f32>::randn(&[64, 128, 7, 7], 0.0, 1.0, &mut r)
            .unwrap()
            .with_requires_grad();
        let y = x.batch_normalize(1e-5).unwrap().0.leaky_relu(0.2);
        let s = no_grad(|| y.sum_axes(&[0, 2, 3], false).unwrap());
        y.sum().backward().unwrap();
        (y.to_vec(), s.to_vec(), x.grad().unwrap().to_vec())
    });
}

#[test]
fn batch_normalize_backward_without_a_graph_gives_the_composed_formulas_bits() {
    // The backward that builds no graph runs one kernel; it must give exactly
    // what x̄ = (ḡ − mean(ḡ) − x̂·mean(ḡ·x̂))·r gives in tensor ops, with r the
    // forward's 1/√(σ² + ε). In f32, where a different order of additions
    // shows: shapes small enough for the serial loops and large enough for
    // the parallel ones, a single channel (whose values the sums read as one
    // run), and [N, C] as BatchNorm1d gives it.
    let mut r = rng(49);
    let shapes: [&[usize]; 5] = [&[3, 2, 2, 3], &[16, 24, 9, 11], &[5, 1, 3, 7], &[6, 4], &[7, 1]];
    for shape in shapes {
        let to_f32 =
            |t: Tensor<f64>| Tensor::<f32>::from_vec(t.to_vec().iter().map(|&v| v as f32).collect(), shape);
        let x = to_f32(randn(shape, &mut r)).unwrap().with_requires_grad();
        let g = to_f32(randn(shape, &mut r)).unwrap();
        let (x_hat, _, var) = x.batch_normalize(1e-5).unwrap();
        // Σ(x̂·g) hands g to the normalisation's backward unchanged.
        x_hat.mul(&g).unwrap().sum().backward().unwrap();
        let kernel = x.grad().unwrap().to_vec();
        let axes: Vec<usize> = (0..shape.len()).filter(|&a| a != 1).collect();
        let mut channel_shape = vec![1; shape.len()];
        channel_shape[1] = shape[1];
        let composed = no_grad(|| {
            let r = Tensor::<f32>::ones(&channel_shape)
                .div(&var.add_scalar(1e-5).sqrt().reshape(&channel_shape)?)?;
            let mean_g = g.mean_axes(&axes, true)?;
            let mean_gx = g.mul(&x_hat)?.mean_axes(&axes, true)?;
            g.sub(&mean_g)?.sub(&x_hat.mul(&mean_gx)?)?.mul(&r)
        })
        .unwrap()
        .to_vec();
        assert_eq!(bits(&kernel), bits(&composed), "shape {shape:?}");
    }
}

#[test]
fn channel_affine_first_and_second_derivatives() {
    let mut r = rng(50);
    // Through a nonlinearity, so the second derivative sees every input:
    // [N, C, H, W] and [N, C].
    check(
        "channel_affine [N, C, H, W] then tanh",
        |xs| Ok(xs[0].channel_affine(&xs[1], &xs[2])?.tanh()),
        &[
            randn(&[3, 2, 2, 3], &mut r),
            randn(&[2], &mut r),
            randn(&[2], &mut r),
        ],
    );
    check(
        "channel_affine [N, C] squared",
        |xs| {
            let y = xs[0].channel_affine(&xs[1], &xs[2])?;
            y.mul(&y)
        },
        &[randn(&[5, 3], &mut r), randn(&[3], &mut r), randn(&[3], &mut r)],
    );
    // Bad shapes are errors that name the op and the shapes, not panics.
    let x = randn(&[4, 3, 2], &mut r);
    let e = x
        .channel_affine(&randn(&[4], &mut r), &randn(&[3], &mut r))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("channel_affine") && e.contains("weight") && e.contains("[4]"),
        "{e}"
    );
    let e = randn(&[3], &mut r)
        .channel_affine(&randn(&[3], &mut r), &randn(&[3], &mut r))
        .unwrap_err()
        .to_string();
    assert!(e.contains("channel_affine") && e.contains("[3]"), "{e}");
}

#[test]
fn channel_affine_gives_the_bits_of_a_broadcast_multiply_and_add() {
    // Values and all three gradients, against x·γ + β in broadcast tensor
    // ops (their backward sums down to the channels with `sum_to`), in f32
    // where a different order of additions shows: serial and parallel
    // sizes, a single channel (whose values the sums read as one run), and
    // [N, C] as BatchNorm1d gives it.
    let mut r = rng(51);
    let shapes: [&[usize]; 5] = [&[3, 2, 2, 3], &[16, 24, 9, 11], &[5, 1, 3, 7], &[6, 4], &[7, 1]];
    for shape in shapes {
        let [x, w, b, g] = batch_and_channel_values(shape, &mut r, |t| t.with_requires_grad());
        let mut view = vec![1; shape.len()];
        view[1] = shape[1];
        let grads = |fused: bool| {
            for t in [&x, &w, &b] {
                t.zero_grad();
            }
            let y = if fused {
                x.channel_affine(&w, &b).unwrap()
            } else {
                x.mul(&w.reshape(&view).unwrap())
                    .unwrap()
                    .add(&b.reshape(&view).unwrap())
                    .unwrap()
            };
            // Σ(y·g) hands g to the op's backward unchanged.
            y.mul(&g.detach()).unwrap().sum().backward().unwrap();
            let grad = |t: &Tensor<f32>| bits(&t.grad().unwrap().to_vec());
            (bits(&y.to_vec()), grad(&x), grad(&w), grad(&b))
        };
        assert_eq!(grads(true), grads(false), "shape {shape:?}");
    }
}

#[test]
fn batch_normalize_affine_first_and_second_derivatives() {
    let mut r = rng(52);
    // Through a nonlinearity and a weighting, so that the second derivative
    // reaches every input; [N, C, H, W] and [N, C].
    check(
        "batch_normalize_affine [N, C, H, W] then tanh",
        |xs| {
            xs[0]
                .batch_normalize_affine(&xs[1], &xs[2], 1e-5)?
                .0
                .tanh()
                .mul(&xs[3])
        },
        &normalize_inputs(&[3, 2, 2, 3], &mut r),
    );
    check(
        "batch_normalize_affine [N, C] squared",
        |xs| {
            let y = xs[0].batch_normalize_affine(&xs[1], &xs[2], 1e-5)?.0;
            y.mul(&y)?.mul(&xs[3])
        },
        &[
            randn(&[5, 3], &mut r),
            randn(&[3], &mut r),
            randn(&[3], &mut r),
            randn(&[5, 3], &mut r),
        ],
    );
    // Bad parameters are errors that name the op and the shapes.
    let x = randn(&[4, 3, 2], &mut r);
    let e = x
        .batch_normalize_affine(&randn(&[2], &mut r), &randn(&[3], &mut r), 1e-5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch_normalize_affine") && e.contains("[3]"), "{e}");
    // No channels at all: empty results, in f32 (the vector loops) and f64.
    let (y, mean, _) = Tensor::<f32>::zeros(&[2, 0, 3])
        .batch_normalize_affine(&Tensor::zeros(&[0]), &Tensor::zeros(&[0]), 1e-5)
        .unwrap();
    assert_eq!((y.shape(), mean.shape()), (vec![2, 0, 3], vec![0]));
    let (x_hat, mean, _) = randn(&[2, 0, 3], &mut r).batch_normalize(1e-5).unwrap();
    assert_eq!((x_hat.shape(), mean.shape()), (vec![2, 0, 3], vec![0]));
}

#[test]
fn batch_normalize_affine_rectified_first_and_second_derivatives() {
    let mut r = rng(54);
    for (name, rectifier) in [
        ("ReLU", Rectifier::Relu),
        ("leaky ReLU", Rectifier::LeakyRelu(0.2)),
    ] {
        // Weighted, so that the first derivative differs per value; through
        // tanh, so that the second reaches every input. Random values sit
        // far from the rectifier's kink at 0 compared with the checks' step.
        check(
            &format!("batch_normalize_affine_rectified ({name}) then tanh"),
            |xs| {
                xs[0]
                    .batch_normalize_affine_rectified(&xs[1], &xs[2], 1e-5, rectifier)?
                    .0
                    .tanh()
                    .mul(&xs[3])
            },
            &normalize_inputs(&[3, 2, 2, 3], &mut r),
        );
    }
    // The recorded backward (a graph, for a second derivative) and the
    // kernel's agree: the checks above compare each with finite
    // differences of itself.
    for rectifier in [Rectifier::Relu, Rectifier::LeakyRelu(0.2)] {
        let [x, w, b, seed]: [Tensor<f64>; 4] =
            [&[4, 3, 5][..], &[3], &[3], &[4, 3, 5]].map(|shape| randn(shape, &mut r));
        let (x, w, b) = (
            x.with_requires_grad(),
            w.with_requires_grad(),
            b.with_requires_grad(),
        );
        let grads = |options: BackwardOptions| -> Vec<Vec<f64>> {
            let y = x
                .batch_normalize_affine_rectified(&w, &b, 1e-5, rectifier)
                .unwrap()
                .0;
            let inputs = [x.clone(), w.clone(), b.clone()];
            let grads = grad(&[y], &inputs, Some(std::slice::from_ref(&seed)), options).unwrap();
            grads.iter().map(Tensor::to_vec).collect()
        };
        let (recorded, kernel) = (
            grads(BackwardOptions::create_graph()),
            grads(BackwardOptions::default()),
        );
        for (recorded, kernel) in recorded.iter().zip(&kernel) {
            assert_close(recorded, kernel, 1e-12);
        }
    }
    let e = randn(&[4, 3], &mut r)
        .batch_normalize_affine_rectified(&randn(&[3], &mut r), &randn(&[4], &mut r), 1e-5, Rectifier::Relu)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("batch_normalize_affine_rectified") && e.contains("[4]"),
        "{e}"
    );
}

#[test]
fn batch_normalize_affine_and_its_rectified_form_give_the_bits_of_the_ops() {
    // Values, statistics and the gradients of x, γ and β (each alone and
    // all together, which take different sums), against batch_normalize
    // followed by channel_affine (and by relu or leaky_relu, for the
    // rectified form), without a recorded graph, in f32: serial and
    // parallel sizes (W2's [64, 128, 7, 7] among them), a single channel
    // (whose values the sums read as one run), and [N, C], on 1 and 2
    // threads.
    let mut r = rng(53);
    let shapes: [&[usize]; 5] = [&[3, 2, 2, 3], &[64, 128, 7, 7], &[5, 1, 3, 7], &[6, 4], &[7, 1]];
    let rectifiers = [None, Some(Rectifier::Relu), Some(Rectifier::LeakyRelu(0.2))];
    for (shape, rectifier) in shapes.into_iter().flat_map(|s| rectifiers.map(|r| (s, r))) {
        // Means away from 0, so that x̂ differs from x.
        let [x, w, b, g] = batch_and_channel_values(shape, &mut r, |t| t.mul_scalar(3.0).add_scalar(0.5));
        for wants in [[true, true, true], [true, false, false], [false, true, true]] {
            let leaf = |t: &Tensor<f32>, want: bool| {
                if want {
                    t.detach().with_requires_grad()
                } else {
                    t.detach()
                }
            };
            let run = |fused: bool| {
                let (x, w, b) = (leaf(&x, wants[0]), leaf(&w, wants[1]), leaf(&b, wants[2]));
                let (y, mean, var) = match (fused, rectifier) {
                    (true, None) => x.batch_normalize_affine(&w, &b, 1e-5).unwrap(),
                    (true, Some(rectifier)) => x
                        .batch_normalize_affine_rectified(&w, &b, 1e-5, rectifier)
                        .unwrap(),
                    (false, _) => {
                        let (x_hat, mean, var) = x.batch_normalize(1e-5).unwrap();
                        let y = x_hat.channel_affine(&w, &b).unwrap();
                        (rectifier.map_or(y.clone(), |r| r.on(&y)), mean, var)
                    }
                };
                // Σ(y·g) hands g to the op's backward unchanged.
                y.mul(&g).unwrap().sum().backward().unwrap();
                let grad = |t: &Tensor<f32>, want: bool| want.then(|| bits(&t.grad().unwrap().to_vec()));
                (
                    [bits(&y.to_vec()), bits(&mean.to_vec()), bits(&var.to_vec())],
                    [grad(&x, wants[0]), grad(&w, wants[1]), grad(&b, wants[2])],
                )
            };
            for threads in [1, 2] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (fused, composed) = pool.install(|| (run(true), run(false)));
                assert_eq!(
                    fused, composed,
                    "shape {shape:?}, {rectifier:?}, wants {wants:?}, {threads} threads"
                );
            }
        }
    }
}

/// Inputs for a gradient check of BatchNorm's op: a batch `x` of `shape`,
/// `γ` and `β` (`[C]`) and weights of `shape` for its output, drawn in
/// that order.
fn normalize_inputs(shape: &[usize], r: &mut rand_chacha::ChaCha8Rng) -> [Tensor<f64>; 4] {
    let channels = [shape[1]];
    [shape, &channels, &channels, shape].map(|dims| randn(dims, r))
}

/// Standard normal values in f32 (drawn in f64, then rounded).
fn randn_f32(shape: &[usize], r: &mut rand_chacha::ChaCha8Rng) -> Tensor<f32> {
    let t: Tensor<f64> = randn(shape, r);
    Tensor::from_vec(t.to_vec().iter().map(|&v| v as f32).collect(), shape).unwrap()
}

/// A batch `x` of `shape`, per-channel `γ` and `β` (`[C]`, `C = shape[1]`)
/// and a seed `ȳ` of `shape`, drawn in that order by [`randn_f32`] and
/// each passed through `finish`.
fn batch_and_channel_values(
    shape: &[usize],
    r: &mut rand_chacha::ChaCha8Rng,
    finish: impl Fn(Tensor<f32>) -> Tensor<f32>,
) -> [Tensor<f32>; 4] {
    let channels = [shape[1]];
    [shape, &channels, &channels, shape].map(|dims| finish(randn_f32(dims, r)))
}
