//! Gradient checking: does an op's hand-written backward agree with the
//! derivative measured by finite differences?
//!
//! For a function `f` of some `f64` tensors, [`gradcheck`] compares the
//! gradient from the backward walk with the central difference
//!
//! ```text
//! ∂f_j/∂x_k ≈ (f_j(x + ε e_k) − f_j(x − ε e_k)) / 2ε
//! ```
//!
//! whose error shrinks like ε², and accepts where
//! `|analytic − numeric| ≤ atol + rtol·|numeric|` (PyTorch's defaults:
//! ε = 1e-6, atol = 1e-5, rtol = 1e-3).
//!
//! * [`GradcheckMode::Full`] builds the whole Jacobian both ways: one backward
//!   per output element and two forwards per input element. Exact, for small
//!   inputs.
//! * [`GradcheckMode::RandomDirections`] compares directional derivatives:
//!   for random `u` (output-shaped) and `v` (input-shaped),
//!   `⟨u, J v⟩` from one backward (`⟨backward(u), v⟩`) against
//!   `(⟨u, f(x + εv)⟩ − ⟨u, f(x − εv)⟩) / 2ε` from two forwards. Cheap, for
//!   large inputs; a wrong rule survives a random direction with probability 0.
//!
//! [`gradgradcheck`] applies the same test to the gradient itself (computed
//! with `create_graph`), which proves the backward rules are differentiable
//! and their own derivatives right.
//!
//! ```
//! use tensor::gradcheck::{gradcheck, GradcheckOptions};
//! use tensor::Tensor;
//! let x = Tensor::<f64>::from_vec(vec![0.3, -1.2, 2.0], &[3])?;
//! gradcheck(|xs| Ok(xs[0].mul(&xs[0])?.sum()), &[x], &GradcheckOptions::default())
//!     .expect("x² has gradient 2x");
//! # Ok::<(), tensor::TensorError>(())
//! ```

use crate::{BackwardOptions, GradientMismatch, Tensor, TensorError, grad};
use ndarray::{ArcArray, Dimension, IxDyn};
use rand::SeedableRng;

/// How [`gradcheck`] compares gradients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GradcheckMode {
    /// The whole Jacobian, element by element.
    Full,
    /// `trials` random directional derivatives, drawn from `seed`.
    RandomDirections {
        /// How many random `(u, v)` pairs to try.
        trials: usize,
        /// Seed of the RNG that draws them.
        seed: u64,
    },
    /// `Full` when inputs and outputs have at most 2,000 elements in all,
    /// `RandomDirections { trials: 8, seed: 0 }` otherwise.
    Auto,
}

/// Tolerances and mode of [`gradcheck`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance, relative to the numeric value.
    pub rtol: f64,
    /// Full Jacobian or random directions.
    pub mode: GradcheckMode,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            mode: GradcheckMode::Auto,
        }
    }
}

/// A passing check: how many values were compared and the largest gap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckReport {
    /// Jacobian entries (full mode) or directional derivatives compared.
    pub compared: usize,
    /// The largest `|analytic − numeric|` seen.
    pub max_abs_error: f64,
}

/// The values of the inputs (or outputs) of a checked function.
type Values = ArcArray<f64, IxDyn>;
/// A function under test, with any number of outputs.
type MultiFn<'a> = dyn Fn(&[Tensor<f64>]) -> crate::Result<Vec<Tensor<f64>>> + 'a;
/// Evaluates the function under test on plain values.
type Evaluate<'a> = dyn Fn(&[Values]) -> crate::Result<Vec<Values>> + 'a;
/// Moves some inputs by a step in place.
type Perturb<'a> = dyn Fn(&mut [Values], f64) + 'a;

/// Checks the gradient of `f` with respect to each input against finite
/// differences. Every input is treated as a variable; `f` must be
/// deterministic and smooth around the inputs (keep away from kinks such as
/// relu at 0 or ties of max).
pub fn gradcheck<F>(
    f: F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> crate::Result<GradcheckReport>
where
    F: Fn(&[Tensor<f64>]) -> crate::Result<Tensor<f64>>,
{
    check_outputs(&|xs: &[Tensor<f64>]| Ok(vec![f(xs)?]), inputs, options)
}

/// Checks the *second* derivatives of `f`: runs [`gradcheck`] on the function
/// `(x, u) ↦ ∂⟨u, f(x)⟩/∂x`, computed by a backward that builds its own graph.
/// The seed `u` is a random tensor of `f`'s output shape (also checked as an
/// input, as PyTorch does).
pub fn gradgradcheck<F>(
    f: F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> crate::Result<GradcheckReport>
where
    F: Fn(&[Tensor<f64>]) -> crate::Result<Tensor<f64>>,
{
    // Recording stays on for this probe too: `f` may take a gradient
    // itself (a gradient penalty does), which needs a graph.
    let output_shape = f(inputs)?.shape();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let seed = Tensor::<f64>::randn(&output_shape, 0.0, 1.0, &mut rng)?;
    let mut all_inputs = inputs.to_vec();
    all_inputs.push(seed);
    let count = inputs.len();
    let gradient = move |xs: &[Tensor<f64>]| -> crate::Result<Vec<Tensor<f64>>> {
        let (variables, seed) = xs.split_at(count);
        let output = f(variables)?;
        if !output.requires_grad() {
            // f ignores its inputs: every gradient is identically zero.
            return Ok(variables.iter().map(Tensor::zeros_like).collect());
        }
        grad(&[output], variables, Some(seed), BackwardOptions::create_graph())
    };
    check_outputs(&gradient, &all_inputs, options)
}

/// A fresh leaf with the same values (and memory layout) as `x`.
fn fresh_leaf(x: &ArcArray<f64, IxDyn>, requires_grad: bool) -> Tensor<f64> {
    let leaf = Tensor::from_shared(x.clone());
    leaf.set_requires_grad(requires_grad)
        .expect("a new tensor is a leaf");
    leaf
}

/// The core of both checks, for a function with several outputs.
fn check_outputs(
    f: &MultiFn<'_>,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> crate::Result<GradcheckReport> {
    let values: Vec<ArcArray<f64, IxDyn>> = inputs.iter().map(Tensor::array).collect();
    let evaluate = |values: &[ArcArray<f64, IxDyn>]| -> crate::Result<Vec<ArcArray<f64, IxDyn>>> {
        // Recording stays on: in gradgradcheck, `f` itself runs a backward.
        let leaves: Vec<_> = values.iter().map(|v| fresh_leaf(v, true)).collect();
        Ok(f(&leaves)?.iter().map(Tensor::array).collect())
    };
    let input_elements: usize = values.iter().map(|v| v.len()).sum();
    let output_elements: usize = evaluate(&values)?.iter().map(|v| v.len()).sum();
    let mode = match options.mode {
        GradcheckMode::Auto if input_elements <= 2000 && output_elements <= 2000 => GradcheckMode::Full,
        GradcheckMode::Auto => GradcheckMode::RandomDirections { trials: 8, seed: 0 },
        mode => mode,
    };
    let mut tracker = Tracker::new(options);
    match mode {
        GradcheckMode::Full | GradcheckMode::Auto => {
            full_jacobian(f, &values, &evaluate, options, &mut tracker)?
        }
        GradcheckMode::RandomDirections { trials, seed } => {
            random_directions(f, &values, &evaluate, options, trials, seed, &mut tracker)?
        }
    }
    tracker.finish()
}

/// Remembers the largest error and the worst violation of the tolerance.
struct Tracker {
    atol: f64,
    rtol: f64,
    compared: usize,
    max_abs_error: f64,
    worst: Option<(f64, GradientMismatch)>,
}

impl Tracker {
    fn new(options: &GradcheckOptions) -> Self {
        Tracker {
            atol: options.atol,
            rtol: options.rtol,
            compared: 0,
            max_abs_error: 0.0,
            worst: None,
        }
    }

    /// Compares one pair; `describe` builds the error if it is the worst so far.
    fn compare(&mut self, analytic: f64, numeric: f64, describe: impl FnOnce(f64) -> GradientMismatch) {
        self.compared += 1;
        let error = (analytic - numeric).abs();
        let tolerance = self.atol + self.rtol * numeric.abs();
        // NaN compares false everywhere: count it as the worst possible excess.
        let excess = if error.is_nan() {
            f64::INFINITY
        } else {
            error - tolerance
        };
        self.max_abs_error = self
            .max_abs_error
            .max(if error.is_nan() { f64::INFINITY } else { error });
        if excess > 0.0 && self.worst.as_ref().is_none_or(|(worst, _)| excess > *worst) {
            self.worst = Some((excess, describe(tolerance)));
        }
    }

    fn finish(self) -> crate::Result<GradcheckReport> {
        match self.worst {
            Some((_, mismatch)) => Err(TensorError::GradientMismatch(Box::new(mismatch))),
            None => Ok(GradcheckReport {
                compared: self.compared,
                max_abs_error: self.max_abs_error,
            }),
        }
    }
}

/// `(f(x + ε e) − f(x − ε e)) / 2ε` for the perturbation `perturb` of input `input`.
fn central_difference(
    evaluate: &Evaluate<'_>,
    values: &[ArcArray<f64, IxDyn>],
    eps: f64,
    perturb: &Perturb<'_>,
) -> crate::Result<Vec<ArcArray<f64, IxDyn>>> {
    let mut plus = values.to_vec();
    perturb(&mut plus, eps);
    let mut minus = values.to_vec();
    perturb(&mut minus, -eps);
    let (plus, minus) = (evaluate(&plus)?, evaluate(&minus)?);
    Ok(plus
        .iter()
        .zip(&minus)
        .map(|(p, m)| ((p - m) / (2.0 * eps)).into_shared())
        .collect())
}

fn full_jacobian(
    f: &MultiFn<'_>,
    values: &[ArcArray<f64, IxDyn>],
    evaluate: &Evaluate<'_>,
    options: &GradcheckOptions,
    tracker: &mut Tracker,
) -> crate::Result<()> {
    // Analytic: one backward per output element, seeded with a one-hot
    // tensor, gives one row of the Jacobian for every input at once.
    let leaves: Vec<_> = values.iter().map(|v| fresh_leaf(v, true)).collect();
    let outputs = f(&leaves)?;
    // rows[o][j][i] = ∂ outputs[o]_j / ∂ inputs[i] (an input-shaped array)
    let mut rows: Vec<Vec<Vec<ArcArray<f64, IxDyn>>>> = Vec::new();
    for output in &outputs {
        let mut output_rows = Vec::with_capacity(output.numel());
        for j in 0..output.numel() {
            if !output.requires_grad() {
                output_rows.push(values.iter().map(|v| ArcArray::zeros(v.raw_dim())).collect());
                continue;
            }
            let mut one_hot = vec![0.0; output.numel()];
            one_hot[j] = 1.0;
            let seed = Tensor::from_vec(one_hot, &output.shape())?;
            let grads = grad(
                std::slice::from_ref(output),
                &leaves,
                Some(&[seed]),
                BackwardOptions::retain_graph(),
            )?;
            output_rows.push(grads.iter().map(Tensor::array).collect());
        }
        rows.push(output_rows);
    }
    // Numeric: two forwards per input element give one column.
    for (i, value) in values.iter().enumerate() {
        let indices: Vec<IxDyn> = value.indexed_iter().map(|(index, _)| index).collect();
        for index in indices {
            let column = central_difference(evaluate, values, options.eps, &|xs, step| {
                let x = &mut xs[i];
                x[&index] += step;
            })?;
            for (o, numeric_output) in column.iter().enumerate() {
                for (j, (output_index, &numeric)) in numeric_output.indexed_iter().enumerate() {
                    let analytic = rows[o][j][i][&index];
                    tracker.compare(analytic, numeric, |tolerance| GradientMismatch {
                        input: i,
                        input_index: Some(index.slice().to_vec()),
                        output_index: Some((o, output_index.slice().to_vec())),
                        trial: None,
                        analytic,
                        numeric,
                        tolerance,
                    });
                }
            }
        }
    }
    Ok(())
}

fn random_directions(
    f: &MultiFn<'_>,
    values: &[ArcArray<f64, IxDyn>],
    evaluate: &Evaluate<'_>,
    options: &GradcheckOptions,
    trials: usize,
    seed: u64,
    tracker: &mut Tracker,
) -> crate::Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let leaves: Vec<_> = values.iter().map(|v| fresh_leaf(v, true)).collect();
    let outputs = f(&leaves)?;
    for trial in 0..trials {
        let u: Vec<Tensor<f64>> = outputs
            .iter()
            .map(|o| Tensor::randn(&o.shape(), 0.0, 1.0, &mut rng))
            .collect::<crate::Result<_>>()?;
        // Analytic, per input: ⟨∂⟨u, f⟩/∂x_i, v_i⟩, where backward(u) = Jᵀu.
        let mut vjp: Vec<ArcArray<f64, IxDyn>> =
            values.iter().map(|v| ArcArray::zeros(v.raw_dim())).collect();
        for (output, seed) in outputs.iter().zip(&u) {
            if output.requires_grad() {
                let grads = grad(
                    std::slice::from_ref(output),
                    &leaves,
                    Some(std::slice::from_ref(seed)),
                    BackwardOptions::retain_graph(),
                )?;
                for (total, g) in vjp.iter_mut().zip(&grads) {
                    *total = (&*total + &g.array()).into_shared();
                }
            }
        }
        // One input direction at a time, so a mismatch names its input.
        for (i, value) in values.iter().enumerate() {
            let v = Tensor::<f64>::randn(value.shape(), 0.0, 1.0, &mut rng)?.array();
            let analytic = (&vjp[i] * &v).sum();
            let column = central_difference(evaluate, values, options.eps, &|xs, step| {
                xs[i] = (&xs[i] + &(&v * step)).into_shared();
            })?;
            let numeric: f64 = column.iter().zip(&u).map(|(c, u)| (c * &u.array()).sum()).sum();
            tracker.compare(analytic, numeric, |tolerance| GradientMismatch {
                input: i,
                input_index: None,
                output_index: None,
                trial: Some(trial),
                analytic,
                numeric,
                tolerance,
            });
        }
    }
    Ok(())
}
