//! Every differentiable op, one file per family. Each file holds the forward
//! and the backward of its ops side by side, with the derivative stated in a
//! comment, and names the test file that gradient-checks them (in
//! `crates/tensor/tests/`). The ops are methods of [`Tensor`](crate::Tensor);
//! each module's page here gives the derivation, the method's page its use.
//!
//! Every op is here: the layers of `nn` are built from these and record no
//! backward rule of their own.
//!
//! | file | ops |
//! |---|---|
//! | `creation.rs` | zeros, ones, full, arange, eye, rand_uniform, randn |
//! | `broadcast.rs` | broadcast_to, sum_to |
//! | `binary.rs` | add, sub, mul, div, pow (tensor exponent), maximum, minimum |
//! | `unary.rs` | neg, scalar ops (also reversed: rsub, rdiv), powf, exp, log, sqrt, abs, clamp, clamp_min, clamp_max |
//! | `activation.rs` | relu, leaky_relu, sigmoid, tanh, softplus (with β and threshold), log_sigmoid |
//! | `softmax.rs` | softmax, log_softmax |
//! | `reduce.rs` | sum, mean, var (all or over axes) |
//! | `reduce_extrema.rs` | max, min, argmax, argmin |
//! | `matmul.rs` | matmul (torch.matmul's rules: batched, broadcast, vectors), linear |
//! | `shape.rs` | reshape, permute, transpose |
//! | `reshape_more.rs` | flatten, squeeze, unsqueeze |
//! | `join.rs` | concat, stack |
//! | `select.rs` | narrow, slice (strided), index_select (any axis), index_add_rows, pad |
//! | `conv.rs` | conv2d, conv_transpose2d (and conv2d's weight gradient) |
//! | `pool.rs` | avg_pool2d, max_pool2d, upsample_nearest2d |
//! | `gather.rs` | gather and scatter-add by flat index (max pooling's routing) |
//! | `dropout.rs` | dropout |
//! | `norm.rs` | batch_normalize (BatchNorm's normalisation with the batch's statistics) |
//! | `loss.rs` | bce_with_logits (binary cross-entropy on logits, fused) |
//!
//! Every op that takes a dimension accepts a negative one, counted from the
//! back as in PyTorch (see [`Dim`](crate::Dim)). Where an op's name differs
//! from PyTorch's, its doc comment gives PyTorch's (`concat` is `torch.cat`,
//! `powf` is `pow` with a scalar exponent, `sum_axes` is `sum(dim)`,
//! `max_axis` is `amax`, …). Values, gradients and second derivatives are
//! checked against PyTorch itself by `tests/torch_reference.rs` (at the
//! workspace root: it covers nn and gan too).

pub mod activation;
pub mod binary;
pub mod broadcast;
pub mod conv;
pub mod creation;
pub mod dropout;
pub mod gather;
pub mod join;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod reduce_extrema;
pub mod reshape_more;
pub mod select;
pub mod shape;
pub mod softmax;
pub mod unary;

#[allow(unused_imports)]
pub(crate) use reduce::{checked_axes, keepdim_shape};
