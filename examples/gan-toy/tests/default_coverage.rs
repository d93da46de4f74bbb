//! The defaults cover the ring: every mode of `ring8` on the seeds where the
//! pre-#17 defaults (16 noise numbers, no spread input)
//! collapsed to 2 of 8, and the old defaults still collapse there.
//!
//! Full-length default runs (4,000 steps), each on a rayon pool of one
//! thread, so that they reproduce `gan-toy --threads 1 --seed S` bit for bit
//! (chapter 5's table), and all three at once, so that the test takes about
//! as long as one run per core.

use gan_toy::datasets::Toy;
use gan_toy::run::{RunOptions, run};
use gan_toy::train::ToyConfig;

/// Modes covered at the end of a `ring8` run of `config`, on one thread.
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
    summary.last().modes.as_ref().expect("ring8 has modes").covered
}

#[test]
fn the_defaults_cover_every_mode_where_the_old_ones_collapsed() {
    let new = |seed| ToyConfig {
        seed,
        ..ToyConfig::new(Toy::Ring8)
    };
    // What `gan-toy --noise-dim 16 --no-minibatch-std` runs.
    let old = ToyConfig {
        noise_dim: 16,
        minibatch_std: false,
        seed: 1,
        ..ToyConfig::new(Toy::Ring8)
    };
    let (new_1, new_2, old_1) = std::thread::scope(|s| {
        let a = s.spawn(|| modes_covered(new(1), "new-1"));
        let b = s.spawn(|| modes_covered(new(2), "new-2"));
        let c = s.spawn(|| modes_covered(old, "old-1"));
        (
            a.join().expect("no panic"),
            b.join().expect("no panic"),
            c.join().expect("no panic"),
        )
    });
    assert_eq!(new_1, 8, "seed 1: the defaults cover only {new_1} of 8 modes");
    assert_eq!(new_2, 8, "seed 2: the defaults cover only {new_2} of 8 modes");
    assert!(
        old_1 <= 4,
        "seed 1: the old defaults cover {old_1} of 8 modes, not a collapse"
    );
}
