//! Loss functions, composed from tensor ops (so their gradients, and second
//! derivatives, come from the ops' own rules; this file records none).
//!
//! * Binary cross-entropy on probabilities: `−[y·log p + (1−y)·log(1−p)]`,
//!   with each log clamped at −100 like PyTorch, so a saturated sigmoid
//!   (p exactly 0 or 1) gives a large but finite loss.
//! * Binary cross-entropy on logits: with `p = σ(x)`,
//!   `−[y·log σ(x) + (1−y)·log(1 − σ(x))] = max(x, 0) − x·y + log(1 + e^(−|x|))`
//!   (because `log σ(x) = −softplus(−x)` and `softplus(x) = max(x, 0) + log(1 + e^(−|x|))`).
//!   The exponential never overflows, and grouping `max(x, 0) − x·y` first keeps
//!   the tiny `log(1 + e^(−|x|))` from being rounded away when the prediction
//!   is confidently right (x = 100, y = 1 gives e^(−100), not 0). The gradient
//!   is `σ(x) − y`. GANs should use this one. It is one fused op of the
//!   tensor crate, [`Tensor::bce_with_logits`] (`crates/tensor/src/ops/loss.rs`
//!   derives it); here it gets weights and a reduction.
//! * Mean squared error (least-squares GANs), hinge losses, and cross-entropy
//!   over classes (for the MNIST classifier).

use tensor::{Element, Result, Tensor, TensorError};

/// How per-element losses are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean over all elements.
    #[default]
    Mean,
    /// The sum over all elements.
    Sum,
    /// No reduction: one loss per element.
    None,
}

/// Applies optional per-element `weights` and the reduction.
fn reduce<T: Element>(
    losses: Tensor<T>,
    weights: Option<&Tensor<T>>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    let losses = match weights {
        Some(w) => losses.mul(w)?,
        None => losses,
    };
    Ok(match reduction {
        Reduction::Mean => losses.mean(),
        Reduction::Sum => losses.sum(),
        Reduction::None => losses,
    })
}

fn same_shape<T: Element>(op: &'static str, a: &Tensor<T>, b: &Tensor<T>) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(TensorError::shape(
            op,
            format!(
                "predictions {:?} and targets {:?} must have the same shape",
                a.shape(),
                b.shape()
            ),
        ));
    }
    Ok(())
}

/// Binary cross-entropy between probabilities `p` (e.g. a sigmoid's output)
/// and targets `y` in [0, 1], with PyTorch's clamp of each log at −100.
pub fn binary_cross_entropy<T: Element>(
    p: &Tensor<T>,
    y: &Tensor<T>,
    weights: Option<&Tensor<T>>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    same_shape("binary_cross_entropy", p, y)?;
    let floor = T::from_f64(-100.0);
    let big = T::max_value();
    let log_p = p.log().clamp(floor, big)?;
    let log_1mp = p.rsub_scalar(T::one()).log().clamp(floor, big)?;
    // −[y·log p + (1−y)·log(1−p)]
    let losses = y.mul(&log_p)?.add(&y.rsub_scalar(T::one()).mul(&log_1mp)?)?.neg();
    reduce(losses, weights, reduction)
}

/// Binary cross-entropy on logits `x` (before the sigmoid) against targets
/// `y`: `max(x, 0) − x·y + log(1 + e^(−|x|))`, stable for any `x`.
///
/// ```
/// use nn::loss::{binary_cross_entropy_with_logits, Reduction};
/// use tensor::Tensor;
/// let x = Tensor::<f32>::from_vec(vec![100.0, -100.0], &[2])?;
/// let y = Tensor::<f32>::from_vec(vec![0.0, 1.0], &[2])?;
/// let loss = binary_cross_entropy_with_logits(&x, &y, None, Reduction::Mean)?;
/// assert_eq!(loss.item()?, 100.0); // a naive log(1 − sigmoid(100)) would be −inf
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub fn binary_cross_entropy_with_logits<T: Element>(
    x: &Tensor<T>,
    y: &Tensor<T>,
    weights: Option<&Tensor<T>>,
    reduction: Reduction,
) -> Result<Tensor<T>> {
    same_shape("binary_cross_entropy_with_logits", x, y)?;
    // One fused op (`tensor::ops::loss`), whose gradient is σ(x) − y.
    let losses = x.bce_with_logits(y)?;
    reduce(losses, weights, reduction)
}

/// BCE on logits against a constant target (1 for "real", 0 for "fake"), the
/// form every GAN loss uses.
pub fn bce_with_logits_to<T: Element>(x: &Tensor<T>, target: f64) -> Result<Tensor<T>> {
    let y = Tensor::full(&x.shape(), T::from_f64(target));
    binary_cross_entropy_with_logits(x, &y, None, Reduction::Mean)
}

/// Mean squared error `(p − y)²` (PyTorch's `F.mse_loss(p, y, reduction)`).
pub fn mse<T: Element>(p: &Tensor<T>, y: &Tensor<T>, reduction: Reduction) -> Result<Tensor<T>> {
    same_shape("mse", p, y)?;
    let d = p.sub(y)?;
    reduce(d.mul(&d)?, None, reduction)
}

/// The discriminator's hinge loss: `mean(relu(1 − D(x))) + mean(relu(1 + D(G(z))))`
/// (PyTorch has no function for it; this is the formula itself).
pub fn hinge_discriminator<T: Element>(
    real_logits: &Tensor<T>,
    fake_logits: &Tensor<T>,
) -> Result<Tensor<T>> {
    let real = real_logits.rsub_scalar(T::one()).relu().mean();
    let fake = fake_logits.add_scalar(T::one()).relu().mean();
    real.add(&fake)
}

/// The generator's hinge loss: `−mean(D(G(z)))`.
pub fn hinge_generator<T: Element>(fake_logits: &Tensor<T>) -> Tensor<T> {
    fake_logits.mean().neg()
}

/// Cross-entropy of `logits` `[N, C]` against class indices (`targets[i] < C`):
/// `−log softmax(logits)[i, targets[i]]`, reduced (PyTorch's
/// `F.cross_entropy(logits, targets, reduction=…)`).
pub fn cross_entropy<T: Element>(
    logits: &Tensor<T>,
    targets: &[usize],
    reduction: Reduction,
) -> Result<Tensor<T>> {
    let shape = logits.shape();
    if shape.len() != 2 || shape[0] != targets.len() {
        return Err(TensorError::shape(
            "cross_entropy",
            format!(
                "logits must be [N, C] with N = {} targets, got {shape:?}",
                targets.len()
            ),
        ));
    }
    let classes = shape[1];
    let mut one_hot = vec![T::zero(); targets.len() * classes];
    for (i, &t) in targets.iter().enumerate() {
        if t >= classes {
            return Err(TensorError::argument(
                "cross_entropy",
                format!("target {t} at position {i} is not below the {classes} classes"),
            ));
        }
        one_hot[i * classes + t] = T::one();
    }
    let one_hot = Tensor::from_vec(one_hot, &shape)?;
    // Picking the target's log-probability = a dot product with a one-hot row.
    let picked = logits.log_softmax(1)?.mul(&one_hot)?.sum_axes(&[1], false)?;
    reduce(picked.neg(), None, reduction)
}
