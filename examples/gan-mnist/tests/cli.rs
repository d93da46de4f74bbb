//! The command line: bad flags and values get clear one-line errors and a
//! non-zero exit, before any work is done.

use std::process::{Command, Output};

fn gan_mnist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gan-mnist"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_lists_the_subcommands_and_models() {
    let out = gan_mnist(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["train", "sample", "bench", "--model", "--epochs", "--resume"] {
        assert!(text.contains(word), "--help lacks {word}:\n{text}");
    }
}

#[test]
fn bad_values_are_named() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["train", "--epochs", "many"],
            "invalid value 'many' for '--epochs",
        ),
        (
            &["train", "--model", "vae"],
            "unknown model `vae`; expected one of mlp, dcgan, tutorial",
        ),
        (&["train", "--loss", "wasserstein"], "unknown loss `wasserstein`"),
        (&["train", "--dataset", "cifar"], "cifar"),
        (&["train", "--batch-size", "0"], "batch size must be at least 1"),
        (&["train", "--lr", "-0.1"], "must be a positive number"),
        (&["train", "--epochs", "0"], "--epochs must be at least 1"),
        (&["train", "--name", "../x"], "must be a plain folder name"),
        (&["train", "--frobnicate"], "unexpected argument '--frobnicate'"),
        (&["bench", "--workload", "resnet"], "invalid value 'resnet'"),
        (
            &["sample", "--checkpoint", "/nonexistent/run", "--out", "x.png"],
            "/nonexistent/run",
        ),
        (
            &["sample", "--checkpoint", "x", "--n", "0", "--out", "x.png"],
            "--n",
        ),
    ];
    for (args, expected) in cases {
        let out = gan_mnist(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in:\n{err}"
        );
        assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    }
}

#[test]
fn missing_data_offline_says_which_files_to_put_where() {
    let dir = std::env::temp_dir().join(format!("gan-mnist-cli-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = gan_mnist(&[
        "train",
        "--offline",
        "--no-progress",
        "--data-dir",
        dir.to_str().unwrap(),
        "--out",
        dir.join("runs").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for part in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        dir.to_str().unwrap(),
    ] {
        assert!(err.contains(part), "expected {part:?} in:\n{err}");
    }
    assert!(
        !dir.join("runs").exists(),
        "nothing is created when the data is missing"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
