//! Helpers shared by the `gan-mnist` binary's test files.

use std::path::{Path, PathBuf};

/// `shared/data/mnist` beside the repository checkout (where CI and this
/// machine keep the real MNIST files).
pub fn shared_mnist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/data/mnist"))
        .find(|d| d.is_dir())
        .expect("shared/data/mnist beside the checkout")
}
