//! The crate's one error type. Every failure names the op and the shapes
//! involved, so that a message alone tells a user what went wrong and where;
//! a failed gradient check says which derivative is wrong and by how much.

use std::fmt;

/// What went wrong in a tensor operation.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorError {
    /// The shapes given to an op do not fit together.
    Shape {
        /// The op that refused its inputs, e.g. `"matmul"`.
        op: &'static str,
        /// Why, with the shapes spelled out, e.g. `"[2, 3] · [4, 5]: inner dimensions 3 and 4 differ"`.
        detail: String,
    },
    /// An argument other than a shape is out of range (an axis, a probability, a stride).
    Argument {
        /// The op that refused the argument.
        op: &'static str,
        /// Which argument and why.
        detail: String,
    },
    /// Backward could not run: a non-scalar output without a seed gradient,
    /// a graph already freed, a tensor that does not require gradients.
    Autograd {
        /// What was asked for, e.g. `"backward"` or `"grad"`.
        op: &'static str,
        /// Why it cannot be done.
        detail: String,
    },
    /// A gradient check ([`gradcheck`](crate::gradcheck::gradcheck),
    /// [`gradgradcheck`](crate::gradcheck::gradgradcheck)) found a backward
    /// rule that disagrees with finite differences: the worst disagreement.
    GradientMismatch(Box<GradientMismatch>),
}

/// Where and by how much an analytic derivative disagrees with the numeric
/// one: the worst disagreement a gradient check found (the one furthest
/// beyond its tolerance).
#[derive(Debug, Clone, PartialEq)]
pub struct GradientMismatch {
    /// Which input (index into the `inputs` slice).
    pub input: usize,
    /// Element of that input (multi-index), in full mode.
    pub input_index: Option<Vec<usize>>,
    /// Which output and which element of it, in full mode.
    pub output_index: Option<(usize, Vec<usize>)>,
    /// Which random direction, in random-direction mode.
    pub trial: Option<usize>,
    /// From the backward walk.
    pub analytic: f64,
    /// From finite differences.
    pub numeric: f64,
    /// The tolerance that was exceeded: `atol + rtol·|numeric|`.
    pub tolerance: f64,
}

impl fmt::Display for GradientMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gradcheck: gradient mismatch for input {}", self.input)?;
        if let Some(index) = &self.input_index {
            write!(f, " at element {index:?}")?;
        }
        if let Some((output, index)) = &self.output_index {
            write!(f, ", output {output} element {index:?}")?;
        }
        if let Some(trial) = self.trial {
            write!(f, " (directional derivative, random direction {trial})")?;
        }
        write!(
            f,
            ": analytic {:.9e}, numeric {:.9e}, difference {:.3e} exceeds tolerance {:.3e}",
            self.analytic,
            self.numeric,
            (self.analytic - self.numeric).abs(),
            self.tolerance
        )
    }
}

impl TensorError {
    /// A [`TensorError::Shape`] for `op`.
    pub fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        TensorError::Shape {
            op,
            detail: detail.into(),
        }
    }

    /// A [`TensorError::Argument`] for `op`.
    pub fn argument(op: &'static str, detail: impl Into<String>) -> Self {
        TensorError::Argument {
            op,
            detail: detail.into(),
        }
    }

    /// A [`TensorError::Autograd`] for `op`.
    pub fn autograd(op: &'static str, detail: impl Into<String>) -> Self {
        TensorError::Autograd {
            op,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for TensorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TensorError::Shape { op, detail } => write!(f, "{op}: shape mismatch: {detail}"),
            TensorError::Argument { op, detail } => write!(f, "{op}: bad argument: {detail}"),
            TensorError::Autograd { op, detail } => write!(f, "{op}: {detail}"),
            TensorError::GradientMismatch(mismatch) => write!(f, "{mismatch}"),
        }
    }
}

impl std::error::Error for TensorError {}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, TensorError>;
