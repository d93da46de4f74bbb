//! Anomaly detection: find the first op whose output stopped being finite,
//! like PyTorch's `torch.autograd.set_detect_anomaly(True)`.
//!
//! When a loss turns into NaN, the NaN itself says nothing about where it
//! came from: every op after the first bad one just passes it on. With
//! detection switched on, every op checks its output as it is made (in
//! [`Tensor::from_op`](crate::Tensor::from_op)) and every backward rule checks
//! the gradients it returns, and the first non-finite value is recorded with
//! the op's name, whether it happened in the forward or the backward pass, and
//! the shapes involved. Ops whose inputs were already non-finite only pass the
//! problem on, so the record prefers the op where it *started*: an op with
//! finite inputs and a non-finite output.
//!
//! Detection is off by default and then costs one relaxed atomic load per op.
//! On, it reads every op's output once more, so it is for finding a bug,
//! not for ordinary training.
//!
//! ```
//! use tensor::{Tensor, anomaly};
//! anomaly::enable(true);
//! let x = Tensor::<f32>::from_vec(vec![1.0, -1.0], &[2])?;
//! let _ = x.log(); // log(−1) = NaN
//! let found = anomaly::take().expect("recorded");
//! anomaly::enable(false);
//! assert_eq!(found.op, "log");
//! assert_eq!(found.output_shape, vec![2]);
//! assert!(found.to_string().contains("`log`"));
//! # Ok::<(), tensor::TensorError>(())
//! ```
//!
//! The switch and the record are global (not per thread), so that ops run
//! by worker threads are covered too; tests that use it must not run
//! concurrently with others that do.

use crate::Element;
use std::cell::Cell;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
static FIRST: Mutex<Option<Anomaly>> = Mutex::new(None);

thread_local! {
    /// The op whose backward rule is running on this thread, if any: ops
    /// called by a backward rule are then reported as part of it.
    static IN_BACKWARD_OF: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Which pass produced the non-finite value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The op's own output, computed in the forward pass.
    Forward,
    /// A gradient, computed in the backward pass. `within` is the op whose
    /// backward rule was running (for an op called inside that rule, it
    /// differs from [`Anomaly::op`]).
    Backward {
        /// The op whose backward rule was running.
        within: &'static str,
    },
}

/// The first non-finite value found while detection was on.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// The op that produced it, e.g. `"log"`.
    pub op: &'static str,
    /// Forward output or backward gradient.
    pub pass: Pass,
    /// The shapes of the op's inputs, in order.
    pub input_shapes: Vec<Vec<usize>>,
    /// The shape of the non-finite tensor.
    pub output_shape: Vec<usize>,
    /// Whether every input was finite, i.e. this op is where the problem
    /// started rather than where it was passed on.
    pub inputs_finite: bool,
    /// The first non-finite value (NaN, inf or -inf).
    pub value: f64,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes: Vec<String> = self.input_shapes.iter().map(|s| format!("{s:?}")).collect();
        match self.pass {
            Pass::Forward => write!(f, "the forward of `{}`", self.op)?,
            Pass::Backward { within } if within == self.op => {
                write!(f, "the backward of `{}`", self.op)?;
            }
            Pass::Backward { within } => write!(f, "`{}` inside the backward of `{within}`", self.op)?,
        }
        write!(
            f,
            " produced {} (inputs {}, output {:?})",
            self.value,
            shapes.join(", "),
            self.output_shape
        )?;
        if !self.inputs_finite {
            write!(f, "; an input was already non-finite")?;
        }
        Ok(())
    }
}

/// Switches detection on or off for every thread. Switching it on forgets
/// any earlier record.
pub fn enable(on: bool) {
    if on {
        *record() = None;
    }
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether detection is on.
#[inline]
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The first anomaly recorded since detection was switched on, if any.
pub fn first() -> Option<Anomaly> {
    record().clone()
}

/// The first anomaly recorded, removing it, so that the next one is recorded
/// afresh.
pub fn take() -> Option<Anomaly> {
    record().take()
}

/// Whether every value is finite. Written as a reduction without early exit
/// so that the compiler can vectorise it: checking a gradient costs about
/// as much as reading it once.
///
/// ```
/// assert!(tensor::anomaly::all_finite(&[1.0f32, -2.0, 0.0]));
/// assert!(!tensor::anomaly::all_finite(&[1.0f32, f32::NAN]));
/// ```
pub fn all_finite<T: Element>(values: &[T]) -> bool {
    values
        .chunks(4096)
        .all(|chunk| chunk.iter().fold(true, |ok, v| ok & v.is_finite()))
}

/// The first non-finite value of an array, if any.
pub(crate) fn first_non_finite_value<T: Element>(
    array: &ndarray::ArcArray<T, ndarray::IxDyn>,
) -> Option<f64> {
    let finite = match array.as_slice_memory_order() {
        Some(slice) => all_finite(slice),
        None => array.iter().all(|v| v.is_finite()),
    };
    if finite {
        return None;
    }
    array.iter().find(|v| !v.is_finite()).map(|&v| Element::to_f64(v))
}

fn record() -> std::sync::MutexGuard<'static, Option<Anomaly>> {
    FIRST.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records `found` unless an anomaly is recorded already. One whose inputs
/// were finite replaces one whose were not: it is closer to the origin.
fn offer(found: Anomaly) {
    let mut slot = record();
    let replace = match &*slot {
        None => true,
        Some(previous) => !previous.inputs_finite && found.inputs_finite,
    };
    if replace {
        *slot = Some(found);
    }
}

/// Called by [`Tensor::from_op`](crate::Tensor::from_op) when detection is
/// on: checks an op's freshly computed output.
pub(crate) fn check_output<T: Element>(
    op: &'static str,
    inputs: &[&crate::Tensor<T>],
    output: &ndarray::ArcArray<T, ndarray::IxDyn>,
) {
    let Some(value) = first_non_finite_value(output) else {
        return;
    };
    let inputs_finite = inputs
        .iter()
        .all(|t| first_non_finite_value(&t.array()).is_none());
    let pass = match IN_BACKWARD_OF.with(Cell::get) {
        Some(within) => Pass::Backward { within },
        None => Pass::Forward,
    };
    offer(Anomaly {
        op,
        pass,
        input_shapes: inputs.iter().map(|t| t.shape()).collect(),
        output_shape: output.shape().to_vec(),
        inputs_finite,
        value,
    });
}

/// Called by the backward walk when detection is on: checks the gradients a
/// backward rule returned, given the gradient it received.
pub(crate) fn check_backward<T: Element>(
    op: &'static str,
    inputs: &[crate::Tensor<T>],
    grad_in: &crate::Tensor<T>,
    grads_out: &[Option<crate::Tensor<T>>],
) {
    for grad in grads_out.iter().flatten() {
        let Some(value) = first_non_finite_value(&grad.array()) else {
            continue;
        };
        let inputs_finite = first_non_finite_value(&grad_in.array()).is_none()
            && inputs
                .iter()
                .all(|t| first_non_finite_value(&t.array()).is_none());
        offer(Anomaly {
            op,
            pass: Pass::Backward { within: op },
            input_shapes: inputs.iter().map(|t| t.shape()).collect(),
            output_shape: grad.shape(),
            inputs_finite,
            value,
        });
        return;
    }
}

/// While alive, marks this thread as running the backward rule of `op`.
pub(crate) struct BackwardScope {
    previous: Option<&'static str>,
}

impl BackwardScope {
    /// Enters the backward rule of `op`.
    pub(crate) fn enter(op: &'static str) -> Self {
        BackwardScope {
            previous: IN_BACKWARD_OF.with(|c| c.replace(Some(op))),
        }
    }
}

impl Drop for BackwardScope {
    fn drop(&mut self) {
        IN_BACKWARD_OF.with(|c| c.set(self.previous));
    }
}
