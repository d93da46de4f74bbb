//! Gradient checks (first and second order) for the elementwise ops: binary
//! ops with broadcasting, unary and scalar ops, activations, softmax and
//! dropout; plus forward-value tests for their numerical stability, dropout's
//! statistics, and their error messages.
//!
//! Inputs avoid every op's non-differentiable points by construction (never
//! by looser tolerances): relu/abs away from 0, max/min without ties, clamp
//! away from its bounds, log/sqrt/powf on positive values.

mod common;

use common::{away_from_zero, check, randn, rng, uniform};
use ndarray::{Array2, s};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tensor::{Result, Tensor};

type Binary = fn(&Tensor<f64>, &Tensor<f64>) -> Result<Tensor<f64>>;
type Unary = fn(&Tensor<f64>) -> Result<Tensor<f64>>;

const ARITHMETIC: [(&str, Binary); 4] = [
    ("add", Tensor::add),
    ("sub", Tensor::sub),
    ("mul", Tensor::mul),
    ("div", Tensor::div),
];

const EXTREMA: [(&str, Binary); 2] = [("maximum", Tensor::maximum), ("minimum", Tensor::minimum)];

/// A random shape of rank 1 to 3 with sizes 1 to 3 (size 1 included on
/// purpose: it is where broadcasting and reductions go wrong).
fn random_shape(rng: &mut ChaCha8Rng) -> Vec<usize> {
    let rank = rng.random_range(1..=3);
    (0..rank).map(|_| rng.random_range(1..=3)).collect()
}

/// Distinct multiples of 0.5, shuffled, plus `offset`. Two tensors made with
/// offsets 0 and 0.25 can never tie anywhere, whatever their shapes; values
/// with offset 0.25 are never on a multiple of 0.5 (such as clamp's bounds).
fn grid(shape: &[usize], offset: f64, rng: &mut ChaCha8Rng) -> Tensor<f64> {
    let n: usize = shape.iter().product();
    let mut values: Vec<f64> = (0..n)
        .map(|i| (i as f64 - (n / 2) as f64) * 0.5 + offset)
        .collect();
    values.shuffle(rng);
    Tensor::from_vec(values, shape).unwrap()
}

/// Checks every arithmetic op on inputs of shapes `a` and `b` (the divisor
/// kept away from 0).
fn check_arithmetic(a: &[usize], b: &[usize], rng: &mut ChaCha8Rng) {
    let inputs = [randn(a, rng), away_from_zero(b, 0.5, rng)];
    for (name, op) in ARITHMETIC {
        check(
            &format!("{name} {a:?} {b:?}"),
            move |xs| op(&xs[0], &xs[1]),
            &inputs,
        );
    }
}

#[test]
fn arithmetic_on_random_shapes() {
    let mut rng = rng(1);
    for _ in 0..4 {
        let shape = random_shape(&mut rng);
        check_arithmetic(&shape, &shape, &mut rng);
    }
}

#[test]
fn arithmetic_broadcasts_size_one_dims() {
    let mut rng = rng(2);
    check_arithmetic(&[3, 1], &[1, 4], &mut rng);
    check_arithmetic(&[1, 4], &[3, 1], &mut rng);
    check_arithmetic(&[2, 1, 3], &[2, 4, 1], &mut rng);
}

#[test]
fn arithmetic_broadcasts_across_ranks() {
    let mut rng = rng(3);
    check_arithmetic(&[2, 3, 4], &[4], &mut rng);
    check_arithmetic(&[4], &[2, 3, 4], &mut rng);
    check_arithmetic(&[2, 3, 4], &[3, 1], &mut rng);
}

#[test]
fn arithmetic_with_rank0_scalars() {
    let mut rng = rng(4);
    check_arithmetic(&[], &[2, 3], &mut rng);
    check_arithmetic(&[2, 3], &[], &mut rng);
    check_arithmetic(&[], &[], &mut rng);
}

#[test]
fn maximum_and_minimum_without_ties() {
    let mut rng = rng(5);
    let shape = random_shape(&mut rng);
    let pairs = [
        (shape.clone(), shape),
        (vec![3, 1], vec![1, 4]),
        (vec![2, 3, 4], vec![4]),
        (vec![], vec![2, 3]),
    ];
    for (a, b) in pairs {
        let inputs = [grid(&a, 0.0, &mut rng), grid(&b, 0.25, &mut rng)];
        for (name, op) in EXTREMA {
            check(
                &format!("{name} {a:?} {b:?}"),
                move |xs| op(&xs[0], &xs[1]),
                &inputs,
            );
            check(
                &format!("{name} {b:?} {a:?}"),
                move |xs| op(&xs[1], &xs[0]),
                &inputs,
            );
        }
    }
}

#[test]
fn scalar_ops() {
    let ops: [(&str, Unary); 7] = [
        ("neg", |x| Ok(x.neg())),
        ("add_scalar", |x| Ok(x.add_scalar(1.5))),
        ("sub_scalar", |x| Ok(x.sub_scalar(0.7))),
        ("rsub_scalar", |x| Ok(x.rsub_scalar(2.0))),
        ("mul_scalar", |x| Ok(x.mul_scalar(-3.0))),
        ("div_scalar", |x| Ok(x.div_scalar(0.4))),
        ("square", |x| Ok(x.square())),
    ];
    let mut rng = rng(6);
    for (name, op) in ops {
        let shape = random_shape(&mut rng);
        check(
            &format!("{name} {shape:?}"),
            move |xs| op(&xs[0]),
            &[randn(&shape, &mut rng)],
        );
    }
}

#[test]
fn scalar_op_values() {
    let x = Tensor::<f64>::from_vec(vec![1.0, -2.0], &[2]).unwrap();
    assert_eq!(x.sub_scalar(0.5).to_vec(), vec![0.5, -2.5]);
    assert_eq!(x.rsub_scalar(1.0).to_vec(), vec![0.0, 3.0]);
    assert_eq!(x.div_scalar(4.0).to_vec(), vec![0.25, -0.5]);
    assert_eq!(x.square().to_vec(), vec![1.0, 4.0]);
    assert_eq!(x.powf(3.0).to_vec(), vec![1.0, -8.0]);
}

#[test]
fn exp_log_sqrt_powf() {
    let ops: [(&str, Unary); 7] = [
        ("exp", |x| Ok(x.exp())),
        ("log", |x| Ok(x.log())),
        ("sqrt", |x| Ok(x.sqrt())),
        ("powf 2.5", |x| Ok(x.powf(2.5))),
        ("powf -1.5", |x| Ok(x.powf(-1.5))),
        ("powf 0.5", |x| Ok(x.powf(0.5))),
        ("powf 0", |x| Ok(x.powf(0.0))),
    ];
    let mut rng = rng(7);
    for (name, op) in ops {
        let shape = random_shape(&mut rng);
        // Positive inputs: log, sqrt and fractional powers are real there.
        let x = uniform(&shape, 0.5, 2.5, &mut rng);
        check(&format!("{name} {shape:?}"), move |xs| op(&xs[0]), &[x]);
    }
}

#[test]
fn kinked_ops_away_from_their_kinks() {
    let ops: [(&str, Unary); 3] = [
        ("abs", |x| Ok(x.abs())),
        ("relu", |x| Ok(x.relu())),
        ("leaky_relu", |x| Ok(x.leaky_relu(0.2))),
    ];
    let mut rng = rng(8);
    for (name, op) in ops {
        let shape = random_shape(&mut rng);
        check(
            &format!("{name} {shape:?}"),
            move |xs| op(&xs[0]),
            &[away_from_zero(&shape, 0.1, &mut rng)],
        );
    }
    // clamp on values that are never ±0.5 (offset 0.25 from the grid), both
    // inside and outside the range.
    for shape in [vec![3, 4], random_shape(&mut rng)] {
        let x = grid(&shape, 0.25, &mut rng);
        check(&format!("clamp {shape:?}"), |xs| xs[0].clamp(-0.5, 0.5), &[x]);
    }
    let clamped = grid(&[3, 4], 0.25, &mut rng).clamp(-0.5, 0.5).unwrap().to_vec();
    assert!(clamped.iter().any(|&v| v.abs() == 0.5) && clamped.iter().any(|&v| v.abs() < 0.5));
}

#[test]
fn kinked_op_gradients_have_the_expected_values() {
    let x = Tensor::<f64>::from_vec(vec![-2.0, -0.5, 0.5, 2.0], &[4])
        .unwrap()
        .with_requires_grad();
    let grad_of = |y: Tensor<f64>| {
        x.zero_grad();
        y.sum().backward().unwrap();
        x.grad().unwrap().to_vec()
    };
    assert_eq!(grad_of(x.relu()), vec![0.0, 0.0, 1.0, 1.0]);
    assert_eq!(grad_of(x.leaky_relu(0.2)), vec![0.2, 0.2, 1.0, 1.0]);
    assert_eq!(grad_of(x.abs()), vec![-1.0, -1.0, 1.0, 1.0]);
    assert_eq!(grad_of(x.clamp(-1.0, 1.0).unwrap()), vec![0.0, 1.0, 1.0, 0.0]);
}

#[test]
fn smooth_activations() {
    let ops: [(&str, Unary); 4] = [
        ("sigmoid", |x| Ok(x.sigmoid())),
        ("tanh", |x| Ok(x.tanh())),
        ("softplus", |x| Ok(x.softplus())),
        ("log_sigmoid", |x| Ok(x.log_sigmoid())),
    ];
    let mut rng = rng(9);
    for (name, op) in ops {
        let shape = random_shape(&mut rng);
        // Spread over [-4, 4] so both branches of the stable forms are used.
        let x = uniform(&shape, -4.0, 4.0, &mut rng);
        check(&format!("{name} {shape:?}"), move |xs| op(&xs[0]), &[x]);
        let both_signs = Tensor::from_vec(vec![-3.0, -0.4, 0.3, 2.5], &[2, 2]).unwrap();
        check(&format!("{name} [2, 2]"), move |xs| op(&xs[0]), &[both_signs]);
    }
}

#[test]
fn softmax_and_log_softmax_along_every_axis() {
    let mut rng = rng(10);
    let x = randn(&[2, 3, 4], &mut rng);
    for axis in 0..3 {
        check(
            &format!("softmax axis {axis}"),
            move |xs| xs[0].softmax(axis),
            std::slice::from_ref(&x),
        );
        check(
            &format!("log_softmax axis {axis}"),
            move |xs| xs[0].log_softmax(axis),
            std::slice::from_ref(&x),
        );
    }
    // Random shapes, last axis (the classifier's case); a weighted sum so the
    // checked output is a scalar of a non-trivial combination.
    for _ in 0..3 {
        let shape = random_shape(&mut rng);
        let axis = shape.len() - 1;
        let inputs = [randn(&shape, &mut rng), randn(&shape, &mut rng)];
        check(
            &format!("softmax·w {shape:?}"),
            move |xs| Ok(xs[0].softmax(axis)?.mul(&xs[1])?.sum()),
            &inputs,
        );
        check(
            &format!("log_softmax·w {shape:?}"),
            move |xs| Ok(xs[0].log_softmax(axis)?.mul(&xs[1])?.sum()),
            &inputs,
        );
    }
}

#[test]
fn dropout_gradients() {
    let mut rng = rng(11);
    for _ in 0..3 {
        let shape = random_shape(&mut rng);
        // A fresh RNG with the same seed on every call: the same mask each
        // time, so the function is deterministic as gradcheck requires.
        check(
            &format!("dropout {shape:?}"),
            |xs| xs[0].dropout(0.3, &mut common::rng(99)),
            &[randn(&shape, &mut rng)],
        );
    }
}

/// A leaf whose values are a *view* with a non-standard memory layout.
fn assert_non_standard(t: &Tensor<f64>) {
    assert!(
        !t.array().is_standard_layout(),
        "the test needs a non-standard layout"
    );
}

#[test]
fn non_contiguous_inputs() {
    let mut rng = rng(12);
    let values = randn(&[3, 4], &mut rng).to_vec();
    let array = Array2::from_shape_vec((3, 4), values).unwrap();

    // A leaf made from a transposed array (column-major strides).
    let transposed = Tensor::from_shared(array.clone().reversed_axes().into_dyn().into_shared());
    assert_non_standard(&transposed);
    // A leaf made from a slice: columns 1..3 of each row, strides (4, 1).
    let sliced = Tensor::from_shared(array.slice_move(s![.., 1..3]).into_dyn().into_shared());
    assert_non_standard(&sliced);
    assert_eq!(sliced.shape(), vec![3, 2]);

    for (name, leaf) in [("transposed", &transposed), ("sliced", &sliced)] {
        let leaf = std::slice::from_ref(leaf);
        check(&format!("exp of {name}"), |xs| Ok(xs[0].exp()), leaf);
        check(&format!("sigmoid of {name}"), |xs| Ok(xs[0].sigmoid()), leaf);
        check(&format!("x·x of {name}"), |xs| xs[0].mul(&xs[0]), leaf);
        check(&format!("softmax of {name}"), |xs| xs[0].softmax(0), leaf);
        check(&format!("log_softmax of {name}"), |xs| xs[0].log_softmax(1), leaf);
        check(
            &format!("dropout of {name}"),
            |xs| xs[0].dropout(0.5, &mut common::rng(3)),
            leaf,
        );
    }
    // A non-contiguous leaf meeting a contiguous one in a broadcasting op.
    let row = randn(&[1, 2], &mut rng);
    check(
        "sliced + row",
        |xs| xs[0].add(&xs[1]),
        &[sliced.clone(), row.clone()],
    );
    check(
        "sliced / row",
        |xs| xs[0].div(&xs[1].add_scalar(3.0)),
        &[sliced, row],
    );

    // Transposed views made inside the function.
    let x = randn(&[3, 4], &mut rng);
    let y = randn(&[4, 3], &mut rng);
    check("exp(xᵀ)", |xs| Ok(xs[0].t()?.exp()), std::slice::from_ref(&x));
    check(
        "tanh(xᵀ) ⊙ y",
        |xs| xs[0].t()?.tanh().mul(&xs[1]),
        &[x.clone(), y],
    );
    check(
        "softmax(xᵀ, 1)",
        |xs| xs[0].t()?.softmax(1),
        std::slice::from_ref(&x),
    );
    check(
        "relu(xᵀ)",
        |xs| Ok(xs[0].t()?.relu()),
        &[away_from_zero(&[3, 4], 0.1, &mut rng)],
    );
}

#[test]
fn forward_values_of_non_contiguous_inputs_match_contiguous_ones() {
    let array = Array2::from_shape_fn((3, 4), |(i, j)| (i as f64) - 0.7 * j as f64);
    let transposed = Tensor::from_shared(array.clone().reversed_axes().into_dyn().into_shared());
    let copied = Tensor::from_array(array.reversed_axes().as_standard_layout().into_owned().into_dyn());
    assert_eq!(transposed.sigmoid().to_vec(), copied.sigmoid().to_vec());
    assert_eq!(
        transposed.softmax(1).unwrap().to_vec(),
        copied.softmax(1).unwrap().to_vec()
    );
    assert_eq!(
        transposed.log_softmax(0).unwrap().to_vec(),
        copied.log_softmax(0).unwrap().to_vec()
    );
}

#[test]
fn tensor_used_twice() {
    let mut rng = rng(13);
    let x = randn(&[2, 3], &mut rng);
    let inputs = std::slice::from_ref(&x);
    check("x·x", |xs| xs[0].mul(&xs[0]), inputs);
    check("x + exp(x)", |xs| xs[0].add(&xs[0].exp()), inputs);
    check("x − sigmoid(x)", |xs| xs[0].sub(&xs[0].sigmoid()), inputs);
    check(
        "tanh(x)/(x² + 1)",
        |xs| xs[0].tanh().div(&xs[0].square().add_scalar(1.0)),
        inputs,
    );
}

#[test]
fn diamond_graph() {
    let mut rng = rng(14);
    let x = randn(&[2, 3], &mut rng);
    // a = exp(x/2), b = sigmoid(x): both branches lead back to x.
    check(
        "exp(x/2) ⊙ sigmoid(x)",
        |xs| xs[0].div_scalar(2.0).exp().mul(&xs[0].sigmoid()),
        std::slice::from_ref(&x),
    );
    // A deeper diamond: h = tanh(x); out = softplus(h) ⊙ softmax(h).
    check(
        "softplus(h) ⊙ softmax(h)",
        |xs| {
            let h = xs[0].tanh();
            h.softplus().mul(&h.softmax(1)?)
        },
        std::slice::from_ref(&x),
    );
}

// ---------------------------------------------------------------------------
// Forward values: stability at extreme inputs, softmax, dropout, errors.
// ---------------------------------------------------------------------------

/// `(x, σ(x), softplus(x), log σ(x))`, from a double-precision reference.
const ACTIVATION_VALUES: [(f64, f64, f64, f64); 7] = [
    (1000.0, 1.0, 1000.0, 0.0),
    (100.0, 1.0, 100.0, -3.720075976020836e-44),
    (2.0, 0.8807970779778823, 2.1269280110429727, -0.1269280110429725),
    (0.0, 0.5, std::f64::consts::LN_2, -std::f64::consts::LN_2),
    (-2.0, 0.11920292202211755, 0.1269280110429725, -2.1269280110429727),
    (-100.0, 3.720075976020836e-44, 3.720075976020836e-44, -100.0),
    (-1000.0, 0.0, 0.0, -1000.0),
];

/// Within a few units in the last place of `T`, or of its smallest
/// subnormal step (`e⁻¹⁰⁰ ≈ 3.7e-44` is subnormal in `f32`).
fn assert_close<T: tensor::Element>(what: &str, x: f64, actual: T, expected: f64) {
    let actual = actual.to_f64();
    let ulp = T::epsilon().to_f64();
    let smallest = (T::min_positive_value() * T::epsilon()).to_f64();
    let tolerance = 4.0 * ulp * expected.abs() + 2.0 * smallest;
    assert!(
        actual.is_finite() && (actual - expected).abs() <= tolerance,
        "{}: {what}({x}) = {actual:e}, expected {expected:e}",
        T::NAME
    );
}

fn activation_values_are_finite_and_accurate<T: tensor::Element>() {
    let xs: Vec<T> = ACTIVATION_VALUES.iter().map(|v| T::from_f64(v.0)).collect();
    let x = Tensor::<T>::from_vec(xs, &[ACTIVATION_VALUES.len()]).unwrap();
    let (sigmoid, softplus, log_sigmoid) = (
        x.sigmoid().to_vec(),
        x.softplus().to_vec(),
        x.log_sigmoid().to_vec(),
    );
    for (i, &(x, s, sp, ls)) in ACTIVATION_VALUES.iter().enumerate() {
        assert_close("sigmoid", x, sigmoid[i], s);
        assert_close("softplus", x, softplus[i], sp);
        assert_close("log_sigmoid", x, log_sigmoid[i], ls);
    }
    // Saturation is exact, not merely close: 1/0 and never NaN.
    assert_eq!(sigmoid[0], T::one());
    assert_eq!(sigmoid[6], T::zero());
    let big = Tensor::<T>::from_vec(vec![T::from_f64(-1000.0), T::from_f64(1000.0)], &[2]).unwrap();
    assert_eq!(big.tanh().to_vec(), vec![-T::one(), T::one()]);
    // The gradients at the extremes are finite and right:
    // σ' = 0, softplus' = σ(x) ∈ {0, 1}, (log σ)' = σ(−x) ∈ {1, 0}.
    let big = big.with_requires_grad();
    let grad_of = |y: Tensor<T>| {
        big.zero_grad();
        y.sum().backward().unwrap();
        big.grad().unwrap().to_vec()
    };
    assert_eq!(grad_of(big.sigmoid()), vec![T::zero(), T::zero()]);
    assert_eq!(grad_of(big.softplus()), vec![T::zero(), T::one()]);
    assert_eq!(grad_of(big.log_sigmoid()), vec![T::one(), T::zero()]);
}

#[test]
fn activations_are_stable_at_extreme_inputs() {
    activation_values_are_finite_and_accurate::<f32>();
    activation_values_are_finite_and_accurate::<f64>();
}

#[test]
fn softmax_lanes_sum_to_one() {
    let mut rng = rng(20);
    let x = randn(&[4, 5, 3], &mut rng).mul_scalar(5.0);
    for axis in 0..3 {
        let y = x.softmax(axis).unwrap();
        assert!(y.to_vec().iter().all(|&v| v > 0.0 && v < 1.0));
        let sums = y.sum_axes(&[axis], false).unwrap().to_vec();
        assert!(
            sums.iter().all(|s| (s - 1.0).abs() < 1e-12),
            "axis {axis}: {sums:?}"
        );
        // log_softmax agrees with log(softmax) where neither underflows.
        let log = x.log_softmax(axis).unwrap().to_vec();
        for (l, s) in log.iter().zip(y.to_vec()) {
            assert!((l - s.ln()).abs() < 1e-12);
        }
    }
}

#[test]
fn softmax_is_stable_for_large_inputs() {
    let expected = [0.2689414213699951, 0.7310585786300049];
    let expected_log = [-1.3132616875182228, -0.31326168751822286];
    let x64 = Tensor::<f64>::from_vec(vec![1000.0, 1001.0], &[1, 2]).unwrap();
    let (y64, l64) = (
        x64.softmax(1).unwrap().to_vec(),
        x64.log_softmax(1).unwrap().to_vec(),
    );
    let x32 = x64.cast::<f32>();
    let (y32, l32) = (
        x32.softmax(1).unwrap().to_vec(),
        x32.log_softmax(1).unwrap().to_vec(),
    );
    for i in 0..2 {
        assert_close("softmax", 1000.0, y64[i], expected[i]);
        assert_close("softmax", 1000.0, y32[i], expected[i]);
        assert_close("log_softmax", 1000.0, l64[i], expected_log[i]);
        assert_close("log_softmax", 1000.0, l32[i], expected_log[i]);
    }
    // Where softmax underflows to 0, log_softmax stays finite.
    let far = Tensor::<f32>::from_vec(vec![0.0, -1000.0], &[2]).unwrap();
    assert_eq!(far.softmax(0).unwrap().to_vec(), vec![1.0, 0.0]);
    assert_eq!(far.log_softmax(0).unwrap().to_vec(), vec![0.0, -1000.0]);
}

#[test]
fn parallel_softmax_matches_serial_bitwise() {
    // 40 × 1024 elements is above the parallel threshold; each row alone is below.
    let mut rng = rng(21);
    let x = Tensor::<f32>::randn(&[40, 1024], 0.0, 3.0, &mut rng).unwrap();
    let whole = (x.softmax(1).unwrap().to_vec(), x.log_softmax(1).unwrap().to_vec());
    let values = x.to_vec();
    for (r, row) in values.chunks(1024).enumerate() {
        let row = Tensor::<f32>::from_vec(row.to_vec(), &[1, 1024]).unwrap();
        assert_eq!(
            row.softmax(1).unwrap().to_vec(),
            whole.0[r * 1024..(r + 1) * 1024]
        );
        assert_eq!(
            row.log_softmax(1).unwrap().to_vec(),
            whole.1[r * 1024..(r + 1) * 1024]
        );
    }
}

#[test]
fn dropout_keeps_the_expected_fraction_and_mean() {
    let p = 0.3f32;
    let x = Tensor::<f32>::ones(&[100, 100]);
    let y = x.dropout(p, &mut rng(42)).unwrap().to_vec();
    let scale = 1.0 / (1.0 - p);
    assert!(
        y.iter().all(|&v| v == 0.0 || v == scale),
        "values are 0 or 1/(1 − p)"
    );
    // Kept count ~ Binomial(10000, 0.7): standard deviation ≈ 46, so ±300 is
    // more than 6 standard deviations.
    let kept = y.iter().filter(|&&v| v != 0.0).count();
    assert!((6700..=7300).contains(&kept), "kept {kept} of 10000");
    let mean = y.iter().sum::<f32>() / y.len() as f32;
    assert!((mean - 1.0).abs() < 0.05, "mean {mean}");
}

#[test]
fn dropout_is_deterministic_given_the_seed() {
    let mut data_rng = rng(43);
    let x = Tensor::<f64>::randn(&[50, 20], 0.0, 1.0, &mut data_rng).unwrap();
    let a = x.dropout(0.5, &mut rng(7)).unwrap().to_vec();
    let b = x.dropout(0.5, &mut rng(7)).unwrap().to_vec();
    let c = x.dropout(0.5, &mut rng(8)).unwrap().to_vec();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // The same seed gives the same mask in f32 and f64.
    let ones32 = Tensor::<f32>::ones(&[1000]).dropout(0.5, &mut rng(7)).unwrap();
    let ones64 = Tensor::<f64>::ones(&[1000]).dropout(0.5, &mut rng(7)).unwrap();
    let kept = |v: Vec<f64>| v.iter().map(|&v| v != 0.0).collect::<Vec<_>>();
    assert_eq!(kept(ones32.cast::<f64>().to_vec()), kept(ones64.to_vec()));
    // Successive calls on one RNG draw fresh masks.
    let mut shared = rng(9);
    let first = x.dropout(0.5, &mut shared).unwrap().to_vec();
    let second = x.dropout(0.5, &mut shared).unwrap().to_vec();
    assert_ne!(first, second);
}

#[test]
fn dropout_with_p_zero_is_the_identity_and_draws_nothing() {
    let x = Tensor::<f64>::from_vec(vec![1.0, -2.0, 3.0], &[3]).unwrap();
    let mut used = rng(5);
    let y = x.dropout(0.0, &mut used).unwrap();
    assert_eq!(y.id(), x.id());
    assert_eq!(used.random::<u64>(), rng(5).random::<u64>());
}

#[test]
fn dropout_gradient_is_the_scaled_mask() {
    let x = Tensor::<f64>::ones(&[200]).with_requires_grad();
    let y = x.dropout(0.25, &mut rng(3)).unwrap();
    y.sum().backward().unwrap();
    // x is all ones, so y is the mask itself: x̄ = m.
    assert_eq!(x.grad().unwrap().to_vec(), y.to_vec());
}

/// The error's message, which must name `op` and the shape `[2, 3]`.
fn assert_error_names(result: Result<Tensor<f64>>, op: &str, also: &str) {
    let message = result.expect_err("the call must fail").to_string();
    for needed in [op, "[2, 3]", also] {
        assert!(message.contains(needed), "{message:?} should mention {needed:?}");
    }
}

#[test]
fn bad_arguments_are_reported_with_op_and_shape() {
    let x = Tensor::<f64>::zeros(&[2, 3]);
    assert_error_names(x.softmax(2), "softmax", "axis 2");
    assert_error_names(x.log_softmax(7), "log_softmax", "axis 7");
    assert_error_names(x.dropout(1.0, &mut rng(0)), "dropout", "p = 1");
    assert_error_names(x.dropout(-0.1, &mut rng(0)), "dropout", "p = -0.1");
    assert_error_names(x.dropout(f64::NAN, &mut rng(0)), "dropout", "NaN");
    assert_error_names(x.clamp(1.0, -1.0), "clamp", "[1, -1]");
    assert_error_names(x.clamp(f64::NAN, 1.0), "clamp", "NaN");
    assert!(Tensor::<f64>::scalar(1.0).softmax(0).is_err());
    // An empty-looking but valid range is fine.
    assert_eq!(x.clamp(0.5, 0.5).unwrap().to_vec(), vec![0.5; 6]);
}
