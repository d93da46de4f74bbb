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
//! A fully connected layer, `y = x·Wᵀ + b` with `W` stored `[out, in]`, is
//! one fused op, [`Tensor::linear`]: the bias is added to the product while it
//! is still in cache, and the weight's gradient comes out of one gemm in `W`'s
//! own row-major layout (as the transposed view `(xᵀ·Ȳ)ᵀ` that `matmul` with
//! `W.t()` would give, an optimizer would walk it column by column):
//!
//! ```text
//! y = x·Wᵀ + b   ⇒   x̄ = Ȳ·W      W̄ = Ȳᵀ·x      b̄ = Σ_rows Ȳ
//! ```
//!
//! Gradient checks: `tests/gradcheck_matmul.rs`. Speed: `benches/matmul.rs`.

use crate::{Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, Axis, Ix1, Ix2, Ix3};

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

impl<T: Element> Tensor<T> {
    /// A fully connected layer's map `self·weightᵀ + bias` for `self`
    /// `[N, in]`, `weight` `[out, in]` and `bias` `[out]`: one op instead of
    /// a transpose, a matmul and a broadcast add (see the module docs).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[1, 2])?;
    /// let w = Tensor::<f32>::from_vec(vec![1.0, 1.0, 0.0, 1.0, 2.0, 0.0], &[3, 2])?;
    /// let b = Tensor::<f32>::from_vec(vec![0.5, 0.0, -1.0], &[3])?;
    /// assert_eq!(x.linear(&w, Some(&b))?.to_vec(), vec![3.5, 2.0, 1.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn linear(&self, weight: &Tensor<T>, bias: Option<&Tensor<T>>) -> Result<Tensor<T>> {
        let (x, w) = (self.array(), weight.array());
        let bad = |why: String| {
            let b = bias.map(Tensor::shape);
            TensorError::shape(
                "linear",
                format!("input {:?}, weight {:?}, bias {b:?}: {why}", x.shape(), w.shape()),
            )
        };
        if x.ndim() != 2 || w.ndim() != 2 {
            return Err(bad("needs a 2-D input [N, in] and a 2-D weight [out, in]".into()));
        }
        let (x2, w2) = (
            x.view().into_dimensionality::<Ix2>().expect("2-D"),
            w.view().into_dimensionality::<Ix2>().expect("2-D"),
        );
        if x2.ncols() != w2.ncols() {
            return Err(bad(format!(
                "the input has {} features, the weight expects {}",
                x2.ncols(),
                w2.ncols()
            )));
        }
        let mut out = crate::kernels::gemm::matmul(x2, w2.t());
        if let Some(b) = bias {
            let b = b.array();
            if b.shape() != [w2.nrows()] {
                return Err(bad(format!("the bias must be [{}]", w2.nrows())));
            }
            let b = b.view().into_dimensionality::<Ix1>().expect("1-D");
            // Row by row while the product is still in cache.
            out.axis_iter_mut(Axis(0)).for_each(|mut row| row += &b);
        }
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        // x̄ = Ȳ·W,  W̄ = Ȳᵀ·x,  b̄ = Σ_rows Ȳ
        Ok(Tensor::from_op("linear", &inputs, out.into_dyn(), |ctx| {
            let (x, w) = (ctx.input(0), ctx.input(1));
            let mut grads = vec![
                if ctx.needs(0) {
                    Some(ctx.grad.matmul(w)?)
                } else {
                    None
                },
                if ctx.needs(1) {
                    Some(ctx.grad.t()?.matmul(x)?)
                } else {
                    None
                },
            ];
            if ctx.inputs.len() == 3 {
                grads.push(if ctx.needs(2) {
                    Some(ctx.grad.sum_axes(&[0], false)?)
                } else {
                    None
                });
            }
            Ok(grads)
        }))
    }
}
