//! Loss values and gradients against hand-computed cases, including extreme
//! logits where a naive formula overflows.

// The gradient-check helpers of the tensor crate's tests, shared.
#[path = "../../tensor/tests/common/mod.rs"]
mod common;

use common::{check, randn, rng, uniform};
use nn::loss::{
    Reduction, bce_with_logits_to, binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
    hinge_discriminator, hinge_generator, mse,
};
use tensor::Tensor;

fn t(values: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(values.to_vec(), &[values.len()]).unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[test]
fn bce_on_probabilities_values_and_clamp() {
    let p = t(&[0.8, 0.3]);
    let y = t(&[1.0, 0.0]);
    let expected = [-(0.8f64.ln()), -(0.7f64.ln())];
    let mean = binary_cross_entropy(&p, &y, None, Reduction::Mean)
        .unwrap()
        .item()
        .unwrap();
    assert!(close(mean, (expected[0] + expected[1]) / 2.0, 1e-12));
    let sum = binary_cross_entropy(&p, &y, None, Reduction::Sum)
        .unwrap()
        .item()
        .unwrap();
    assert!(close(sum, expected[0] + expected[1], 1e-12));
    let weighted = binary_cross_entropy(&p, &y, Some(&t(&[2.0, 0.5])), Reduction::None)
        .unwrap()
        .to_vec();
    assert!(close(weighted[0], 2.0 * expected[0], 1e-12) && close(weighted[1], 0.5 * expected[1], 1e-12));
    // A saturated prediction gives PyTorch's clamped 100, not infinity.
    let saturated = binary_cross_entropy(&t(&[0.0, 1.0]), &t(&[1.0, 0.0]), None, Reduction::None).unwrap();
    assert_eq!(saturated.to_vec(), vec![100.0, 100.0]);
    // Gradient of −log p at p = 0.8, y = 1: −1/p.
    let p = t(&[0.8]).with_requires_grad();
    binary_cross_entropy(&p, &t(&[1.0]), None, Reduction::Sum)
        .unwrap()
        .backward()
        .unwrap();
    assert!(close(p.grad().unwrap().item().unwrap(), -1.25, 1e-12));
}

#[test]
fn bce_with_logits_is_stable_at_extreme_logits() {
    let x = t(&[100.0, -100.0, 100.0, -100.0, 0.0]);
    let y = t(&[0.0, 1.0, 1.0, 0.0, 1.0]);
    let losses = binary_cross_entropy_with_logits(&x, &y, None, Reduction::None)
        .unwrap()
        .to_vec();
    assert_eq!(losses[0], 100.0);
    assert_eq!(losses[1], 100.0);
    assert!(
        losses[2] > 0.0 && close(losses[2], (-100f64).exp(), 1e-9),
        "log(1+e^-100) = {}",
        losses[2]
    );
    assert!(losses[3] > 0.0 && close(losses[3], (-100f64).exp(), 1e-9));
    assert!(close(losses[4], 2f64.ln(), 1e-15));
    // The gradient is σ(x) − y: exactly ±1 or ~0 at the extremes, never NaN.
    let x = x.with_requires_grad();
    binary_cross_entropy_with_logits(&x, &y, None, Reduction::Sum)
        .unwrap()
        .backward()
        .unwrap();
    let g = x.grad().unwrap().to_vec();
    assert_eq!(&g[..2], &[1.0, -1.0]);
    assert!(g[2].abs() < 1e-40 && g[3].abs() < 1e-40);
    assert!(close(g[4], -0.5, 1e-15));
    // f32 too: a naive log(1 − sigmoid(100)) would be −inf.
    let x32 = Tensor::<f32>::from_vec(vec![100.0, -100.0], &[2]).unwrap();
    let y32 = Tensor::<f32>::from_vec(vec![0.0, 1.0], &[2]).unwrap();
    let l = binary_cross_entropy_with_logits(&x32, &y32, None, Reduction::Mean)
        .unwrap()
        .item()
        .unwrap();
    assert_eq!(l, 100.0);
    // The GAN helper: BCE against a constant label.
    let l = bce_with_logits_to(&t(&[0.0, 0.0]), 1.0).unwrap().item().unwrap();
    assert!(close(l, 2f64.ln(), 1e-15));
}

#[test]
fn losses_pass_gradient_checks() {
    let mut r = rng(11);
    let probabilities = uniform(&[3, 4], 0.05, 0.95, &mut r);
    let targets = uniform(&[3, 4], 0.0, 1.0, &mut r);
    check(
        "binary_cross_entropy",
        |xs| binary_cross_entropy(&xs[0], &xs[1], Some(&xs[2]), Reduction::Mean),
        &[probabilities, targets.clone(), uniform(&[3, 4], 0.5, 2.0, &mut r)],
    );
    check(
        "binary_cross_entropy_with_logits",
        |xs| binary_cross_entropy_with_logits(&xs[0], &xs[1], None, Reduction::Sum),
        &[randn(&[3, 4], &mut r), targets],
    );
    check(
        "mse",
        |xs| mse(&xs[0], &xs[1], Reduction::Mean),
        &[randn(&[5], &mut r), randn(&[5], &mut r)],
    );
    check(
        "hinge_discriminator",
        |xs| hinge_discriminator(&xs[0], &xs[1]),
        // Keep 1 − D(x) and 1 + D(G(z)) away from the hinge at 0.
        &[t(&[0.2, 0.5, 1.7, -0.4]), t(&[-0.3, 0.6, -1.8, 0.1])],
    );
    check(
        "hinge_generator",
        |xs| Ok(hinge_generator(&xs[0])),
        &[randn(&[4], &mut r)],
    );
    check(
        "cross_entropy",
        |xs| cross_entropy(&xs[0], &[2, 0, 1], Reduction::Mean),
        &[randn(&[3, 4], &mut r)],
    );
}

#[test]
fn cross_entropy_and_mse_values() {
    let logits = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 1.0, 1.0, 1.0], &[2, 3]).unwrap();
    let losses = cross_entropy(&logits, &[2, 0], Reduction::None).unwrap().to_vec();
    let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
    assert!(close(losses[0], lse - 3.0, 1e-14));
    assert!(close(losses[1], 3f64.ln(), 1e-14));
    let err = cross_entropy(&logits, &[3, 0], Reduction::Mean)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cross_entropy") && err.contains("target 3"), "{err}");
    let m = mse(&t(&[1.0, 2.0]), &t(&[0.0, 4.0]), Reduction::Mean)
        .unwrap()
        .item()
        .unwrap();
    assert_eq!(m, 2.5);
    let err = mse(&t(&[1.0, 2.0]), &t(&[0.0]), Reduction::Mean)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mse") && err.contains("[2]") && err.contains("[1]"),
        "{err}"
    );
    // Hinge values: relu(1 − 0.5) + relu(1 + (−2)) averaged, and −mean for G.
    let d = hinge_discriminator(&t(&[0.5]), &t(&[-2.0]))
        .unwrap()
        .item()
        .unwrap();
    assert_eq!(d, 0.5);
    assert_eq!(hinge_generator(&t(&[1.0, 3.0])).item().unwrap(), -2.0);
}
