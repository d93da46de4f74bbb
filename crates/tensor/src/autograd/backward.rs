//! The backward walk: topological sort, then gradients from the output back
//! to the leaves.

use super::{BackwardCtx, GradFn, NoGradGuard};
use crate::tensor::lock;
use crate::{Element, Result, Tensor, TensorError};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// How a backward walk treats the graph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    /// Keep the graph after the walk so that it can be walked again. Without
    /// it, each op's saved inputs are released as soon as they are used.
    pub retain_graph: bool,
    /// Record the backward computation itself, so that the gradients it
    /// returns can be differentiated again (implies `retain_graph`).
    pub create_graph: bool,
}

impl BackwardOptions {
    /// Options that build a differentiable graph of the gradients.
    pub fn create_graph() -> Self {
        BackwardOptions {
            retain_graph: true,
            create_graph: true,
        }
    }

    /// Options that keep the graph for another walk.
    pub fn retain_graph() -> Self {
        BackwardOptions {
            retain_graph: true,
            create_graph: false,
        }
    }
}

/// Where the walk delivers the gradients it reaches.
enum Sink<'a> {
    /// Accumulate into the `.grad` of every leaf that requires gradients.
    LeafGrads,
    /// Hand back the gradients of these nodes only; `.grad` is untouched.
    Capture(&'a HashSet<u64>),
}

impl<T: Element> Tensor<T> {
    /// Computes the gradient of this scalar with respect to every leaf that
    /// requires gradients and adds it to the leaf's `.grad`. The graph is
    /// freed afterwards.
    ///
    /// Fails if the tensor has more than one element (give a seed with
    /// [`backward_with`](Self::backward_with)) or does not require gradients.
    pub fn backward(&self) -> Result<()> {
        self.backward_with(None, BackwardOptions::default())
    }

    /// Backward with an explicit seed gradient (the gradient of some final
    /// result with respect to this tensor; ones if `None`, which needs a
    /// one-element tensor) and options.
    pub fn backward_with(&self, seed: Option<&Tensor<T>>, options: BackwardOptions) -> Result<()> {
        let seed = seed_for("backward", self, seed)?;
        walk(vec![(self.clone(), seed)], options, Sink::LeafGrads)?;
        Ok(())
    }
}

/// The gradients of `outputs` with respect to `inputs`, returned rather than
/// added to `.grad` (PyTorch's `torch.autograd.grad`).
///
/// `grad_outputs` seeds each output (ones for one-element outputs if `None`).
/// An input the outputs do not depend on gets a zero gradient. With
/// [`BackwardOptions::create_graph`] the returned gradients are themselves
/// differentiable, which is what gradient penalties need.
///
/// ```
/// use tensor::{grad, BackwardOptions, Tensor};
/// let x = Tensor::<f64>::scalar(3.0).with_requires_grad();
/// let y = x.mul(&x)?.mul(&x)?; // x³
/// let dy = &grad(&[y], &[x.clone()], None, BackwardOptions::create_graph())?[0]; // 3x²
/// let d2y = &grad(&[dy.clone()], &[x.clone()], None, BackwardOptions::default())?[0]; // 6x
/// assert_eq!((dy.item()?, d2y.item()?), (27.0, 18.0));
/// assert!(x.grad().is_none());
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub fn grad<T: Element>(
    outputs: &[Tensor<T>],
    inputs: &[Tensor<T>],
    grad_outputs: Option<&[Tensor<T>]>,
    options: BackwardOptions,
) -> Result<Vec<Tensor<T>>> {
    if let Some(seeds) = grad_outputs
        && seeds.len() != outputs.len()
    {
        return Err(TensorError::argument(
            "grad",
            format!("{} outputs but {} grad_outputs", outputs.len(), seeds.len()),
        ));
    }
    for (index, input) in inputs.iter().enumerate() {
        if !input.requires_grad() {
            return Err(TensorError::autograd(
                "grad",
                format!("input {index} (shape {:?}) does not require grad", input.shape()),
            ));
        }
    }
    let roots = outputs
        .iter()
        .enumerate()
        .map(|(i, out)| Ok((out.clone(), seed_for("grad", out, grad_outputs.map(|s| &s[i]))?)))
        .collect::<Result<Vec<_>>>()?;
    let wanted: HashSet<u64> = inputs.iter().map(Tensor::id).collect();
    let mut found = walk(roots, options, Sink::Capture(&wanted))?;
    Ok(inputs
        .iter()
        .map(|input| {
            found
                .remove(&input.id())
                .unwrap_or_else(|| Tensor::zeros(&input.shape()))
        })
        .collect())
}

/// The seed gradient for `output`: the given one (shape-checked) or ones for
/// a one-element output.
fn seed_for<T: Element>(op: &'static str, output: &Tensor<T>, seed: Option<&Tensor<T>>) -> Result<Tensor<T>> {
    if !output.requires_grad() {
        return Err(TensorError::autograd(
            op,
            format!(
                "the output (shape {:?}) does not require grad: no input of it requires grad, \
                 or it was computed under no_grad",
                output.shape()
            ),
        ));
    }
    match seed {
        Some(seed) if seed.shape() == output.shape() => Ok(seed.clone()),
        Some(seed) => Err(TensorError::shape(
            op,
            format!(
                "seed gradient of shape {:?} for an output of shape {:?}",
                seed.shape(),
                output.shape()
            ),
        )),
        None if output.numel() == 1 => Ok(Tensor::ones(&output.shape())),
        None => Err(TensorError::autograd(
            op,
            format!(
                "the output has shape {:?}: backward without a seed gradient needs a one-element output \
                 (reduce it, e.g. with sum(), or pass a seed)",
                output.shape()
            ),
        )),
    }
}

/// A node of the walk with its op (`None` for a leaf).
type Visit<T> = (Tensor<T>, Option<Arc<GradFn<T>>>);

/// The nodes reachable from `roots` through tensors that require gradients,
/// each after all of its inputs (post-order of a depth-first search).
fn topological_order<T: Element>(roots: &[(Tensor<T>, Tensor<T>)]) -> Result<Vec<Visit<T>>> {
    let mut order = Vec::new();
    let mut visited = HashSet::new();
    // An explicit stack instead of recursion: deep graphs must not overflow.
    // Each entry is a node and whether its inputs have been pushed already.
    let mut stack: Vec<(Tensor<T>, bool)> = roots.iter().map(|(t, _)| (t.clone(), false)).collect();
    while let Some((node, inputs_done)) = stack.pop() {
        if inputs_done {
            let grad_fn = lock(&node.0.grad_fn).clone();
            order.push((node, grad_fn));
            continue;
        }
        if !visited.insert(node.id()) {
            continue;
        }
        let grad_fn = lock(&node.0.grad_fn).clone();
        if grad_fn.is_none()
            && let Some(op) = node.op_name()
        {
            return Err(TensorError::autograd(
                "backward",
                format!(
                    "the graph behind `{op}` (output shape {:?}) was already freed by an earlier backward; \
                     pass retain_graph to the first backward to walk it twice",
                    node.shape()
                ),
            ));
        }
        stack.push((node.clone(), true));
        if let Some(grad_fn) = grad_fn {
            for input in grad_fn.inputs.iter().rev() {
                if input.requires_grad() && !visited.contains(&input.id()) {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    Ok(order)
}

/// Adds `grad` into the running gradient of node `id`.
fn accumulate<T: Element>(grads: &mut HashMap<u64, Tensor<T>>, id: u64, grad: Tensor<T>) -> Result<()> {
    let total = match grads.remove(&id) {
        Some(previous) => sum_of(previous, &grad)?,
        None => grad,
    };
    grads.insert(id, total);
    Ok(())
}

/// `previous + grad`. When the sum needs no graph, it is computed in place
/// in `previous`'s buffer if nothing else holds that buffer (the `ArcArray`
/// copies it first otherwise), saving an allocation per accumulation.
fn sum_of<T: Element>(previous: Tensor<T>, grad: &Tensor<T>) -> Result<Tensor<T>> {
    if crate::is_grad_enabled() && (previous.requires_grad() || grad.requires_grad()) {
        return previous.add(grad);
    }
    let mut total = previous.array();
    drop(previous);
    let addend = grad.array();
    if total.len() >= crate::kernels::PARALLEL_THRESHOLD {
        ndarray::Zip::from(&mut total)
            .and(&addend)
            .par_for_each(|t, &g| *t += g);
    } else {
        total.zip_mut_with(&addend, |t, &g| *t += g);
    }
    Ok(Tensor::from_shared(total))
}

/// Walks the graph from `roots` (each with its seed gradient) back to the
/// leaves. Returns the captured gradients for [`Sink::Capture`].
fn walk<T: Element>(
    roots: Vec<(Tensor<T>, Tensor<T>)>,
    options: BackwardOptions,
    sink: Sink<'_>,
) -> Result<HashMap<u64, Tensor<T>>> {
    let retain_graph = options.retain_graph || options.create_graph;
    let order = topological_order(&roots)?;

    // When only some gradients are wanted, skip the branches that cannot
    // reach them. `order` lists inputs before outputs, so one forward pass
    // decides for every node whether it leads to a wanted one.
    let mut leads: HashMap<u64, bool> = HashMap::with_capacity(order.len());
    for (node, grad_fn) in &order {
        let leads_here = match &sink {
            Sink::LeafGrads => true,
            Sink::Capture(wanted) => {
                wanted.contains(&node.id())
                    || grad_fn.as_ref().is_some_and(|f| {
                        f.inputs
                            .iter()
                            .any(|i| leads.get(&i.id()).copied().unwrap_or(false))
                    })
            }
        };
        leads.insert(node.id(), leads_here);
    }

    // The backward closures run with recording on only if asked to build a
    // graph of the gradients; otherwise they are plain kernel calls.
    let _recording = NoGradGuard::set(options.create_graph);
    let mut grads: HashMap<u64, Tensor<T>> = HashMap::new();
    for (root, seed) in roots {
        accumulate(&mut grads, root.id(), seed)?;
    }
    let mut captured = HashMap::new();

    for (node, grad_fn) in order.into_iter().rev() {
        let Some(grad) = grads.remove(&node.id()) else {
            continue;
        };
        if let Sink::Capture(wanted) = &sink
            && wanted.contains(&node.id())
        {
            captured.insert(node.id(), grad.clone());
        }
        let Some(grad_fn) = grad_fn else {
            if let Sink::LeafGrads = sink {
                add_to_leaf_grad(&node, grad)?;
            }
            continue;
        };
        if !retain_graph {
            lock(&node.0.grad_fn).take();
        }
        let needed: Vec<bool> = grad_fn
            .inputs
            .iter()
            .map(|i| i.requires_grad() && leads.get(&i.id()).copied().unwrap_or(false))
            .collect();
        if !needed.iter().any(|&n| n) {
            continue;
        }
        let ctx = BackwardCtx {
            inputs: &grad_fn.inputs,
            output: &node,
            grad: &grad,
            needed: &needed,
        };
        let input_grads = if crate::anomaly::is_enabled() {
            let _scope = crate::anomaly::BackwardScope::enter(grad_fn.name);
            let grads = (grad_fn.backward)(&ctx)?;
            crate::anomaly::check_backward(grad_fn.name, &grad_fn.inputs, &grad, &grads);
            grads
        } else {
            (grad_fn.backward)(&ctx)?
        };
        if input_grads.len() != grad_fn.inputs.len() {
            return Err(TensorError::autograd(
                "backward",
                format!(
                    "the backward of `{}` returned {} gradients for {} inputs",
                    grad_fn.name,
                    input_grads.len(),
                    grad_fn.inputs.len()
                ),
            ));
        }
        for (index, (input, input_grad)) in grad_fn.inputs.iter().zip(input_grads).enumerate() {
            let Some(input_grad) = input_grad.filter(|_| needed[index]) else {
                continue;
            };
            if input_grad.shape() != input.shape() {
                return Err(TensorError::autograd(
                    "backward",
                    format!(
                        "the backward of `{}` returned a gradient of shape {:?} for input {index} of shape {:?}",
                        grad_fn.name,
                        input_grad.shape(),
                        input.shape()
                    ),
                ));
            }
            accumulate(&mut grads, input.id(), input_grad)?;
        }
    }
    Ok(captured)
}

/// `.grad += grad` for a leaf. The stored gradient gets a node of its own so
/// that later in-place updates of it never touch a tensor of the graph.
fn add_to_leaf_grad<T: Element>(leaf: &Tensor<T>, grad: Tensor<T>) -> Result<()> {
    let mut slot = lock(&leaf.0.grad);
    let total = match slot.take() {
        Some(previous) => sum_of(previous, &grad)?,
        None if grad.requires_grad() => grad,
        None => Tensor::from_shared(grad.array()),
    };
    *slot = Some(total);
    Ok(())
}
