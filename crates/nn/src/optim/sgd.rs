//! Stochastic gradient descent with momentum, Nesterov momentum and weight
//! decay, in PyTorch's formulation:
//!
//! ```text
//! g ← g + λ·w                                  (weight decay)
//! b ← g  (first step),  b ← μ·b + (1 − τ)·g    (momentum buffer, dampening τ)
//! g ← g + μ·b  (Nesterov)  or  g ← b            (classical momentum)
//! w ← w − lr·g
//! ```

use super::{Optimizer, grad_array, saved_array, saved_count};
use crate::checkpoint::Entry;
use ndarray::{ArrayD, Zip};
use std::collections::HashMap;
use tensor::{Element, Result, Tensor};

/// SGD's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f64,
    /// Momentum μ (0 for plain SGD).
    pub momentum: f64,
    /// Dampening τ of the momentum.
    pub dampening: f64,
    /// Weight decay λ.
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
}

/// SGD over a set of named parameters.
pub struct Sgd<T: Element = f32> {
    config: SgdConfig,
    params: Vec<(String, Tensor<T>)>,
    /// Momentum buffers (empty until the first step with momentum).
    buffers: Vec<Option<ArrayD<T>>>,
    steps: u64,
}

impl<T: Element> Sgd<T> {
    /// An optimizer for `params` (as given by `Module::named_parameters`).
    pub fn new(params: Vec<(String, Tensor<T>)>, config: SgdConfig) -> Self {
        let buffers = vec![None; params.len()];
        Sgd {
            config,
            params,
            buffers,
            steps: 0,
        }
    }

    /// The momentum buffer of the parameter called `name`, once it exists.
    pub fn momentum_buffer(&self, name: &str) -> Option<&ArrayD<T>> {
        let i = self.params.iter().position(|(n, _)| n == name)?;
        self.buffers[i].as_ref()
    }

    /// How many steps have been taken.
    pub fn step_count(&self) -> u64 {
        self.steps
    }
}

impl<T: Element> Optimizer<T> for Sgd<T> {
    fn step(&mut self) -> Result<()> {
        let c = self.config;
        let (lr, mu) = (T::from_f64(c.lr), T::from_f64(c.momentum));
        let (decay, keep) = (T::from_f64(c.weight_decay), T::one() - T::from_f64(c.dampening));
        self.steps += 1;
        for ((_, p), buffer) in self.params.iter().zip(&mut self.buffers) {
            let Some(g) = grad_array(p) else { continue };
            p.update_in_place(|w| {
                // g + λ·w, computed before w changes.
                let mut g = Zip::from(&*w).and(&g).map_collect(|&w, &g| g + decay * w);
                if c.momentum != 0.0 {
                    match buffer {
                        None => *buffer = Some(g.clone()),
                        Some(b) => Zip::from(b).and(&g).for_each(|b, &g| *b = mu * *b + keep * g),
                    }
                    let b = buffer.as_ref().expect("set above");
                    if c.nesterov {
                        Zip::from(&mut g).and(b).for_each(|g, &b| *g += mu * b);
                    } else {
                        g.assign(b);
                    }
                }
                Zip::from(w).and(&g).for_each(|w, &g| *w -= lr * g);
            });
        }
        Ok(())
    }

    fn parameters(&self) -> &[(String, Tensor<T>)] {
        &self.params
    }

    fn learning_rate(&self) -> f64 {
        self.config.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    fn state(&self) -> Vec<(String, Entry<T>)> {
        let mut entries = vec![("step".to_string(), Entry::Count(self.steps))];
        for ((name, _), buffer) in self.params.iter().zip(&self.buffers) {
            if let Some(b) = buffer {
                entries.push((
                    format!("{name}.momentum_buffer"),
                    Entry::Array(b.clone().into_shared()),
                ));
            }
        }
        entries
    }

    fn load_state(&mut self, state: &HashMap<String, Entry<T>>) -> Result<()> {
        let steps = saved_count("Sgd::load_state", state, "step")?;
        let mut buffers = Vec::with_capacity(self.params.len());
        for (name, p) in &self.params {
            let key = format!("{name}.momentum_buffer");
            buffers.push(match state.contains_key(&key) {
                true => Some(saved_array("Sgd::load_state", state, &key, &p.shape())?),
                false => None,
            });
        }
        self.steps = steps;
        self.buffers = buffers;
        Ok(())
    }
}
