//! Checkpoints: exact round trips, and clear errors (never a panic, never a
//! half-loaded module) for missing, truncated, corrupt and mismatched files.

// The gradient-check helpers of the tensor crate's tests, shared.
#[path = "../../tensor/tests/common/mod.rs"]
mod common;

use nn::checkpoint::{self, CheckpointError, Entry};
use nn::{Adam, AdamConfig, BatchNorm1d, Linear, Module, Optimizer, ReLU, Sequential};
use std::path::PathBuf;
use tensor::Tensor;

fn net(seed: u64, hidden: usize) -> Sequential<f32> {
    let mut rng = common::rng(seed);
    Sequential::new()
        .push(Linear::new(3, hidden, &mut rng))
        .push(BatchNorm1d::new(hidden))
        .push(ReLU)
        .push(Linear::new(hidden, 1, &mut rng))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gan-from-scratch-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn values(module: &dyn Module<f32>) -> Vec<(String, Entry<f32>)> {
    checkpoint::module_entries(module)
}

/// Trains one step so that BatchNorm's buffers and Adam's moments are non-trivial.
fn train_one_step(model: &Sequential<f32>, adam: &mut Adam<f32>) {
    let x = Tensor::<f32>::from_vec((0..12).map(|i| i as f32 * 0.1).collect(), &[4, 3]).unwrap();
    adam.zero_grad();
    model.forward(&x).unwrap().sum().backward().unwrap();
    adam.step().unwrap();
}

#[test]
fn module_and_optimizer_round_trip_exactly() {
    let dir = scratch("roundtrip");
    let model = net(1, 5);
    let mut adam = Adam::new(model.named_parameters(), AdamConfig::gan());
    train_one_step(&model, &mut adam);
    checkpoint::save_module(&model, &dir.join("model.safetensors")).unwrap();
    checkpoint::save_optimizer(&adam, &dir.join("optim.safetensors")).unwrap();

    let restored = net(2, 5);
    assert_ne!(values(&restored), values(&model));
    checkpoint::load_module(&restored, &dir.join("model.safetensors")).unwrap();
    assert_eq!(values(&restored), values(&model));
    let mut restored_adam = Adam::new(restored.named_parameters(), AdamConfig::gan());
    checkpoint::load_optimizer(&mut restored_adam, &dir.join("optim.safetensors")).unwrap();
    assert_eq!(restored_adam.state(), adam.state());
    // Both continue identically.
    train_one_step(&model, &mut adam);
    train_one_step(&restored, &mut restored_adam);
    assert_eq!(values(&restored), values(&model));
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn load_error(model: &dyn Module<f32>, path: &std::path::Path) -> String {
    let before = values(model);
    let err = checkpoint::load_module(model, path).unwrap_err();
    assert_eq!(values(model), before, "a failed load must change nothing");
    err.to_string()
}

#[test]
fn bad_files_give_clear_errors_and_change_nothing() {
    let dir = scratch("bad");
    let good = dir.join("good.safetensors");
    checkpoint::save_module(&net(1, 5), &good).unwrap();
    let model = net(3, 5);

    let missing = load_error(&model, &dir.join("nope.safetensors"));
    assert!(
        missing.contains("nope.safetensors") && missing.contains("No such file"),
        "{missing}"
    );

    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 10]).unwrap();
    let err = load_error(&model, &truncated);
    assert!(
        err.contains("truncated.safetensors") && err.contains("not a valid safetensors"),
        "{err}"
    );

    let corrupt = dir.join("corrupt.safetensors");
    let mut garbage = bytes.clone();
    garbage[8..20].copy_from_slice(b"not json!!!!");
    std::fs::write(&corrupt, &garbage).unwrap();
    let err = load_error(&model, &corrupt);
    assert!(
        err.contains("corrupt.safetensors") && err.contains("not a valid safetensors"),
        "{err}"
    );

    std::fs::write(dir.join("empty.safetensors"), b"").unwrap();
    let err = load_error(&model, &dir.join("empty.safetensors"));
    assert!(err.contains("not a valid safetensors"), "{err}");

    // Another shape: names the key and both shapes.
    let err = load_error(&net(3, 7), &good);
    assert!(
        err.contains("`0.weight`") && err.contains("[5, 3]") && err.contains("[7, 3]"),
        "{err}"
    );

    // Another model: missing and unexpected keys are named.
    let smaller = Sequential::<f32>::new().push(Linear::new(3, 5, &mut common::rng(4)));
    let err = load_error(&smaller, &good);
    assert!(
        err.contains("unexpected keys") && err.contains("1.running_mean"),
        "{err}"
    );
    let bigger = Sequential::<f32>::new()
        .push(Linear::new(3, 5, &mut common::rng(4)))
        .push(BatchNorm1d::new(5))
        .push(ReLU)
        .push(Linear::new(5, 1, &mut common::rng(4)))
        .push(Linear::new(1, 1, &mut common::rng(4)));
    let err = load_error(&bigger, &good);
    assert!(err.contains("missing key `4.weight`"), "{err}");

    // Another dtype: an f64 model reading an f32 file.
    let model64 = Sequential::<f64>::new().push(Linear::new(3, 5, &mut common::rng(4)));
    let f32_file = dir.join("f32.safetensors");
    checkpoint::save_module(
        &Sequential::<f32>::new().push(Linear::new(3, 5, &mut common::rng(4))),
        &f32_file,
    )
    .unwrap();
    let err = checkpoint::load_module(&model64, &f32_file).unwrap_err();
    assert!(matches!(err, CheckpointError::Mismatch { .. }));
    assert!(
        err.to_string().contains("`0.bias` has dtype F32") && err.to_string().contains("expected F64"),
        "{err}"
    );

    // An optimizer file for other parameters.
    let mut adam = Adam::new(model.named_parameters(), AdamConfig::gan());
    let err = checkpoint::load_optimizer(&mut adam, &good)
        .unwrap_err()
        .to_string();
    assert!(err.contains("0.weight.step"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_module_loads_from_bytes_in_memory_as_from_a_file() {
    // Weights built into a program (`include_bytes!`) load without a file.
    let source = net(1, 4);
    let bytes = checkpoint::to_bytes(&values(&source), None).unwrap();
    let target = net(2, 4);
    let name = std::path::Path::new("built-in/weights.safetensors");
    checkpoint::load_module_from_bytes(&target, &bytes, name).unwrap();
    assert_eq!(values(&target), values(&source));
    // A bad buffer is refused, named by `name`, and changes nothing.
    let before = values(&target);
    let err = checkpoint::load_module_from_bytes(&target, &bytes[..bytes.len() / 2], name).unwrap_err();
    assert!(matches!(err, CheckpointError::Format { .. }), "{err}");
    assert!(err.to_string().contains("built-in/weights.safetensors"), "{err}");
    let err = checkpoint::load_module_from_bytes(&net(3, 5), &bytes, name).unwrap_err();
    assert!(err.to_string().contains("shape"), "{err}");
    assert_eq!(values(&target), before);
}

#[test]
fn a_failed_write_keeps_the_previous_checkpoint() {
    let dir = scratch("atomic");
    let path = dir.join("model.safetensors");
    let model = net(1, 5);
    checkpoint::save_module(&model, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // Writing into a folder that does not exist fails without touching `path`.
    let err = checkpoint::save_module(&net(2, 5), &dir.join("missing-dir/model.safetensors")).unwrap_err();
    assert!(err.to_string().contains("missing-dir"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The file is readable by the standard Python safetensors loader with our
/// dotted names, dtypes and shapes (what PyTorch's `load_file` reads). Needs
/// `python3 -m pip install safetensors numpy`; CI installs them and runs it
/// with `--ignored`.
#[test]
#[ignore = "needs python3 with safetensors and numpy; CI runs it"]
fn python_safetensors_reads_our_files() {
    let dir = scratch("python");
    let path = dir.join("model.safetensors");
    let model = net(1, 5);
    let mut adam = Adam::new(model.named_parameters(), AdamConfig::gan());
    train_one_step(&model, &mut adam);
    checkpoint::save_module(&model, &path).unwrap();
    let weight = model.named_parameters()[0].1.to_vec();
    let script = format!(
        "from safetensors.numpy import load_file\n\
         t = load_file({path:?})\n\
         print(sorted(t))\n\
         assert sorted(t) == sorted(['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked', '3.weight', '3.bias']), sorted(t)\n\
         assert t['0.weight'].dtype.name == 'float32' and t['0.weight'].shape == (5, 3)\n\
         assert t['1.num_batches_tracked'].dtype.name == 'int64' and int(t['1.num_batches_tracked']) == 1\n\
         print(repr(t['0.weight'].flatten()[0].item()))\n",
        path = path.to_str().unwrap()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first: f64 = stdout.lines().last().unwrap().trim().parse().unwrap();
    assert_eq!(first as f32, weight[0]);
    std::fs::remove_dir_all(dir).unwrap();
}
