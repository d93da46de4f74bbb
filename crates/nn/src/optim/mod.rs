//! Optimizers: they read each parameter's `.grad` and update its values in
//! place (no graph is recorded, and no new buffers are allocated per step).

mod adam;
mod sgd;

pub use adam::{Adam, AdamConfig, AdamParamState};
pub use sgd::{Sgd, SgdConfig};

use crate::checkpoint::Entry;
use ndarray::{ArrayD, IxDyn};
use std::collections::HashMap;
use tensor::{Element, Result, Tensor, TensorError};

/// What every optimizer offers the training loop and the checkpoints.
pub trait Optimizer<T: Element = f32>: Send {
    /// Applies one update to every parameter that has a gradient.
    fn step(&mut self) -> Result<()>;

    /// The parameters this optimizer updates, with their dotted names.
    fn parameters(&self) -> &[(String, Tensor<T>)];

    /// Forgets every parameter's gradient.
    fn zero_grad(&self) {
        for (_, p) in self.parameters() {
            p.zero_grad();
        }
    }

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Changes the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: f64);

    /// The optimizer's state (moments, step counts), keyed by names derived
    /// from the parameters' dotted names, for checkpoints.
    fn state(&self) -> Vec<(String, Entry<T>)>;

    /// Restores a state saved by [`state`](Self::state). Every entry must be
    /// present with the right shape; errors name the key.
    fn load_state(&mut self, state: &HashMap<String, Entry<T>>) -> Result<()>;
}

/// The gradient of `p` as an array, if it has one.
fn grad_array<T: Element>(p: &Tensor<T>) -> Option<ndarray::ArcArray<T, IxDyn>> {
    p.grad().map(|g| g.array())
}

/// Looks up a saved array by key, checking its shape.
fn saved_array<T: Element>(
    op: &'static str,
    state: &HashMap<String, Entry<T>>,
    key: &str,
    shape: &[usize],
) -> Result<ArrayD<T>> {
    match state.get(key) {
        Some(Entry::Array(a)) if a.shape() == shape => Ok(a.to_owned()),
        Some(Entry::Array(a)) => Err(TensorError::shape(
            op,
            format!(
                "saved state `{key}` has shape {:?}, the parameter needs {shape:?}",
                a.shape()
            ),
        )),
        Some(Entry::Count(_)) => Err(TensorError::argument(
            op,
            format!("saved state `{key}` is a count, not an array"),
        )),
        None => Err(TensorError::argument(op, format!("saved state has no `{key}`"))),
    }
}

/// Looks up a saved count by key.
fn saved_count<T: Element>(op: &'static str, state: &HashMap<String, Entry<T>>, key: &str) -> Result<u64> {
    match state.get(key) {
        Some(Entry::Count(c)) => Ok(*c),
        Some(Entry::Array(_)) => Err(TensorError::argument(
            op,
            format!("saved state `{key}` is an array, not a count"),
        )),
        None => Err(TensorError::argument(op, format!("saved state has no `{key}`"))),
    }
}
