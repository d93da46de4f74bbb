//! Runs: frames are PNGs of the stated size, the HTML page refers only to
//! files that exist, the same seed writes the same bytes, and bad flags are
//! refused with clear messages.

use gan_toy::datasets::Toy;
use gan_toy::noise::{InstanceNoiseSchedule, LatentNoise};
use gan_toy::run::{RunOptions, frame_steps, run};
use gan_toy::train::{ToyConfig, ToyTrainer};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use tensor::Tensor;

/// A run small enough for the dev profile: 30 steps of tiny networks.
fn tiny(out: &Path, seed: u64) -> (ToyConfig, RunOptions) {
    let config = ToyConfig {
        steps: 30,
        batch_size: 32,
        hidden: 16,
        seed,
        ..ToyConfig::new(Toy::Ring8)
    };
    let options = RunOptions {
        out: out.to_path_buf(),
        frame_every: 12,
        frame_size: 48,
        verbose: false,
    };
    (config, options)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gan-toy-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn frame_steps_include_the_start_and_the_end() {
    assert_eq!(frame_steps(30, 12), vec![0, 12, 24, 30]);
    assert_eq!(frame_steps(20, 10), vec![0, 10, 20]);
    assert_eq!(frame_steps(0, 5), vec![0]);
}

#[test]
fn frames_are_pngs_of_the_stated_size_and_the_page_refers_to_them() {
    let dir = scratch("files");
    let (config, options) = tiny(&dir, 0);
    let summary = run(config, &options).expect("the tiny run works");
    assert_eq!(summary.frame_paths.len(), 4, "frames at steps 0, 12, 24, 30");
    for path in &summary.frame_paths {
        let decoder = png::Decoder::new(std::io::BufReader::new(
            fs::File::open(path).expect("frame exists"),
        ));
        let mut reader = decoder.read_info().expect("a valid PNG");
        let info = reader.info();
        assert_eq!((info.width, info.height), (48, 48), "{}", path.display());
        let mut buffer = vec![0; reader.output_buffer_size().expect("size")];
        reader.next_frame(&mut buffer).expect("decodes");
    }
    let strip = png::Decoder::new(std::io::BufReader::new(
        fs::File::open(dir.join("strip.png")).expect("strip"),
    ))
    .read_info()
    .expect("strip is a PNG")
    .info()
    .width;
    assert_eq!(
        strip,
        4 * 48 + 3 * 4,
        "all four frames (of at most five) and three gaps"
    );
    let gif = fs::read(dir.join("animation.gif")).expect("the GIF exists");
    assert!(
        gif.starts_with(b"GIF89a") && gif.ends_with(&[0x3B]),
        "a complete GIF"
    );

    let html = fs::read_to_string(dir.join("index.html")).expect("the page exists");
    let refs: Vec<&str> = html
        .split('"')
        .filter(|s| s.ends_with(".png") || s.ends_with(".gif") || s.ends_with(".js") || s.ends_with(".css"))
        .collect();
    assert_eq!(
        refs.len(),
        4 + 1,
        "four frames in the list and the first one shown"
    );
    for r in refs {
        assert!(
            !r.contains("://") && !r.starts_with('/'),
            "{r} is not a relative path"
        );
        assert!(
            dir.join(r).is_file(),
            "index.html refers to {r}, which does not exist"
        );
    }
    assert!(!html.contains("http"), "the page must work offline");

    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).expect("summary")).expect("JSON");
    assert_eq!(summary["final"]["modes"]["total"], 8);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let files = |dir: &Path| {
        let mut names: Vec<PathBuf> = [
            "animation.gif",
            "strip.png",
            "d_vs_optimal.png",
            "summary.json",
            "metrics.csv",
        ]
        .iter()
        .map(|n| dir.join(n))
        .collect();
        for step in [0, 12, 24, 30] {
            names.push(dir.join(format!("frames/step_{step:06}.png")));
        }
        names
            .iter()
            .map(|p| fs::read(p).expect("file written"))
            .collect::<Vec<_>>()
    };
    let (a, b, c) = (scratch("seed-a"), scratch("seed-b"), scratch("seed-c"));
    // With the averaged generator (grid25's recipe keeps one) as well.
    let (ea, eb) = (scratch("seed-ema-a"), scratch("seed-ema-b"));
    for (dir, seed, ema) in [
        (&a, 0, None),
        (&b, 0, None),
        (&c, 1, None),
        (&ea, 0, Some(0.9)),
        (&eb, 0, Some(0.9)),
    ] {
        let (config, options) = tiny(dir, seed);
        run(ToyConfig { ema, ..config }, &options).expect("the tiny run works");
    }
    assert!(files(&a) == files(&b), "same seed, different files");
    assert!(files(&a) != files(&c), "another seed must change the run");
    assert!(files(&ea) == files(&eb), "same seed with --ema, different files");
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(ea.join("summary.json")).expect("summary")).expect("JSON");
    assert!(
        summary["live_modes"]["covered"].is_u64(),
        "with --ema, summary.json reports the live generator's coverage too"
    );
    for dir in [a, b, c, ea, eb] {
        let _ = fs::remove_dir_all(dir);
    }
}

#[test]
fn with_ema_the_trainer_draws_from_the_averaged_generator() {
    let config = |ema| ToyConfig {
        steps: 30,
        batch_size: 32,
        hidden: 16,
        ema,
        ..ToyConfig::new(Toy::Ring8)
    };
    let z = Tensor::randn(&[64, 2], 0.0, 1.0, &mut ChaCha8Rng::seed_from_u64(9)).expect("noise");
    let mut plain = ToyTrainer::new(config(None)).expect("trainer");
    let mut averaged = ToyTrainer::new(config(Some(0.9))).expect("trainer");
    for _ in 0..30 {
        plain.step().expect("step");
        averaged.step().expect("step");
    }
    // The average never feeds back into training: the live generators match.
    let live = plain.generate_live(&z).expect("points");
    assert_eq!(live, averaged.generate_live(&z).expect("points"));
    assert_eq!(
        plain.generate(&z).expect("points"),
        live,
        "no --ema: the live generator"
    );
    let drawn = averaged.generate(&z).expect("points");
    assert_ne!(drawn, live, "--ema: the averaged generator, not the live one");
    // The average lags behind: nearer the start than the live weights are.
    let fresh = ToyTrainer::new(config(None))
        .expect("trainer")
        .generate_live(&z)
        .expect("points");
    let distance = |a: &[[f32; 2]], b: &[[f32; 2]]| -> f32 {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2))
            .sum()
    };
    assert!(
        distance(&drawn, &fresh) < distance(&live, &fresh),
        "the averaged generator should lie between the start and the live one"
    );
}

#[test]
fn instance_noise_and_uniform_noise_are_seeded_and_leave_the_heat_maps_sharp() {
    let config = |instance_noise, noise| ToyConfig {
        steps: 20,
        batch_size: 32,
        hidden: 16,
        noise,
        instance_noise,
        ..ToyConfig::new(Toy::Grid25)
    };
    let blur = Some(InstanceNoiseSchedule {
        sigma: 0.3,
        fraction: 1.0,
    });
    let z = Tensor::randn(&[64, 2], 0.0, 1.0, &mut ChaCha8Rng::seed_from_u64(3)).expect("noise");
    let grid = [[0.0, 0.0], [0.5, 0.5], [1.0, -1.0], [2.0, 2.0]];
    let trained = |instance_noise, noise| {
        let mut trainer = ToyTrainer::new(config(instance_noise, noise)).expect("trainer");
        for _ in 0..20 {
            trainer.step().expect("step");
        }
        let scores = trainer.scores(&grid, &grid).expect("scores");
        // Between steps the noise is off: scoring twice gives the same numbers.
        assert_eq!(scores, trainer.scores(&grid, &grid).expect("scores"));
        (trainer.generate_live(&z).expect("points"), scores)
    };
    let plain = trained(None, LatentNoise::Normal);
    for (instance_noise, noise, what) in [
        (blur, LatentNoise::Normal, "instance noise"),
        (None, LatentNoise::Uniform, "uniform noise"),
    ] {
        let first = trained(instance_noise, noise);
        assert_eq!(
            first,
            trained(instance_noise, noise),
            "same seed with {what}, different results"
        );
        assert_ne!(first, plain, "{what} must change training");
    }
}

#[test]
fn bad_flags_are_refused_with_the_flag_named() {
    let bin = env!("CARGO_BIN_EXE_gan-toy");
    for (args, expected) in [
        (&["--dataset", "ring9"][..], "ring9"),
        (&["--loss", "wgan-gp"][..], "not wgan-gp"),
        (&["--loss", "l2"][..], "unknown loss `l2`"),
        (&["--frame-every", "0"][..], "--frame-every"),
        (&["--steps", "ten"][..], "--steps"),
        (
            &["--lr-g", "-1", "--steps", "1"][..],
            "lr-g must be a positive number",
        ),
        (
            &["--frame-size", "33", "--steps", "1"][..],
            "--frame-size must be an even number",
        ),
        (&["--pack", "3"][..], "not a multiple of pack 3"),
        (
            &["--pack", "64", "--batch-size", "64"][..],
            "--pack 64 does not divide the 2000 points",
        ),
        (&["--lr-decay", "2"][..], "lr-decay is the share of the run"),
        (&["--r1", "-1"][..], "r1 γ must be a positive number"),
        (&["--ema", "1"][..], "ema decay must lie in [0, 1)"),
        (&["--noise", "cauchy"][..], "cauchy"),
        (
            &["--noise-scale", "0"][..],
            "noise-scale must be a finite number above 0",
        ),
        (
            &["--instance-noise", "-1"][..],
            "σ must be a finite number above 0",
        ),
        (
            &["--instance-noise", "0.2", "--instance-noise-over", "2"][..],
            "the fraction must be in (0, 1]",
        ),
    ] {
        let out = scratch("flags");
        let output = Command::new(bin)
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} must fail");
        assert!(
            stderr.contains(expected),
            "{args:?}: stderr does not mention `{expected}`:\n{stderr}"
        );
        let _ = fs::remove_dir_all(&out);
    }
}
