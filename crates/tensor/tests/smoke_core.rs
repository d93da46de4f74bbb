use tensor::gradcheck::{GradcheckOptions, gradcheck, gradgradcheck};
use tensor::{BackwardOptions, Tensor, grad};

#[test]
fn core_ops_pass_gradcheck_and_gradgradcheck() {
    let a = Tensor::<f64>::from_vec(vec![0.5, -1.0, 2.0, 0.3, 1.5, -0.7], &[2, 3]).unwrap();
    let b = Tensor::<f64>::from_vec(vec![1.5, 0.2, -0.4], &[3]).unwrap();
    let w = Tensor::<f64>::from_vec((0..12).map(|i| (i as f64 * 0.37).sin()).collect(), &[3, 4]).unwrap();
    let f = |xs: &[Tensor<f64>]| {
        let h = xs[0].mul(&xs[1])?.add(&xs[0])?.div(&xs[1].add_scalar(3.0))?;
        h.matmul(&xs[2])?
            .sub(&xs[1].sum_axes(&[0], true)?)?
            .sum_axes(&[1], false)
    };
    let opts = GradcheckOptions::default();
    gradcheck(f, &[a.clone(), b.clone(), w.clone()], &opts).unwrap();
    gradgradcheck(f, &[a, b, w], &opts).unwrap();
}

#[test]
fn second_derivative_of_cube() {
    let x = Tensor::<f64>::scalar(3.0).with_requires_grad();
    let y = x.mul(&x).unwrap().mul(&x).unwrap();
    let dy = &grad(
        &[y],
        std::slice::from_ref(&x),
        None,
        BackwardOptions::create_graph(),
    )
    .unwrap()[0];
    assert_eq!(dy.item().unwrap(), 27.0);
    dy.backward().unwrap();
    assert_eq!(x.grad().unwrap().item().unwrap(), 18.0);
}
