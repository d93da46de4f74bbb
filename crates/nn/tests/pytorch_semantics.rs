//! The layers that follow PyTorch's semantics (issue 16): `Linear` on
//! `[…, in]` and `Embedding` of any index shape, gradient-checked (first and
//! second order), with their values and errors. The ops under them:
//! `crates/tensor/tests/gradcheck_pytorch_semantics.rs`.

// The gradient-check helpers of the tensor crate's tests, shared.
#[path = "../../tensor/tests/common/mod.rs"]
mod common;

use common::{check, randn, rng};
use nn::{Embedding, Module};
use tensor::{Result, Tensor};

fn message<T: std::fmt::Debug>(result: Result<T>) -> String {
    result.expect_err("expected an error").to_string()
}

#[test]
fn linear_layer_takes_any_leading_dims() {
    let mut rng = rng(164);
    let w = randn(&[5, 3], &mut rng);
    let layer = nn::Linear::from_tensors(w.clone(), None).unwrap();
    assert_eq!(
        layer.forward(&randn(&[2, 2, 3], &mut rng)).unwrap().shape(),
        vec![2, 2, 5]
    );
}

#[test]
fn embedding_takes_any_index_shape() {
    let mut rng = rng(168);
    let weight = randn(&[5, 3], &mut rng);
    check(
        "Embedding on [2, 3] indices",
        |xs| {
            let idx = Tensor::from_vec(vec![4.0, 0.0, 4.0, 1.0, 2.0, 0.0], &[2, 3])?;
            Embedding {
                weight: xs[0].clone(),
            }
            .forward(&idx)
        },
        std::slice::from_ref(&weight),
    );
    let table = Embedding {
        weight: weight.clone(),
    };
    let y = table.forward(&Tensor::scalar(3.0)).unwrap();
    assert_eq!(y.shape(), vec![3]);
    assert_eq!(y.to_vec(), weight.index_select(0, &[3]).unwrap().to_vec());
    assert_eq!(
        table.lookup_shaped(&[1, 2], &[2, 1, 1]).unwrap().shape(),
        vec![2, 1, 1, 3]
    );
    let e = message(table.lookup_shaped(&[1, 2], &[3]));
    assert!(e.contains("Embedding") && e.contains("[3]"), "{e}");
    let e = message(table.forward(&Tensor::from_vec(vec![0.5], &[1]).unwrap()));
    assert!(e.contains("Embedding") && e.contains("0.5"), "{e}");
}
