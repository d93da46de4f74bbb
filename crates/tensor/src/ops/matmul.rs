//! Matrix products: `[m, k]·[k, n]` and batched `[b, m, k]·[b, k, n]`.
//!
//! For `Y = A·B`, each `Y_ij = Σ_k A_ik B_kj`, so `∂Y_ij/∂A_ik = B_kj` and
//! `∂Y_ij/∂B_kj = A_ik`. Collecting the sums over the other index:
//!
//! ```text
//! Ā = Ȳ · Bᵀ        B̄ = Aᵀ · Ȳ
//! ```
//!
//! The transposes are views, and the gemm reads them through their strides,
//! so the backward copies nothing.
//!
//! Gradient checks: `tests/gradcheck_matmul.rs`. Speed: `benches/matmul.rs`.

use crate::{Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, Ix2, Ix3};

impl<T: Element> Tensor<T> {
    /// The matrix product of two 2-D tensors, or the batched product of two
    /// 3-D tensors with the same batch size.
    pub fn matmul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        let (a, b) = (self.array(), other.array());
        let mismatch =
            |why: &str| TensorError::shape("matmul", format!("{:?} · {:?}: {why}", a.shape(), b.shape()));
        let out: ArrayD<T> = match (a.ndim(), b.ndim()) {
            (2, 2) => {
                let (a, b) = (
                    a.view().into_dimensionality::<Ix2>().expect("2-D"),
                    b.view().into_dimensionality::<Ix2>().expect("2-D"),
                );
                if a.ncols() != b.nrows() {
                    return Err(mismatch(&format!(
                        "inner dimensions {} and {} differ",
                        a.ncols(),
                        b.nrows()
                    )));
                }
                crate::kernels::gemm::matmul(a, b).into_dyn()
            }
            (3, 3) => {
                let (a, b) = (
                    a.view().into_dimensionality::<Ix3>().expect("3-D"),
                    b.view().into_dimensionality::<Ix3>().expect("3-D"),
                );
                let ((batch, _, k), (batch_b, k_b, _)) = (a.dim(), b.dim());
                if batch != batch_b {
                    return Err(mismatch(&format!("batch sizes {batch} and {batch_b} differ")));
                }
                if k != k_b {
                    return Err(mismatch(&format!("inner dimensions {k} and {k_b} differ")));
                }
                crate::kernels::gemm::matmul_batched(a, b).into_dyn()
            }
            _ => return Err(mismatch("needs two 2-D or two 3-D tensors")),
        };
        // Ā = Ȳ·Bᵀ,  B̄ = Aᵀ·Ȳ
        Ok(Tensor::from_op("matmul", &[self, other], out, |ctx| {
            let (a, b) = (ctx.input(0), ctx.input(1));
            let grad_a = if ctx.needs(0) {
                Some(ctx.grad.matmul(&b.t()?)?)
            } else {
                None
            };
            let grad_b = if ctx.needs(1) {
                Some(a.t()?.matmul(ctx.grad)?)
            } else {
                None
            };
            Ok(vec![grad_a, grad_b])
        }))
    }
}
