//! Reverse-mode automatic differentiation, written by hand.
//!
//! * Recording ([`Tensor::from_op`]): every op computes its output, then calls
//!   [`Tensor::from_op`] with its inputs and a *backward closure*. If gradients
//!   are being recorded and some input requires them, the output remembers
//!   both (a `GradFn`); otherwise nothing is stored and the op cost nothing
//!   extra.
//! * The walk (`autograd/backward.rs`): [`Tensor::backward`] sorts the graph behind the output
//!   topologically and visits it from the output back to the leaves, calling
//!   each backward closure with the gradient of its output and adding what it
//!   returns into the gradients of its inputs.
//! * Backward closures are written with ordinary tensor ops. A backward that
//!   builds a graph (`create_graph`) therefore returns gradients that can be
//!   differentiated again: that is all higher-order gradients need.
//!
//! The recording switch is per thread: see [`no_grad`] and [`NoGradGuard`].
//! With [`anomaly`](crate::anomaly) detection on, every op's output and every
//! backward rule's gradients are checked for NaN and infinity.

mod backward;

pub use backward::{BackwardOptions, grad};

use crate::{Element, Result, Tensor};
use std::cell::Cell;
use std::sync::Arc;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread currently record the graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// While alive, sets whether ops on this thread record the graph; restores
/// the previous setting when dropped.
///
/// ```
/// use tensor::{NoGradGuard, Tensor};
/// let w = Tensor::<f32>::ones(&[2]).with_requires_grad();
/// {
///     let _guard = NoGradGuard::new();
///     assert!(!w.mul_scalar(2.0).requires_grad());
/// }
/// assert!(w.mul_scalar(2.0).requires_grad());
/// ```
#[must_use = "the setting is restored as soon as the guard is dropped"]
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Stops recording on this thread until the guard is dropped.
    pub fn new() -> Self {
        Self::set(false)
    }

    /// Sets recording on this thread to `enabled` until the guard is dropped.
    pub fn set(enabled: bool) -> Self {
        let previous = GRAD_ENABLED.with(|cell| cell.replace(enabled));
        NoGradGuard { previous }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|cell| cell.set(self.previous));
    }
}

/// Runs `f` without recording the graph (for evaluation, sampling and
/// optimizer updates).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// What a backward closure receives.
pub struct BackwardCtx<'a, T: Element> {
    /// The op's inputs, in the order they were given to [`Tensor::from_op`].
    pub inputs: &'a [Tensor<T>],
    /// The op's output (useful when the derivative is cheapest in terms of
    /// it, as for `exp` or `sigmoid`).
    pub output: &'a Tensor<T>,
    /// The gradient of the final result with respect to `output`.
    pub grad: &'a Tensor<T>,
    /// Which inputs need a gradient in this walk.
    pub(crate) needed: &'a [bool],
}

impl<T: Element> BackwardCtx<'_, T> {
    /// Whether input `index` needs a gradient; a closure may skip the work
    /// (and return `None`) for inputs that do not.
    pub fn needs(&self, index: usize) -> bool {
        self.needed.get(index).copied().unwrap_or(false)
    }

    /// The input at `index`.
    pub fn input(&self, index: usize) -> &Tensor<T> {
        &self.inputs[index]
    }
}

/// The gradients a backward closure returns: one entry per input, `None` where
/// the input needs none.
pub type Grads<T> = Vec<Option<Tensor<T>>>;

/// A backward closure: from the output's gradient to the inputs' gradients.
pub type BackwardFn<T> = dyn Fn(&BackwardCtx<'_, T>) -> Result<Grads<T>> + Send + Sync;

/// What an op output remembers for the backward walk.
pub(crate) struct GradFn<T: Element> {
    pub(crate) name: &'static str,
    pub(crate) inputs: Vec<Tensor<T>>,
    pub(crate) backward: Box<BackwardFn<T>>,
}

impl<T: Element> Tensor<T> {
    /// Wraps an op's freshly computed output and, if gradients are being
    /// recorded and some input requires them, records how to differentiate it.
    ///
    /// This is how every op in the crate is built, and how a user adds a
    /// custom op (like PyTorch's `autograd.Function`):
    ///
    /// ```
    /// use tensor::Tensor;
    /// // y = x³, with dy/dx = 3x² written by hand.
    /// fn cube(x: &Tensor<f64>) -> Tensor<f64> {
    ///     let y = x.array().mapv(|v| v * v * v);
    ///     Tensor::from_op("cube", &[x], y, |ctx| {
    ///         let x = ctx.input(0);
    ///         Ok(vec![Some(ctx.grad.mul(&x.mul(x)?.mul_scalar(3.0))?)])
    ///     })
    /// }
    /// let x = Tensor::<f64>::scalar(2.0).with_requires_grad();
    /// cube(&x).backward()?;
    /// assert_eq!(x.grad().unwrap().item()?, 12.0);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn from_op<A>(
        name: &'static str,
        inputs: &[&Tensor<T>],
        output: A,
        backward: impl Fn(&BackwardCtx<'_, T>) -> Result<Grads<T>> + Send + Sync + 'static,
    ) -> Tensor<T>
    where
        A: Into<ndarray::ArcArray<T, ndarray::IxDyn>>,
    {
        let output = output.into();
        if crate::anomaly::is_enabled() {
            crate::anomaly::check_output(name, inputs, &output);
        }
        let records = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
        if !records {
            return Tensor::from_shared(output);
        }
        let grad_fn = GradFn {
            name,
            inputs: inputs.iter().map(|t| (*t).clone()).collect(),
            backward: Box::new(backward),
        };
        Tensor::new_node(output, true, Some(Arc::new(grad_fn)), Some(name))
    }
}
