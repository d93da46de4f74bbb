//! `gan-mnist interpolate`: the grid has one walk per row and both paths
//! share their end columns; the GIF has the walk there and back; the same
//! seed writes the same bytes; a conditional model's rows keep their label;
//! bad input is refused with a message naming it, never a panic.

mod common;
use common::{gan_mnist_ok as ok, tiny_run};

use runs::grid::{BORDER, read_png};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gan_mnist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gan-mnist"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A folder holding `run`, a `model` run trained for 2 steps.
fn trained_run(model: &str, test: &str) -> PathBuf {
    tiny_run(model, &format!("walk-{test}"))
}

fn walk(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Output) {
    let out = dir.join(name);
    let run = dir.join("run");
    let mut args = vec![
        "interpolate",
        "--checkpoint",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = ok(&args);
    (out, output)
}

/// The grey pixels of column `c` (28-pixel tiles) of a walk grid.
fn column(png: &Path, c: usize) -> Vec<u8> {
    let image = read_png(png).expect("a PNG");
    let left = BORDER + c * (28 + BORDER);
    (0..image.height)
        .flat_map(|y| (left..left + 28).map(move |x| (x, y)))
        .map(|(x, y)| image.get(x, y).expect("inside"))
        .collect()
}

/// The frames of a GIF and their delays.
fn gif_frames(path: &Path) -> Vec<(u16, Vec<u8>)> {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::Indexed);
    let mut decoder = options
        .read_info(std::fs::File::open(path).expect("the GIF exists"))
        .expect("a GIF");
    let mut frames = Vec::new();
    while let Some(frame) = decoder.read_next_frame().expect("decodes") {
        frames.push((frame.delay, frame.buffer.to_vec()));
    }
    frames
}

#[test]
fn a_walk_is_a_grid_and_a_gif_and_the_same_seed_gives_the_same_bytes() {
    let dir = trained_run("mlp", "files");
    let (png, output) = walk(&dir, "walk.png", &["--pairs", "3", "--steps", "5"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("3 spherical walks of 5 points"), "{stdout}");
    let image = read_png(&png).expect("a PNG");
    assert_eq!(
        (image.width, image.height),
        (5 * 28 + 6 * BORDER, 3 * 28 + 4 * BORDER),
        "5 columns (points), 3 rows (walks)"
    );
    let frames = gif_frames(&png.with_extension("gif"));
    assert_eq!(frames.len(), 5 + 3, "0, 1, 2, 3, 4 and back 3, 2, 1");
    assert_eq!(frames[1].1, frames[7].1, "point 1 there and back");
    assert!(frames[0].0 > frames[1].0, "the end points are held longer");
    assert_ne!(frames[0].1, frames[4].1, "the walk goes somewhere");

    // Same seed: same bytes. Another seed: other end points.
    let (again, _) = walk(&dir, "again.png", &["--pairs", "3", "--steps", "5"]);
    assert_eq!(std::fs::read(&png).unwrap(), std::fs::read(&again).unwrap());
    assert_eq!(
        std::fs::read(png.with_extension("gif")).unwrap(),
        std::fs::read(again.with_extension("gif")).unwrap()
    );
    let (other, _) = walk(
        &dir,
        "other.png",
        &["--pairs", "3", "--steps", "5", "--seed", "1"],
    );
    assert_ne!(column(&png, 0), column(&other, 0));

    // The straight line has the same end points and another middle.
    let (linear, output) = walk(
        &dir,
        "linear.png",
        &["--pairs", "3", "--steps", "5", "--path", "linear"],
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("linear walks"));
    assert_eq!(column(&png, 0), column(&linear, 0), "same start points");
    assert_eq!(column(&png, 4), column(&linear, 4), "same end points");
    assert_ne!(column(&png, 2), column(&linear, 2), "different midpoints");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_conditional_walk_keeps_each_rows_label() {
    let dir = trained_run("cgan", "labels");
    let (png, output) = walk(&dir, "walk.png", &["--pairs", "12", "--steps", "3"]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("label fixed"));
    let legend = std::fs::read_to_string(png.with_extension("txt")).expect("the legend");
    let lines: Vec<&str> = legend.lines().collect();
    assert_eq!(lines.len(), 12);
    assert_eq!(lines[3], "row 3: class 3 (fixed along the row)");
    assert_eq!(lines[11], "row 11: class 1 (fixed along the row)");
    let (sevens, _) = walk(
        &dir,
        "sevens.png",
        &["--pairs", "2", "--steps", "3", "--digit", "7"],
    );
    let legend = std::fs::read_to_string(sevens.with_extension("txt")).expect("the legend");
    assert!(legend.lines().all(|l| l.contains("class 7")), "{legend}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let dir = trained_run("mlp", "errors");
    let run = dir.join("run");
    let run = run.to_str().unwrap();
    let png = dir.join("x.png");
    let png = png.to_str().unwrap();
    let missing = dir.join("no-such-run");
    for (args, expected) in [
        (vec!["--checkpoint", run, "--out", png, "--steps", "1"], "--steps"),
        (vec!["--checkpoint", run, "--out", png, "--pairs", "0"], "--pairs"),
        (
            vec!["--checkpoint", run, "--out", png, "--path", "curved"],
            "unknown path `curved`",
        ),
        (
            vec!["--checkpoint", run, "--out", png, "--digit", "3"],
            "class-conditional",
        ),
        (
            vec!["--checkpoint", run, "--out", png, "--which", "best"],
            "no best checkpoint",
        ),
        (vec!["--checkpoint", run, "--out", "walk.jpg"], "must end in .png"),
        (
            vec!["--checkpoint", missing.to_str().unwrap(), "--out", png],
            "no-such-run",
        ),
    ] {
        let mut all = vec!["interpolate"];
        all.extend(args.iter().copied());
        let out = gan_mnist(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(
            stderr.contains(expected),
            "{args:?}: `{expected}` not in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
