//! `gan-mnist sample` with large counts: one `.npy` array (read back here
//! byte by byte, and by NumPy in an `--ignored` test), or several grids.

mod common;
use common::{gan_mnist_ok as gan_mnist, tiny_run};

use std::path::{Path, PathBuf};
use std::process::Command;

/// A folder with an `mlp` run trained for 2 steps.
fn trained_run(name: &str) -> PathBuf {
    tiny_run("mlp", &format!("sample-{name}"))
}

/// The header text and values of a float32 `.npy` file.
fn read_npy(path: &Path) -> (String, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0);
    let header = String::from_utf8(bytes[10..10 + header_len].to_vec()).unwrap();
    let values = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (header.trim_end().to_string(), values)
}

fn sample_npy(dir: &Path, n: &str) -> PathBuf {
    let path = dir.join("samples.npy");
    let run = dir.join("run");
    gan_mnist(&[
        "sample",
        "--checkpoint",
        run.to_str().unwrap(),
        "--n",
        n,
        "--out",
        path.to_str().unwrap(),
    ]);
    path
}

#[test]
fn many_samples_make_one_npy_array_in_the_pixel_range() {
    let dir = trained_run("npy");
    let path = sample_npy(&dir, "1234");
    let (header, values) = read_npy(&path);
    assert_eq!(
        header,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1234, 1, 28, 28), }"
    );
    assert_eq!(values.len(), 1234 * 784);
    // mlp ends in tanh: values in [-1, 1], and not all the same.
    assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
    // Each chunk of 500 draws fresh noise: the third chunk's first image
    // is not the first one's.
    assert_ne!(values[..784], values[1000 * 784..1001 * 784]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn more_than_one_grid_makes_numbered_pngs() {
    let dir = trained_run("grids");
    let run = dir.join("run");
    let out = dir.join("grid.png");
    gan_mnist(&[
        "sample",
        "--checkpoint",
        run.to_str().unwrap(),
        "--n",
        "1100",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!out.exists());
    // 1024 in a 32-wide grid, then 76 in a 9-wide one.
    let first = runs::grid::read_png(&dir.join("grid-1.png")).unwrap();
    assert_eq!((first.width, first.height), (32 * 28 + 33 * 2, 32 * 28 + 33 * 2));
    let second = runs::grid::read_png(&dir.join("grid-2.png")).unwrap();
    assert_eq!((second.width, second.height), (9 * 28 + 10 * 2, 9 * 28 + 10 * 2));
    assert!(!dir.join("grid-3.png").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

/// NumPy reads the file with the same shape, dtype and values. Needs
/// `python3 -m pip install numpy`; CI installs it and runs this with
/// `--ignored`.
#[test]
#[ignore = "needs python3 with numpy; CI runs it"]
fn numpy_reads_the_samples() {
    let dir = trained_run("numpy");
    let path = sample_npy(&dir, "30");
    let (_, values) = read_npy(&path);
    let script = format!(
        "import numpy as np\n\
         a = np.load({path:?})\n\
         assert a.dtype == np.float32 and a.shape == (30, 1, 28, 28), (a.dtype, a.shape)\n\
         print(repr(float(a[29, 0, 27, 27])))\n\
         print(repr(float(a.astype(np.float64).sum())))\n",
        path = path.to_str().unwrap()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<f64> = stdout.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(lines[0] as f32, values[values.len() - 1]);
    let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
    assert!(
        (lines[1] - sum).abs() < 1e-6 * (1.0 + sum.abs()),
        "{} vs {sum}",
        lines[1]
    );
    std::fs::remove_dir_all(dir).unwrap();
}
