//! The defaults cover the ring: every mode of `ring8` on each seed from 0
//! to 9 (issue #17; four representative seeds by default, all ten with
//! `--ignored`), while the plain GAN of the pre-#17 defaults (16 noise
//! numbers, no spread input, no packing) still collapses on seed 1; and
//! `grid25`'s recipe covers the whole grid on seeds 1 and 5 (and on 7 of
//! the seeds 0–9 with `--ignored`).
//!
//! Full-length default runs, each on a rayon pool of one thread, so that
//! they reproduce `gan-toy --threads 1 --seed S` bit for bit (chapter 5's
//! tables), spread over as many worker threads as the machine has cores.

use gan_toy::datasets::Toy;
use gan_toy::run::{RunOptions, run};
use gan_toy::train::ToyConfig;
use std::sync::Mutex;

/// Modes covered at the end of a run of `config`, on one thread.
fn modes_covered(config: ToyConfig, name: &str) -> usize {
    let out = std::env::temp_dir().join(format!("gan-toy-coverage-{}-{name}", std::process::id()));
    let options = RunOptions {
        out: out.clone(),
        frame_every: config.steps,
        frame_size: 32,
        verbose: false,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let summary = pool.install(|| run(config, &options)).expect("the run works");
    let _ = std::fs::remove_dir_all(&out);
    summary
        .last()
        .modes
        .as_ref()
        .expect("a mixture has modes")
        .covered
}

/// `modes_covered` of each config, in order, run by one worker per core.
fn all_covered(configs: Vec<(ToyConfig, String)>) -> Vec<usize> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let queue = Mutex::new(configs.into_iter().enumerate().collect::<Vec<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some((index, (config, name))) = queue.lock().expect("no panic in the queue").pop() {
                    let covered = modes_covered(config, &name);
                    results
                        .lock()
                        .expect("no panic in the results")
                        .push((index, covered));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("no panic in the results");
    results.sort_unstable();
    results.into_iter().map(|(_, covered)| covered).collect()
}

/// The default `ring8` run with seed `seed`.
fn ring(seed: u64) -> (ToyConfig, String) {
    let config = ToyConfig {
        seed,
        ..ToyConfig::new(Toy::Ring8)
    };
    (config, format!("ring8-{seed}"))
}

#[test]
fn the_defaults_cover_the_ring_on_representative_seeds_and_the_plain_gan_collapses() {
    // Seed 9 is the one the pre-packing defaults left at 7 modes; 3 and 5
    // are where the defaults' thinnest mode is thinnest (120 and 128 of
    // 2,000 points); 1 is where the plain GAN collapses.
    let seeds = [1, 3, 5, 9];
    let mut configs: Vec<(ToyConfig, String)> = seeds.iter().map(|&seed| ring(seed)).collect();
    // What `gan-toy --noise-dim 16 --no-minibatch-std --pack 1 --seed 1` runs.
    let plain = ToyConfig {
        noise_dim: 16,
        minibatch_std: false,
        pack: 1,
        seed: 1,
        ..ToyConfig::new(Toy::Ring8)
    };
    configs.push((plain, "plain-1".into()));
    let covered = all_covered(configs);
    for (seed, &modes) in seeds.iter().zip(&covered) {
        assert_eq!(
            modes, 8,
            "seed {seed}: the defaults cover only {modes} of 8 modes"
        );
    }
    let plain = covered[seeds.len()];
    assert!(
        plain <= 4,
        "seed 1: the plain GAN covers {plain} of 8 modes, not a collapse"
    );
}

/// All ten seeds of issue #17 (about two minutes of CPU time, so not in
/// the default test run): `cargo test -p gan-toy --release -- --ignored`.
#[test]
#[ignore = "ten full runs; the representative seeds run by default"]
fn the_defaults_cover_the_ring_on_every_seed_from_0_to_9() {
    let covered = all_covered((0..10).map(ring).collect());
    for (seed, &modes) in covered.iter().enumerate() {
        assert_eq!(
            modes, 8,
            "seed {seed}: the defaults cover only {modes} of 8 modes"
        );
    }
}

/// Seeds of 0–9 on which the `grid25` recipe covered all 25 modes
/// (0, 1, 5, 6, 7, 8 and 9; the others 20).
const WHOLE_GRID_SEEDS: usize = 7;

/// The `grid25` recipe's run with seed `seed`.
fn grid(seed: u64) -> (ToyConfig, String) {
    let config = ToyConfig {
        seed,
        ..ToyConfig::new(Toy::Grid25)
    };
    (config, format!("grid25-{seed}"))
}

#[test]
fn the_grid25_recipe_covers_the_whole_grid_on_seeds_1_and_5() {
    // Measured with `gan-toy --dataset grid25 --threads 1`: 25 of 25 on
    // seeds 1 and 5 (chapter 5 has all ten seeds), the two that reach all
    // 25 first (by step 24,000 of 48,000) and hold them to the end.
    let seeds = [1, 5];
    let covered = all_covered(seeds.iter().map(|&seed| grid(seed)).collect());
    for (seed, modes) in seeds.iter().zip(covered) {
        assert_eq!(
            modes, 25,
            "seed {seed}: the grid25 recipe covers only {modes} of 25 modes"
        );
    }
}

/// `grid25` on all ten seeds, asserting the whole grid on at least 7 of
/// them, as measured (about ten minutes of CPU time):
/// `cargo test -p gan-toy --release -- --ignored`.
#[test]
#[ignore = "ten long runs; seeds 1 and 5 run by default"]
fn the_grid25_recipe_covers_the_whole_grid_on_7_of_the_seeds_from_0_to_9() {
    let covered = all_covered((0..10).map(grid).collect());
    let whole = covered.iter().filter(|&&modes| modes == 25).count();
    assert!(
        whole >= WHOLE_GRID_SEEDS,
        "all 25 modes on {whole} of seeds 0-9 (modes covered: {covered:?})"
    );
}
