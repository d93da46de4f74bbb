//! The command line: bad flags and values get clear one-line errors and a
//! non-zero exit, before any work is done.

mod common;
use common::shared_mnist;

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
            "unknown model `vae`; expected one of mlp, dcgan, dcgan-global, tutorial",
        ),
        (&["train", "--loss", "wasserstein"], "unknown loss `wasserstein`"),
        (&["train", "--dataset", "cifar"], "cifar"),
        (&["train", "--batch-size", "0"], "batch size must be at least 1"),
        (&["train", "--lr", "-0.1"], "must be a positive number"),
        (&["train", "--epochs", "0"], "--epochs must be at least 1"),
        (
            &["train", "--ema", "1.5"],
            "ema decay must lie in [0, 1), got 1.5",
        ),
        (
            &["train", "--lr-decay", "1.5"],
            "lr-decay is the share of the run over which the learning rates fall, in (0, 1]; got 1.5",
        ),
        (
            &[
                "sample",
                "--checkpoint",
                "x",
                "--which",
                "first",
                "--out",
                "x.png",
            ],
            "expected best or latest",
        ),
        (&["train", "--name", "../x"], "must be a plain folder name"),
        (&["train", "--frobnicate"], "unexpected argument '--frobnicate'"),
        (&["bench", "--workload", "resnet"], "invalid value 'resnet'"),
        (
            &["train", "--model", "wgan-gp", "--label-smoothing", "0.1"],
            "the wgan-gp loss has none",
        ),
        (
            &["sample", "--checkpoint", "x", "--digit", "10", "--out", "x.png"],
            "invalid value '10' for '--digit",
        ),
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

#[test]
fn ctrl_c_saves_a_checkpoint_that_resumes() {
    let out_dir = std::env::temp_dir().join(format!("gan-mnist-cli-ctrlc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let mnist = shared_mnist();
    let child = Command::new(env!("CARGO_BIN_EXE_gan-mnist"))
        .args([
            "train",
            "--model",
            "mlp",
            "--no-progress",
            "--log-every",
            "5",
            "--name",
            "run",
        ])
        .args([
            "--data-dir",
            mnist.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // Wait until training is under way (a metrics row is written), then interrupt.
    let metrics = out_dir.join("run/metrics.csv");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&metrics).map_or(true, |t| t.lines().count() < 3) {
        assert!(started.elapsed().as_secs() < 120, "training did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "stdout:\n{stdout}\nstderr:\n{}",
        stderr(&out)
    );
    assert!(stdout.contains("--resume"), "{stdout}");
    let latest =
        std::fs::read_to_string(out_dir.join("run/checkpoint/LATEST")).expect("a checkpoint was saved");
    let step: u64 = latest.trim().trim_start_matches("step-").parse().unwrap();
    assert!(step >= 10, "stopped at step {step}");

    // The checkpoint resumes.
    let out = gan_mnist(&[
        "train",
        "--resume",
        out_dir.join("run").to_str().unwrap(),
        "--max-steps",
        &(step + 5).to_string(),
        "--no-progress",
        "--data-dir",
        mnist.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let latest = std::fs::read_to_string(out_dir.join("run/checkpoint/LATEST")).unwrap();
    assert_eq!(latest.trim(), format!("step-{:09}", step + 5));

    // And it samples: 10 images in a 4-wide grid of 28×28 tiles.
    let grid = out_dir.join("grid.png");
    let out = gan_mnist(&[
        "sample",
        "--checkpoint",
        out_dir.join("run").to_str().unwrap(),
        "--n",
        "10",
        "--out",
        grid.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let image = runs::grid::read_png(&grid).unwrap();
    assert_eq!((image.width, image.height), (4 * 28 + 5 * 2, 3 * 28 + 4 * 2));
    // An unconditional model cannot be asked for a digit.
    let out = gan_mnist(&[
        "sample",
        "--checkpoint",
        out_dir.join("run").to_str().unwrap(),
        "--digit",
        "3",
        "--out",
        grid.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--digit needs a class-conditional model (cgan, cgan-conv, cgan-global)"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(out_dir).unwrap();
}

/// Trains `extra` for a few steps into `<out>/<name>` on the shared MNIST.
fn train_briefly(out: &std::path::Path, name: &str, extra: &[&str]) -> Output {
    let mnist = shared_mnist();
    let mut args = vec![
        "train",
        "--no-progress",
        "--batch-size",
        "16",
        "--name",
        name,
        "--data-dir",
        mnist.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = gan_mnist(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

#[test]
fn a_conditional_model_samples_one_digit_or_one_row_per_digit() {
    let out_dir = std::env::temp_dir().join(format!("gan-mnist-cli-cgan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let trained = train_briefly(&out_dir, "run", &["--model", "cgan", "--max-steps", "2"]);
    assert!(String::from_utf8_lossy(&trained.stdout).contains("samples.txt"));
    let run = out_dir.join("run");
    let sample = |extra: &[&str], png: &str| {
        let path = out_dir.join(png);
        let mut args = vec![
            "sample",
            "--checkpoint",
            run.to_str().unwrap(),
            "--out",
            path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        (gan_mnist(&args), path)
    };

    let (out, sevens) = sample(&["--digit", "7", "--n", "9"], "sevens.png");
    assert!(out.status.success(), "{}", stderr(&out));
    let image = runs::grid::read_png(&sevens).unwrap();
    assert_eq!((image.width, image.height), (3 * 28 + 4 * 2, 3 * 28 + 4 * 2));
    assert!(!out_dir.join("sevens.txt").exists());

    // No --digit: 10 rows of 8, and the legend on stdout and beside the PNG.
    let (out, all) = sample(&[], "all.png");
    assert!(out.status.success(), "{}", stderr(&out));
    let image = runs::grid::read_png(&all).unwrap();
    assert_eq!((image.width, image.height), (8 * 28 + 9 * 2, 10 * 28 + 11 * 2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let legend = std::fs::read_to_string(out_dir.join("all.txt")).unwrap();
    assert!(
        legend.contains("row 9: 9") && stdout.contains(&legend),
        "{stdout}"
    );

    let (out, _) = sample(&["--n", "25"], "bad.png");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("multiple of 10"), "{}", stderr(&out));
    std::fs::remove_dir_all(out_dir).unwrap();
}

/// The saved `config.json` of the run in `dir`.
fn saved_config(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

#[test]
fn wgan_gp_has_its_own_defaults_and_explicit_flags_win() {
    let out_dir = std::env::temp_dir().join(format!("gan-mnist-cli-wgan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let out = train_briefly(&out_dir, "defaults", &["--model", "wgan-gp", "--max-steps", "1"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Wasserstein estimate"));
    let config = saved_config(&out_dir.join("defaults"));
    assert_eq!(config["loss"], "wgan-gp");
    assert_eq!(
        (config["lr_g"].as_f64(), config["lr_d"].as_f64()),
        (Some(1e-4), Some(1e-4))
    );
    assert_eq!(config["betas"], serde_json::json!([0.0, 0.9]));
    assert_eq!(config["d_steps"], 5);

    let flags = [
        "--model",
        "wgan-gp",
        "--max-steps",
        "1",
        "--lr",
        "3e-4",
        "--lr-d",
        "2e-4",
    ];
    let more = ["--beta1", "0.5", "--d-steps", "2", "--loss", "hinge"];
    train_briefly(&out_dir, "explicit", &[&flags[..], &more[..]].concat());
    let config = saved_config(&out_dir.join("explicit"));
    assert_eq!(config["loss"], "hinge");
    assert_eq!(
        (config["lr_g"].as_f64(), config["lr_d"].as_f64()),
        (Some(3e-4), Some(2e-4))
    );
    assert_eq!(config["betas"], serde_json::json!([0.5, 0.9]));
    assert_eq!(config["d_steps"], 2);

    // Other models keep the workloads' defaults.
    train_briefly(&out_dir, "dcgan", &["--model", "dcgan", "--max-steps", "1"]);
    let config = saved_config(&out_dir.join("dcgan"));
    assert_eq!(
        (config["loss"].as_str(), config["lr_g"].as_f64()),
        (Some("bce"), Some(2e-4))
    );
    assert_eq!(config["betas"], serde_json::json!([0.5, 0.999]));
    std::fs::remove_dir_all(out_dir).unwrap();
}

#[test]
fn the_default_model_has_the_quality_recipe_and_which_best_needs_an_epoch() {
    let out_dir = std::env::temp_dir().join(format!("gan-mnist-cli-default-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let mnist = shared_mnist();
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "--no-progress",
            "--max-steps",
            "2",
            "--name",
            name,
            "--data-dir",
            mnist.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = gan_mnist(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        saved_config(&out_dir.join(name))
    };
    // No subcommand, no flags: the class-conditional cgan-global with its recipe.
    let config = run("default", &[]);
    assert_eq!(config["model"], "cgan-global");
    assert_eq!(config["batch_size"], 32);
    assert_eq!(
        (config["lr_g"].as_f64(), config["lr_d"].as_f64()),
        (Some(4e-4), Some(1e-4))
    );
    assert_eq!(config["label_smoothing"].as_f64(), Some(0.1));
    assert_eq!(config["ema"].as_f64(), Some(0.999));
    // --ema 0 turns the average off; other models have none unless asked.
    assert!(run("no-ema", &["--ema", "0"])["ema"].is_null());
    assert!(run("dcgan", &["--model", "dcgan"])["ema"].is_null());
    // No decay of the learning rates unless asked; --lr-decay is saved.
    assert!(config["lr_decay"].is_null());
    assert_eq!(
        run("decay", &["--lr-decay", "0.5"])["lr_decay"]["fraction"].as_f64(),
        Some(0.5)
    );
    // dcgan-global, the unconditional model, trains with the same recipe.
    let unconditional = run("dcgan-global", &["--model", "dcgan-global"]);
    assert_eq!(
        (
            unconditional["batch_size"].as_u64(),
            unconditional["ema"].as_f64()
        ),
        (Some(32), Some(0.999))
    );
    assert_eq!(unconditional["lr_g"].as_f64(), Some(4e-4));
    assert_eq!(
        run("dcgan-ema", &["--model", "dcgan", "--ema", "0.99"])["ema"].as_f64(),
        Some(0.99)
    );

    // Two steps end no epoch: there is no best checkpoint yet, and --which best says so.
    let png = out_dir.join("best.png");
    let default_run = out_dir.join("default");
    let args = [
        "sample",
        "--checkpoint",
        default_run.to_str().unwrap(),
        "--which",
        "best",
        "--out",
        png.to_str().unwrap(),
    ];
    let out = gan_mnist(&args);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no best checkpoint"), "{}", stderr(&out));
    let args = [
        "sample",
        "--checkpoint",
        default_run.to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ];
    let out = gan_mnist(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("averaged (EMA) generator"));
    std::fs::remove_dir_all(out_dir).unwrap();
}

#[test]
fn tutorial_trains_with_its_recipe_by_default_and_the_others_two_epochs() {
    let out_dir = std::env::temp_dir().join(format!("gan-mnist-cli-epochs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let config = |name: &str, extra: &[&str]| {
        train_briefly(&out_dir, name, &[&["--max-steps", "1"][..], extra].concat());
        saved_config(&out_dir.join(name))
    };
    let tutorial = config("tutorial", &["--model", "tutorial"]);
    assert_eq!(
        tutorial["epochs"].as_u64(),
        Some(gan::models::TUTORIAL_RECIPE.epochs as u64)
    );
    assert_eq!(tutorial["ema"].as_f64(), Some(0.999));
    assert_eq!(tutorial["label_smoothing"].as_f64(), Some(0.1));
    let flags = config(
        "tutorial-3",
        &[
            "--model",
            "tutorial",
            "--epochs",
            "3",
            "--ema",
            "0",
            "--label-smoothing",
            "0",
        ],
    );
    assert_eq!(flags["epochs"].as_u64(), Some(3));
    assert!(flags["ema"].is_null(), "--ema 0 turns the average off: {flags}");
    assert_eq!(flags["label_smoothing"].as_f64(), Some(0.0));
    assert_eq!(config("mlp", &["--model", "mlp"])["epochs"].as_u64(), Some(2));
    std::fs::remove_dir_all(out_dir).unwrap();
}
