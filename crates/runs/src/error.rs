//! The runs crate's one error type. Every variant that concerns a file names
//! it, and says what was being done to it, so that a failed `metrics.csv`
//! write reads as such and not as a checkpoint error.

use nn::checkpoint::CheckpointError;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong in a run folder, a checkpoint, a picture, a report,
/// sampling, evaluation or the bench.
#[derive(Debug)]
pub enum Error {
    /// A file or folder operation failed.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done, e.g. `"writing"`.
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// A file holds something that cannot be used: a `state.json` or
    /// `LATEST` that is unreadable or from another run, a PNG that is not
    /// 8-bit greyscale, a `best.json` naming no checkpoint.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A weights or optimizer file was missing, corrupt or mismatched (the
    /// error names the file).
    Tensors(CheckpointError),
    /// A request cannot be carried out: a grid of no columns, too few
    /// samples, a class a model does not have.
    Argument {
        /// What refused it, e.g. `"image_grid"` or `"eval"`.
        what: &'static str,
        /// Which argument and why.
        detail: String,
    },
    /// There are no metrics rows to plot (the run has not logged yet).
    NoRows {
        /// The file that was to be written.
        path: PathBuf,
    },
    /// `plotters` failed to lay out or draw a picture.
    Draw {
        /// The file that was to be written.
        path: PathBuf,
        /// What plotters said.
        detail: String,
    },
    /// The run folder is not usable (exists already, or is not a run).
    Folder {
        /// The folder.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Building the trainer or a training step failed (a setting, the data,
    /// a tensor operation).
    Train(gan::Error),
    /// Images could not be made or batched (the bench's synthetic data).
    Data(datasets::Error),
    /// A tensor operation outside the step failed (drawing samples).
    Tensor(tensor::TensorError),
    /// The judge failed (its weights, or measuring images).
    Judge(judge::Error),
    /// A loss, score, gradient or weight stopped being a finite number.
    NonFinite {
        /// The step at which it happened.
        step: u64,
        /// Which value, e.g. `loss_d`, or the gradient of which parameter.
        what: String,
        /// The last checkpoint, which is intact.
        checkpoint: Option<PathBuf>,
    },
}

impl Error {
    /// A closure making an [`Error::Io`] for `action` on `path`.
    pub fn io(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> Error + use<> {
        let path = path.to_path_buf();
        move |source| Error::Io { path, action, source }
    }

    /// An [`Error::Format`] for `path`.
    pub fn format(path: &Path, detail: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            detail: detail.into(),
        }
    }

    /// An [`Error::Argument`] for `what`.
    pub fn argument(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Argument {
            what,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, action, source } => {
                write!(f, "{}: {action} failed: {source}", path.display())
            }
            Error::Format { path, detail } => write!(f, "{}: {detail}", path.display()),
            Error::Tensors(e) => write!(f, "{e}"),
            Error::Argument { what, detail } => write!(f, "{what}: bad argument: {detail}"),
            Error::NoRows { path } => write!(
                f,
                "{}: no metrics rows to plot (metrics.csv is empty or has only its header)",
                path.display()
            ),
            Error::Draw { path, detail } => {
                write!(f, "{}: drawing the plot failed: {detail}", path.display())
            }
            Error::Folder { path, detail } => write!(f, "{}: {detail}", path.display()),
            Error::Train(e) => write!(f, "{e}"),
            Error::Data(e) => write!(f, "{e}"),
            Error::Tensor(e) => write!(f, "{e}"),
            Error::Judge(e) => write!(f, "{e}"),
            Error::NonFinite {
                step,
                what,
                checkpoint,
            } => {
                write!(f, "step {step}: {what}; training diverged")?;
                match checkpoint {
                    Some(c) => write!(f, " (the last good checkpoint is {})", c.display()),
                    None => write!(f, " (before the first checkpoint)"),
                }
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Tensors(e) => Some(e),
            Error::Train(e) => Some(e),
            Error::Data(e) => Some(e),
            Error::Tensor(e) => Some(e),
            Error::Judge(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CheckpointError> for Error {
    fn from(e: CheckpointError) -> Self {
        Error::Tensors(e)
    }
}

impl From<gan::Error> for Error {
    fn from(e: gan::Error) -> Self {
        Error::Train(e)
    }
}

impl From<datasets::Error> for Error {
    fn from(e: datasets::Error) -> Self {
        Error::Data(e)
    }
}

impl From<tensor::TensorError> for Error {
    fn from(e: tensor::TensorError) -> Self {
        Error::Tensor(e)
    }
}

impl From<judge::Error> for Error {
    fn from(e: judge::Error) -> Self {
        Error::Judge(e)
    }
}

/// The results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Writes `bytes` to `path` atomically (see
/// [`nn::checkpoint::write_atomically`]: a temporary file, synced, then
/// renamed), failing with an [`Error::Io`] that names `path` and says it
/// was being written.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    nn::checkpoint::write_atomically(path, bytes).map_err(|e| match e {
        CheckpointError::Io { source, .. } => Error::Io {
            path: path.to_path_buf(),
            action: "writing",
            source,
        },
        other => Error::Tensors(other),
    })
}
