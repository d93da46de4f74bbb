//! Runs that must fail cleanly: divergence (with and without
//! `--detect-anomaly`) and an output folder that cannot be written. Each
//! gives one line on stderr, a non-zero exit, and leaves good files alone.

mod common;
use common::shared_mnist;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `gan-mnist train --model mlp` on the shared MNIST with `extra` flags.
fn train(out: &Path, extra: &[&str]) -> Output {
    let mnist = shared_mnist();
    Command::new(env!("CARGO_BIN_EXE_gan-mnist"))
        .args(["train", "--model", "mlp", "--no-progress", "--max-steps", "3"])
        .args([
            "--data-dir",
            mnist.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(extra)
        .output()
        .expect("the binary runs")
}

/// The one error line of a failed run.
fn one_error_line(out: &Output) -> String {
    assert!(!out.status.success(), "the run succeeded");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "not one line:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    err.trim_end().to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gan-mnist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_learning_rate_that_blows_up_stops_with_the_step_and_the_op() {
    let out = scratch("diverge");
    // lr 1e30: the first discriminator update makes its weights ~1e30, and
    // the generator's step through it overflows.
    let plain = one_error_line(&train(&out, &["--lr", "1e30", "--name", "plain"]));
    assert_eq!(
        plain,
        "gan-mnist: error: step 1: the gradient of generator parameter `0.weight` holds NaN; \
         training diverged (before the first checkpoint)"
    );
    let anomaly = one_error_line(&train(
        &out,
        &["--lr", "1e30", "--name", "anomaly", "--detect-anomaly"],
    ));
    assert_eq!(
        anomaly,
        "gan-mnist: error: step 1: anomaly detection: the forward of `linear` produced NaN \
         (inputs [64, 512], [256, 512], [256], output [64, 256]); training diverged (before the first checkpoint)"
    );
    // Neither left a checkpoint behind.
    for name in ["plain", "anomaly"] {
        assert!(
            !out.join(name).join("checkpoint").exists(),
            "{name} has a checkpoint"
        );
    }
    // Anomaly detection does not stop a healthy run.
    let healthy = train(&out, &["--name", "healthy", "--detect-anomaly"]);
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn an_unwritable_output_folder_is_named_and_good_files_are_kept() {
    let out = scratch("unwritable");
    // --out below a regular file: no folder can be made there (ENOTDIR, even
    // for root, unlike a permission bit).
    let file = out.join("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let below = file.join("runs");
    let err = one_error_line(&train(&below, &["--name", "run"]));
    assert_eq!(
        err,
        format!(
            "gan-mnist: error: {}: cannot create the run folder: Not a directory (os error 20)",
            below.join("run").display()
        )
    );
    // --out naming the file itself.
    let err = one_error_line(&train(&file, &["--name", "run"]));
    assert!(err.contains("cannot create the run folder"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

    // A folder that holds a run is never overwritten by a new one.
    let run = out.join("good");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("config.json"), "{\"model\": \"dcgan\"}").unwrap();
    let err = one_error_line(&train(&out, &["--name", "good"]));
    assert!(err.contains("already holds a run"), "{err}");
    assert_eq!(
        std::fs::read_to_string(run.join("config.json")).unwrap(),
        "{\"model\": \"dcgan\"}"
    );
    std::fs::remove_dir_all(out).unwrap();
}
