//! Crash safety: the real binary, checkpointing after every step, is killed
//! with SIGKILL at random moments (many of them while a checkpoint is being
//! written), and every time `LATEST` must name a complete checkpoint that
//! loads, and `--resume` must carry on from it. At the end the run finishes
//! and its `metrics.csv` holds every step exactly once.

mod common;
use common::shared_mnist;

use gan::nn::{Adam, AdamConfig};
use runs::checkpoint;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How many times the training process is killed.
const KILLS: usize = 24;

/// A small seeded generator for the kill delays (xorshift64*): the test
/// picks the same moments every time it runs (the process's speed varies,
/// so what is being written at those moments still does).
struct Delays(u64);

impl Delays {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % bound
    }
}

/// Starts `gan-mnist train` with `args`, checkpointing every step.
fn train(args: &[&str], out: &Path, mnist: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gan-mnist"))
        .args([
            "train",
            "--no-progress",
            "--checkpoint-every",
            "1",
            "--log-every",
            "1",
        ])
        .args(args)
        .args([
            "--data-dir",
            mnist.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// The contents of `LATEST`, if it can be read.
fn latest_name(run: &Path) -> Option<String> {
    std::fs::read_to_string(run.join("checkpoint").join(checkpoint::LATEST)).ok()
}

/// Whether a checkpoint is being written (its `.partial` folder exists).
fn writing(run: &Path) -> bool {
    std::fs::read_dir(run.join("checkpoint")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".partial"))
    })
}

/// Loads every file of the checkpoint `LATEST` names, as resuming does, and
/// returns its step.
fn assert_latest_loads(run: &Path) -> u64 {
    let dir = checkpoint::latest(&run.join("checkpoint")).expect("LATEST names a checkpoint");
    let state = checkpoint::read_state(&dir).expect("state.json reads");
    assert_eq!(
        dir.file_name().unwrap().to_string_lossy(),
        format!("step-{:09}", state.step)
    );
    let model = state
        .config
        .model
        .build(&mut gan::streams::stream_rng(1, 0))
        .unwrap();
    gan::nn::checkpoint::load_module(model.generator(), &dir.join("generator.safetensors"))
        .expect("the generator loads");
    gan::nn::checkpoint::load_module(model.discriminator(), &dir.join("discriminator.safetensors"))
        .expect("the discriminator loads");
    for (net, file) in [
        (model.generator(), "optim_g.safetensors"),
        (model.discriminator(), "optim_d.safetensors"),
    ] {
        let mut adam = Adam::new(net.named_parameters(), AdamConfig::default());
        gan::nn::checkpoint::load_optimizer(&mut adam, &dir.join(file)).expect("the optimizer state loads");
    }
    state.step
}

#[test]
fn sigkill_at_random_moments_never_breaks_the_last_checkpoint() {
    let out = std::env::temp_dir().join(format!("gan-mnist-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mnist = shared_mnist();
    let run = out.join("run");
    let run_arg = run.to_str().unwrap().to_string();
    let mut delays = Delays(0x5eed_cafe_f00d_0001);
    let started = Instant::now();
    let (mut last_step, mut mid_write) = (0u64, 0usize);

    for kill in 0..KILLS {
        let mut child = if kill == 0 {
            train(
                &["--model", "mlp", "--epochs", "1", "--name", "run"],
                &out,
                &mnist,
            )
        } else {
            train(&["--resume", &run_arg], &out, &mnist)
        };
        // Wait until this process has written a checkpoint of its own, so
        // that it is past loading the data and into the loop.
        let before = latest_name(&run);
        let waiting = Instant::now();
        while latest_name(&run) == before {
            assert!(
                waiting.elapsed() < Duration::from_secs(60),
                "kill {kill}: no checkpoint written"
            );
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("kill {kill}: training exited early ({status}): {err}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if kill % 2 == 0 {
            // Aim at a checkpoint write: wait for one to start, then kill
            // somewhere inside it (a write of the mlp's 36 MB takes tens of
            // milliseconds).
            while !writing(&run) {
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_millis(delays.below(30)));
        } else {
            std::thread::sleep(Duration::from_millis(delays.below(400)));
        }
        child.kill().expect("SIGKILL is sent");
        child.wait().unwrap();
        if writing(&run) {
            mid_write += 1;
        }

        let step = assert_latest_loads(&run);
        assert!(
            step >= last_step.max(1),
            "kill {kill}: LATEST went back from {last_step} to {step}"
        );
        last_step = step;
    }

    // The run carries on from the last checkpoint and finishes normally.
    let target = last_step + 3;
    let out_status = Command::new(env!("CARGO_BIN_EXE_gan-mnist"))
        .args(["train", "--no-progress", "--resume", &run_arg])
        .args(["--max-steps", &target.to_string()])
        .args(["--data-dir", mnist.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out_status.status.success(),
        "{}",
        String::from_utf8_lossy(&out_status.stderr)
    );
    assert_eq!(assert_latest_loads(&run), target);
    // Rows written after a checkpoint by a process that was then killed are
    // dropped on resume and written again: every step appears exactly once.
    let steps: Vec<u64> = runs::metrics::read_metrics(&run.join("metrics.csv"))
        .unwrap()
        .iter()
        .map(|r| r.step)
        .collect();
    assert_eq!(steps, (1..=target).collect::<Vec<_>>());
    // No leftovers of interrupted writes survive a finished save.
    let names: Vec<String> = std::fs::read_dir(run.join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    eprintln!(
        "{KILLS} kills ({mid_write} while a checkpoint was being written), last step {last_step}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The aimed kills must have hit writes, or the test proved little.
    assert!(mid_write >= KILLS / 4, "only {mid_write} kills landed mid-write");
    std::fs::remove_dir_all(out).unwrap();
}
