//! `gan-mnist eval`: a table or JSON for a trained run, and a clear
//! one-line error for a folder that is not one.

mod common;
use common::shared_mnist;

use std::process::{Command, Output};

fn gan_mnist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gan-mnist"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn eval_reports_a_tiny_conditional_run_as_json_and_as_a_table() {
    let out_dir = std::env::temp_dir().join(format!("gan-mnist-cli-eval-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let mnist = shared_mnist();
    let mnist = mnist.to_str().unwrap();
    let trained = gan_mnist(&[
        "train",
        "--model",
        "cgan",
        "--max-steps",
        "3",
        "--batch-size",
        "16",
        "--no-progress",
        "--name",
        "run",
        "--data-dir",
        mnist,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(trained.status.success(), "{}", text(&trained.stderr));
    let run = out_dir.join("run");
    let run = run.to_str().unwrap();

    let out = gan_mnist(&[
        "eval",
        "--checkpoint",
        run,
        "--n",
        "200",
        "--json",
        "--data-dir",
        mnist,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["model"], "cgan");
    assert_eq!(report["dataset"], "mnist");
    assert_eq!(report["step"], 3);
    assert_eq!(report["reference_count"], 10_000);
    let samples = &report["samples"];
    assert_eq!(samples["count"], 200);
    let score = samples["classifier_score"].as_f64().unwrap();
    assert!((1.0..=10.0).contains(&score), "{score}");
    let parts = &samples["score_parts"];
    let product = parts["spread"].as_f64().unwrap() * parts["certainty"].as_f64().unwrap();
    assert!((product - score).abs() < 1e-9 * score, "{parts} vs {score}");
    assert!(samples["frechet_distance"].as_f64().unwrap() > 0.0);
    assert_eq!(samples["class_shares"].as_array().unwrap().len(), 10);
    assert_eq!(samples["per_class_agreement"].as_array().unwrap().len(), 10);
    // The ceiling: real digits the reference never saw.
    let real = &report["real"];
    assert!(real["classifier_score"].as_f64().unwrap() > 8.0, "{real}");
    assert!(real["frechet_distance"].as_f64().unwrap() < samples["frechet_distance"].as_f64().unwrap());
    assert!(real.get("per_class_agreement").is_none());

    let out = gan_mnist(&["eval", "--checkpoint", run, "--n", "100", "--data-dir", mnist]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    for word in [
        "score",
        "spread",
        "certainty",
        "Fréchet",
        "samples",
        "real (train images)",
        "asked d, judged d",
    ] {
        assert!(table.contains(word), "the table lacks {word}:\n{table}");
    }
    std::fs::remove_dir_all(out_dir).unwrap();
}

#[test]
fn a_bad_checkpoint_path_is_one_clear_line() {
    let out = gan_mnist(&["eval", "--checkpoint", "/nonexistent/run-folder"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("gan-mnist: error: /nonexistent/run-folder: is neither a run folder"),
        "{err}"
    );
    let out = gan_mnist(&["eval", "--checkpoint", "x", "--n", "1"]);
    assert!(
        text(&out.stderr).contains("invalid value '1' for '--n"),
        "{}",
        text(&out.stderr)
    );
}
