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
//!
//! ## Both in one op
//!
//! [`Tensor::batch_normalize_affine`] records the normalisation and the
//! affine step as one op, with the two ops' values and gradients to the
//! bit. Time in BatchNorm goes to passes over the batch, not to
//! arithmetic, so each pass serves both steps: the forward writes `y`
//! straight from `x`, without storing `x̂`, and the backward (unrecorded)
//! takes the sums of both steps in one pass and writes `x̄` in a second,
//! computing `x̂` and `ḡ = ȳ·γ` again where they are needed
//! (`channel_normalize_affine_grad`). Together with the loops walking the
//! batch in memory order (`kernels/norm.rs`), this took BatchNorm's loops
//! from 9.8% to 6.2% of the samples of `perf record -F 999 gan-mnist bench
//! --workload dcgan --threads 1` (Intel Xeon with AVX-512, 2026-11-30).
//!
//! ## And the rectifier after it
//!
//! [`Tensor::batch_normalize_affine_rectified`] adds a ReLU or leaky ReLU
//! (`z = y` where `y > 0`, else `α·y`, α = 0 for ReLU) to the same op. Its
//! derivative is a constant mask on the incoming gradient,
//!
//! ```text
//! ȳ = z̄ where y > 0, α·z̄ elsewhere        (y = x̂·γ + β)
//! ```
//!
//! and that `ȳ` is then everything above. The forward applies the
//! rectifier as it writes; the backward computes `y` again from the `x̂`
//! it computes anyway (with the forward's γ and β, rounded as the forward
//! rounds it) and masks `z̄` as it reads it, in both passes, so neither `y`
//! nor `ȳ` is stored: the values and gradients of the three ops to the bit.
//! With a recorded graph the mask is `relu`'s own recorded backward.

use crate::kernels::norm::{
    channel_moments, channel_normalize_affine, channel_scale_shift, channel_shift_scale,
};
use crate::kernels::norm_grad::{
    Rectified, channel_normalize_affine_grad, channel_normalize_grad, channel_scale_shift_grad,
};
use crate::ops::activation::{Rectifier, scaled_by_slope};
use crate::{Element, Result, Tensor, TensorError, is_grad_enabled, no_grad};
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
        let (batch, channels, plane) = statistics_dims(OP, &shape)?;
        let eps = T::from_f64(eps);
        let data = self.array();
        let standard = data.as_standard_layout();
        let values = standard.as_slice().expect("standard layout is contiguous");
        // r = 1/√(σ² + ε), kept for backward passes that build no graph.
        let (mean, var, inv_std) = batch_statistics(values, (batch, channels, plane), eps);
        let out = channel_shift_scale(values, channels, plane, &mean, &inv_std);
        let out = ArrayD::from_shape_vec(IxDyn(&shape), out).expect("same shape as x");
        let normalized = Tensor::from_op(OP, &[self], out, move |ctx| {
            let (x, x_hat, g) = (ctx.input(0), ctx.output, ctx.grad);
            if !is_grad_enabled() {
                // No graph to record: the same formula as below in two
                // passes over the batch, to the same bits.
                let grad = with_values(g, x_hat, |g, x_hat| {
                    channel_normalize_grad(g, x_hat, (batch, channels, plane), &inv_std)
                });
                return Ok(vec![Some(Tensor::from_vec(grad, &x.shape())?)]);
            }
            Ok(vec![Some(normalize_grad_recorded(g, x, x_hat, eps)?)])
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
        check_channel_params(OP, &shape, channels, weight, bias)?;
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
                let (grad_x, params) = with_values(ctx.grad, x, |g, x| {
                    let dims = (batch, channels, plane);
                    channel_scale_shift_grad(g, x, dims, &weight.to_vec(), (want_x, want_params))
                });
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
            affine_grads_recorded(ctx.grad, x, weight, [want_x, ctx.needs(1), ctx.needs(2)])
        }))
    }

    /// BatchNorm in training mode with its scale and shift: per channel
    /// (axis 1) of `self`, `[N, C, …]`, `y = x̂·weight + bias` with
    /// `x̂ = (x − μ)/√(σ² + ε)` and the batch's own statistics, recorded as
    /// one op. The values and gradients of [`Tensor::batch_normalize`]
    /// followed by [`Tensor::channel_affine`], to the bit; also returns μ and
    /// the biased σ², both `[C]`, as constants.
    ///
    /// One op instead of two so that each pass over the batch serves both
    /// steps: the forward writes `y` in one pass, without storing `x̂`, and
    /// the backward (without a recorded graph) takes its sums in one pass
    /// and writes `x̄` in a second, computing `x̂` and `x̂̄ = ȳ·γ` again
    /// where it needs them (see the module's notes). With
    /// a recorded graph the backward is the two ops' formulas, so it can be
    /// differentiated again.
    ///
    /// PyTorch: `F.batch_norm(x, None, None, weight, bias, training=True,
    /// eps=eps)`. Errors if `self` has fewer than two axes, a channel has
    /// no values, or `weight` or `bias` is not `[C]`.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2])?;
    /// let (gamma, beta) = (Tensor::from_vec(vec![2.0, 0.5], &[2])?, Tensor::from_vec(vec![1.0, 0.0], &[2])?);
    /// let (y, mean, var) = x.batch_normalize_affine(&gamma, &beta, 0.0)?;
    /// assert_eq!(y.to_vec(), vec![-1.0, -0.5, 3.0, 0.5]);
    /// assert_eq!((mean.to_vec(), var.to_vec()), (vec![2.0, 20.0], vec![1.0, 100.0]));
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn batch_normalize_affine(
        &self,
        weight: &Tensor<T>,
        bias: &Tensor<T>,
        eps: f64,
    ) -> Result<(Tensor<T>, Tensor<T>, Tensor<T>)> {
        self.normalize_affine_then("batch_normalize_affine", weight, bias, eps, None)
    }

    /// [`Tensor::batch_normalize_affine`] followed by a rectifier (ReLU or
    /// leaky ReLU, `rectifier.on(y)`), recorded as one op, with the values
    /// and gradients of the two to the bit: BatchNorm2d then ReLU, as in
    /// DCGAN's generator, or then LeakyReLU(0.2), as in its discriminator.
    ///
    /// The rectifier costs no pass of its own. The forward applies it as
    /// it writes `y`; the backward (without a recorded graph) passes each
    /// value of the incoming gradient back through it (`ȳ` where
    /// `x̂·γ + β > 0`, `slope·ȳ` elsewhere, with `x̂·γ + β` computed again
    /// as the forward computed it) as its two passes read it. Two ops would
    /// write the BatchNorm output and read it back, and in the backward
    /// write the rectifier's gradient and read it twice. With a recorded
    /// graph the backward is the two ops' formulas.
    ///
    /// PyTorch: `F.relu(F.batch_norm(x, None, None, weight, bias,
    /// training=True, eps=eps))` (or `F.leaky_relu(…, alpha)`). Errors as
    /// [`Tensor::batch_normalize_affine`] does.
    ///
    /// ```
    /// use tensor::{Rectifier, Tensor};
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2])?;
    /// let (gamma, beta) = (Tensor::from_vec(vec![2.0, 0.5], &[2])?, Tensor::from_vec(vec![1.0, 0.0], &[2])?);
    /// let (y, _, _) = x.batch_normalize_affine_rectified(&gamma, &beta, 0.0, Rectifier::Relu)?;
    /// assert_eq!(y.to_vec(), vec![0.0, 0.0, 3.0, 0.5]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn batch_normalize_affine_rectified(
        &self,
        weight: &Tensor<T>,
        bias: &Tensor<T>,
        eps: f64,
        rectifier: Rectifier<T>,
    ) -> Result<(Tensor<T>, Tensor<T>, Tensor<T>)> {
        const OP: &str = "batch_normalize_affine_rectified";
        self.normalize_affine_then(OP, weight, bias, eps, Some(rectifier))
    }

    /// [`Tensor::batch_normalize_affine`], then the rectifier if one is
    /// given, as one op named `op`.
    fn normalize_affine_then(
        &self,
        op: &'static str,
        weight: &Tensor<T>,
        bias: &Tensor<T>,
        eps: f64,
        rectifier: Option<Rectifier<T>>,
    ) -> Result<(Tensor<T>, Tensor<T>, Tensor<T>)> {
        let shape = self.shape();
        let (batch, channels, plane) = statistics_dims(op, &shape)?;
        check_channel_params(op, &shape, channels, weight, bias)?;
        let eps_t = T::from_f64(eps);
        let data = self.array();
        let standard = data.as_standard_layout();
        let values = standard.as_slice().expect("standard layout is contiguous");
        let (mean, var, inv_std) = batch_statistics(values, (batch, channels, plane), eps_t);
        // γ and β as the forward uses them: the rectifier's backward needs
        // its input x̂·γ + β as it was computed here.
        let (gamma_forward, beta_forward) = (weight.to_vec(), bias.to_vec());
        let (statistics, params) = ((&mean[..], &inv_std[..]), (&gamma_forward[..], &beta_forward[..]));
        let dims = (channels, plane);
        let y = match rectifier {
            None => channel_normalize_affine(values, dims, statistics, params, |y| y),
            Some(r) => channel_normalize_affine(values, dims, statistics, params, move |y| r.apply(y)),
        };
        let y = ArrayD::from_shape_vec(IxDyn(&shape), y).expect("same shape as x");
        let mean_values = mean.clone();
        let out = Tensor::from_op(op, &[self, weight, bias], y, move |ctx| {
            let (x, weight) = (ctx.input(0), ctx.input(1));
            let needs = [ctx.needs(0), ctx.needs(1), ctx.needs(2)];
            if !is_grad_enabled() {
                // No graph to record: two passes, the ops' bits.
                // γ as it is now, as `channel_affine`'s backward reads it.
                let gamma = weight.to_vec();
                let rectified = rectifier.map(|r| Rectified {
                    slope: r.negative_slope(),
                    gamma: &gamma_forward,
                    beta: &beta_forward,
                });
                let (grad_x, params) = with_values(ctx.grad, x, |g, x| {
                    let (dims, wants) = ((batch, channels, plane), (needs[0], needs[1] || needs[2]));
                    let statistics = (&mean_values[..], &inv_std[..], &gamma[..]);
                    channel_normalize_affine_grad(g, x, dims, statistics, rectified, wants)
                });
                let (grad_w, grad_b) = params.map_or((None, None), |(w, b)| (Some(w), Some(b)));
                let tensor = |v: Option<Vec<T>>, shape: &[usize], needed: bool| {
                    v.filter(|_| needed)
                        .map(|v| Tensor::from_vec(v, shape))
                        .transpose()
                };
                return Ok(vec![
                    tensor(grad_x, &shape, needs[0])?,
                    tensor(grad_w, &[channels], needs[1])?,
                    tensor(grad_b, &[channels], needs[2])?,
                ]);
            }
            // Recorded: x̂ again, as a function of x in the graph, then the
            // rectifier's, the affine step's and the normalisation's
            // recorded formulas.
            let x_hat = x.batch_normalize(eps)?.0;
            let g = match rectifier {
                None => ctx.grad.clone(),
                Some(r) => {
                    // The rectifier's input, a constant to its backward
                    // (as in `relu`'s own), with the forward's γ and β.
                    let y = no_grad(|| {
                        let gamma = Tensor::from_vec(gamma_forward.clone(), &[channels])?;
                        let beta = Tensor::from_vec(beta_forward.clone(), &[channels])?;
                        x_hat.channel_affine(&gamma, &beta)
                    })?;
                    scaled_by_slope(ctx.grad, &y, r.negative_slope())?
                }
            };
            let mut grads = affine_grads_recorded(&g, &x_hat, weight, needs)?;
            if let Some(g) = grads[0].take() {
                grads[0] = Some(normalize_grad_recorded(&g, x, &x_hat, eps_t)?);
            }
            Ok(grads)
        });
        Ok((
            out,
            Tensor::from_vec(mean, &[channels])?,
            Tensor::from_vec(var, &[channels])?,
        ))
    }
}

/// The normalisation's input gradient as recorded tensor ops (for a
/// backward that is itself differentiated): `x̄ = r·(ḡ − mean(ḡ) −
/// x̂·mean(ḡ·x̂))` for `g` (ḡ), with `r = 1/√(σ² + ε)` computed from `x` in
/// the graph, so that x̄'s own derivative sees it.
fn normalize_grad_recorded<T: Element>(
    g: &Tensor<T>,
    x: &Tensor<T>,
    x_hat: &Tensor<T>,
    eps: T,
) -> Result<Tensor<T>> {
    // Every axis but the channel axis: the statistics' axes.
    let axes: Vec<usize> = (0..x.ndim()).filter(|&a| a != 1).collect();
    let r = x
        .var_axes(&axes, true, 0)?
        .add_scalar(eps)
        .powf(T::from_f64(-0.5));
    let mean_g = g.mean_axes(&axes, true)?;
    let mean_gx = g.mul(x_hat)?.mean_axes(&axes, true)?;
    g.sub(&mean_g)?.sub(&x_hat.mul(&mean_gx)?)?.mul(&r)
}

/// The affine step's gradients as recorded tensor ops, for `g` (ȳ), its
/// input `x` and `weight` (γ), each only if `needs` says so:
/// `x̄ = ȳ·γ`, `γ̄ = Σ ȳ·x`, `β̄ = Σ ȳ` (sums over every axis but 1).
fn affine_grads_recorded<T: Element>(
    g: &Tensor<T>,
    x: &Tensor<T>,
    weight: &Tensor<T>,
    needs: [bool; 3],
) -> Result<Vec<Option<Tensor<T>>>> {
    let channels = weight.numel();
    let mut view = vec![1; x.ndim()];
    view[1] = channels;
    let grad_x = needs[0].then(|| g.mul(&weight.reshape(&view)?)).transpose()?;
    let grad_w = needs[1]
        .then(|| g.mul(x)?.sum_to(&view)?.reshape(&[channels]))
        .transpose()?;
    let grad_b = needs[2]
        .then(|| g.sum_to(&view)?.reshape(&[channels]))
        .transpose()?;
    Ok(vec![grad_x, grad_w, grad_b])
}

/// The batch's per-channel mean μ, biased variance σ² and
/// `r = 1/√(σ² + ε)`, for a row-major `[N, C, S]` slice.
fn batch_statistics<T: Element>(
    values: &[T],
    (batch, channels, plane): (usize, usize, usize),
    eps: T,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let (mean, var) = channel_moments(values, batch, channels, plane);
    let inv_std = var.iter().map(|&v| T::one() / (v + eps).sqrt()).collect();
    (mean, var, inv_std)
}

/// `f` on the values of `a` and `b` in row-major order (copied only if
/// one is a view that is not).
fn with_values<T: Element, R>(a: &Tensor<T>, b: &Tensor<T>, f: impl FnOnce(&[T], &[T]) -> R) -> R {
    let (a, b) = (a.array(), b.array());
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    f(
        a.as_slice().expect("standard layout is contiguous"),
        b.as_slice().expect("standard layout is contiguous"),
    )
}

/// An error naming `op` unless `weight` and `bias` are both `[channels]`.
fn check_channel_params<T: Element>(
    op: &'static str,
    shape: &[usize],
    channels: usize,
    weight: &Tensor<T>,
    bias: &Tensor<T>,
) -> Result<()> {
    for (name, param) in [("weight", weight), ("bias", bias)] {
        if param.shape() != [channels] {
            return Err(TensorError::shape(
                op,
                format!(
                    "{name} must be [{channels}] for input {shape:?}, got {:?}",
                    param.shape()
                ),
            ));
        }
    }
    Ok(())
}

/// [`batch_channels_plane`] for an op that takes per-channel statistics:
/// also an error if a channel has no values.
fn statistics_dims(op: &'static str, shape: &[usize]) -> Result<(usize, usize, usize)> {
    let (batch, channels, plane) = batch_channels_plane(op, shape)?;
    if batch * plane == 0 {
        return Err(TensorError::shape(
            op,
            format!("every channel needs at least one value, got {shape:?}"),
        ));
    }
    Ok((batch, channels, plane))
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
