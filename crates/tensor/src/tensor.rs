//! The [`Tensor`] type: an n-d array plus what autodiff needs to know about it.
//!
//! A `Tensor` is a cheap handle (an `Arc`) to a node of the computation graph.
//! Cloning it clones the handle, not the data. A node holds
//! * its values, an ndarray `ArcArray` (so views such as a transpose share the
//!   buffer, and an in-place update copies only when the buffer is shared);
//! * whether gradients flow to it (`requires_grad`);
//! * for a *leaf* (a tensor the user made), the accumulated gradient `.grad`;
//! * for a tensor made by an op, the op's [`GradFn`]: its inputs and the
//!   closure that turns the output's gradient into the inputs' gradients.
//!
//! How the graph is walked is in [`crate::autograd`]; the ops are in
//! [`crate::ops`].

use crate::autograd::GradFn;
use crate::{Element, Result, TensorError};
use ndarray::{ArcArray, ArrayD, IxDyn};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// An n-dimensional array of `T` (`f32` by default) that records the
/// operations applied to it, so that gradients can be computed by
/// [`Tensor::backward`] or [`crate::grad`].
///
/// ```
/// use tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3])?.with_requires_grad();
/// let y = x.mul(&x)?.sum(); // y = Σ x²
/// y.backward()?;
/// assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, 4.0, 6.0]); // dy/dx = 2x
/// # Ok::<(), tensor::TensorError>(())
/// ```
pub struct Tensor<T: Element = f32>(pub(crate) Arc<Node<T>>);

/// One node of the graph. See the module documentation.
pub(crate) struct Node<T: Element> {
    /// Unique for the life of the process; keys the maps of the backward walk.
    pub(crate) id: u64,
    pub(crate) data: RwLock<ArcArray<T, IxDyn>>,
    pub(crate) requires_grad: AtomicBool,
    pub(crate) grad: Mutex<Option<Tensor<T>>>,
    /// `Some` while the graph behind this tensor is alive; taken by a backward
    /// that does not retain the graph.
    pub(crate) grad_fn: Mutex<Option<Arc<GradFn<T>>>>,
    /// The name of the op that made this tensor, kept after `grad_fn` is freed
    /// so that a second backward can say what is missing. `None` for leaves.
    pub(crate) op_name: Option<&'static str>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Locks a mutex, recovering the data if another thread panicked while
/// holding it (the data of a tensor is never left half-written).
pub(crate) fn lock<U>(mutex: &Mutex<U>) -> MutexGuard<'_, U> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T: Element> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        Tensor(Arc::clone(&self.0))
    }
}

impl<T: Element> Tensor<T> {
    /// Makes a node. `grad_fn` is `Some` only for recorded op outputs.
    pub(crate) fn new_node(
        data: ArcArray<T, IxDyn>,
        requires_grad: bool,
        grad_fn: Option<Arc<GradFn<T>>>,
        op_name: Option<&'static str>,
    ) -> Self {
        Tensor(Arc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            data: RwLock::new(data),
            requires_grad: AtomicBool::new(requires_grad),
            grad: Mutex::new(None),
            grad_fn: Mutex::new(grad_fn),
            op_name,
        }))
    }

    /// Wraps an owned ndarray array (any shape) as a leaf tensor that does not
    /// require gradients.
    pub fn from_array(array: ArrayD<T>) -> Self {
        Self::new_node(array.into_shared(), false, None, None)
    }

    /// Wraps a shared ndarray array as a leaf tensor without copying it.
    pub fn from_shared(array: ArcArray<T, IxDyn>) -> Self {
        Self::new_node(array, false, None, None)
    }

    /// A leaf tensor of the given shape from values in row-major order.
    ///
    /// Fails if `values.len()` is not the product of `shape`.
    pub fn from_vec(values: Vec<T>, shape: &[usize]) -> Result<Self> {
        let expected: usize = shape.iter().product();
        if values.len() != expected {
            return Err(TensorError::shape(
                "from_vec",
                format!(
                    "{} values cannot fill shape {shape:?}, which holds {expected}",
                    values.len()
                ),
            ));
        }
        let array = ArrayD::from_shape_vec(IxDyn(shape), values)
            .map_err(|e| TensorError::shape("from_vec", e.to_string()))?;
        Ok(Self::from_array(array))
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Self::from_array(ArrayD::from_elem(IxDyn(&[]), value))
    }

    /// The process-unique id of this tensor's node.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> Vec<usize> {
        self.read().shape().to_vec()
    }

    /// The number of dimensions (0 for a scalar).
    pub fn ndim(&self) -> usize {
        self.read().ndim()
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.read().len()
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, ArcArray<T, IxDyn>> {
        self.0
            .data
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The values as a shared ndarray array (cheap: the buffer is shared, and
    /// copied only if someone later writes to it).
    pub fn array(&self) -> ArcArray<T, IxDyn> {
        self.read().clone()
    }

    /// The values in row-major (logical) order.
    pub fn to_vec(&self) -> Vec<T> {
        self.read().iter().copied().collect()
    }

    /// The single value of a tensor with one element (any rank).
    pub fn item(&self) -> Result<T> {
        let data = self.read();
        if data.len() != 1 {
            return Err(TensorError::shape(
                "item",
                format!(
                    "only a one-element tensor has an item; this one has shape {:?}",
                    data.shape()
                ),
            ));
        }
        Ok(*data.iter().next().expect("one element, checked above"))
    }

    /// Replaces the values in place, keeping the node (and so its identity as
    /// a parameter). Used by optimizers. The shape must not change.
    pub fn set_array(&self, values: ArcArray<T, IxDyn>) -> Result<()> {
        let mut data = self.0.data.write().unwrap_or_else(|p| p.into_inner());
        if data.shape() != values.shape() {
            return Err(TensorError::shape(
                "set_array",
                format!(
                    "cannot replace values of shape {:?} with shape {:?}",
                    data.shape(),
                    values.shape()
                ),
            ));
        }
        *data = values;
        Ok(())
    }

    /// Runs `update` on the values in place (copying the buffer first only if
    /// another tensor shares it). Used by optimizers; not recorded by autodiff.
    pub fn update_in_place(&self, update: impl FnOnce(&mut ArcArray<T, IxDyn>)) {
        let mut data = self.0.data.write().unwrap_or_else(|p| p.into_inner());
        update(&mut data);
    }

    /// Whether gradients flow to this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Marks a leaf as needing gradients (or not). Fails on an op output,
    /// whose flag is decided by its inputs.
    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<()> {
        if !self.is_leaf() {
            return Err(TensorError::autograd(
                "set_requires_grad",
                format!(
                    "only a leaf tensor's flag can be set; this one (shape {:?}) was made by `{}`; \
                     use detach() to get a leaf",
                    self.shape(),
                    self.0.op_name.unwrap_or("?")
                ),
            ));
        }
        self.0.requires_grad.store(requires_grad, Ordering::Relaxed);
        Ok(())
    }

    /// Builder form of [`set_requires_grad(true)`](Self::set_requires_grad),
    /// for a freshly made leaf: returns `self`, now requiring gradients.
    ///
    /// **On a recorded op output it returns a new leaf**, a detached copy of
    /// the values that requires gradients (PyTorch's
    /// `y.detach().requires_grad_()`): gradients then stop at it and do not
    /// reach the tensors `self` was computed from. Use
    /// [`set_requires_grad`](Self::set_requires_grad) to be told instead.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::scalar(2.0).with_requires_grad();
    /// let y = x.mul_scalar(3.0).with_requires_grad(); // a new leaf
    /// assert!(y.is_leaf());
    /// y.mul(&y)?.backward()?;
    /// assert_eq!(y.grad().unwrap().item()?, 12.0);
    /// assert!(x.grad().is_none()); // the graph was cut at y
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn with_requires_grad(self) -> Self {
        let leaf = if self.is_leaf() { self } else { self.detach() };
        leaf.0.requires_grad.store(true, Ordering::Relaxed);
        leaf
    }

    /// True for tensors the user made (and for op outputs computed while no
    /// gradient was being recorded); false for recorded op outputs.
    pub fn is_leaf(&self) -> bool {
        self.0.op_name.is_none()
    }

    /// The name of the op that made this tensor, if it was recorded.
    pub fn op_name(&self) -> Option<&'static str> {
        self.0.op_name
    }

    /// The gradient accumulated by backward passes, for a leaf that requires
    /// gradients (`None` before the first backward or after `zero_grad`).
    pub fn grad(&self) -> Option<Tensor<T>> {
        lock(&self.0.grad).clone()
    }

    /// Replaces the accumulated gradient (used by the backward walk and by
    /// optimizers that clip or rescale gradients).
    pub fn set_grad(&self, grad: Option<Tensor<T>>) {
        *lock(&self.0.grad) = grad;
    }

    /// Forgets the accumulated gradient. The next backward starts from zero.
    pub fn zero_grad(&self) {
        self.set_grad(None);
    }

    /// A new leaf that shares this tensor's values but has no history:
    /// gradients do not flow through it.
    pub fn detach(&self) -> Tensor<T> {
        Self::from_shared(self.array())
    }

    /// The values converted to another element type, as a new leaf.
    pub fn cast<U: Element>(&self) -> Tensor<U> {
        Tensor::from_array(self.read().mapv(|v| U::from_f64(v.to_f64())))
    }
}

impl<T: Element> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.read();
        write!(f, "Tensor<{}>(shape={:?}", T::NAME, data.shape())?;
        if let Some(op) = self.0.op_name {
            write!(f, ", op={op}")?;
        } else if self.requires_grad() {
            write!(f, ", requires_grad")?;
        }
        write!(f, ", {data})")
    }
}
