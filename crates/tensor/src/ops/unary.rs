//! Elementwise ops of one tensor (and scalar versions of the binary ops).
//!
//! Each op states its derivative `dy/dx` beside its forward; the backward is
//! `x̄ = ȳ · dy/dx`, written with tensor ops so that it can be differentiated
//! again:
//!
//! ```text
//! y = −x, c − x        dy/dx = −1
//! y = x + c, x − c     dy/dx = 1
//! y = c·x, x/c         dy/dx = c, 1/c
//! y = c/x              dy/dx = −c/x² = −y/x
//! y = x²               dy/dx = 2x
//! y = xᵖ               dy/dx = p·xᵖ⁻¹
//! y = eˣ               dy/dx = eˣ = y          (the output is the derivative)
//! y = ln x             dy/dx = 1/x
//! y = √x               dy/dx = 1/(2√x) = 1/(2y)
//! y = |x|              dy/dx = sign(x)         (0 at x = 0)
//! y = clamp(x, a, b)   dy/dx = [a ≤ x ≤ b]     (clamp_min: [x ≥ a], clamp_max: [x ≤ b])
//! ```
//!
//! Names against PyTorch's: `powf(p)` is `x ** p` / `torch.pow(x, p)` with a
//! scalar `p` (a tensor exponent is [`Tensor::pow`] in `binary.rs`);
//! `rsub_scalar(c)` is `c - x`, `rdiv_scalar(c)` is `c / x`; `add_scalar`,
//! `sub_scalar`, `mul_scalar`, `div_scalar` are `x + c`, `x - c`, `x * c`,
//! `x / c`.
//!
//! Where the derivative is cheapest in terms of the output (`exp`, `sqrt`),
//! the backward uses the output tensor: that saves recomputing it, and since
//! the output is itself a node of the graph, the backward stays
//! differentiable. Derivatives that are piecewise constant (`abs`, `clamp`)
//! multiply by a *constant* mask built from the input's values; its own
//! derivative is zero, which is right everywhere except at the kinks, where
//! the op has no derivative anyway.
//!
//! Gradient checks: `crates/tensor/tests/gradcheck_elementwise.rs` and (for the PyTorch forms) `crates/tensor/tests/gradcheck_pytorch_semantics.rs`.

use crate::kernels::elementwise::map;
use crate::{Element, Result, Tensor, TensorError};

impl<T: Element> Tensor<T> {
    /// `f` applied elementwise, recorded as op `name` with the given backward
    /// `x̄ = backward(x, y, ȳ)`. The shared skeleton of the unary ops.
    pub(crate) fn unary_op(
        &self,
        name: &'static str,
        f: impl Fn(T) -> T + Sync,
        backward: impl Fn(&Tensor<T>, &Tensor<T>, &Tensor<T>) -> crate::Result<Tensor<T>> + Send + Sync + 'static,
    ) -> Tensor<T> {
        let out = map(self.read().view(), f);
        Tensor::from_op(name, &[self], out, move |ctx| {
            Ok(vec![Some(backward(ctx.input(0), ctx.output, ctx.grad)?)])
        })
    }

    /// `f` applied to this tensor's values as a new *constant*: a leaf that
    /// is never recorded. Backward rules use it for masks (`[x > 0]`,
    /// `sign(x)`), whose derivative is zero wherever it exists.
    pub(crate) fn constant_map(&self, f: impl Fn(T) -> T + Sync) -> Tensor<T> {
        Tensor::from_array(map(self.read().view(), f))
    }

    /// `-self`.
    pub fn neg(&self) -> Tensor<T> {
        // d(−x)/dx = −1
        self.unary_op("neg", |x| -x, |_, _, g| Ok(g.neg()))
    }

    /// `self + c` for a scalar `c`.
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        // d(x + c)/dx = 1
        self.unary_op("add_scalar", move |x| x + c, |_, _, g| Ok(g.clone()))
    }

    /// `self * c` for a scalar `c`.
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        // d(c·x)/dx = c
        self.unary_op("mul_scalar", move |x| x * c, move |_, _, g| Ok(g.mul_scalar(c)))
    }

    /// `self - c` for a scalar `c`.
    pub fn sub_scalar(&self, c: T) -> Tensor<T> {
        // d(x − c)/dx = 1
        self.unary_op("sub_scalar", move |x| x - c, |_, _, g| Ok(g.clone()))
    }

    /// `c - self` for a scalar `c` (subtraction with the operands reversed,
    /// e.g. `1 − p`).
    pub fn rsub_scalar(&self, c: T) -> Tensor<T> {
        // d(c − x)/dx = −1
        self.unary_op("rsub_scalar", move |x| c - x, |_, _, g| Ok(g.neg()))
    }

    /// `c / self` for a scalar `c` (division with the operands reversed,
    /// PyTorch's `c / x`).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![2.0, -4.0], &[2])?;
    /// assert_eq!(x.rdiv_scalar(1.0).to_vec(), vec![0.5, -0.25]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn rdiv_scalar(&self, c: T) -> Tensor<T> {
        // d(c/x)/dx = −c/x² = −y/x, written through the output y (a node of
        // the graph) so that the backward stays differentiable.
        self.unary_op(
            "rdiv_scalar",
            move |x| c / x,
            |x, y, g| Ok(g.mul(y)?.div(x)?.neg()),
        )
    }

    /// `self / c` for a scalar `c`.
    pub fn div_scalar(&self, c: T) -> Tensor<T> {
        // d(x/c)/dx = 1/c. Dividing (rather than multiplying by a rounded
        // 1/c) keeps the forward and backward exactly consistent.
        self.unary_op("div_scalar", move |x| x / c, move |_, _, g| Ok(g.div_scalar(c)))
    }

    /// `self²` elementwise (PyTorch's `torch.square`).
    pub fn square(&self) -> Tensor<T> {
        // d(x²)/dx = 2x
        self.unary_op(
            "square",
            |x| x * x,
            |x, _, g| g.mul(&x.mul_scalar(T::from_f64(2.0))),
        )
    }

    /// `selfᵖ` elementwise for a scalar exponent `p` (PyTorch's `x ** p`,
    /// `torch.pow(x, p)`; for a tensor exponent see [`pow`](Self::pow)).
    ///
    /// For a non-integer `p` the base must be positive (a negative base
    /// gives NaN, as in `f64::powf`).
    pub fn powf(&self, p: T) -> Tensor<T> {
        // d(xᵖ)/dx = p·xᵖ⁻¹. For p = 0 the derivative is 0 everywhere; saying
        // so directly avoids 0·x⁻¹ = 0·∞ = NaN at x = 0.
        self.unary_op(
            "powf",
            move |x| x.powf(p),
            move |x, _, g| {
                if p == T::zero() {
                    return Ok(g.zeros_like());
                }
                g.mul(&x.powf(p - T::one()).mul_scalar(p))
            },
        )
    }

    /// `eˣ` elementwise.
    pub fn exp(&self) -> Tensor<T> {
        // d(eˣ)/dx = eˣ = y: the output is its own derivative.
        self.unary_op("exp", |x| x.exp(), |_, y, g| g.mul(y))
    }

    /// The natural logarithm, elementwise (NaN for negative values, −∞ at 0).
    pub fn log(&self) -> Tensor<T> {
        // d(ln x)/dx = 1/x
        self.unary_op("log", |x| x.ln(), |x, _, g| g.div(x))
    }

    /// The square root, elementwise (NaN for negative values).
    pub fn sqrt(&self) -> Tensor<T> {
        // d(√x)/dx = 1/(2√x) = 1/(2y)
        self.unary_op(
            "sqrt",
            |x| x.sqrt(),
            |_, y, g| g.div(&y.mul_scalar(T::from_f64(2.0))),
        )
    }

    /// The absolute value, elementwise. Its gradient at 0 is taken to be 0.
    pub fn abs(&self) -> Tensor<T> {
        // d|x|/dx = sign(x), a constant mask (0 at the kink x = 0, where
        // `f64::signum` would say 1).
        self.unary_op(
            "abs",
            |x| x.abs(),
            |x, _, g| {
                let sign = x.constant_map(|v| {
                    if v > T::zero() {
                        T::one()
                    } else if v < T::zero() {
                        -T::one()
                    } else {
                        T::zero()
                    }
                });
                g.mul(&sign)
            },
        )
    }

    /// Each value limited to `[min, max]`. NaN stays NaN. PyTorch's
    /// `torch.clamp(x, min, max)`; with one bound, see
    /// [`clamp_min`](Self::clamp_min) and [`clamp_max`](Self::clamp_max).
    ///
    /// Fails if `min > max` (or either is NaN).
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![-2.0, 0.5, 3.0], &[3])?;
    /// assert_eq!(x.clamp(-1.0, 1.0)?.to_vec(), vec![-1.0, 0.5, 1.0]);
    /// assert!(x.clamp(1.0, -1.0).is_err());
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn clamp(&self, min: T, max: T) -> Result<Tensor<T>> {
        if min > max || min.is_nan() || max.is_nan() {
            return Err(TensorError::argument(
                "clamp",
                format!(
                    "the range [{min}, {max}] is empty (min must not exceed max); input shape {:?}",
                    self.shape()
                ),
            ));
        }
        Ok(self.clamp_between("clamp", min, max))
    }

    /// Each value raised to at least `min` (PyTorch's `torch.clamp(x, min=min)`,
    /// `clamp_min`). NaN stays NaN; a NaN bound is an error.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![-2.0, 0.5, 3.0], &[3])?;
    /// assert_eq!(x.clamp_min(0.0)?.to_vec(), vec![0.0, 0.5, 3.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn clamp_min(&self, min: T) -> Result<Tensor<T>> {
        self.check_bound("clamp_min", min)?;
        Ok(self.clamp_between("clamp_min", min, T::infinity()))
    }

    /// Each value lowered to at most `max` (PyTorch's `torch.clamp(x, max=max)`,
    /// `clamp_max`). NaN stays NaN; a NaN bound is an error.
    ///
    /// ```
    /// use tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![-2.0, 0.5, 3.0], &[3])?;
    /// assert_eq!(x.clamp_max(1.0)?.to_vec(), vec![-2.0, 0.5, 1.0]);
    /// # Ok::<(), tensor::TensorError>(())
    /// ```
    pub fn clamp_max(&self, max: T) -> Result<Tensor<T>> {
        self.check_bound("clamp_max", max)?;
        Ok(self.clamp_between("clamp_max", T::neg_infinity(), max))
    }

    fn check_bound(&self, op: &'static str, bound: T) -> Result<()> {
        if bound.is_nan() {
            return Err(TensorError::argument(
                op,
                format!("the bound is NaN; input shape {:?}", self.shape()),
            ));
        }
        Ok(())
    }

    /// The shared body of the clamps, for a valid range (an infinite bound is
    /// no bound).
    fn clamp_between(&self, op: &'static str, min: T, max: T) -> Tensor<T> {
        // dy/dx = [min ≤ x ≤ max]: 1 where x passes through, 0 where it was
        // replaced by a bound (a constant mask). Comparisons written so that
        // NaN passes through unchanged instead of becoming a bound.
        let clamp = move |x: T| {
            if x < min {
                min
            } else if x > max {
                max
            } else {
                x
            }
        };
        self.unary_op(op, clamp, move |x, _, g| {
            let inside = x.constant_map(move |v| {
                if (min..=max).contains(&v) {
                    T::one()
                } else {
                    T::zero()
                }
            });
            g.mul(&inside)
        })
    }
}
