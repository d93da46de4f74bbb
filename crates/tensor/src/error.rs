//! The crate's error type. Every failure names the op and the shapes involved,
//! so that a message alone tells a user what went wrong and where.

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
        }
    }
}

impl std::error::Error for TensorError {}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, TensorError>;
