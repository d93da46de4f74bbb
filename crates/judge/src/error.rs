//! The judge's one error type: what failed while loading, training or
//! running the classifier, and on which data.

use std::fmt;
use tensor::TensorError;

/// What went wrong while building, training or running the judge.
#[derive(Debug)]
pub enum Error {
    /// A tensor operation failed (shapes, arguments).
    Tensor(TensorError),
    /// Batching the images failed; `during` says what the judge was doing.
    Data {
        /// E.g. `"classifier train"`.
        during: &'static str,
        /// The data layer's error, which names the file or the argument.
        source: datasets::Error,
    },
    /// The built-in weights could not be read.
    Weights(nn::checkpoint::CheckpointError),
    /// An argument was out of range.
    Argument {
        /// What refused it, e.g. `"classifier train"`.
        what: &'static str,
        /// Which argument and why.
        detail: String,
    },
}

impl Error {
    /// An [`Error::Argument`] for `what`.
    pub fn argument(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Argument {
            what,
            detail: detail.into(),
        }
    }

    /// A closure turning a data error met `during` something into an [`Error::Data`].
    pub fn data(during: &'static str) -> impl FnOnce(datasets::Error) -> Error {
        move |source| Error::Data { during, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Tensor(e) => write!(f, "{e}"),
            Error::Data { during, source } => write!(f, "{during}: {source}"),
            Error::Weights(e) => write!(f, "the judge classifier: {e}"),
            Error::Argument { what, detail } => write!(f, "{what}: bad argument: {detail}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Tensor(e) => Some(e),
            Error::Data { source, .. } => Some(source),
            Error::Weights(e) => Some(e),
            Error::Argument { .. } => None,
        }
    }
}

impl From<TensorError> for Error {
    fn from(e: TensorError) -> Self {
        Error::Tensor(e)
    }
}

/// The judge's results.
pub type Result<T> = std::result::Result<T, Error>;
