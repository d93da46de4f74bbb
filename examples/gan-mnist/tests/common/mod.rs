//! Helpers shared by the `gan-mnist` binary's test files.

// Each test file uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `shared/data/mnist` beside the repository checkout (where CI and this
/// machine keep the real MNIST files).
pub fn shared_mnist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/data/mnist"))
        .find(|d| d.is_dir())
        .expect("shared/data/mnist beside the checkout")
}

/// Runs the `gan-mnist` binary with `args` and asserts that it succeeded.
pub fn gan_mnist_ok(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gan-mnist"))
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh folder holding `run`: a `model` run trained for 2 steps of batch
/// 16 on the shared MNIST, without the per-epoch check. `tag` keeps the
/// folders of tests running at the same time apart.
pub fn tiny_run(model: &str, tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gan-mnist-{tag}-{model}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mnist = shared_mnist();
    gan_mnist_ok(&[
        "train",
        "--model",
        model,
        "--max-steps",
        "2",
        "--batch-size",
        "16",
        "--quality-samples",
        "0",
        "--no-progress",
        "--name",
        "run",
        "--data-dir",
        mnist.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    dir
}
