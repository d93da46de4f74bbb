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
use tensor::parallel::{CHUNK, PARALLEL_THRESHOLD};
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

/// One step's constants of the update, for one parameter: the config's
/// numbers converted to `T` and the bias corrections of step `t`.
#[derive(Clone, Copy)]
struct Coefficients<T> {
    beta1: T,
    beta2: T,
    eps: T,
    /// Adam's L2 weight decay λ (0 if none or decoupled).
    l2_decay: T,
    /// AdamW's decoupled decay factor `1 − lr·λ` (1 if none or coupled).
    shrink: T,
    /// `lr / (1 − β₁ᵗ)`.
    step_size: T,
    /// `√(1 − β₂ᵗ)`.
    sqrt_bias2: T,
}

impl<T: Element> Coefficients<T> {
    /// The update of one element (the module's formula); `vmax` is
    /// AMSGrad's running maximum of `v`, if used.
    #[inline(always)]
    fn update(&self, w: &mut T, m: &mut T, v: &mut T, vmax: Option<&mut T>, g: T) {
        let one = T::one();
        // Both branches are the same for every element, so the compiler
        // hoists them out of the loops below.
        let g = if self.l2_decay != T::zero() {
            g + self.l2_decay * *w
        } else {
            g
        };
        if self.shrink != T::one() {
            *w *= self.shrink;
        }
        *m = self.beta1 * *m + (one - self.beta1) * g;
        *v = self.beta2 * *v + (one - self.beta2) * g * g;
        let v_used = match vmax {
            Some(vmax) => {
                *vmax = vmax.max(*v);
                *vmax
            }
            None => *v,
        };
        *w -= self.step_size * *m / (v_used.sqrt() / self.sqrt_bias2 + self.eps);
    }

    /// The update of contiguous slices (no AMSGrad), one element after
    /// another. The loop has no dependence between elements, so the compiler
    /// turns it into vector code, as wide as the target allows: see
    /// [`Coefficients::update_slices`].
    #[inline(always)]
    fn update_loop(&self, w: &mut [T], m: &mut [T], v: &mut [T], g: &[T]) {
        for (((w, m), v), &g) in w.iter_mut().zip(m).zip(v).zip(g) {
            self.update(w, m, v, None, g);
        }
    }

    /// [`Coefficients::update_loop`], compiled for the widest vector unit
    /// this CPU has. A Rust build targets the oldest x86-64 by default, so
    /// the plain loop uses 128-bit SSE: 4 `f32` square roots and divisions
    /// per instruction. The same loop compiled with AVX-512 enabled does 16.
    /// Each element still sees the same IEEE operations in the same order
    /// (`x86-64` never fuses a multiply and an add unless told to), so every
    /// path gives the same bits. On W1 this loop was a tenth of a step in
    /// `perf` before (SSE), memory-bound after.
    fn update_slices(&self, w: &mut [T], m: &mut [T], v: &mut [T], g: &[T]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                unsafe { self.update_loop_avx512(w, m, v, g) };
                return;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                unsafe { self.update_loop_avx2(w, m, v, g) };
                return;
            }
        }
        self.update_loop(w, m, v, g);
    }

    /// [`Coefficients::update_loop`] with AVX-512F enabled.
    ///
    /// Safety: only call on a CPU with AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn update_loop_avx512(&self, w: &mut [T], m: &mut [T], v: &mut [T], g: &[T]) {
        self.update_loop(w, m, v, g);
    }

    /// [`Coefficients::update_loop`] with AVX2 enabled.
    ///
    /// Safety: only call on a CPU with AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn update_loop_avx2(&self, w: &mut [T], m: &mut [T], v: &mut [T], g: &[T]) {
        self.update_loop(w, m, v, g);
    }
}

impl<T: Element> Optimizer<T> for Adam<T> {
    fn step(&mut self) -> Result<()> {
        let c = self.config;
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
            let (decoupled, amsgrad) = (c.decoupled_weight_decay, c.amsgrad);
            let k = Coefficients {
                beta1: T::from_f64(c.betas.0),
                beta2: T::from_f64(c.betas.1),
                eps: T::from_f64(c.eps),
                l2_decay: if decoupled { T::zero() } else { decay },
                shrink: if decoupled {
                    T::from_f64(1.0 - c.lr * c.weight_decay)
                } else {
                    T::one()
                },
                step_size: T::from_f64(c.lr / (1.0 - c.betas.0.powf(t))),
                sqrt_bias2: T::from_f64((1.0 - c.betas.1.powf(t)).sqrt()),
            };
            p.update_in_place(|w| {
                // Every element is updated on its own, so splitting a large
                // parameter across threads cannot change the result.
                let parallel = w.len() >= PARALLEL_THRESHOLD;
                // The usual case, every array contiguous: a loop over
                // slices, which the compiler turns into vector code.
                // `Zip` steps through runtime strides one element at a time.
                if !amsgrad {
                    let slices = (
                        w.as_slice_mut(),
                        state.exp_avg.as_slice_mut(),
                        state.exp_avg_sq.as_slice_mut(),
                        g.as_slice(),
                    );
                    if let (Some(w), Some(m), Some(v), Some(g)) = slices {
                        if parallel {
                            w.par_chunks_mut(CHUNK)
                                .zip(m.par_chunks_mut(CHUNK))
                                .zip(v.par_chunks_mut(CHUNK))
                                .zip(g.par_chunks(CHUNK))
                                .for_each(|(((w, m), v), g)| k.update_slices(w, m, v, g));
                        } else {
                            k.update_slices(w, m, v, g);
                        }
                        return;
                    }
                }
                let zip = Zip::from(w).and(&mut state.exp_avg).and(&mut state.exp_avg_sq);
                if amsgrad {
                    let zip = zip.and(&mut state.max_exp_avg_sq).and(&g);
                    let step = |w: &mut T, m: &mut T, v: &mut T, vmax: &mut T, g: &T| {
                        k.update(w, m, v, Some(vmax), *g)
                    };
                    if parallel {
                        zip.par_for_each(step);
                    } else {
                        zip.for_each(step);
                    }
                } else {
                    let zip = zip.and(&g);
                    let step = |w: &mut T, m: &mut T, v: &mut T, g: &T| k.update(w, m, v, None, *g);
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

#[cfg(test)]
mod tests {
    use super::Coefficients;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The vectorised paths must give the plain loop's bits: same IEEE
    /// operations per element, only more elements per instruction.
    #[test]
    fn every_vector_path_gives_the_plain_loops_bits() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 1000;
        let mut draw = |scale: f32| -> Vec<f32> { (0..n).map(|_| rng.random_range(-scale..scale)).collect() };
        let (w0, m0, g) = (draw(1.0), draw(0.1), draw(0.01));
        let v0: Vec<f32> = draw(0.01).iter().map(|x| x * x).collect();
        for (l2_decay, shrink) in [(0.0, 1.0), (1e-2, 1.0), (0.0, 0.999)] {
            let k = Coefficients {
                beta1: 0.5f32,
                beta2: 0.999,
                eps: 1e-8,
                l2_decay,
                shrink,
                step_size: 2e-4 / (1.0 - 0.5f32.powi(3)),
                sqrt_bias2: (1.0 - 0.999f32.powi(3)).sqrt(),
            };
            let (mut w1, mut m1, mut v1) = (w0.clone(), m0.clone(), v0.clone());
            k.update_loop(&mut w1, &mut m1, &mut v1, &g);
            let (mut w2, mut m2, mut v2) = (w0.clone(), m0.clone(), v0.clone());
            k.update_slices(&mut w2, &mut m2, &mut v2, &g);
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&w1), bits(&w2), "weights, decay {l2_decay}, shrink {shrink}");
            assert_eq!(bits(&m1), bits(&m2));
            assert_eq!(bits(&v1), bits(&v2));
            assert_ne!(bits(&w1), bits(&w0), "the step moved nothing");
        }
    }
}
