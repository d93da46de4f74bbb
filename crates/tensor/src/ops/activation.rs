//! Activation functions: relu, leaky_relu, sigmoid, tanh, softplus,
//! log_sigmoid.
//!
//! Each is elementwise, so `x̄ = ȳ · dy/dx` with
//!
//! ```text
//! relu(x)        = max(x, 0)            dy/dx = [x > 0]
//! leaky_relu(x)  = x > 0 ? x : αx       dy/dx = x > 0 ? 1 : α
//! σ(x)           = 1 / (1 + e⁻ˣ)        dy/dx = σ(x)(1 − σ(x)) = y(1 − y)
//! tanh(x)                               dy/dx = 1 − tanh²(x)   = 1 − y²
//! softplus(x)    = ln(1 + eˣ)           dy/dx = eˣ/(1 + eˣ)    = σ(x)
//!   with β, t:   = βx > t ? x : ln(1 + e^(βx))/β,  dy/dx = βx > t ? 1 : σ(βx)
//! log σ(x)       = −softplus(−x)        dy/dx = σ(−x)          = 1 − σ(x)
//! ```
//!
//! The relu masks are constants, so their second derivative is zero: right
//! everywhere except at x = 0, where relu has no derivative at all. The smooth
//! activations write their derivative with tensor ops (through the output `y`
//! where that is cheapest), so their backward can be differentiated again.
//!
//! # Numerical stability
//!
//! The textbook formulas overflow: `e⁻ˣ` is `inf` in `f32` for `x < −89`, and
//! `ln(1 + eˣ)` is `inf` for `x > 89`. The forwards are written so that no
//! intermediate exceeds 1 in magnitude where it would matter:
//!
//! ```text
//! σ(x)        = 1 / (1 + e⁻ˣ)  for x ≥ 0,    eˣ / (1 + eˣ)  for x < 0
//! softplus(x) = max(x, 0) + ln(1 + e^−|x|)
//! log σ(x)    = min(x, 0) − ln(1 + e^−|x|)
//! ```
//!
//! Every exponential there has a non-positive argument, so it lies in
//! `(0, 1]`; `ln(1 + ·)` is `ln_1p`, accurate for tiny arguments. So
//! `σ(±1000)` is exactly 1 or 0 and `softplus(−100) = e⁻¹⁰⁰` is still
//! accurate, where the naive `ln(1 + e⁻¹⁰⁰)` rounds to 0.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_elementwise.rs` and (for the PyTorch forms) `crates/tensor/tests/gradcheck_pytorch_semantics.rs`.

use crate::kernels::elementwise::{map, zip_map};
use crate::{Element, Result, Tensor};

/// `σ(x)`, computed so that the exponential never overflows.
fn stable_sigmoid<T: Element>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        // eˣ/(1 + eˣ) = 1/(e⁻ˣ + 1), with eˣ ≤ 1 here. NaN also lands here
        // and stays NaN.
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// `ln(1 + e^−|x|)`: the smooth correction shared by softplus and log σ.
fn log1p_exp_neg_abs<T: Element>(x: T) -> T {
    (-x.abs()).exp().ln_1p()
}

/// `ȳ · (x > 0 ? 1 : α)`: the backward of relu (α = 0) and leaky_relu, in
/// one pass instead of building the mask and then multiplying by it.
///
/// It is linear in `ȳ` with a slope that depends on `x` only through the
/// constant mask, so it is recorded as an op of `ȳ` alone, whose own
/// backward is the same scaling: `z = ȳ·m(x)  ⇒  ȳ̄ = z̄·m(x)`.
pub(crate) fn scaled_by_slope<T: Element>(g: &Tensor<T>, x: &Tensor<T>, alpha: T) -> Result<Tensor<T>> {
    let out = zip_map(
        "leaky_relu_backward",
        g.read().view(),
        x.read().view(),
        move |g, x| {
            if x > T::zero() { g } else { alpha * g }
        },
    )?;
    // Only x's values are needed (a constant), not its graph.
    let x = x.detach();
    Ok(Tensor::from_op("leaky_relu_backward", &[g], out, move |ctx| {
        Ok(vec![Some(scaled_by_slope(ctx.grad, &x, alpha)?)])
    }))
}

/// A rectifier: ReLU or leaky ReLU. Ops that can apply one within their
/// own pass over the data take it as a value
/// ([`Tensor::batch_normalize_affine_rectified`]); [`Rectifier::apply`]
/// is the very function [`Tensor::relu`] and [`Tensor::leaky_relu`] apply,
/// so the values agree to the bit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rectifier<T> {
    /// `max(x, 0)`, [`Tensor::relu`].
    Relu,
    /// `x` for positive `x`, `alpha·x` otherwise, [`Tensor::leaky_relu`]
    /// with this `alpha`.
    LeakyRelu(T),
}

impl<T: Element> Rectifier<T> {
    /// The rectifier of one value.
    #[inline]
    pub fn apply(self, x: T) -> T {
        match self {
            Rectifier::Relu => {
                if x < T::zero() {
                    T::zero()
                } else {
                    x
                }
            }
            Rectifier::LeakyRelu(alpha) => {
                if x > T::zero() {
                    x
                } else {
                    alpha * x
                }
            }
        }
    }

    /// The slope below zero, which the backward pass multiplies by: 0 for
    /// ReLU, `alpha` for a leaky ReLU.
    pub fn negative_slope(self) -> T {
        match self {
            Rectifier::Relu => T::zero(),
            Rectifier::LeakyRelu(alpha) => alpha,
        }
    }

    /// The rectifier as its own op on a tensor: `x.relu()` or
    /// `x.leaky_relu(alpha)`.
    pub fn on(self, x: &Tensor<T>) -> Tensor<T> {
        match self {
            Rectifier::Relu => x.relu(),
            Rectifier::LeakyRelu(alpha) => x.leaky_relu(alpha),
        }
    }
}

impl<T: Element> Tensor<T> {
    /// The rectified linear unit `max(x, 0)`, elementwise. Its gradient at 0
    /// is taken to be 0; NaN stays NaN.
    pub fn relu(&self) -> Tensor<T> {
        // dy/dx = [x > 0], a constant mask.
        self.unary_op(
            "relu",
            |x| Rectifier::Relu.apply(x),
            |x, _, g| scaled_by_slope(g, x, T::zero()),
        )
    }

    /// `x` for positive `x`, `alpha·x` otherwise (its gradient at 0 is taken
    /// to be `alpha`). The usual choice in a GAN's discriminator is
    /// `alpha = 0.2`. PyTorch's `F.leaky_relu(x, negative_slope=alpha)`.
    pub fn leaky_relu(&self, alpha: T) -> Tensor<T> {
        // dy/dx = x > 0 ? 1 : α, a constant mask.
        self.unary_op(
            "leaky_relu",
            move |x| Rectifier::LeakyRelu(alpha).apply(x),
            move |x, _, g| scaled_by_slope(g, x, alpha),
        )
    }

    /// The logistic sigmoid `1 / (1 + e⁻ˣ)`, elementwise, computed without
    /// overflow for any input.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-1000.0, 0.0, 1000.0], &[3])?;
    /// assert_eq!(x.sigmoid().to_vec(), vec![0.0, 0.5, 1.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn sigmoid(&self) -> Tensor<T> {
        // dσ/dx = σ(1 − σ) = y(1 − y)
        self.unary_op("sigmoid", stable_sigmoid, |_, y, g| {
            g.mul(&y.mul(&y.rsub_scalar(T::one()))?)
        })
    }

    /// The hyperbolic tangent, elementwise.
    ///
    /// In `f32` the engine's vectorised kernel computes it (within 2 units
    /// in the last place; see `kernels/tanh.rs`), in `f64` the C library.
    pub fn tanh(&self) -> Tensor<T> {
        // A contiguous copy of the input, then tanh in place.
        let mut out = map(self.read().view(), |x| x);
        T::tanh_in_place(out.as_slice_mut().expect("map returns a standard-layout array"));
        // d tanh/dx = 1 − tanh² = 1 − y²
        Tensor::from_op("tanh", &[self], out, |ctx| {
            Ok(vec![Some(
                ctx.grad.mul(&ctx.output.square().rsub_scalar(T::one()))?,
            )])
        })
    }

    /// `ln(1 + eˣ)`, a smooth relu, elementwise; stable for any input.
    /// PyTorch's `F.softplus(x)` with its defaults `beta = 1`,
    /// `threshold = 20` (above which it returns `x` itself): see
    /// [`softplus_with`](Self::softplus_with).
    pub fn softplus(&self) -> Tensor<T> {
        self.softplus_with(T::one(), T::from_f64(20.0))
    }

    /// PyTorch's `F.softplus(x, beta, threshold)`: `ln(1 + e^(βx)) / β`,
    /// a relu smoothed over a width of about `1/β`, and exactly `x` where
    /// `βx > threshold` (there the two differ by less than `e^−threshold / β`).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![0.0, 30.0], &[2])?;
    /// let y = x.softplus_with(2.0, 20.0).to_vec();
    /// assert!((y[0] - 2f64.ln() / 2.0).abs() < 1e-15);
    /// assert_eq!(y[1], 30.0); // 2·30 > 20: linear
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn softplus_with(&self, beta: T, threshold: T) -> Tensor<T> {
        // y = βx > t ? x : softplus(βx)/β
        // dy/dx = βx > t ? 1 : σ(βx)    (d softplus(u)/du = σ(u), times dβx/dx = β, over β)
        let linear = move |x: T| beta * x > threshold;
        self.unary_op(
            "softplus",
            move |x| {
                if linear(x) {
                    x
                } else {
                    let u = beta * x;
                    (u.max(T::zero()) + log1p_exp_neg_abs(u)) / beta
                }
            },
            move |x, _, g| {
                // slope = σ(βx)·(1 − m) + m with the constant mask m = [βx > t]
                let m = x.constant_map(move |v| if linear(v) { T::one() } else { T::zero() });
                let slope = x
                    .mul_scalar(beta)
                    .sigmoid()
                    .mul(&m.rsub_scalar(T::one()))?
                    .add(&m)?;
                g.mul(&slope)
            },
        )
    }

    /// `ln σ(x) = −softplus(−x)`, elementwise; stable for any input. This is
    /// the form a GAN's loss needs: `ln σ(x)` computed as `sigmoid().log()`
    /// is `−inf` below about `x = −104` in `f32`. PyTorch's `F.logsigmoid`.
    pub fn log_sigmoid(&self) -> Tensor<T> {
        // d ln σ(x)/dx = σ'(x)/σ(x) = 1 − σ(x) = σ(−x)
        self.unary_op(
            "log_sigmoid",
            |x| x.min(T::zero()) - log1p_exp_neg_abs(x),
            |x, _, g| g.mul(&x.neg().sigmoid()),
        )
    }
}
