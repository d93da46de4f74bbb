//! WGAN-GP (Gulrajani et al., 2017): the critic estimates the Wasserstein
//! distance between the real and generated distributions, and the generator
//! lowers that estimate.
//!
//! The Wasserstein-1 distance is `W = sup_{‖D‖_L ≤ 1} E[D(x)] − E[D(x̃)]`,
//! the best separation of real `x` from fake `x̃` by a critic `D` that is
//! 1-Lipschitz. A neural critic is not Lipschitz by construction, so WGAN-GP
//! adds a soft constraint: the gradient penalty
//!
//! ```text
//! GP = mean_i (‖∇ₓD(x̂_i)‖₂ − 1)²,   x̂_i = ε_i·x_i + (1 − ε_i)·x̃_i,   ε_i ~ U(0, 1)
//! ```
//!
//! on random points between real and fake samples (where the optimal
//! critic's gradient has norm 1). The two players minimise
//!
//! ```text
//! critic:    L_D = mean D(x̃) − mean D(x) + λ·GP      (λ = 10)
//! generator: L_G = −mean D(G(z))
//! ```
//!
//! so `−L_D` without the penalty, `mean D(x) − mean D(x̃)`, is the critic's
//! estimate of `W`: the logs' `d_real − d_fake`. It falls as the generator's
//! distribution approaches the data's.
//!
//! **Why the penalty needs second derivatives.** `GP` is a function of the
//! gradient `g = ∇ₓD(x̂; θ)`, and the critic's update needs `∂GP/∂θ`:
//!
//! ```text
//! ∂GP/∂θ = mean_i 2(‖g_i‖ − 1) · (g_i/‖g_i‖)ᵀ · ∂g_i/∂θ,   ∂g_i/∂θ = ∂²D(x̂_i)/∂x∂θ
//! ```
//!
//! a mixed second derivative of the critic. So `g` is computed with
//! [`tensor::BackwardOptions::create_graph`]: the backward pass records its
//! own operations, and `g` is a differentiable function of `θ` that the
//! ordinary `loss.backward()` later differentiates again. That part is
//! shared with the R1 penalty (`r1.rs`).

use crate::models::GanModel;
use crate::objective::{DiscriminatorLoss, Objective};
use crate::r1::squared_input_gradient_norms;
use rand::RngCore;
use tensor::{Element, Result, Tensor, TensorError};

/// The paper's weight of the gradient penalty.
pub const LAMBDA: f64 = 10.0;

/// `GP = mean_i (‖∇ₓ critic(x̂_i)‖₂ − 1)²` on the interpolates
/// `x̂_i = ε_i·real_i + (1 − ε_i)·fake_i`, as a differentiable function of
/// the critic's parameters (see the module documentation).
///
/// `real` and `fake` are `[B, …]` batches of the same shape (treated as
/// constants), `eps` holds `B` weights in `[0, 1]`, and `critic` maps a
/// `[B, …]` batch to `[B, 1]` scores, each depending on its own sample only
/// (no BatchNorm), so that the gradient of the summed scores with respect to
/// sample `i` is `∇ₓ critic(x̂_i)`.
///
/// ```
/// use gan::wasserstein::gradient_penalty;
/// use tensor::Tensor;
/// // D(x) = 3·x₀ has gradient norm 3 everywhere: GP = (3 − 1)² = 4.
/// let w = Tensor::<f64>::from_vec(vec![3.0, 0.0], &[2, 1])?;
/// let real = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// let fake = Tensor::zeros(&[2, 2]);
/// let eps = Tensor::from_vec(vec![0.3, 0.6], &[2])?;
/// let gp = gradient_penalty(|x| x.matmul(&w), &real, &fake, &eps)?;
/// assert!((gp.item()? - 4.0).abs() < 1e-9);
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub fn gradient_penalty<T: Element>(
    critic: impl Fn(&Tensor<T>) -> Result<Tensor<T>>,
    real: &Tensor<T>,
    fake: &Tensor<T>,
    eps: &Tensor<T>,
) -> Result<Tensor<T>> {
    let shape = real.shape();
    let batch = shape.first().copied().unwrap_or(0);
    if fake.shape() != shape || batch == 0 || eps.shape() != [batch] {
        return Err(TensorError::shape(
            "gradient_penalty",
            format!(
                "real {shape:?}, fake {:?} and eps {:?} must be [B, …], [B, …] and [B] with B ≥ 1",
                fake.shape(),
                eps.shape()
            ),
        ));
    }
    // ε_i spread over sample i: [B, 1, 1, …].
    let mut eps_shape = vec![1; shape.len()];
    eps_shape[0] = batch;
    let eps = eps.detach().reshape(&eps_shape)?;
    // x̂ = fake + ε·(real − fake), taken as a constant: the penalty is
    // taken at x̂, and no gradient flows into the batches it was drawn from.
    let (real, fake) = (real.detach(), fake.detach());
    let x_hat = fake.add(&eps.mul(&real.sub(&fake)?)?)?;
    // ‖g_i‖ = √(Σ g_i² + δ): δ = 1e-12 keeps the derivative 1/(2‖g_i‖)
    // finite for a critic that is flat at x̂_i, and moves no realistic norm.
    let norms = squared_input_gradient_norms(critic, &x_hat)?
        .add_scalar(T::from_f64(1e-12))
        .sqrt();
    Ok(norms.sub_scalar(T::from_f64(1.0)).square().mean())
}

/// The `wgan-gp` loss: Wasserstein critic and generator losses, with the
/// gradient penalty weighted by `lambda`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WassersteinObjective {
    /// The penalty's weight λ.
    pub lambda: f64,
}

impl Default for WassersteinObjective {
    /// The paper's λ = 10.
    fn default() -> Self {
        WassersteinObjective { lambda: LAMBDA }
    }
}

impl Objective for WassersteinObjective {
    fn name(&self) -> &'static str {
        "wgan-gp"
    }

    /// `mean D(fake) − mean D(real) + λ·GP`, with one ε per sample drawn
    /// from `rng`. The scores are the raw critic means; `real_score −
    /// fake_score` is the critic's Wasserstein estimate.
    fn discriminator_loss(
        &self,
        model: &dyn GanModel,
        real: &Tensor,
        fake: &Tensor,
        labels: &[usize],
        rng: &mut dyn RngCore,
    ) -> Result<DiscriminatorLoss> {
        let real_mean = model.discriminate(real, labels)?.mean();
        let fake_mean = model.discriminate(fake, labels)?.mean();
        let eps = Tensor::rand_uniform(&[real.shape()[0]], 0.0, 1.0, rng)?;
        let penalty = gradient_penalty(|x| model.discriminate(x, labels), real, fake, &eps)?;
        let loss = fake_mean
            .sub(&real_mean)?
            .add(&penalty.mul_scalar(self.lambda as f32))?;
        Ok(DiscriminatorLoss {
            loss,
            real_score: f64::from(real_mean.item()?),
            fake_score: f64::from(fake_mean.item()?),
        })
    }

    /// `−mean D(G(z))`.
    fn generator_loss(&self, model: &dyn GanModel, fake: &Tensor, labels: &[usize]) -> Result<Tensor> {
        Ok(model.discriminate(fake, labels)?.mean().neg())
    }
}
