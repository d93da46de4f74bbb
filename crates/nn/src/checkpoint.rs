//! Checkpoints in the safetensors format, keyed by dotted names.
//!
//! A module's file holds its parameters and buffers under the same names
//! PyTorch would use (`0.weight`, `1.running_mean`, `1.num_batches_tracked`
//! as int64, …), so a PyTorch user can load our generator with
//! `safetensors.torch.load_file` and `load_state_dict`. Optimizer state goes
//! in a file of its own.
//!
//! Writes are atomic: the bytes go to a temporary file in the same folder,
//! which is flushed to disk and then renamed over the target, so a crash
//! mid-write leaves the previous checkpoint intact. Loads check everything
//! (every key present, no unknown key, right dtype and shape) before changing
//! anything, so a bad file never leaves a module half-loaded.

use crate::module::{Module, State};
use crate::optim::Optimizer;
use ndarray::{ArcArray, IxDyn};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use tensor::Element;

/// One saved value: an array of the element type, or an integer count.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<T: Element> {
    /// A float array (`F32` or `F64` on disk).
    Array(ArcArray<T, IxDyn>),
    /// An integer (`I64` scalar on disk), such as a step counter.
    Count(u64),
}

/// Why a checkpoint could not be written or read. Every variant names the file.
#[derive(Debug)]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (truncated, corrupt header, …).
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The file does not hold what the module or optimizer needs.
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The key, and what is wrong with it (missing, shape, dtype, unexpected).
        detail: String,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io { path, source } => write!(f, "checkpoint {}: {source}", path.display()),
            CheckpointError::Format { path, detail } => {
                write!(
                    f,
                    "checkpoint {}: not a valid safetensors file: {detail}",
                    path.display()
                )
            }
            CheckpointError::Mismatch { path, detail } => {
                write!(f, "checkpoint {}: {detail}", path.display())
            }
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn mismatch(path: &Path, detail: String) -> CheckpointError {
    CheckpointError::Mismatch {
        path: path.to_path_buf(),
        detail,
    }
}

fn dtype_of<T: Element>() -> Dtype {
    if T::NAME == "f64" { Dtype::F64 } else { Dtype::F32 }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path has no file name",
        ))
    })?;
    let temporary = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(io)
}

/// Serialises named entries to safetensors bytes, with optional string metadata.
pub fn to_bytes<T: Element>(
    entries: &[(String, Entry<T>)],
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let mut raw: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        match entry {
            Entry::Array(a) => {
                let mut bytes = Vec::with_capacity(a.len() * std::mem::size_of::<T>());
                for v in a.iter() {
                    if T::NAME == "f64" {
                        bytes.extend_from_slice(&Element::to_f64(*v).to_le_bytes());
                    } else {
                        bytes.extend_from_slice(&(Element::to_f64(*v) as f32).to_le_bytes());
                    }
                }
                raw.push((name.clone(), dtype_of::<T>(), a.shape().to_vec(), bytes));
            }
            Entry::Count(c) => raw.push((
                name.clone(),
                Dtype::I64,
                vec![],
                (*c as i64).to_le_bytes().to_vec(),
            )),
        }
    }
    let views = raw
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            Ok((name.as_str(), TensorView::new(*dtype, shape.clone(), bytes)?))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    safetensors::serialize(views, metadata)
}

/// Writes named entries to `path` atomically.
pub fn save_entries<T: Element>(
    path: &Path,
    entries: &[(String, Entry<T>)],
    metadata: Option<HashMap<String, String>>,
) -> Result<(), CheckpointError> {
    let bytes = to_bytes(entries, metadata).map_err(|e| CheckpointError::Format {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    write_atomically(path, &bytes)
}

/// Reads every entry of a safetensors file, checking dtypes: floats must be
/// `T`'s dtype, integers `I64` scalars.
pub fn load_entries<T: Element>(path: &Path) -> Result<HashMap<String, Entry<T>>, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    entries_from_bytes(&bytes, path)
}

/// [`load_entries`] of a file already in memory; `path` names it in errors.
pub fn entries_from_bytes<T: Element>(
    bytes: &[u8],
    path: &Path,
) -> Result<HashMap<String, Entry<T>>, CheckpointError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Format {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let mut entries = HashMap::new();
    // Sorted, so that an error always names the same (first) bad key.
    let mut tensors = file.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in tensors {
        let entry = match view.dtype() {
            Dtype::I64 if view.shape().is_empty() => {
                let raw: [u8; 8] = view.data().try_into().expect("an I64 scalar has 8 bytes");
                let count = i64::from_le_bytes(raw);
                Entry::Count(
                    u64::try_from(count)
                        .map_err(|_| mismatch(path, format!("`{name}`: negative count {count}")))?,
                )
            }
            dtype if dtype == dtype_of::<T>() => {
                let size = std::mem::size_of::<T>();
                let values: Vec<T> = view
                    .data()
                    .chunks_exact(size)
                    .map(|c| match size {
                        8 => T::from_f64(f64::from_le_bytes(c.try_into().expect("8 bytes"))),
                        _ => T::from_f64(f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64),
                    })
                    .collect();
                let array = ArcArray::from_shape_vec(IxDyn(view.shape()), values)
                    .map_err(|e| mismatch(path, format!("`{name}`: {e}")))?;
                Entry::Array(array)
            }
            dtype => {
                return Err(mismatch(
                    path,
                    format!(
                        "`{name}` has dtype {dtype:?} and shape {:?}; expected {:?} (or an I64 scalar count)",
                        view.shape(),
                        dtype_of::<T>()
                    ),
                ));
            }
        };
        entries.insert(name, entry);
    }
    Ok(entries)
}

/// A module's parameters, buffers and counters as named entries.
pub fn module_entries<T: Element>(module: &dyn Module<T>) -> Vec<(String, Entry<T>)> {
    let mut entries = Vec::new();
    module.visit(&mut |name, state| {
        let entry = match state {
            State::Parameter(t) | State::Buffer(t) => Entry::Array(t.array()),
            State::Counter(c) => Entry::Count(c.load(Ordering::Relaxed)),
        };
        entries.push((name.to_string(), entry));
    });
    entries
}

/// Saves a module's parameters and buffers to `path` (atomically).
pub fn save_module<T: Element>(module: &dyn Module<T>, path: &Path) -> Result<(), CheckpointError> {
    save_entries(path, &module_entries(module), None)
}

/// Loads a module's parameters and buffers from `path`. The file must hold
/// exactly the module's keys with matching shapes and dtypes; otherwise
/// nothing is changed and the error names the first offending key.
pub fn load_module<T: Element>(module: &dyn Module<T>, path: &Path) -> Result<(), CheckpointError> {
    assign_entries(module, load_entries::<T>(path)?, path)
}

/// [`load_module`] from the bytes of a safetensors file already in memory
/// (such as weights built into a program with `include_bytes!`); `path`
/// names them in errors.
pub fn load_module_from_bytes<T: Element>(
    module: &dyn Module<T>,
    bytes: &[u8],
    path: &Path,
) -> Result<(), CheckpointError> {
    assign_entries(module, entries_from_bytes::<T>(bytes, path)?, path)
}

/// Checks that `saved` holds exactly `module`'s state, then assigns it.
fn assign_entries<T: Element>(
    module: &dyn Module<T>,
    mut saved: HashMap<String, Entry<T>>,
    path: &Path,
) -> Result<(), CheckpointError> {
    // First pass: check everything.
    let mut problem = None;
    module.visit(&mut |name, state| {
        if problem.is_some() {
            return;
        }
        problem = match (state, saved.get(name)) {
            (_, None) => Some(format!("missing key `{name}`")),
            (State::Parameter(t) | State::Buffer(t), Some(Entry::Array(a)))
                if a.shape() != t.shape().as_slice() =>
            {
                Some(format!(
                    "`{name}` has shape {:?} in the file, the module needs {:?}",
                    a.shape(),
                    t.shape()
                ))
            }
            (State::Parameter(_) | State::Buffer(_), Some(Entry::Count(_))) => Some(format!(
                "`{name}` is an integer in the file, the module needs a float tensor"
            )),
            (State::Counter(_), Some(Entry::Array(_))) => Some(format!(
                "`{name}` is a float tensor in the file, the module needs an integer"
            )),
            _ => None,
        };
    });
    if let Some(detail) = problem {
        return Err(mismatch(path, detail));
    }
    let expected: Vec<String> = module_entries(module).into_iter().map(|(n, _)| n).collect();
    let mut unexpected: Vec<&String> = saved.keys().filter(|k| !expected.contains(k)).collect();
    if !unexpected.is_empty() {
        unexpected.sort();
        return Err(mismatch(
            path,
            format!("unexpected keys {unexpected:?} (is this a checkpoint of another model?)"),
        ));
    }
    // Second pass: assign.
    module.visit(&mut |name, state| match (state, saved.remove(name)) {
        (State::Parameter(t) | State::Buffer(t), Some(Entry::Array(a))) => {
            t.set_array(a).expect("shape checked in the first pass");
        }
        (State::Counter(c), Some(Entry::Count(n))) => c.store(n, Ordering::Relaxed),
        _ => unreachable!("checked in the first pass"),
    });
    Ok(())
}

/// Saves an optimizer's state to `path` (atomically).
pub fn save_optimizer<T: Element>(optimizer: &dyn Optimizer<T>, path: &Path) -> Result<(), CheckpointError> {
    save_entries(path, &optimizer.state(), None)
}

/// Loads an optimizer's state from `path`; on error nothing is changed.
pub fn load_optimizer<T: Element>(
    optimizer: &mut dyn Optimizer<T>,
    path: &Path,
) -> Result<(), CheckpointError> {
    let saved = load_entries::<T>(path)?;
    optimizer
        .load_state(&saved)
        .map_err(|e| mismatch(path, e.to_string()))
}
