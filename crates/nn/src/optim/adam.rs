//! Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019).
//!
//! For each parameter `w` with gradient `g`, at step `t` (starting at 1):
//!
//! ```text
//! g ← g + λ·w                      (Adam's L2 weight decay, if λ ≠ 0)
//! w ← w − lr·λ·w                   (AdamW's decoupled decay, instead)
//! m ← β₁·m + (1 − β₁)·g            first moment: a running mean of g
//! v ← β₂·v + (1 − β₂)·g²           second moment: a running mean of g²
//! w ← w − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! Bias correction: `m` and `v` start at 0, so early on they underestimate
//! the true means by the factors `1 − β₁ᵗ` and `1 − β₂ᵗ` (after one step,
//! `m = (1 − β₁)·g`). Dividing by those factors removes the bias; it matters
//! most for GANs' β₁ = 0.5 and β₂ = 0.999, where `1 − β₂ᵗ` stays far from 1
//! for hundreds of steps. The last line is PyTorch's arrangement of the
//! formula, so results agree with it to rounding.
//!
//! AMSGrad replaces `v` in the denominator by the running maximum of `v`.

use super::{Optimizer, grad_array, saved_array, saved_count};
use crate::checkpoint::Entry;
use ndarray::{ArrayD, Zip};
use rayon::prelude::*;
use std::collections::HashMap;
use tensor::kernels::{CHUNK, PARALLEL_THRESHOLD};
use tensor::{Element, Result, Tensor, TensorError};

/// Adam's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// Decay rates of the first and second moment.
    pub betas: (f64, f64),
    /// Added to the denominator for numerical stability.
    pub eps: f64,
    /// Weight decay λ (L2 for Adam, decoupled for AdamW).
    pub weight_decay: f64,
    /// Decoupled weight decay: AdamW.
    pub decoupled_weight_decay: bool,
    /// Use the running maximum of the second moment (AMSGrad).
    pub amsgrad: bool,
}

impl Default for AdamConfig {
    /// PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay.
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            amsgrad: false,
        }
    }
}

impl AdamConfig {
    /// The GAN setting of the DCGAN paper: lr 2e-4, betas (0.5, 0.999).
    pub fn gan() -> Self {
        AdamConfig {
            lr: 2e-4,
            betas: (0.5, 0.999),
            ..Self::default()
        }
    }

    /// AdamW with the given decoupled weight decay.
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        AdamConfig {
            lr,
            weight_decay,
            decoupled_weight_decay: true,
            ..Self::default()
        }
    }
}

/// The state Adam keeps for one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamParamState<T: Element> {
    /// How many updates this parameter has had.
    pub step: u64,
    /// First moment `m`.
    pub exp_avg: ArrayD<T>,
    /// Second moment `v`.
    pub exp_avg_sq: ArrayD<T>,
    /// Running maximum of `v` (AMSGrad only; zeros otherwise).
    pub max_exp_avg_sq: ArrayD<T>,
}

/// The Adam / AdamW optimizer over a set of named parameters.
pub struct Adam<T: Element = f32> {
    config: AdamConfig,
    params: Vec<(String, Tensor<T>)>,
    states: Vec<AdamParamState<T>>,
}

impl<T: Element> Adam<T> {
    /// An optimizer for `params` (as given by `Module::named_parameters`).
    pub fn new(params: Vec<(String, Tensor<T>)>, config: AdamConfig) -> Self {
        let states = params
            .iter()
            .map(|(_, p)| {
                let zeros = ArrayD::zeros(p.shape());
                AdamParamState {
                    step: 0,
                    exp_avg: zeros.clone(),
                    exp_avg_sq: zeros.clone(),
                    max_exp_avg_sq: if config.amsgrad {
                        zeros
                    } else {
                        ArrayD::zeros(vec![0])
                    },
                }
            })
            .collect();
        Adam {
            config,
            params,
            states,
        }
    }

    /// The hyperparameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// The state of the parameter called `name`.
    pub fn param_state(&self, name: &str) -> Option<&AdamParamState<T>> {
        self.params
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| &self.states[i])
    }

    /// The step count of the first parameter (all agree when every parameter
    /// gets a gradient each step).
    pub fn step_count(&self) -> u64 {
        self.states.first().map_or(0, |s| s.step)
    }
}

impl<T: Element> Optimizer<T> for Adam<T> {
    fn step(&mut self) -> Result<()> {
        let c = self.config;
        let (beta1, beta2) = (T::from_f64(c.betas.0), T::from_f64(c.betas.1));
        let (one, eps) = (T::one(), T::from_f64(c.eps));
        let decay = T::from_f64(c.weight_decay);
        for ((name, p), state) in self.params.iter().zip(&mut self.states) {
            let Some(g) = grad_array(p) else { continue };
            if g.shape() != p.shape().as_slice() {
                return Err(TensorError::shape(
                    "Adam::step",
                    format!(
                        "gradient of `{name}` has shape {:?}, the parameter {:?}",
                        g.shape(),
                        p.shape()
                    ),
                ));
            }
            state.step += 1;
            let t = state.step as f64;
            let step_size = T::from_f64(c.lr / (1.0 - c.betas.0.powf(t)));
            let sqrt_bias2 = T::from_f64((1.0 - c.betas.1.powf(t)).sqrt());
            let shrink = T::from_f64(1.0 - c.lr * c.weight_decay);
            let (decoupled, amsgrad) = (c.decoupled_weight_decay, c.amsgrad);
            p.update_in_place(|w| {
                let update = |w: &mut T, m: &mut T, v: &mut T, vmax: Option<&mut T>, &g: &T| {
                    let g = if !decoupled && decay != T::zero() {
                        g + decay * *w
                    } else {
                        g
                    };
                    if decoupled {
                        *w *= shrink;
                    }
                    *m = beta1 * *m + (one - beta1) * g;
                    *v = beta2 * *v + (one - beta2) * g * g;
                    let v_used = match vmax {
                        Some(vmax) => {
                            *vmax = vmax.max(*v);
                            *vmax
                        }
                        None => *v,
                    };
                    *w -= step_size * *m / (v_used.sqrt() / sqrt_bias2 + eps);
                };
                // Every element is updated on its own, so splitting a large
                // parameter across threads cannot change the result.
                let parallel = w.len() >= PARALLEL_THRESHOLD;
                // The usual case, every array contiguous: a loop over
                // slices, which the compiler turns into vector code (16
                // square roots and divisions per instruction with AVX-512).
                // `Zip` steps through runtime strides one element at a
                // time; on W1 its loop was a tenth of a step in `perf`.
                if !amsgrad {
                    let slices = (
                        w.as_slice_mut(),
                        state.exp_avg.as_slice_mut(),
                        state.exp_avg_sq.as_slice_mut(),
                        g.as_slice(),
                    );
                    if let (Some(w), Some(m), Some(v), Some(g)) = slices {
                        let run = |w: &mut [T], m: &mut [T], v: &mut [T], g: &[T]| {
                            for (((w, m), v), g) in w.iter_mut().zip(m).zip(v).zip(g) {
                                update(w, m, v, None, g);
                            }
                        };
                        if parallel {
                            w.par_chunks_mut(CHUNK)
                                .zip(m.par_chunks_mut(CHUNK))
                                .zip(v.par_chunks_mut(CHUNK))
                                .zip(g.par_chunks(CHUNK))
                                .for_each(|(((w, m), v), g)| run(w, m, v, g));
                        } else {
                            run(w, m, v, g);
                        }
                        return;
                    }
                }
                let zip = Zip::from(w).and(&mut state.exp_avg).and(&mut state.exp_avg_sq);
                if amsgrad {
                    let zip = zip.and(&mut state.max_exp_avg_sq).and(&g);
                    let step =
                        |w: &mut T, m: &mut T, v: &mut T, vmax: &mut T, g: &T| update(w, m, v, Some(vmax), g);
                    if parallel {
                        zip.par_for_each(step);
                    } else {
                        zip.for_each(step);
                    }
                } else {
                    let zip = zip.and(&g);
                    let step = |w: &mut T, m: &mut T, v: &mut T, g: &T| update(w, m, v, None, g);
                    if parallel {
                        zip.par_for_each(step);
                    } else {
                        zip.for_each(step);
                    }
                }
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
        let mut entries = Vec::new();
        for ((name, _), s) in self.params.iter().zip(&self.states) {
            entries.push((format!("{name}.step"), Entry::Count(s.step)));
            entries.push((
                format!("{name}.exp_avg"),
                Entry::Array(s.exp_avg.clone().into_shared()),
            ));
            entries.push((
                format!("{name}.exp_avg_sq"),
                Entry::Array(s.exp_avg_sq.clone().into_shared()),
            ));
            if self.config.amsgrad {
                entries.push((
                    format!("{name}.max_exp_avg_sq"),
                    Entry::Array(s.max_exp_avg_sq.clone().into_shared()),
                ));
            }
        }
        entries
    }

    fn load_state(&mut self, state: &HashMap<String, Entry<T>>) -> Result<()> {
        let mut loaded = Vec::with_capacity(self.states.len());
        for (name, p) in &self.params {
            let shape = p.shape();
            loaded.push(AdamParamState {
                step: saved_count("Adam::load_state", state, &format!("{name}.step"))?,
                exp_avg: saved_array("Adam::load_state", state, &format!("{name}.exp_avg"), &shape)?,
                exp_avg_sq: saved_array("Adam::load_state", state, &format!("{name}.exp_avg_sq"), &shape)?,
                max_exp_avg_sq: if self.config.amsgrad {
                    saved_array(
                        "Adam::load_state",
                        state,
                        &format!("{name}.max_exp_avg_sq"),
                        &shape,
                    )?
                } else {
                    ArrayD::zeros(vec![0])
                },
            });
        }
        self.states = loaded;
        Ok(())
    }
}
