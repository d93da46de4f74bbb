//! Replays the reference suite that PyTorch computed in `f64`
//! (`tests/torch_reference/cases.json`, written by
//! `tools/torch_reference/make_cases.py`; the PyTorch version is in
//! `tests/torch_reference/torch_version.txt`).
//!
//! For every case the engine recomputes, from the same inputs,
//! * the output,
//! * the vector-Jacobian product `Jᵀv` for the case's cotangent `v`
//!   ([`tensor::grad`] with `v` as the seed, recording the graph), and
//! * where the case has one, the Hessian-vector product `H·u` of
//!   `L = ⟨f(x), v⟩` for the case's direction `u`: the gradients of the
//!   recorded first gradients `g`, seeded with `u` (`∇ₓ⟨g(x), u⟩`).
//!
//! Every value must satisfy `|engine − torch| ≤ atol + rtol·|torch|` with
//! rtol = 1e-9, atol = 1e-10. The test prints each case's worst error (as a
//! multiple of its tolerance) and fails on any mismatch, on any case it cannot
//! run (an op or attribute it does not know), and on an empty suite: nothing
//! is skipped.

#[path = "torch_reference/ops.rs"]
mod ops;

use serde_json::Value;
use tensor::{BackwardOptions, Tensor, grad};

const CASES: &str = include_str!("torch_reference/cases.json");
const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-10;

/// A tensor read from the JSON: `{"shape": [...], "data": [...]}`.
fn tensor_from(value: &Value, what: &str) -> Result<Tensor<f64>, String> {
    let shape = ops::usize_list(&value["shape"]).map_err(|e| format!("{what}: shape: {e}"))?;
    let data = values(&value["data"]).map_err(|e| format!("{what}: data: {e}"))?;
    Tensor::from_vec(data, &shape).map_err(|e| format!("{what}: {e}"))
}

/// A flat list of numbers.
fn values(value: &Value) -> Result<Vec<f64>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("expected a list of numbers, got {value}"))?
        .iter()
        .map(|v| v.as_f64().ok_or_else(|| format!("{v} is not a number")))
        .collect()
}

/// The worst error of `got` against `want`, as a multiple of the tolerance
/// (≤ 1 passes), and the absolute error there. NaN anywhere fails.
#[derive(Debug, Clone, Copy, Default)]
struct Worst {
    ratio: f64,
    abs: f64,
}

impl Worst {
    fn update(&mut self, what: &str, got: &[f64], want: &[f64]) -> Result<(), String> {
        if got.len() != want.len() {
            return Err(format!(
                "{what}: {} values, PyTorch has {}",
                got.len(),
                want.len()
            ));
        }
        for (&g, &w) in got.iter().zip(want) {
            let abs = (g - w).abs();
            let ratio = if g == w {
                0.0
            } else {
                abs / (ATOL + RTOL * w.abs())
            };
            // NaN compares false: count it as failing.
            if ratio.is_nan() || ratio > self.ratio {
                self.ratio = if ratio.is_nan() { f64::INFINITY } else { ratio };
                self.abs = abs;
            }
        }
        Ok(())
    }
}

/// Replays one case, returning the worst error over the output, the VJP and
/// the HVP (or why it could not run).
fn replay(case: &Value) -> Result<Worst, String> {
    let op = case["op"].as_str().ok_or("the case has no op")?;
    let attrs = &case["attrs"];
    let inputs = case["inputs"]
        .as_array()
        .ok_or("the case has no inputs")?
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let t = tensor_from(input, &format!("input {i}"))?;
            Ok(if input["grad"].as_bool() == Some(true) {
                t.with_requires_grad()
            } else {
                t
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let wrt: Vec<Tensor<f64>> = inputs.iter().filter(|t| t.requires_grad()).cloned().collect();

    let out = ops::run(op, attrs, &inputs)?;
    let want = tensor_from(&case["output"], "output")?;
    if out.shape() != want.shape() {
        return Err(format!(
            "output shape {:?}, PyTorch has {:?}",
            out.shape(),
            want.shape()
        ));
    }
    let mut worst = Worst::default();
    worst.update("output", &out.to_vec(), &want.to_vec())?;
    if wrt.is_empty() {
        return Ok(worst);
    }

    let cotangent = Tensor::from_vec(values(&case["cotangent"])?, &out.shape()).map_err(|e| e.to_string())?;
    let first = grad(&[out], &wrt, Some(&[cotangent]), BackwardOptions::create_graph())
        .map_err(|e| format!("backward: {e}"))?;
    let vjp = case["vjp"].as_array().ok_or("the case has no vjp")?;
    if vjp.len() != wrt.len() {
        return Err(format!(
            "{} VJPs for {} differentiated inputs",
            vjp.len(),
            wrt.len()
        ));
    }
    for (i, (g, want)) in first.iter().zip(vjp).enumerate() {
        worst.update(&format!("vjp {i}"), &g.to_vec(), &values(want)?)?;
    }

    let Some(hvp) = case["hvp"].as_array() else {
        return Ok(worst);
    };
    let directions = case["direction"]
        .as_array()
        .ok_or("the case has no direction")?
        .iter()
        .zip(&wrt)
        .map(|(u, x)| Tensor::from_vec(values(u)?, &x.shape()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, String>>()?;
    // Only first gradients that depend on an input have a derivative; the
    // others (constant in x, like add's) contribute zero, as in PyTorch.
    let (live, seeds): (Vec<Tensor<f64>>, Vec<Tensor<f64>>) = first
        .into_iter()
        .zip(directions)
        .filter(|(g, _)| g.requires_grad())
        .unzip();
    let second = if live.is_empty() {
        wrt.iter().map(Tensor::zeros_like).collect()
    } else {
        grad(&live, &wrt, Some(&seeds), BackwardOptions::default())
            .map_err(|e| format!("double backward: {e}"))?
    };
    for (i, (h, want)) in second.iter().zip(hvp).enumerate() {
        worst.update(&format!("hvp {i}"), &h.to_vec(), &values(want)?)?;
    }
    Ok(worst)
}

#[test]
fn every_case_matches_pytorch() {
    let document: Value = serde_json::from_str(CASES).expect("cases.json is valid JSON");
    let cases = document["cases"]
        .as_array()
        .expect("cases.json has a list of cases");
    assert!(!cases.is_empty(), "cases.json holds no case");
    println!(
        "{} cases computed by torch {}; worst error per case as a multiple of the tolerance \
         (|Δ| ≤ {ATOL:e} + {RTOL:e}·|torch|):",
        cases.len(),
        document["torch_version"].as_str().unwrap_or("?")
    );
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or("<unnamed>");
        match replay(case) {
            Ok(worst) if worst.ratio <= 1.0 => {
                println!("  ok    {name:<48} {:.2e} (|Δ| {:.1e})", worst.ratio, worst.abs);
            }
            Ok(worst) => {
                println!("  FAIL  {name:<48} {:.2e} (|Δ| {:.1e})", worst.ratio, worst.abs);
                failures.push(format!(
                    "{name}: worst error {:.2e}× the tolerance (|Δ| {:.1e})",
                    worst.ratio, worst.abs
                ));
            }
            Err(why) => {
                println!("  FAIL  {name:<48} cannot run: {why}");
                failures.push(format!("{name}: cannot run: {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
