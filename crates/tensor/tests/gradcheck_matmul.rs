//! Gradient checks (first and second derivatives) of matmul, its forward
//! values against a naive triple loop (serial and parallel paths), bitwise
//! reproducibility for a fixed thread count, and its shape errors.

mod common;

use common::{bits, check, randn, rng};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tensor::{Element, Tensor};

/// `a·b` by the definition, in f64, for `[m, k]·[k, n]` or `[b, m, k]·[b, k, n]`.
fn naive<T: Element>(a: &Tensor<T>, b: &Tensor<T>) -> Vec<f64> {
    let (a_shape, b_shape) = (a.shape(), b.shape());
    let batched = a_shape.len() == 3;
    let (batch, m, k) = if batched {
        (a_shape[0], a_shape[1], a_shape[2])
    } else {
        (1, a_shape[0], a_shape[1])
    };
    let n = *b_shape.last().expect("rank ≥ 2");
    // to_vec is in logical order whatever the layout.
    let (a, b) = (a.to_vec(), b.to_vec());
    let mut c = vec![0.0; batch * m * n];
    for p in 0..batch {
        for i in 0..m {
            for j in 0..n {
                c[(p * m + i) * n + j] = (0..k)
                    .map(|l| {
                        Element::to_f64(a[(p * m + i) * k + l]) * Element::to_f64(b[(p * k + l) * n + j])
                    })
                    .sum();
            }
        }
    }
    c
}

fn assert_close<T: Element>(actual: &Tensor<T>, expected: &[f64], tolerance: f64) {
    let actual = actual.to_vec();
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        let error = (Element::to_f64(*a) - e).abs();
        assert!(error <= tolerance * (1.0 + e.abs()), "element {i}: {a} vs {e}");
    }
}

/// Random `(m, k, n)` with sizes in `1..=4`.
fn random_dims(rng: &mut ChaCha8Rng) -> (usize, usize, usize) {
    (
        rng.random_range(1..=4),
        rng.random_range(1..=4),
        rng.random_range(1..=4),
    )
}

#[test]
fn matmul_2d_on_random_and_degenerate_shapes() {
    let mut rng = rng(20);
    let mut shapes: Vec<(usize, usize, usize)> = (0..6).map(|_| random_dims(&mut rng)).collect();
    // Row times column, column times row, 1×1, and other shapes with 1s.
    shapes.extend([(1, 4, 1), (4, 1, 3), (1, 1, 1), (1, 3, 4), (3, 4, 1)]);
    for (m, k, n) in shapes {
        let inputs = [randn(&[m, k], &mut rng), randn(&[k, n], &mut rng)];
        check(
            &format!("matmul [{m}, {k}]·[{k}, {n}]"),
            |xs| xs[0].matmul(&xs[1]),
            &inputs,
        );
        // Squared afterwards: the second derivative then mixes both inputs.
        check(
            &format!("(matmul [{m}, {k}]·[{k}, {n}])²"),
            |xs| {
                let y = xs[0].matmul(&xs[1])?;
                y.mul(&y)
            },
            &inputs,
        );
    }
}

#[test]
fn matmul_3d_batched() {
    let mut rng = rng(21);
    for _ in 0..4 {
        let batch = rng.random_range(1..=3);
        let (m, k, n) = random_dims(&mut rng);
        let inputs = [randn(&[batch, m, k], &mut rng), randn(&[batch, k, n], &mut rng)];
        check(
            &format!("batched matmul [{batch}, {m}, {k}]·[{batch}, {k}, {n}]"),
            |xs| {
                let y = xs[0].matmul(&xs[1])?;
                y.mul(&y)
            },
            &inputs,
        );
        assert_close(
            &inputs[0].matmul(&inputs[1]).unwrap(),
            &naive(&inputs[0], &inputs[1]),
            1e-12,
        );
    }
}

#[test]
fn matmul_of_transposed_inputs() {
    let mut rng = rng(22);
    for _ in 0..4 {
        let (m, k, n) = random_dims(&mut rng);
        // Transposed inside f: the gemm reads the strided views directly.
        let inputs = [randn(&[k, m], &mut rng), randn(&[n, k], &mut rng)];
        check(
            "aᵀ·bᵀ",
            |xs| {
                let y = xs[0].t()?.matmul(&xs[1].t()?)?;
                y.mul(&y)
            },
            &inputs,
        );
        // Transposed leaves: non-contiguous from the start.
        let a = randn(&[k, m], &mut rng).t().unwrap();
        let b = randn(&[k, n], &mut rng);
        assert!(a.is_leaf());
        assert!(m == 1 || k == 1 || !a.array().is_standard_layout());
        assert_close(&a.matmul(&b).unwrap(), &naive(&a, &b), 1e-12);
        check("non-contiguous leaf · b", |xs| xs[0].matmul(&xs[1]), &[a, b]);
        // Batched, with the last two axes of one input transposed.
        let batch = rng.random_range(1..=3);
        let inputs = [randn(&[batch, m, k], &mut rng), randn(&[batch, n, k], &mut rng)];
        check("batched a·bᵀ", |xs| xs[0].matmul(&xs[1].t()?), &inputs);
    }
}

#[test]
fn matmul_of_a_tensor_with_its_own_transpose() {
    let mut rng = rng(23);
    for _ in 0..3 {
        let (m, k, _) = random_dims(&mut rng);
        let x = randn(&[m, k], &mut rng);
        // x is used twice: d(x·xᵀ) = dx·xᵀ + x·dxᵀ.
        check("x·xᵀ", |xs| xs[0].matmul(&xs[0].t()?), std::slice::from_ref(&x));
        check("xᵀ·x", |xs| xs[0].t()?.matmul(&xs[0]), std::slice::from_ref(&x));
    }
}

#[test]
fn matmul_forward_matches_the_definition_on_serial_and_parallel_paths() {
    let mut rng = rng(24);
    let shapes = [
        (1, 1, 1),
        (3, 5, 2),
        (1, 7, 9),
        (17, 1, 33),
        (64, 64, 64),
        (130, 70, 300),
    ];
    let serial = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (m, k, n) in shapes {
        let a = randn(&[m, k], &mut rng);
        let b = randn(&[k, n], &mut rng);
        let expected = naive(&a, &b);
        // One thread, then two (130×70·70×300 is large enough to be split).
        assert_close(&serial.install(|| a.matmul(&b).unwrap()), &expected, 1e-12);
        let parallel = pool.install(|| a.matmul(&b).unwrap());
        assert_close(&parallel, &expected, 1e-12);
        // f32 goes through sgemm: compare at f32 precision.
        let (a32, b32) = (a.cast::<f32>(), b.cast::<f32>());
        let expected32 = naive(&a32, &b32);
        assert_close(&pool.install(|| a32.matmul(&b32).unwrap()), &expected32, 1e-5);
    }
    // A tall product, split by rows rather than by columns.
    let a = randn(&[300, 70], &mut rng);
    let b = randn(&[70, 130], &mut rng);
    assert_close(&pool.install(|| a.matmul(&b).unwrap()), &naive(&a, &b), 1e-12);
    // Batched, each batch element large enough to split.
    let a = randn(&[2, 130, 70], &mut rng);
    let b = randn(&[2, 70, 300], &mut rng);
    assert_close(&pool.install(|| a.matmul(&b).unwrap()), &naive(&a, &b), 1e-12);
}

#[test]
fn matmul_is_bitwise_reproducible_for_a_fixed_thread_count() {
    let mut rng = rng(25);
    let a = randn(&[130, 70], &mut rng).cast::<f32>();
    let b = randn(&[70, 300], &mut rng).cast::<f32>();
    for threads in [1, 2] {
        let run = || {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| bits(&a.matmul(&b).unwrap().to_vec()))
        };
        assert_eq!(run(), run(), "{threads} thread(s): two runs differ");
    }
    let (a, b) = (a.cast::<f64>(), b.cast::<f64>());
    let bits64 = |t: &Tensor<f64>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<u64>>();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    assert_eq!(
        pool.install(|| bits64(&a.matmul(&b).unwrap())),
        pool.install(|| bits64(&a.matmul(&b).unwrap()))
    );
}

#[test]
fn matmul_shape_errors_name_the_op_and_both_shapes() {
    // Shapes torch.matmul refuses too: inner sizes that differ, batch
    // dimensions that do not broadcast, a 0-d operand.
    let cases: [(&[usize], &[usize]); 6] = [
        (&[2, 3], &[4, 5]),
        (&[2, 3, 4], &[3, 4, 5]),
        (&[2, 3, 4], &[2, 5, 6]),
        (&[2, 3], &[2, 4, 4]),
        (&[3], &[4]),
        (&[], &[3]),
    ];
    for (a, b) in cases {
        let e = Tensor::<f64>::zeros(a)
            .matmul(&Tensor::zeros(b))
            .expect_err("shapes do not fit")
            .to_string();
        assert!(
            e.contains("matmul") && e.contains(&format!("{a:?}")) && e.contains(&format!("{b:?}")),
            "{e}"
        );
    }
}
