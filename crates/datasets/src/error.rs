//! The data layer's error type. Every message names the file (or directory)
//! involved and says what is wrong with it, so that a user can act on the
//! message alone: fix the file, put the right one in place, or go online.

use std::fmt;
use std::io;
use std::path::PathBuf;
use tensor::TensorError;

/// What went wrong while finding, downloading, reading or batching a dataset.
#[derive(Debug)]
pub enum Error {
    /// The operating system refused an operation on a file or directory.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done, e.g. `"reading"` or `"creating the directory"`.
        action: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// A file is not a well-formed IDX file, or two files do not belong
    /// together (an image file and a label file of different lengths).
    Format {
        /// The file (the first of the two, for a mismatch between files).
        path: PathBuf,
        /// What is wrong, with the numbers involved.
        detail: String,
    },
    /// A file on disk is not the published original: its SHA-256 differs.
    /// The file is left untouched (see [the crate docs](crate) on why).
    Checksum {
        /// The file.
        path: PathBuf,
        /// The published SHA-256, lower-case hex.
        expected: String,
        /// The SHA-256 of the file on disk, lower-case hex.
        actual: String,
    },
    /// Some files are missing and could not be downloaded (offline mode, or
    /// every mirror failed). The message lists each file, the directory to put
    /// it in, and what each mirror answered.
    Unavailable {
        /// The directory the files are expected in.
        dir: PathBuf,
        /// One entry per missing file.
        missing: Vec<MissingFile>,
        /// `true` if no download was attempted because of offline mode.
        offline: bool,
        /// A hint on how to point the loader elsewhere (may be empty).
        hint: String,
    },
    /// An argument is out of range: a batch index past the end, a padding
    /// smaller than the images, a batch size of zero.
    Argument {
        /// The function that refused the argument, e.g. `"batch"`.
        op: &'static str,
        /// Which argument and why.
        detail: String,
    },
    /// Building a batch tensor failed (an internal shape error; reported
    /// rather than panicking).
    Tensor(TensorError),
}

/// A file that [`Error::Unavailable`] reports as missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFile {
    /// The file name, e.g. `train-images-idx3-ubyte.gz`.
    pub name: String,
    /// Its expected SHA-256, lower-case hex.
    pub sha256: String,
    /// Each download attempt, in order: the URL and why it failed. Empty in
    /// offline mode.
    pub attempts: Vec<Attempt>,
}

/// One failed download attempt of one file from one mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The full URL that was requested.
    pub url: String,
    /// Why it failed: an HTTP status, a network error, a checksum mismatch.
    pub error: String,
}

impl Error {
    /// A [`Error::Format`] for `path`.
    pub fn format(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            detail: detail.into(),
        }
    }

    /// A [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            action,
            source,
        }
    }

    /// A [`Error::Argument`] for `op`.
    pub fn argument(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Argument {
            op,
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
            Error::Checksum {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{}: SHA-256 is {actual}, but the published file's is {expected}; \
                 this is not the original file (corrupt, truncated or another version). \
                 It was left untouched: delete or replace it (it will then be downloaded \
                 again if a mirror is reachable)",
                path.display()
            ),
            Error::Unavailable {
                dir,
                missing,
                offline,
                hint,
            } => {
                let names: Vec<&str> = missing.iter().map(|m| m.name.as_str()).collect();
                write!(
                    f,
                    "{} data file(s) missing from {}: {}",
                    missing.len(),
                    dir.display(),
                    names.join(", ")
                )?;
                if *offline {
                    write!(f, "\nNo download was attempted (offline mode).")?;
                } else {
                    write!(f, "\nEvery mirror failed:")?;
                    for file in missing {
                        write!(f, "\n  {}:", file.name)?;
                        if file.attempts.is_empty() {
                            write!(f, " no mirror configured")?;
                        }
                        for attempt in &file.attempts {
                            write!(f, "\n    {}: {}", attempt.url, attempt.error)?;
                        }
                    }
                }
                write!(f, "\nTo fix this, put these files into {}:", dir.display())?;
                for file in missing {
                    write!(f, "\n  {}  (sha256 {})", file.name, file.sha256)?;
                }
                if !hint.is_empty() {
                    write!(f, "\n{hint}")?;
                }
                Ok(())
            }
            Error::Argument { op, detail } => write!(f, "{op}: bad argument: {detail}"),
            Error::Tensor(e) => write!(f, "building a batch tensor: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Tensor(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TensorError> for Error {
    fn from(e: TensorError) -> Self {
        Error::Tensor(e)
    }
}

/// The data layer's result type.
pub type Result<T> = std::result::Result<T, Error>;
