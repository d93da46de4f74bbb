//! Creation ops: constants, ranges, the identity, and seeded random tensors
//! (same seed, same values; the right distribution; errors for bad ranges).

mod common;

use tensor::Tensor;

#[test]
fn constants_ranges_and_identity() {
    assert_eq!(Tensor::<f32>::zeros(&[2, 3]).to_vec(), vec![0.0; 6]);
    assert_eq!(Tensor::<f64>::ones(&[4]).to_vec(), vec![1.0; 4]);
    assert_eq!(Tensor::<f32>::full(&[2, 2], 7.5).to_vec(), vec![7.5; 4]);
    assert_eq!(Tensor::<f32>::scalar(3.0).shape(), Vec::<usize>::new());
    let x = Tensor::<f64>::ones(&[3, 1]);
    assert_eq!(x.zeros_like().shape(), vec![3, 1]);
    assert_eq!(
        Tensor::<f64>::arange(0.0, 1.0, 0.25).unwrap().to_vec(),
        vec![0.0, 0.25, 0.5, 0.75]
    );
    assert_eq!(
        Tensor::<f64>::arange(5.0, 2.0, -1.5).unwrap().to_vec(),
        vec![5.0, 3.5]
    );
    let err = Tensor::<f64>::arange(0.0, 1.0, -1.0).unwrap_err().to_string();
    assert!(err.contains("arange") && err.contains("step -1"), "{err}");
    assert_eq!(
        Tensor::<f32>::eye(3).to_vec(),
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    );
    let err = Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("from_vec") && err.contains("5 values") && err.contains("[2, 3]"),
        "{err}"
    );
}

#[test]
fn random_tensors_are_seeded_and_distributed_right() {
    let draw = |seed| {
        Tensor::<f64>::randn(&[20_000], 2.0, 0.5, &mut common::rng(seed))
            .unwrap()
            .to_vec()
    };
    assert_eq!(draw(1), draw(1), "same seed, same values");
    assert_ne!(draw(1), draw(2));
    let values = draw(3);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    // Standard error of the mean is 0.5/√20000 ≈ 0.0035.
    assert!(
        (mean - 2.0).abs() < 0.02 && (var.sqrt() - 0.5).abs() < 0.02,
        "mean {mean}, std {}",
        var.sqrt()
    );

    let u = Tensor::<f32>::rand_uniform(&[20_000], -1.0, 3.0, &mut common::rng(4))
        .unwrap()
        .to_vec();
    assert!(u.iter().all(|&v| (-1.0..3.0).contains(&v)));
    let mean = u.iter().sum::<f32>() / u.len() as f32;
    assert!((mean - 1.0).abs() < 0.05, "uniform mean {mean}");

    let err = Tensor::<f32>::rand_uniform(&[2], 1.0, 1.0, &mut common::rng(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("rand_uniform") && err.contains("empty"), "{err}");
    let err = Tensor::<f32>::randn(&[2], 0.0, -1.0, &mut common::rng(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("randn") && err.contains("-1"), "{err}");
}

#[test]
fn autograd_bookkeeping() {
    // detach, requires_grad, zero_grad, accumulation across backward calls,
    // freed graphs, and backward on a non-scalar.
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])
        .unwrap()
        .with_requires_grad();
    let y = x.mul_scalar(3.0).sum();
    y.backward().unwrap();
    x.mul_scalar(3.0).sum().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec(),
        vec![6.0, 6.0],
        "gradients accumulate until zero_grad"
    );
    x.zero_grad();
    assert!(x.grad().is_none());
    let err = y.backward().unwrap_err().to_string();
    assert!(
        err.contains("already freed") && err.contains("retain_graph"),
        "{err}"
    );
    let err = x.mul_scalar(2.0).backward().unwrap_err().to_string();
    assert!(err.contains("[2]") && err.contains("seed"), "{err}");
    let d = x.detach();
    assert!(!d.requires_grad() && d.is_leaf());
    assert!(!d.mul_scalar(2.0).requires_grad());
    let err = x
        .mul_scalar(2.0)
        .set_requires_grad(false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("leaf") && err.contains("mul_scalar"), "{err}");
    // retain_graph lets a graph be walked twice.
    let z = x.mul(&x).unwrap().sum();
    z.backward_with(None, tensor::BackwardOptions::retain_graph())
        .unwrap();
    z.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec(), vec![4.0, 8.0]);
}
