//! Anomaly detection (`tensor::anomaly`): the first op whose output or
//! gradient went non-finite is named with its shapes, in the forward and the
//! backward pass, and nothing is recorded while detection is off.
//!
//! The switch is global, so every case runs inside one test function, one
//! after another.

use tensor::anomaly::{self, Pass};
use tensor::{BackwardOptions, Tensor};

fn vector(values: &[f32]) -> Tensor<f32> {
    Tensor::from_vec(values.to_vec(), &[values.len()]).unwrap()
}

#[test]
fn detection_names_the_first_op_and_its_shapes() {
    // Off (the default): nothing is checked or recorded.
    anomaly::enable(false);
    let _ = vector(&[-1.0]).log();
    assert_eq!(anomaly::first(), None);

    // Forward: log(−1) is NaN. The ops after it only pass the NaN on, so
    // the record names `log`, not the `mul_scalar` or `sum` behind it.
    anomaly::enable(true);
    let x = vector(&[1.0, -1.0, 2.0]).with_requires_grad();
    let loss = x.log().mul_scalar(2.0).sum();
    assert!(loss.item().unwrap().is_nan());
    let found = anomaly::first().expect("an anomaly is recorded");
    assert_eq!(found.op, "log");
    assert_eq!(found.pass, Pass::Forward);
    assert_eq!(found.input_shapes, vec![vec![3]]);
    assert_eq!(found.output_shape, vec![3]);
    assert!(found.inputs_finite && found.value.is_nan());
    assert_eq!(
        found.to_string(),
        "the forward of `log` produced NaN (inputs [3], output [3])"
    );

    // Overflow: finite inputs, an infinite product. Switching detection on
    // again forgets the earlier record.
    anomaly::enable(true);
    let a = Tensor::<f32>::full(&[2, 3], 1e30);
    let w = Tensor::<f32>::full(&[3, 4], 1e30).with_requires_grad();
    let _ = a.matmul(&w).unwrap().tanh();
    let found = anomaly::take().expect("an anomaly is recorded");
    assert_eq!(found.op, "matmul");
    assert_eq!(found.input_shapes, vec![vec![2, 3], vec![3, 4]]);
    assert_eq!(found.output_shape, vec![2, 4]);
    assert_eq!(found.value, f64::INFINITY);
    assert_eq!(anomaly::first(), None, "take() clears the record");

    // Backward: √x is finite at 0, its derivative 1/(2√x) is not. The
    // forward is clean; the backward names the op inside sqrt's rule.
    let x = vector(&[0.0, 4.0]).with_requires_grad();
    let y = x.sqrt().sum();
    assert_eq!(anomaly::first(), None, "the forward pass is finite");
    y.backward().unwrap();
    let found = anomaly::take().expect("an anomaly is recorded in backward");
    assert_eq!(found.pass, Pass::Backward { within: "sqrt" });
    assert_eq!(found.op, "div");
    assert_eq!(found.input_shapes, vec![vec![2], vec![2]]);
    assert_eq!(found.value, f64::INFINITY);
    assert_eq!(
        found.to_string(),
        "`div` inside the backward of `sqrt` produced inf (inputs [2], [2], output [2])"
    );
    // The gradient really is infinite where the record says.
    assert_eq!(x.grad().unwrap().to_vec()[0], f32::INFINITY);

    // A backward rule whose own result is non-finite (a custom op, no inner
    // ops): named as the backward of that op.
    let x = vector(&[1.0, 2.0]).with_requires_grad();
    let custom = Tensor::from_op("spike", &[&x], x.array(), |ctx| {
        Ok(vec![Some(Tensor::full(&ctx.grad.shape(), f32::NAN))])
    });
    custom
        .sum()
        .backward_with(None, BackwardOptions::default())
        .unwrap();
    let found = anomaly::take().expect("the custom rule's NaN is recorded");
    assert_eq!(
        (found.op, found.pass),
        ("spike", Pass::Backward { within: "spike" })
    );
    assert!(
        found
            .to_string()
            .starts_with("the backward of `spike` produced NaN")
    );

    // A non-finite leaf is not an op's fault: the record says the input
    // was already non-finite.
    let _ = vector(&[f32::NAN]).exp();
    let found = anomaly::take().expect("recorded");
    assert_eq!(found.op, "exp");
    assert!(!found.inputs_finite);
    assert!(found.to_string().ends_with("an input was already non-finite"));

    anomaly::enable(false);
    let _ = vector(&[-1.0]).log();
    assert_eq!(anomaly::first(), None);
}
