//! Batch normalisation's normalisation step, as one op: per channel (axis 1),
//! over every other axis, with the batch's own statistics,
//!
//! ```text
//! x̂ = (x − μ_B)·r,   r = 1/√(σ²_B + ε)
//! ```
//!
//! where μ_B and σ²_B (the biased variance) are the mean and variance of the
//! channel's `m` values in the batch. This is what PyTorch's
//! `F.batch_norm(x, None, None, training=True)` computes before the scale γ and
//! shift β; `nn::BatchNorm1d`/`BatchNorm2d` add those (and the running
//! estimates) around it.
//!
//! One op instead of about ten composed ones (mean, subtract, square, mean,
//! add, sqrt, divide, with their broadcasts): two reading passes for the
//! statistics and one writing pass (`kernels/norm.rs`).
//!
//! ## The derivative
//!
//! μ_B and σ²_B depend on every `x_i` of the channel, which is what makes
//! BatchNorm's gradient differ from a plain affine map's. Per channel,
//! `∂μ/∂x_i = 1/m` and `∂σ²/∂x_i = 2(x_i − μ)/m`; the chain rule through
//! `x̂_j = (x_j − μ)·r` collects to
//!
//! ```text
//! x̄ = r · (ḡ − mean(ḡ) − x̂ · mean(ḡ · x̂))        (ḡ the gradient of x̂)
//! ```
//!
//! written with tensor ops when the backward pass is itself recorded, so it
//! can be differentiated again (double backward), and otherwise computed by
//! one kernel in two passes, to the same bits (`channel_normalize_grad`).
//! Gradient checks: `crates/tensor/tests/gradcheck_fused.rs`, and the
//! layers' in `crates/nn/tests/nn_layers.rs`.
//!
//! ## The affine step
//!
//! BatchNorm then scales and shifts every channel, `y = x̂·γ + β`
//! ([`Tensor::channel_affine`]), one op instead of a broadcast multiply and
//! add. Its derivative is the affine map's:
//!
//! ```text
//! x̂̄ = ȳ·γ,   γ̄ = Σ ȳ·x̂,   β̄ = Σ ȳ        (sums over every axis but 1)
//! ```
//!
//! again in tensor ops when recorded, else by one kernel
//! (`channel_scale_shift_grad`) with the same bits.

use crate::kernels::norm::{
    channel_moments, channel_normalize_grad, channel_scale_shift, channel_scale_shift_grad,
    channel_shift_scale,
};
use crate::{Element, Result, Tensor, TensorError, is_grad_enabled};
use ndarray::{ArrayD, IxDyn};

impl<T: Element> Tensor<T> {
    /// Normalises every channel (axis 1) of `self`, `[N, C, …]`, with the
    /// batch's statistics over all the other axes: `x̂ = (x − μ)/√(σ² + ε)`,
    /// recorded as one op. Also returns μ and the biased σ², both `[C]`, as
    /// constants (BatchNorm keeps running estimates of them).
    ///
    /// PyTorch: `F.batch_norm(x, None, None, training=True, eps=eps)` (with
    /// no weight and bias). Errors if `self` has fewer than two axes or a
    /// channel has no values.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2])?;
    /// let (x_hat, mean, var) = x.batch_normalize(0.0)?;
    /// assert_eq!(mean.to_vec(), vec![2.0, 20.0]);
    /// assert_eq!(var.to_vec(), vec![1.0, 100.0]);
    /// assert_eq!(x_hat.to_vec(), vec![-1.0, -1.0, 1.0, 1.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn batch_normalize(&self, eps: f64) -> Result<(Tensor<T>, Tensor<T>, Tensor<T>)> {
        const OP: &str = "batch_normalize";
        let shape = self.shape();
        let (batch, channels, plane) = batch_channels_plane(OP, &shape)?;
        if batch * plane == 0 {
            return Err(TensorError::shape(
                OP,
                format!("every channel needs at least one value, got {shape:?}"),
            ));
        }
        // Every axis but the channel axis: the statistics' axes.
        let axes: Vec<usize> = (0..shape.len()).filter(|&a| a != 1).collect();
        let eps = T::from_f64(eps);
        let data = self.array();
        let standard = data.as_standard_layout();
        let values = standard.as_slice().expect("standard layout is contiguous");
        let (mean, var) = channel_moments(values, batch, channels, plane);
        // r = 1/√(σ² + ε), kept for backward passes that build no graph.
        let inv_std: Vec<T> = var.iter().map(|&v| T::one() / (v + eps).sqrt()).collect();
        let out = channel_shift_scale(values, channels, plane, &mean, &inv_std);
        let out = ArrayD::from_shape_vec(IxDyn(&shape), out).expect("same shape as x");
        let normalized = Tensor::from_op(OP, &[self], out, move |ctx| {
            let (x, x_hat, g) = (ctx.input(0), ctx.output, ctx.grad);
            if !is_grad_enabled() {
                // No graph to record: the same formula as below in two
                // passes over the batch, to the same bits.
                let (g, x_hat) = (g.array(), x_hat.array());
                let (g, x_hat) = (g.as_standard_layout(), x_hat.as_standard_layout());
                let grad = channel_normalize_grad(
                    g.as_slice().expect("standard layout is contiguous"),
                    x_hat.as_slice().expect("standard layout is contiguous"),
                    batch,
                    channels,
                    plane,
                    &inv_std,
                );
                return Ok(vec![Some(Tensor::from_vec(grad, &x.shape())?)]);
            }
            // When the backward is itself recorded (create_graph), r must be a
            // function of x in the graph, so that x̄'s own derivative sees it.
            let r = x
                .var_axes(&axes, true, 0)?
                .add_scalar(eps)
                .powf(T::from_f64(-0.5));
            // x̄ = r · (ḡ − mean(ḡ) − x̂ · mean(ḡ · x̂))
            let mean_g = g.mean_axes(&axes, true)?;
            let mean_gx = g.mul(x_hat)?.mean_axes(&axes, true)?;
            let grad = g.sub(&mean_g)?.sub(&x_hat.mul(&mean_gx)?)?.mul(&r)?;
            Ok(vec![Some(grad)])
        });
        Ok((
            normalized,
            Tensor::from_vec(mean, &[channels])?,
            Tensor::from_vec(var, &[channels])?,
        ))
    }

    /// `self·weight + bias` per channel (axis 1) of `self`, `[N, C, …]`,
    /// with `weight` and `bias` of shape `[C]`: BatchNorm's scale γ and
    /// shift β, recorded as one op. The same values as
    /// `self.mul(&weight viewed as [1, C, 1, …])?.add(&bias viewed so)`, and the
    /// same gradients, bit for bit (see the module's notes).
    ///
    /// PyTorch: the `weight` and `bias` of `F.batch_norm`. Errors if `self`
    /// has fewer than two axes or `weight` or `bias` is not `[C]`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2])?;
    /// let (gamma, beta) = (Tensor::from_vec(vec![2.0, 0.5], &[2])?, Tensor::from_vec(vec![1.0, 0.0], &[2])?);
    /// assert_eq!(x.channel_affine(&gamma, &beta)?.to_vec(), vec![3.0, 5.0, 7.0, 15.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn channel_affine(&self, weight: &Tensor<T>, bias: &Tensor<T>) -> Result<Tensor<T>> {
        const OP: &str = "channel_affine";
        let shape = self.shape();
        let (batch, channels, plane) = batch_channels_plane(OP, &shape)?;
        for (name, param) in [("weight", weight), ("bias", bias)] {
            if param.shape() != [channels] {
                return Err(TensorError::shape(
                    OP,
                    format!(
                        "{name} must be [{channels}] for input {shape:?}, got {:?}",
                        param.shape()
                    ),
                ));
            }
        }
        let data = self.array();
        let standard = data.as_standard_layout();
        let values = standard.as_slice().expect("standard layout is contiguous");
        let out = channel_scale_shift(values, channels, plane, &weight.to_vec(), &bias.to_vec());
        let out = ArrayD::from_shape_vec(IxDyn(&shape), out).expect("same shape as x");
        Ok(Tensor::from_op(OP, &[self, weight, bias], out, move |ctx| {
            let (x, weight) = (ctx.input(0), ctx.input(1));
            let (want_x, want_params) = (ctx.needs(0), ctx.needs(1) || ctx.needs(2));
            if !is_grad_enabled() {
                // No graph to record: one kernel, the same bits as below.
                let (g, x) = (ctx.grad.array(), x.array());
                let (g, x) = (g.as_standard_layout(), x.as_standard_layout());
                let (grad_x, params) = channel_scale_shift_grad(
                    g.as_slice().expect("standard layout is contiguous"),
                    x.as_slice().expect("standard layout is contiguous"),
                    (batch, channels, plane),
                    &weight.to_vec(),
                    (want_x, want_params),
                );
                let grad_x = grad_x.map(|v| Tensor::from_vec(v, &shape)).transpose()?;
                let (grad_w, grad_b) = match params {
                    Some((w, b)) => (
                        Some(Tensor::from_vec(w, &[channels])?),
                        Some(Tensor::from_vec(b, &[channels])?),
                    ),
                    None => (None, None),
                };
                return Ok(vec![
                    grad_x,
                    grad_w.filter(|_| ctx.needs(1)),
                    grad_b.filter(|_| ctx.needs(2)),
                ]);
            }
            // x̂̄ = ȳ·γ, γ̄ = Σ ȳ·x̂, β̄ = Σ ȳ (sums over every axis but 1).
            let mut view = vec![1; shape.len()];
            view[1] = channels;
            let grad_x = want_x
                .then(|| ctx.grad.mul(&weight.reshape(&view)?))
                .transpose()?;
            let grad_w = ctx
                .needs(1)
                .then(|| ctx.grad.mul(x)?.sum_to(&view)?.reshape(&[channels]))
                .transpose()?;
            let grad_b = ctx
                .needs(2)
                .then(|| ctx.grad.sum_to(&view)?.reshape(&[channels]))
                .transpose()?;
            Ok(vec![grad_x, grad_w, grad_b])
        }))
    }
}

/// `(N, C, S)` of a `[N, C, …]` shape, `S` the product of the trailing
/// axes; an error naming `op` if the shape has fewer than two axes.
fn batch_channels_plane(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize)> {
    if shape.len() < 2 {
        return Err(TensorError::shape(
            op,
            format!("expected [N, C, …] (at least two axes), got {shape:?}"),
        ));
    }
    Ok((shape[0], shape[1], shape[2..].iter().product()))
}
