//! The gradient checker checked: it must *catch* wrong backward rules, not
//! only pass right ones. Each test builds a custom op with
//! `Tensor::from_op` whose backward is deliberately wrong and asserts that
//! gradcheck (or gradgradcheck) reports the mismatch, at the right input,
//! with the analytic and numeric values one expects from the bug.

mod common;

use tensor::gradcheck::{GradcheckMode, GradcheckOptions, GradcheckReport, gradcheck, gradgradcheck};
use tensor::{GradientMismatch, Tensor, TensorError};

/// The mismatch a check reported, as `Err(mismatch)`; anything else (a pass,
/// or a failure of the function itself) as `Ok(description)`.
fn mismatch(result: tensor::Result<GradcheckReport>) -> Result<String, GradientMismatch> {
    match result {
        Err(TensorError::GradientMismatch(mismatch)) => Err(*mismatch),
        other => Ok(format!("{other:?}")),
    }
}

/// Both modes, so that each test shows each catches the bug.
const MODES: [GradcheckMode; 2] = [
    GradcheckMode::Full,
    GradcheckMode::RandomDirections { trials: 4, seed: 1 },
];

fn options(mode: GradcheckMode) -> GradcheckOptions {
    GradcheckOptions {
        mode,
        ..GradcheckOptions::default()
    }
}

/// `sin(x)` with the WRONG derivative `sin(x)` (it should be `cos(x)`).
fn sin_with_wrong_derivative(x: &Tensor<f64>) -> Tensor<f64> {
    Tensor::from_op("bad_sin", &[x], x.array().mapv(f64::sin), |ctx| {
        let wrong = Tensor::from_array(ctx.input(0).array().mapv(f64::sin));
        Ok(vec![Some(ctx.grad.mul(&wrong)?)])
    })
}

/// `x²` with a derivative off by a factor of 2: `x` instead of `2x`.
fn square_with_half_derivative(x: &Tensor<f64>) -> Tensor<f64> {
    Tensor::from_op("bad_square", &[x], x.array().mapv(|v| v * v), |ctx| {
        Ok(vec![Some(ctx.grad.mul(ctx.input(0))?)])
    })
}

/// `x³` whose derivative `3x²` is right in value but built as a *constant*
/// from x's values: a backward that builds a graph loses the dependence on
/// x, so the second derivative comes out 0 instead of `6x·ȳ`.
fn cube_with_detached_derivative(x: &Tensor<f64>) -> Tensor<f64> {
    Tensor::from_op("detached_cube", &[x], x.array().mapv(|v| v * v * v), |ctx| {
        let slope = Tensor::from_array(ctx.input(0).array().mapv(|v| 3.0 * v * v));
        Ok(vec![Some(ctx.grad.mul(&slope)?)])
    })
}

/// The same `x³` done right: the derivative written with tensor ops.
fn cube(x: &Tensor<f64>) -> Tensor<f64> {
    Tensor::from_op("cube", &[x], x.array().mapv(|v| v * v * v), |ctx| {
        let x = ctx.input(0);
        Ok(vec![Some(ctx.grad.mul(&x.square().mul_scalar(3.0))?)])
    })
}

/// Inputs where sin and cos differ clearly (away from π/4 + kπ).
fn angles() -> Tensor<f64> {
    Tensor::from_vec(vec![0.3, -1.2, 2.0, 0.1, -2.6, 1.4], &[2, 3]).unwrap()
}

#[test]
fn a_wrong_first_derivative_is_caught_with_the_values_of_the_bug() {
    let x = angles();
    let values = x.array();
    let f = |xs: &[Tensor<f64>]| Ok(sin_with_wrong_derivative(&xs[0]));
    // Full mode names the element: there, the analytic value is sin(x) and
    // the numeric one cos(x), on the diagonal of the Jacobian.
    match mismatch(gradcheck(
        f,
        std::slice::from_ref(&x),
        &options(GradcheckMode::Full),
    )) {
        Err(GradientMismatch {
            input: 0,
            input_index: Some(index),
            output_index: Some((0, out_index)),
            trial: None,
            analytic,
            numeric,
            tolerance,
        }) => {
            let v = values[index.as_slice()];
            assert_eq!(index, out_index, "only diagonal entries are wrong");
            assert!(
                (analytic - v.sin()).abs() < 1e-12,
                "analytic {analytic} vs sin {}",
                v.sin()
            );
            assert!(
                (numeric - v.cos()).abs() < 1e-6,
                "numeric {numeric} vs cos {}",
                v.cos()
            );
            assert!((analytic - numeric).abs() > tolerance);
        }
        other => panic!("expected a mismatch at input 0, got {other:?}"),
    }
    // Random directions catch it too, naming the input and the trial.
    let random = options(MODES[1]);
    match mismatch(gradcheck(f, std::slice::from_ref(&x), &random)) {
        Err(GradientMismatch {
            input: 0,
            input_index: None,
            trial: Some(trial),
            ..
        }) => assert!(trial < 4),
        other => panic!("expected a directional mismatch at input 0, got {other:?}"),
    }
}

#[test]
fn a_factor_of_two_is_caught_at_the_right_input() {
    // f(a, b) = a ⊙ bad_square(b): the bug is in input 1 only.
    let a = common::randn(&[3, 2], &mut common::rng(1));
    let b = common::away_from_zero(&[3, 2], 0.3, &mut common::rng(2));
    let f = |xs: &[Tensor<f64>]| xs[0].mul(&square_with_half_derivative(&xs[1]));
    for mode in MODES {
        match mismatch(gradcheck(f, &[a.clone(), b.clone()], &options(mode))) {
            Err(GradientMismatch {
                input: 1,
                analytic,
                numeric,
                input_index,
                ..
            }) => {
                if mode == GradcheckMode::Full {
                    // ∂(a·b²)/∂b = 2ab; the bug reports ab, half of it.
                    let index = input_index.expect("full mode names the element");
                    let (av, bv) = (a.array()[index.as_slice()], b.array()[index.as_slice()]);
                    assert!((numeric - 2.0 * av * bv).abs() < 1e-6);
                    assert!((analytic - av * bv).abs() < 1e-12);
                } else {
                    // A directional derivative along the same direction:
                    // the bug halves it exactly.
                    assert!((analytic - numeric / 2.0).abs() < 1e-6 * numeric.abs().max(1.0));
                }
            }
            other => panic!("{mode:?}: expected a mismatch at input 1, got {other:?}"),
        }
    }
}

#[test]
fn the_correct_rules_pass_in_both_modes() {
    // The counterpart of the tests above: without the bug, no complaint.
    let x = angles();
    let b = common::randn(&[2, 3], &mut common::rng(3));
    for mode in MODES {
        let options = options(mode);
        gradcheck(|xs| Ok(cube(&xs[0])), std::slice::from_ref(&x), &options).unwrap();
        gradgradcheck(|xs| Ok(cube(&xs[0])), std::slice::from_ref(&x), &options).unwrap();
        gradcheck(|xs| xs[0].mul(&xs[1].square()), &[x.clone(), b.clone()], &options).unwrap();
    }
}

#[test]
fn a_backward_that_is_not_differentiable_fails_only_gradgradcheck() {
    let x = angles();
    let f = |xs: &[Tensor<f64>]| Ok(cube_with_detached_derivative(&xs[0]));
    for mode in MODES {
        let options = options(mode);
        // First order: the values are right.
        gradcheck(f, std::slice::from_ref(&x), &options)
            .unwrap_or_else(|e| panic!("{mode:?}: first order is right, yet: {e}"));
        // Second order: gradgradcheck checks (x, u) ↦ u ⊙ 3x². Its derivative
        // in u (input 1) is right, 3x²; the one in x (input 0) should be
        // 6x ⊙ u but comes out 0, because the slope was a constant.
        match mismatch(gradgradcheck(f, std::slice::from_ref(&x), &options)) {
            Err(GradientMismatch {
                input: 0,
                analytic,
                numeric,
                input_index,
                ..
            }) => {
                assert_eq!(analytic, 0.0, "{mode:?}: the detached slope has no derivative");
                assert!(
                    numeric.abs() > 1e-3,
                    "{mode:?}: the true second derivative is not 0"
                );
                if mode == GradcheckMode::Full {
                    assert!(input_index.is_some());
                }
            }
            other => panic!("{mode:?}: expected a second-order mismatch at input 0, got {other:?}"),
        }
    }
}

#[test]
fn gradgradcheck_takes_functions_that_take_a_gradient_themselves() {
    // f(w) = Σ (∂/∂x Σ tanh(x·w))², a gradient penalty in miniature: f's
    // own value needs a backward pass with a graph, so gradgradcheck must
    // not evaluate f with recording off (it once did, to learn the output
    // shape, and failed with "does not require grad").
    let x = angles();
    let w = common::randn(&[3, 2], &mut common::rng(5));
    let f = |ws: &[Tensor<f64>]| {
        let x = x.detach().with_requires_grad();
        let g = tensor::grad(
            &[x.matmul(&ws[0])?.tanh().sum()],
            std::slice::from_ref(&x),
            None,
            tensor::BackwardOptions::create_graph(),
        )?;
        Ok(g[0].square().sum())
    };
    for mode in MODES {
        let options = options(mode);
        gradcheck(f, std::slice::from_ref(&w), &options).unwrap();
        gradgradcheck(f, std::slice::from_ref(&w), &options)
            .unwrap_or_else(|e| panic!("{mode:?}: third derivatives of tanh: {e}"));
    }
}
