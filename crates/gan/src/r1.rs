//! The R1 penalty (Mescheder, Geiger & Nowozin, 2018, "Which training
//! methods for GANs do actually converge?"): the discriminator pays for the
//! steepness of its own output on *real* images,
//!
//! ```text
//! R1 = γ/2 · E_x ‖∇ₓD(x)‖²,   x ~ the data
//! ```
//!
//! added to its loss. Near an equilibrium, where the generator's images lie
//! on the data, a discriminator that is flat on the data has nothing left to
//! push the generator with, and the game stops circling around the
//! equilibrium instead of settling into it: the paper shows that plain GAN
//! training oscillates around such a point while training with R1 converges.
//! In practice it keeps D smooth where the data is, so its gradients (the
//! generator's training signal) do not grow sharp as D gets confident.
//!
//! Like WGAN-GP's penalty (`wasserstein.rs`), `R1` is a function of a
//! gradient, so its own gradient with respect to D's weights is a second
//! derivative: `∇ₓD` is computed with `create_graph` and differentiated
//! again by the ordinary backward pass. The two penalties share that part,
//! [`squared_input_gradient_norms`].
//!
//! **Lazy regularisation** (Karras et al., 2020, StyleGAN2): the penalty
//! costs about as much as a discriminator update again, and changes slowly,
//! so it can be applied on every `k`-th discriminator update only, multiplied
//! by `k` so that its average strength is unchanged (`--r1-every k`).
//!
//! **BatchNorm.** The gradient is that of the batch's summed score, `∇ₓ
//! Σ_j D(x_j)`. For a discriminator without BatchNorm its row `i` is
//! `∇ₓD(x_i)`; with BatchNorm in training mode (as in `dcgan`) every score
//! depends on the whole batch, so row `i` also holds `x_i`'s effect on the
//! others' scores through the batch statistics. The penalty is then a
//! smoothness penalty on the batch function rather than the paper's exact
//! per-sample one; the extra forward pass also updates BatchNorm's running
//! statistics once more with the real batch.

use crate::models::GanModel;
use serde::{Deserialize, Serialize};
use tensor::{BackwardOptions, Element, Result, Tensor, TensorError, grad};

/// `‖∇ₓ Σ_j critic(x)_j‖²` for each sample of `x`, `[B]`, as a
/// differentiable function of the critic's parameters (the gradient is
/// computed with `create_graph`). `x` itself is treated as a constant: the
/// gradient is taken at a fresh leaf with its values.
///
/// `critic` maps a `[B, …]` batch to `[B, 1]` scores. Shared by WGAN-GP's
/// gradient penalty and [`r1_penalty`].
pub fn squared_input_gradient_norms<T: Element>(
    critic: impl Fn(&Tensor<T>) -> Result<Tensor<T>>,
    x: &Tensor<T>,
) -> Result<Tensor<T>> {
    let x = x.detach().with_requires_grad();
    // Σ_i D(x_i) has gradient ∇ₓD(x_i) in row i when each score depends on
    // its own sample only. create_graph: the gradient stays a function of
    // the critic's parameters (its derivative in them is needed).
    let scores = critic(&x)?;
    let gradient = grad(
        &[scores.sum()],
        std::slice::from_ref(&x),
        None,
        BackwardOptions::create_graph(),
    )?
    .pop()
    .expect("grad returns one gradient per input");
    let axes: Vec<usize> = (1..x.shape().len()).collect();
    gradient.square().sum_axes(&axes, false)
}

/// `mean_i ‖∇ₓ critic(x_i)‖²` on the real batch `real` `[B, …]` (B ≥ 1): the
/// R1 penalty without its weight γ/2, differentiable in the critic's
/// parameters.
///
/// ```
/// use gan::r1::r1_penalty;
/// use tensor::Tensor;
/// // D(x) = 3·x₀ − 4·x₁ has gradient norm 5 everywhere: the penalty is 25.
/// let w = Tensor::<f64>::from_vec(vec![3.0, -4.0], &[2, 1])?;
/// let real = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
/// let penalty = r1_penalty(|x| x.matmul(&w), &real)?;
/// assert!((penalty.item()? - 25.0).abs() < 1e-9);
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub fn r1_penalty<T: Element>(
    critic: impl Fn(&Tensor<T>) -> Result<Tensor<T>>,
    real: &Tensor<T>,
) -> Result<Tensor<T>> {
    if real.shape().first().copied().unwrap_or(0) == 0 {
        return Err(TensorError::shape(
            "r1_penalty",
            format!("the real batch must be [B, …] with B ≥ 1, got {:?}", real.shape()),
        ));
    }
    Ok(squared_input_gradient_norms(critic, real)?.mean())
}

/// The R1 settings of a run: `--r1 GAMMA` and `--r1-every K`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct R1 {
    /// The weight γ (the penalty is γ/2 · E‖∇ₓD(x)‖²). Mescheder et al. use
    /// 10 on most datasets; StyleGAN2 from 0.1 to 100 depending on the
    /// resolution.
    pub gamma: f64,
    /// Apply it on every this-many discriminator updates, scaled by this
    /// number (1: every update).
    pub every: u64,
}

impl R1 {
    /// Checks γ (positive, finite) and `every` (at least 1).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(self.gamma > 0.0 && self.gamma.is_finite()) {
            return Err(format!("r1 γ must be a positive number, got {}", self.gamma));
        }
        if self.every == 0 {
            return Err("r1-every must be at least 1".into());
        }
        Ok(())
    }

    /// The factor of [`r1_penalty`] in discriminator update number `update`
    /// (counted from 0 over the whole run): `γ/2 · every` on every
    /// `every`-th update, starting with the first, and `None` on the others.
    ///
    /// ```
    /// let r1 = gan::r1::R1 { gamma: 10.0, every: 4 };
    /// let weights: Vec<Option<f64>> = (0..5).map(|u| r1.weight_at(u)).collect();
    /// assert_eq!(weights, [Some(20.0), None, None, None, Some(20.0)]);
    /// ```
    pub fn weight_at(&self, update: u64) -> Option<f64> {
        (update % self.every == 0).then(|| self.gamma / 2.0 * self.every as f64)
    }

    /// `weight · r1_penalty` of `model`'s discriminator on the real images
    /// `real` of classes `labels`.
    pub fn term(model: &dyn GanModel, real: &Tensor, labels: &[usize], weight: f64) -> Result<Tensor> {
        let penalty = r1_penalty(|x| model.discriminate(x, labels), real)?;
        Ok(penalty.mul_scalar(weight as f32))
    }
}
