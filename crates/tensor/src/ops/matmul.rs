//! Matrix products with PyTorch's `torch.matmul` rules, and the fully
//! connected layer's fused `linear`.
//!
//! The op that computes is `[m, k]·[k, n]` or batched `[b, m, k]·[b, k, n]`.
//! Every other case of `torch.matmul` is reduced to it with shape ops (whose
//! backwards are exact), so its derivatives come from the rules below:
//!
//! * a 1-D first operand `[k]` becomes `[1, k]` and the 1 is removed after;
//!   a 1-D second operand `[k]` becomes `[k, 1]`, likewise (two vectors: the
//!   dot product, 0-D);
//! * leading (batch) dimensions broadcast: `(j, 1, m, k)·(l, k, n)` is
//!   `(j, l, m, n)`. An N-D tensor times a 2-D matrix is folded into one 2-D
//!   product; otherwise both operands are broadcast (`broadcast_to`, whose
//!   backward sums the gradient back) and flattened to `[b, ·, ·]`.
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
//! Gradient checks: `crates/tensor/tests/gradcheck_matmul.rs` and (for the PyTorch forms) `crates/tensor/tests/gradcheck_pytorch_semantics.rs`. Speed: `benches/matmul.rs`.

use crate::kernels::elementwise::broadcast_shape;
use crate::{Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, Axis, Ix1, Ix2, Ix3};

impl<T: Element> Tensor<T> {
    /// The matrix product with PyTorch's `torch.matmul` rules: 2-D·2-D is
    /// the matrix product, a 1-D operand is a vector (1-D·1-D the dot
    /// product), and dimensions before the last two are batch dimensions
    /// that broadcast (see the module documentation).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let a = Tensor::<f64>::ones(&[2, 1, 3, 4]);
    /// let b = Tensor::<f64>::ones(&[5, 4, 2]);
    /// assert_eq!(a.matmul(&b)?.shape(), vec![2, 5, 3, 2]);
    /// let v = Tensor::<f64>::ones(&[4]);
    /// assert_eq!(a.matmul(&v)?.shape(), vec![2, 1, 3]);
    /// assert_eq!(v.matmul(&v)?.item()?, 4.0);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn matmul(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
        let (a, b) = (self.shape(), other.shape());
        let mismatch = |why: String| TensorError::shape("matmul", format!("{a:?} · {b:?}: {why}"));
        if a.is_empty() || b.is_empty() {
            return Err(mismatch("both operands must have at least one dimension".into()));
        }
        let (k_a, k_b) = (a[a.len() - 1], b[b.len().saturating_sub(2)]);
        if k_a != k_b {
            return Err(mismatch(format!("inner dimensions {k_a} and {k_b} differ")));
        }
        match (a.len(), b.len()) {
            // [k]·[k]: the dot product, 0-D.
            (1, 1) => self.unsqueeze(0)?.matmul(&other.unsqueeze(1)?)?.reshape(&[]),
            // [k]·[…, k, n]: as [1, k], then the 1 removed.
            (1, _) => self.unsqueeze(0)?.matmul(other)?.squeeze(-2),
            // […, m, k]·[k]: as [k, 1], then the 1 removed.
            (_, 1) => self.matmul(&other.unsqueeze(1)?)?.squeeze(-1),
            (2, 2) => self.matmul_kernel(other),
            (3, 3) if a[0] == b[0] => self.matmul_kernel(other),
            (_, 2) => {
                // […, m, k]·[k, n]: one 2-D product of the folded rows.
                let rows: usize = a[..a.len() - 1].iter().product();
                let mut out_shape = a.clone();
                *out_shape.last_mut().expect("at least 2-D") = b[1];
                self.reshape(&[rows, k_a])?
                    .matmul_kernel(other)?
                    .reshape(&out_shape)
            }
            (n_a, n_b) => {
                let (batch_a, batch_b) = (&a[..n_a - 2], &b[..n_b - 2]);
                let batch = broadcast_shape("matmul", batch_a, batch_b).map_err(|_| {
                    mismatch(format!(
                        "batch dimensions {batch_a:?} and {batch_b:?} do not broadcast"
                    ))
                })?;
                let count: usize = batch.iter().product();
                let (m, n) = (a[n_a - 2], b[n_b - 1]);
                let full = |t: &Tensor<T>, rows: usize, cols: usize| -> Result<Tensor<T>> {
                    let shape: Vec<usize> = batch.iter().copied().chain([rows, cols]).collect();
                    t.broadcast_to(&shape)?.reshape(&[count, rows, cols])
                };
                let out = full(self, m, k_a)?.matmul_kernel(&full(other, k_a, n)?)?;
                let out_shape: Vec<usize> = batch.iter().copied().chain([m, n]).collect();
                out.reshape(&out_shape)
            }
        }
    }

    /// The computing op: `[m, k]·[k, n]` or `[b, m, k]·[b, k, n]`.
    fn matmul_kernel(&self, other: &Tensor<T>) -> Result<Tensor<T>> {
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
                Some(ctx.grad.matmul_kernel(&b.t()?)?)
            } else {
                None
            };
            let grad_b = if ctx.needs(1) {
                Some(a.t()?.matmul_kernel(ctx.grad)?)
            } else {
                None
            };
            Ok(vec![grad_a, grad_b])
        }))
    }
}

impl<T: Element> Tensor<T> {
    /// A fully connected layer's map `self·weightᵀ + bias` for `self`
    /// `[…, in]` (any number of leading dimensions, or none), `weight`
    /// `[out, in]` and `bias` `[out]`, giving `[…, out]`: PyTorch's
    /// `F.linear(x, weight, bias)`. One op instead of a transpose, a matmul
    /// and a broadcast add (see the module docs); leading dimensions other
    /// than one batch dimension are folded into it by reshapes.
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
        let (shape, w_shape) = (self.shape(), weight.shape());
        if shape.len() == 2 || shape.is_empty() || w_shape.len() != 2 || shape[shape.len() - 1] != w_shape[1]
        {
            // The 2-D case, and every bad shape, which linear_2d reports.
            return self.linear_2d(weight, bias);
        }
        // […, in] → [rows, in] → [rows, out] → […, out]
        let rows: usize = shape[..shape.len() - 1].iter().product();
        let mut out_shape = shape.clone();
        *out_shape.last_mut().expect("at least 1-D") = w_shape[0];
        self.reshape(&[rows, w_shape[1]])?
            .linear_2d(weight, bias)?
            .reshape(&out_shape)
    }

    /// [`linear`](Self::linear) on a 2-D input `[N, in]`: the computing op.
    fn linear_2d(&self, weight: &Tensor<T>, bias: Option<&Tensor<T>>) -> Result<Tensor<T>> {
        let (x, w) = (self.array(), weight.array());
        let bad = |why: String| {
            let b = bias.map(Tensor::shape);
            TensorError::shape(
                "linear",
                format!("input {:?}, weight {:?}, bias {b:?}: {why}", x.shape(), w.shape()),
            )
        };
        if x.ndim() == 0 || w.ndim() != 2 {
            return Err(bad(
                "needs an input […, in] of at least 1 dimension and a 2-D weight [out, in]".into(),
            ));
        }
        if x.shape()[x.ndim() - 1] != w.shape()[1] {
            return Err(bad(format!(
                "the input has {} features, the weight expects {}",
                x.shape()[x.ndim() - 1],
                w.shape()[1]
            )));
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
