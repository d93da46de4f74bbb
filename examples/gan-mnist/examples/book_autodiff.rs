//! Chapter 1 of the book (`docs/01-tensors-and-autodiff.md`): the backward
//! walk watched from inside, and the gradient checker catching a wrong rule.
//!
//! ```text
//! cargo run --release -p gan-mnist --example book_autodiff
//! ```
//!
//! 1. A diamond graph `L = Σ (x² + 3x)` built from custom ops
//!    (`Tensor::from_op`) whose backward closures print when they run: the
//!    order of the walk, and `x` receiving two contributions that are summed.
//! 2. Gradients accumulate across backward calls until `zero_grad`.
//! 3. A second derivative through `grad` with `create_graph`.
//! 4. `gradcheck` passing a right rule and failing a wrong one, with its report.

use tensor::gradcheck::{GradcheckMode, GradcheckOptions, gradcheck};
use tensor::{BackwardOptions, Tensor, grad};

/// `x²`, whose backward `x̄ = ȳ·2x` prints when it runs.
fn square(x: &Tensor<f64>) -> Tensor<f64> {
    Tensor::from_op("square", &[x], x.array().mapv(|v| v * v), |ctx| {
        // d(x²)/dx = 2x
        let g = ctx.grad.mul(&ctx.input(0).mul_scalar(2.0))?;
        println!(
            "  backward of square: ȳ = {:?} → x̄ = {:?}",
            ctx.grad.to_vec(),
            g.to_vec()
        );
        Ok(vec![Some(g)])
    })
}

/// `3x`, whose backward `x̄ = 3ȳ` prints when it runs.
fn triple(x: &Tensor<f64>) -> Tensor<f64> {
    Tensor::from_op("triple", &[x], x.array().mapv(|v| 3.0 * v), |ctx| {
        // d(3x)/dx = 3
        let g = ctx.grad.mul_scalar(3.0);
        println!(
            "  backward of triple: ȳ = {:?} → x̄ = {:?}",
            ctx.grad.to_vec(),
            g.to_vec()
        );
        Ok(vec![Some(g)])
    })
}

/// `a + b`, whose backward hands `ȳ` to both inputs.
fn plus(a: &Tensor<f64>, b: &Tensor<f64>) -> tensor::Result<Tensor<f64>> {
    let sum = a.array().to_owned() + &b.array();
    Ok(Tensor::from_op("plus", &[a, b], sum, |ctx| {
        // ∂(a+b)/∂a = ∂(a+b)/∂b = 1
        println!("  backward of plus:   ȳ = {:?} → ā = b̄ = ȳ", ctx.grad.to_vec());
        Ok(vec![Some(ctx.grad.clone()), Some(ctx.grad.clone())])
    }))
}

/// `Σ xᵢ`, whose backward broadcasts `ȳ` back to `x`'s shape.
fn total(x: &Tensor<f64>) -> Tensor<f64> {
    let s = x.array().sum();
    Tensor::from_op("total", &[x], Tensor::scalar(s).array(), |ctx| {
        // ∂(Σx)/∂xᵢ = 1
        println!("  backward of total:  ȳ = {:?} → x̄ = ȳ·1", ctx.grad.to_vec());
        Ok(vec![Some(ctx.grad.broadcast_to(&ctx.input(0).shape())?)])
    })
}

/// `sin(x)` with the WRONG derivative `−cos(x)` (a sign error).
fn sin_with_sign_error(x: &Tensor<f64>) -> Tensor<f64> {
    Tensor::from_op("bad_sin", &[x], x.array().mapv(f64::sin), |ctx| {
        let wrong = Tensor::from_array(ctx.input(0).array().mapv(|v| -v.cos()));
        Ok(vec![Some(ctx.grad.mul(&wrong)?)])
    })
}

/// `sin(x)` with the right derivative `cos(x)`.
fn sin(x: &Tensor<f64>) -> Tensor<f64> {
    Tensor::from_op("sin", &[x], x.array().mapv(f64::sin), |ctx| {
        let slope = Tensor::from_array(ctx.input(0).array().mapv(f64::cos));
        Ok(vec![Some(ctx.grad.mul(&slope)?)])
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("1. The diamond L = Σ (x² + 3x), x = [1, 2]: x feeds two ops.");
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])?.with_requires_grad();
    let u = square(&x);
    let v = triple(&x);
    let loss = total(&plus(&u, &v)?);
    println!(
        "  forward: L = {} (ops recorded: {:?}, {:?}, {:?})",
        loss.item()?,
        u.op_name(),
        v.op_name(),
        loss.op_name()
    );
    println!("  backward walk, from L to the leaves:");
    loss.backward()?;
    let g = x.grad().ok_or("x should have a gradient")?;
    println!("  x.grad = {:?}   (2x + 3: the two paths summed)", g.to_vec());

    println!("\n2. Gradients accumulate until zero_grad.");
    let y = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2])?.with_requires_grad();
    for call in 1..=2 {
        y.mul(&y)?.sum().backward()?;
        println!(
            "  after backward #{call} of Σ y²: y.grad = {:?}",
            y.grad().ok_or("a gradient")?.to_vec()
        );
    }
    y.zero_grad();
    y.mul(&y)?.sum().backward()?;
    println!(
        "  after zero_grad and one more:  y.grad = {:?}",
        y.grad().ok_or("a gradient")?.to_vec()
    );

    println!("\n3. A derivative of a derivative: f(t) = t³ at t = 2.");
    let t = Tensor::<f64>::scalar(2.0).with_requires_grad();
    let f = t.mul(&t)?.mul(&t)?;
    let df = &grad(
        &[f],
        std::slice::from_ref(&t),
        None,
        BackwardOptions::create_graph(),
    )?[0];
    let d2f = &grad(
        std::slice::from_ref(df),
        std::slice::from_ref(&t),
        None,
        BackwardOptions::default(),
    )?[0];
    println!(
        "  f'(2) = {} (3t² = 12), f''(2) = {} (6t = 12); df has a graph: {}",
        df.item()?,
        d2f.item()?,
        df.requires_grad()
    );

    println!("\n4. gradcheck: central differences against the backward rule.");
    let angles = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3])?;
    let options = GradcheckOptions {
        mode: GradcheckMode::Full,
        ..GradcheckOptions::default()
    };
    let report = gradcheck(
        |xs| Ok(sin(&xs[0]).sum()),
        std::slice::from_ref(&angles),
        &options,
    )?;
    println!(
        "  right rule  cos(x): passed, {} entries compared, largest |analytic − numeric| = {:.2e}",
        report.compared, report.max_abs_error
    );
    match gradcheck(
        |xs| Ok(sin_with_sign_error(&xs[0]).sum()),
        std::slice::from_ref(&angles),
        &options,
    ) {
        Ok(_) => return Err("gradcheck passed a wrong rule".into()),
        Err(e) => println!("  wrong rule −cos(x): {e}"),
    }
    Ok(())
}
