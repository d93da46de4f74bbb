//! Batch normalisation over the batch (and spatial) axes, per channel.
//!
//! In training mode each channel is normalised with the statistics of the
//! batch, `x̂ = (x − μ_B) / √(σ²_B + ε)`, then scaled and shifted,
//! `y = γ·x̂ + β`; the running estimates are updated as
//! `r ← (1 − momentum)·r + momentum·batch_stat` (the variance estimate uses
//! the unbiased batch variance, as in PyTorch). In evaluation mode the running
//! estimates replace the batch statistics.
//!
//! In training mode the normalisation `x̂ = (x − μ_B)/√(σ²_B + ε)` and the
//! scale and shift `y = γ·x̂ + β` are one op of the tensor crate,
//! [`Tensor::batch_normalize_affine`]: the values and gradients of
//! [`Tensor::batch_normalize`] followed by [`Tensor::channel_affine`], in
//! fewer passes over the batch. Their file (`crates/tensor/src/ops/norm.rs`)
//! derives the gradient (it includes the terms that flow through μ_B and
//! σ²_B, which make BatchNorm's gradient differ from a plain affine map's).
//! Evaluation mode is composed of broadcasting ops and `channel_affine`.
//!
//! Followed by a ReLU or LeakyReLU in a `Sequential`, in training mode, the
//! layer applies the rectifier inside the same op
//! ([`Tensor::batch_normalize_affine_rectified`], through
//! `Module::forward_rectified`), which saves a pass over the batch in each
//! direction; the values and gradients are those of the two layers.
//!
//! Gradient checks: `crates/nn/tests/nn_layers.rs`, and the op's in
//! `crates/tensor/tests/gradcheck_fused.rs`.

use crate::module::{Module, State};
use std::sync::atomic::{AtomicU64, Ordering};
use tensor::{Element, Rectifier, Result, Tensor, TensorError, no_grad};

/// The state shared by `BatchNorm1d` and `BatchNorm2d`.
struct BatchNorm<T: Element> {
    weight: Tensor<T>,
    bias: Tensor<T>,
    running_mean: Tensor<T>,
    running_var: Tensor<T>,
    num_batches_tracked: AtomicU64,
    momentum: f64,
    eps: f64,
    training: bool,
}

impl<T: Element> BatchNorm<T> {
    fn new(channels: usize) -> Self {
        BatchNorm {
            weight: Tensor::ones(&[channels]).with_requires_grad(),
            bias: Tensor::zeros(&[channels]).with_requires_grad(),
            running_mean: Tensor::zeros(&[channels]),
            running_var: Tensor::ones(&[channels]),
            num_batches_tracked: AtomicU64::new(0),
            momentum: 0.1,
            eps: 1e-5,
            training: true,
        }
    }

    /// Normalises `x` over `axes` (every axis but the channel axis 1), then
    /// applies `rectifier` if one is given: in training mode within the
    /// same op, in evaluation mode as an op of its own.
    fn forward(
        &self,
        op: &'static str,
        x: &Tensor<T>,
        axes: &[usize],
        rectifier: Option<Rectifier<T>>,
    ) -> Result<Tensor<T>> {
        let shape = x.shape();
        let channels = self.weight.numel();
        if shape.len() < 2 || shape[1] != channels {
            return Err(TensorError::shape(
                op,
                format!("expected input [N, {channels}, …], got {shape:?}"),
            ));
        }
        // Per-channel vectors viewed as [1, C, 1, …] so they broadcast.
        let mut channel_shape = vec![1; shape.len()];
        channel_shape[1] = channels;
        let count: usize = axes.iter().map(|&a| shape[a]).product();
        if self.training {
            if count < 2 {
                return Err(TensorError::shape(
                    op,
                    format!("training needs more than one value per channel, got input {shape:?}"),
                ));
            }
            // The normalisation and γ, β as one op (and the rectifier
            // after them, if any): each pass over the batch serves all of
            // them (the values and gradients of `batch_normalize`, then
            // `channel_affine`, then `relu` or `leaky_relu`, to the bit).
            let (y, mean, var) = match rectifier {
                None => x.batch_normalize_affine(&self.weight, &self.bias, self.eps)?,
                Some(r) => x.batch_normalize_affine_rectified(&self.weight, &self.bias, self.eps, r)?,
            };
            self.update_running_stats(&mean, &var, count)?;
            return Ok(y);
        }
        let mean = self.running_mean.reshape(&channel_shape)?;
        let var = self.running_var.reshape(&channel_shape)?;
        let normalized = x.sub(&mean)?.div(&var.add_scalar(T::from_f64(self.eps)).sqrt())?;
        // γ and β: one op, with the values and gradients of a broadcast
        // multiply and add.
        let y = normalized.channel_affine(&self.weight, &self.bias)?;
        Ok(match rectifier {
            None => y,
            Some(r) => r.on(&y),
        })
    }

    fn update_running_stats(&self, mean: &Tensor<T>, var: &Tensor<T>, count: usize) -> Result<()> {
        no_grad(|| {
            let m = T::from_f64(self.momentum);
            let keep = T::one() - m;
            let unbiased = T::from_f64(count as f64 / (count - 1) as f64);
            let channels = [self.weight.numel()];
            let new_mean = self
                .running_mean
                .mul_scalar(keep)
                .add(&mean.reshape(&channels)?.mul_scalar(m))?;
            let new_var = self
                .running_var
                .mul_scalar(keep)
                .add(&var.reshape(&channels)?.mul_scalar(m * unbiased))?;
            self.running_mean.set_array(new_mean.array())?;
            self.running_var.set_array(new_var.array())?;
            self.num_batches_tracked.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    }

    fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
        visitor("weight", State::Parameter(&self.weight));
        visitor("bias", State::Parameter(&self.bias));
        visitor("running_mean", State::Buffer(&self.running_mean));
        visitor("running_var", State::Buffer(&self.running_var));
        visitor("num_batches_tracked", State::Counter(&self.num_batches_tracked));
    }
}

macro_rules! batch_norm_layer {
    ($(#[$doc:meta])* $name:ident, $op:literal, $ranks:expr) => {
        $(#[$doc])*
        pub struct $name<T: Element = f32>(BatchNorm<T>);

        impl<T: Element> $name<T> {
            /// A layer for `channels` channels: γ = 1, β = 0, running mean 0 and
            /// variance 1, momentum 0.1, ε = 1e-5 (PyTorch's defaults).
            pub fn new(channels: usize) -> Self {
                $name(BatchNorm::new(channels))
            }

            /// A layer with given scale γ and shift β (both `[C]`), which are
            /// marked as requiring gradients.
            pub fn with_affine(weight: Tensor<T>, bias: Tensor<T>) -> Result<Self> {
                let channels = weight.numel();
                if weight.shape() != [channels] || bias.shape() != [channels] {
                    return Err(TensorError::shape(
                        $op,
                        format!("γ and β must both be [C], got {:?} and {:?}", weight.shape(), bias.shape()),
                    ));
                }
                let mut inner = BatchNorm::new(channels);
                inner.weight = weight.with_requires_grad();
                inner.bias = bias.with_requires_grad();
                Ok($name(inner))
            }

            /// Sets the momentum of the running estimates.
            pub fn with_momentum(mut self, momentum: f64) -> Self {
                self.0.momentum = momentum;
                self
            }

            /// Sets ε, added to the variance before the square root.
            pub fn with_eps(mut self, eps: f64) -> Self {
                self.0.eps = eps;
                self
            }

            /// The scale γ, `[C]`.
            pub fn weight(&self) -> &Tensor<T> {
                &self.0.weight
            }

            /// The shift β, `[C]`.
            pub fn bias(&self) -> &Tensor<T> {
                &self.0.bias
            }

            /// The running mean, `[C]`.
            pub fn running_mean(&self) -> &Tensor<T> {
                &self.0.running_mean
            }

            /// The running variance, `[C]`.
            pub fn running_var(&self) -> &Tensor<T> {
                &self.0.running_var
            }

            /// How many training batches have updated the running estimates.
            pub fn num_batches_tracked(&self) -> u64 {
                self.0.num_batches_tracked.load(Ordering::Relaxed)
            }
        }

        impl<T: Element> $name<T> {
            /// The forward pass, then `rectifier` if one is given.
            fn forward_then(&self, input: &Tensor<T>, rectifier: Option<Rectifier<T>>) -> Result<Tensor<T>> {
                let ranks: &[usize] = $ranks;
                if !ranks.contains(&input.ndim()) {
                    return Err(TensorError::shape(
                        $op,
                        format!("expects an input of rank {ranks:?}, got shape {:?}", input.shape()),
                    ));
                }
                // Statistics over every axis but the channel axis 1.
                let axes: Vec<usize> = (0..input.ndim()).filter(|&a| a != 1).collect();
                self.0.forward($op, input, &axes, rectifier)
            }
        }

        impl<T: Element> Module<T> for $name<T> {
            fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
                self.forward_then(input, None)
            }

            /// In training mode the rectifier runs inside BatchNorm's op
            /// ([`Tensor::batch_normalize_affine_rectified`]), which saves
            /// a pass over the batch each way; in evaluation mode there is
            /// nothing to gain, and the caller runs the two layers.
            fn forward_rectified(&self, input: &Tensor<T>, rectifier: Rectifier<T>) -> Result<Option<Tensor<T>>> {
                if !self.0.training {
                    return Ok(None);
                }
                self.forward_then(input, Some(rectifier)).map(Some)
            }

            fn visit(&self, visitor: &mut dyn FnMut(&str, State<'_, T>)) {
                self.0.visit(visitor);
            }

            fn set_training(&mut self, training: bool) {
                self.0.training = training;
            }
        }
    };
}

batch_norm_layer!(
    /// BatchNorm over `[N, C]` or `[N, C, L]` inputs: statistics per channel
    /// over the batch (and length) axes.
    BatchNorm1d,
    "BatchNorm1d",
    &[2, 3]
);

batch_norm_layer!(
    /// BatchNorm over `[N, C, H, W]` inputs: statistics per channel over the
    /// batch and spatial axes.
    BatchNorm2d,
    "BatchNorm2d",
    &[4]
);
