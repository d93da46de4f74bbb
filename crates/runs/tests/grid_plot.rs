//! Tests of `runs::grid` (sample grids as PNG) and `runs::plot` (loss curves as
//! SVG): grid geometry, exact grey levels, clamping, errors, PNG round trips,
//! and the content of the plot.

mod common;

use common::{assert_mentions, dir_entries, scratch_dir};
use datasets::PixelRange;
use gan::train::StepStats;
use runs::Error;
use runs::grid::{BORDER, BORDER_VALUE, GrayImage, image_grid, read_png, to_byte, write_png};
use runs::metrics::MetricsRow;
use runs::plot::plot_metrics;
use tensor::Tensor;

const B: u8 = BORDER_VALUE;

fn images(values: Vec<f32>, shape: &[usize]) -> Tensor<f32> {
    Tensor::from_vec(values, shape).expect("values match the shape")
}

/// A grid of `n` images of `h × w`, all -1 (black).
fn black_grid(n: usize, h: usize, w: usize, columns: usize) -> GrayImage {
    image_grid(
        &images(vec![-1.0; n * h * w], &[n, 1, h, w]),
        columns,
        PixelRange::Symmetric,
    )
    .expect("a valid batch")
}

#[test]
fn grid_sizes_follow_tiles_and_borders() {
    // (N, columns, H, W) → (width, height): n tiles take n·side + (n+1)·2.
    let cases = [
        ((64, 8, 28, 28), (242, 242)),
        ((5, 4, 28, 28), (4 * 28 + 5 * 2, 2 * 28 + 3 * 2)), // partial last row
        ((3, 8, 28, 28), (3 * 28 + 4 * 2, 28 + 2 * 2)),     // fewer images than columns
        ((1, 1, 32, 32), (36, 36)),
        ((7, 3, 3, 5), (3 * 5 + 4 * 2, 3 * 3 + 4 * 2)), // non-square tiles
    ];
    for ((n, columns, h, w), (width, height)) in cases {
        let grid = black_grid(n, h, w, columns);
        assert_eq!(
            (grid.width, grid.height),
            (width, height),
            "N={n}, columns={columns}, {h}×{w}"
        );
        assert_eq!(grid.pixels.len(), width * height);
        // Every image pixel is black, everything else is border grey.
        let black = grid.pixels.iter().filter(|&&p| p == 0).count();
        assert_eq!(black, n * h * w, "N={n}, columns={columns}");
        assert_eq!(
            grid.pixels.iter().filter(|&&p| p == B).count(),
            width * height - n * h * w
        );
    }
}

#[test]
fn partial_last_row_leaves_empty_slots_grey() {
    // 5 images in rows of 4: the second row holds one image, then 3 empty slots.
    let grid = black_grid(5, 4, 4, 4);
    let second_row_top = BORDER + 4 + BORDER;
    let first_slot_left = BORDER;
    let second_slot_left = BORDER + 4 + BORDER;
    assert_eq!(grid.get(first_slot_left, second_row_top), Some(0));
    for y in second_row_top..second_row_top + 4 {
        for x in second_slot_left..grid.width {
            assert_eq!(grid.get(x, y), Some(B), "({x}, {y}) should be an empty slot");
        }
    }
}

#[test]
fn symmetric_values_map_to_exact_grey_levels() {
    // Two 2×3 images side by side; 0 ↦ 127.5 rounds (half away from zero) to 128.
    #[rustfmt::skip]
    let values = vec![
        -1.0, 0.0, 1.0,
        0.5, -0.5, 0.001,
        //
        1.0, 1.0, -1.0,
        -0.999, 0.999, 0.0,
    ];
    let grid = image_grid(&images(values, &[2, 1, 2, 3]), 2, PixelRange::Symmetric).unwrap();
    // 0.5 ↦ 191.25 → 191, −0.5 ↦ 63.75 → 64, 0.001 ↦ 127.6 → 128,
    // −0.999 ↦ 0.1275 → 0, 0.999 ↦ 254.87 → 255.
    #[rustfmt::skip]
    let expected: Vec<u8> = vec![
        B, B, B,   B,   B,   B, B, B,   B,   B, B, B,
        B, B, B,   B,   B,   B, B, B,   B,   B, B, B,
        B, B, 0,   128, 255, B, B, 255, 255, 0, B, B,
        B, B, 191, 64,  128, B, B, 0,   255, 128, B, B,
        B, B, B,   B,   B,   B, B, B,   B,   B, B, B,
        B, B, B,   B,   B,   B, B, B,   B,   B, B, B,
    ];
    assert_eq!((grid.width, grid.height), (12, 6));
    assert_eq!(grid.pixels, expected);
}

#[test]
fn unit_values_map_to_exact_grey_levels() {
    // One 2×3 image; 0.5 ↦ 127.5 rounds to 128, 0.25 ↦ 63.75 → 64, 0.2 ↦ 51.
    let values = vec![0.0, 1.0, 0.5, 0.25, 0.2, 0.75];
    let grid = image_grid(&images(values, &[1, 1, 2, 3]), 1, PixelRange::Unit).unwrap();
    #[rustfmt::skip]
    let expected: Vec<u8> = vec![
        B, B, B,  B,   B,   B, B,
        B, B, B,  B,   B,   B, B,
        B, B, 0,  255, 128, B, B,
        B, B, 64, 51,  191, B, B,
        B, B, B,  B,   B,   B, B,
        B, B, B,  B,   B,   B, B,
    ];
    assert_eq!((grid.width, grid.height), (7, 6));
    assert_eq!(grid.pixels, expected);
}

#[test]
fn batch_scaling_maps_back_to_the_original_bytes() {
    // Every byte, scaled as a batch would be, comes back unchanged.
    for range in [PixelRange::Symmetric, PixelRange::Unit] {
        let values: Vec<f32> = (0..=255).map(|x| range.scale(x)).collect();
        let grid = image_grid(&images(values, &[1, 1, 16, 16]), 1, range).unwrap();
        for (k, expected) in (0..=255u8).enumerate() {
            let (x, y) = (BORDER + k % 16, BORDER + k / 16);
            assert_eq!(grid.get(x, y), Some(expected), "{range:?}, byte {expected}");
        }
    }
}

#[test]
fn out_of_range_values_clamp_and_nan_is_black() {
    let cases = [
        (2.0, 255),
        (-3.0, 0),
        (f32::INFINITY, 255),
        (f32::NEG_INFINITY, 0),
        (f32::NAN, 0),
    ];
    for range in [PixelRange::Symmetric, PixelRange::Unit] {
        for (v, expected) in cases {
            assert_eq!(to_byte(v, range), expected, "{range:?}, {v}");
        }
        let values: Vec<f32> = cases.iter().map(|&(v, _)| v).collect();
        let grid = image_grid(&images(values, &[1, 1, 1, 5]), 1, range).unwrap();
        let row: Vec<u8> = (0..5).map(|x| grid.get(BORDER + x, BORDER).unwrap()).collect();
        assert_eq!(row, vec![255, 0, 255, 0, 0], "{range:?}");
    }
    // Just inside the Unit range's bottom: −0.001 clamps to 0, not wraps to 255.
    assert_eq!(to_byte(-0.001, PixelRange::Unit), 0);
}

#[test]
fn bad_inputs_are_errors_naming_the_problem() {
    let cases: [(Tensor<f32>, usize, &str); 5] = [
        (images(vec![0.0; 4], &[1, 2, 2]), 1, "[1, 2, 2]"),
        (images(vec![0.0; 12], &[1, 3, 2, 2]), 1, "1 channel"),
        (images(vec![], &[0, 1, 28, 28]), 8, "[0, 1, 28, 28]"),
        (images(vec![], &[2, 1, 0, 28]), 8, "[2, 1, 0, 28]"),
        (images(vec![0.0; 4], &[1, 1, 2, 2]), 0, "columns"),
    ];
    for (batch, columns, needle) in cases {
        let err = image_grid(&batch, columns, PixelRange::Symmetric).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Argument {
                    what: "image_grid",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_mentions(&err.to_string(), &[needle]);
    }
}

#[test]
fn png_round_trip_keeps_pixels_and_leaves_no_temporary() {
    let dir = scratch_dir("grid_png_round_trip");
    let values: Vec<f32> = (0..6 * 5 * 7)
        .map(|k| ((k * 37) % 200) as f32 / 100.0 - 1.0)
        .collect();
    let grid = image_grid(&images(values, &[6, 1, 5, 7]), 4, PixelRange::Symmetric).unwrap();
    let path = dir.join("samples.png");
    write_png(&grid, &path).unwrap();
    assert_eq!(read_png(&path).unwrap(), grid);
    assert_eq!(dir_entries(&dir), vec!["samples.png"]);
    // Overwriting replaces the file whole.
    let black = black_grid(1, 3, 3, 1);
    write_png(&black, &path).unwrap();
    assert_eq!(read_png(&path).unwrap(), black);
    assert_eq!(dir_entries(&dir), vec!["samples.png"]);
}

#[test]
fn png_errors_name_the_file() {
    let dir = scratch_dir("grid_png_errors");
    let grid = black_grid(1, 2, 2, 1);

    let nowhere = dir.join("missing-dir").join("samples.png");
    let err = write_png(&grid, &nowhere).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                action: "writing",
                ..
            }
        ),
        "{err:?}"
    );
    assert_mentions(&err.to_string(), &["missing-dir/samples.png", "writing failed"]);
    assert!(!err.to_string().contains("checkpoint"), "{err}");

    let inconsistent = GrayImage {
        width: 3,
        height: 3,
        pixels: vec![0; 8],
    };
    let err = write_png(&inconsistent, &dir.join("bad.png")).unwrap_err();
    assert_mentions(&err.to_string(), &["bad.png", "3×3", "8 pixels"]);
    assert!(!dir.join("bad.png").exists());

    let err = read_png(&dir.join("absent.png")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                action: "reading",
                ..
            }
        ),
        "{err:?}"
    );
    assert_mentions(&err.to_string(), &["absent.png", "reading failed"]);

    let garbage = dir.join("garbage.png");
    std::fs::write(&garbage, b"not a png at all").unwrap();
    let err = read_png(&garbage).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    assert_mentions(&err.to_string(), &["garbage.png", "not a valid PNG"]);

    // A valid PNG, but RGB: refused, not misread as greyscale.
    let rgb = dir.join("rgb.png");
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, 2, 1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[0; 6]).unwrap();
    writer.finish().unwrap();
    std::fs::write(&rgb, &bytes).unwrap();
    let err = read_png(&rgb).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    assert_mentions(&err.to_string(), &["rgb.png", "Rgb", "8-bit greyscale"]);
}

/// The contents of the SVG's `<text>` elements, trimmed (plotters puts each
/// on a line of its own).
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|element| {
            let body = &element[element.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

/// The stroke colour and number of points of each `<polyline>`.
fn polylines(svg: &str) -> Vec<(String, usize)> {
    let attribute = |element: &str, name: &str| -> Option<String> {
        let start = element.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(element[start..start + element[start..].find('"')?].to_string())
    };
    svg.split("<polyline")
        .skip(1)
        .filter_map(|element| {
            let points = attribute(element, "points")?.split_whitespace().count();
            Some((attribute(element, "stroke")?, points))
        })
        .collect()
}

fn row(step: u64, loss_d: f64, loss_g: f64, d_real: f64, d_fake: f64) -> MetricsRow {
    MetricsRow {
        step,
        epoch: 1,
        stats: StepStats {
            loss_d,
            loss_g,
            d_real,
            d_fake,
        },
        quality: None,
    }
}

#[test]
fn plot_is_an_svg_with_title_axes_and_legend() {
    let dir = scratch_dir("plot_svg");
    let rows: Vec<MetricsRow> = (1..=20)
        .map(|k| {
            let t = k as f64 / 20.0;
            row(k * 50, 1.4 - 0.3 * t, 0.7 + t, 0.5 + 0.3 * t, 0.5 - 0.3 * t)
        })
        .collect();
    let path = dir.join("losses.svg");
    plot_metrics(&rows, "mlp on MNIST, seed 7", &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..80.min(svg.len())]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    let texts = svg_texts(&svg);
    for text in [
        "mlp on MNIST, seed 7",
        "loss_d",
        "loss_g",
        "D(x)",
        "D(G(z))",
        "step",
        "loss",
        "mean score",
    ] {
        assert!(
            texts.iter().any(|t| t == text),
            "the SVG has no text {text:?}: {texts:?}"
        );
    }
    // Two panels, each with a red and a blue curve through all 20 points (the
    // legend's samples and the grid lines are shorter or grey).
    let curves: Vec<(String, usize)> = polylines(&svg).into_iter().filter(|&(_, n)| n == 20).collect();
    let strokes: Vec<&str> = curves.iter().map(|(stroke, _)| stroke.as_str()).collect();
    assert_eq!(strokes, vec!["#FF0000", "#0000FF", "#FF0000", "#0000FF"]);
    assert_eq!(dir_entries(&dir), vec!["losses.svg"]);
}

#[test]
fn plot_survives_one_row_and_non_finite_values() {
    let dir = scratch_dir("plot_edge_cases");
    let single = dir.join("single.svg");
    plot_metrics(&[row(1, 0.7, 0.7, 0.5, 0.5)], "one row", &single).unwrap();
    let texts = svg_texts(&std::fs::read_to_string(&single).unwrap());
    assert!(texts.iter().any(|t| t == "one row"), "{texts:?}");

    let diverged = [
        row(50, 1.0, 1.0, 0.6, 0.4),
        row(100, f64::NAN, f64::INFINITY, f64::NAN, f64::NAN),
        row(150, 0.9, 1.2, 0.7, 0.3),
    ];
    let path = dir.join("diverged.svg");
    plot_metrics(&diverged, "diverged", &path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(
        !svg.contains("NaN") && !svg.contains("inf"),
        "non-finite values leaked into the SVG"
    );
}

#[test]
fn plot_errors() {
    let dir = scratch_dir("plot_errors");
    let path = dir.join("losses.svg");
    let err = plot_metrics(&[], "empty", &path).unwrap_err();
    assert!(matches!(err, Error::NoRows { .. }), "{err:?}");
    assert_mentions(&err.to_string(), &["losses.svg", "no metrics rows"]);
    assert!(!path.exists());

    let nowhere = dir.join("missing-dir").join("losses.svg");
    let err = plot_metrics(&[row(1, 0.7, 0.7, 0.5, 0.5)], "t", &nowhere).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                action: "writing",
                ..
            }
        ),
        "{err:?}"
    );
    assert_mentions(&err.to_string(), &["missing-dir/losses.svg", "writing failed"]);
}
