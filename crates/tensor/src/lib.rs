//! # tensor
//!
//! N-dimensional tensors backed by [`ndarray`], with reverse-mode automatic
//! differentiation written by hand, in `f32` for training and `f64` for
//! gradient checking.
//!
//! ```
//! use tensor::Tensor;
//! // y = Σ (W·x + b)², differentiated by hand-written reverse mode.
//! let w = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?.with_requires_grad();
//! let x = Tensor::<f64>::from_vec(vec![1.0, 1.0], &[2, 1])?;
//! let b = Tensor::<f64>::from_vec(vec![0.5, -0.5], &[2, 1])?.with_requires_grad();
//! let y = w.matmul(&x)?.add(&b)?;
//! let loss = y.mul(&y)?.sum();
//! loss.backward()?;
//! assert_eq!(b.grad().unwrap().to_vec(), vec![7.0, 13.0]); // 2·(Wx + b)
//! # Ok::<(), tensor::TensorError>(())
//! ```
//!
//! Where to look:
//! * [`Tensor`] (`tensor.rs`): the handle, its data and its gradient.
//! * [`autograd`] (`autograd/`): how ops are recorded and the graph walked.
//! * [`ops`] (`ops/`): every differentiable op, forward and backward side by
//!   side, with its derivative written out: start reading here.
//! * `kernels/`: the loops under the ops (elementwise, BatchNorm, gemm,
//!   im2col, tanh), plain functions with no autodiff, private to the crate;
//!   of them, the f32 matrix multiply is public as [`gemm`](mod@gemm).
//! * [`parallel`]: when work is split across threads, and in what pieces.
//! * [`gradcheck`](mod@gradcheck): checks any backward rule against finite differences.
//! * [`anomaly`]: finds the first op whose output or gradient went NaN or infinite.

pub mod anomaly;
pub mod autograd;
mod dim;
mod element;
mod error;
pub mod gemm;
pub mod gradcheck;
mod kernels;
pub mod ops;
pub mod parallel;
mod tensor;

pub use autograd::{
    BackwardCtx, BackwardFn, BackwardOptions, Grads, NoGradGuard, grad, is_grad_enabled, no_grad,
};
pub use dim::Dim;
pub use element::Element;
pub use error::{GradientMismatch, Result, TensorError};
pub use ops::activation::Rectifier;
pub use ops::conv::{Conv2dParams, ConvTranspose2dParams};
pub use tensor::Tensor;
