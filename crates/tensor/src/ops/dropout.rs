//! Dropout: zero each value with probability `p` during training.
//!
//! This is *inverted* dropout: the values that are kept are scaled by
//! `1/(1 − p)`, so that the expected value of every element is unchanged
//! (`(1 − p) · x/(1 − p) + p · 0 = x`) and evaluation needs no rescaling:
//! at evaluation time the layer is simply skipped.
//!
//! With the mask `m_i ∈ {0, 1/(1 − p)}` drawn once in the forward, the op is
//! linear in `x`:
//!
//! ```text
//! y = m ⊙ x          ⇒   x̄ = m ⊙ ȳ
//! ```
//!
//! The mask is a constant (it depends on the random draw, not on `x`), so
//! the backward is one multiplication and is itself differentiable.
//!
//! The mask is drawn from the RNG the caller passes in, one draw per element
//! in row-major order, so the same seed gives the same mask, and the draws
//! are `f64` in both precisions so an `f32` and an `f64` tensor get the same
//! mask from the same seed.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_elementwise.rs`.

use crate::kernels::elementwise::zip_map;
use crate::{Element, Result, Tensor, TensorError};
use ndarray::{ArrayD, IxDyn};

impl<T: Element> Tensor<T> {
    /// Inverted dropout: each element is zeroed with probability `p` and
    /// otherwise scaled by `1/(1 − p)`, with the mask drawn from `rng`.
    ///
    /// `p` must lie in `[0, 1)`; `p = 0` returns this tensor unchanged
    /// (and draws nothing from `rng`).
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::ones(&[1000]);
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let y = x.dropout(0.5, &mut rng)?.to_vec();
    /// // Every value is dropped (0) or kept and doubled (2).
    /// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    /// assert!(x.dropout(1.0, &mut rng).is_err());
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn dropout<R: rand::Rng + ?Sized>(&self, p: T, rng: &mut R) -> Result<Tensor<T>> {
        if p.is_nan() || p < T::zero() || p >= T::one() {
            return Err(TensorError::argument(
                "dropout",
                format!(
                    "the drop probability p = {p} must lie in [0, 1); input shape {:?}",
                    self.shape()
                ),
            ));
        }
        if p == T::zero() {
            return Ok(self.clone());
        }
        // m_i = 1/(1 − p) with probability 1 − p (a uniform draw u ≥ p), else 0.
        let (p64, scale) = (p.to_f64(), T::one() / (T::one() - p));
        let shape = self.shape();
        let count: usize = shape.iter().product();
        let values: Vec<T> = (0..count)
            .map(|_| {
                if rng.random::<f64>() >= p64 {
                    scale
                } else {
                    T::zero()
                }
            })
            .collect();
        let mask = ArrayD::from_shape_vec(IxDyn(&shape), values).expect("one value per element");
        let out = zip_map("dropout", self.read().view(), mask.view(), |x, m| x * m)?;
        let mask = Tensor::from_array(mask);
        // y = m ⊙ x  ⇒  x̄ = m ⊙ ȳ   (m a constant)
        Ok(Tensor::from_op("dropout", &[self], out, move |ctx| {
            Ok(vec![Some(ctx.grad.mul(&mask)?)])
        }))
    }
}
