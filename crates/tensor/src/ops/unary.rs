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
//! y = x²               dy/dx = 2x
//! y = xᵖ               dy/dx = p·xᵖ⁻¹
//! y = eˣ               dy/dx = eˣ = y          (the output is the derivative)
//! y = ln x             dy/dx = 1/x
//! y = √x               dy/dx = 1/(2√x) = 1/(2y)
//! y = |x|              dy/dx = sign(x)         (0 at x = 0)
//! y = clamp(x, a, b)   dy/dx = [a ≤ x ≤ b]
//! ```
//!
//! Where the derivative is cheapest in terms of the output (`exp`, `sqrt`),
//! the backward uses the output tensor: that saves recomputing it, and since
//! the output is itself a node of the graph, the backward stays
//! differentiable. Derivatives that are piecewise constant (`abs`, `clamp`)
//! multiply by a *constant* mask built from the input's values; its own
//! derivative is zero, which is right everywhere except at the kinks, where
//! the op has no derivative anyway.
//!
//! Gradient checks: `tests/gradcheck_elementwise.rs`.

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

    /// `self / c` for a scalar `c`.
    pub fn div_scalar(&self, c: T) -> Tensor<T> {
        // d(x/c)/dx = 1/c. Dividing (rather than multiplying by a rounded
        // 1/c) keeps the forward and backward exactly consistent.
        self.unary_op("div_scalar", move |x| x / c, move |_, _, g| Ok(g.div_scalar(c)))
    }

    /// `self²` elementwise.
    pub fn square(&self) -> Tensor<T> {
        // d(x²)/dx = 2x
        self.unary_op(
            "square",
            |x| x * x,
            |x, _, g| g.mul(&x.mul_scalar(T::from_f64(2.0))),
        )
    }

    /// `selfᵖ` elementwise for a scalar exponent `p`.
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

    /// Each value limited to `[min, max]`. NaN stays NaN.
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
        Ok(self.unary_op("clamp", clamp, move |x, _, g| {
            let inside = x.constant_map(move |v| {
                if (min..=max).contains(&v) {
                    T::one()
                } else {
                    T::zero()
                }
            });
            g.mul(&inside)
        }))
    }
}
