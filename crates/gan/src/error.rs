//! The GAN crate's one error type: why building a trainer or taking a step
//! failed. A tensor error converts into it; nothing converts back, so a
//! configuration or data error is never dressed as a tensor error.

use std::fmt;
use tensor::{TensorError, anomaly};

/// Why building a [`Trainer`](crate::train::Trainer) or taking a step failed.
#[derive(Debug)]
pub enum Error {
    /// A tensor operation failed (shapes, arguments).
    Tensor(TensorError),
    /// A setting is out of range or does not fit the model or the loss.
    Config {
        /// What holds the setting, e.g. `"train config"`.
        what: &'static str,
        /// Which setting and why, e.g. `"batch size must be at least 1"`.
        detail: String,
    },
    /// A batch of real images could not be made.
    Data(datasets::Error),
    /// A parameter's gradient holds NaN or infinity. The optimizer has not
    /// run, so the weights are unchanged.
    NonFiniteGradient {
        /// `"generator"` or `"discriminator"`.
        network: &'static str,
        /// The parameter's dotted name, e.g. `"net.0.weight"`.
        parameter: String,
        /// The first non-finite value in it.
        value: f32,
    },
    /// A parameter's value holds NaN or infinity: an optimizer update with
    /// finite gradients overflowed (found before a checkpoint is written, so
    /// that no checkpoint holds such weights).
    NonFiniteParameter {
        /// `"generator"` or `"discriminator"`.
        network: &'static str,
        /// The parameter's dotted name.
        parameter: String,
        /// The first non-finite value in it.
        value: f32,
    },
    /// Anomaly detection found an op whose output or gradient is not finite.
    Anomaly(anomaly::Anomaly),
}

impl Error {
    /// An [`Error::Config`] about `what`.
    pub fn config(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Config {
            what,
            detail: detail.into(),
        }
    }

    /// Whether training diverged (a gradient, a weight or, with anomaly
    /// detection, an op's value stopped being finite), as opposed to a
    /// setting, the data or a tensor operation failing.
    pub fn is_divergence(&self) -> bool {
        matches!(
            self,
            Error::NonFiniteGradient { .. } | Error::NonFiniteParameter { .. } | Error::Anomaly(_)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Tensor(e) => write!(f, "{e}"),
            Error::Config { what, detail } => write!(f, "{what}: bad argument: {detail}"),
            Error::Data(e) => write!(f, "batch: {e}"),
            Error::NonFiniteGradient {
                network,
                parameter,
                value,
            } => write!(
                f,
                "the gradient of {network} parameter `{parameter}` holds {value}"
            ),
            Error::NonFiniteParameter {
                network,
                parameter,
                value,
            } => write!(
                f,
                "{network} parameter `{parameter}` holds {value} after the optimizer's update"
            ),
            Error::Anomaly(a) => write!(f, "anomaly detection: {a}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Tensor(e) => Some(e),
            Error::Data(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TensorError> for Error {
    fn from(e: TensorError) -> Self {
        Error::Tensor(e)
    }
}

/// The result of building a trainer or taking a step.
pub type StepResult<T> = std::result::Result<T, Error>;
