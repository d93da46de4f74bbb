//! The IDX reader on crafted good and bad files: every bad file must give an
//! error naming the file and the problem, never a panic.

mod common;

use common::{assert_mentions, gzip, header, image_file, label_file, scratch_dir};
use datasets::{Error, ImageSet, parse_images, parse_labels, read_images, read_labels};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `name` in the test's scratch directory.
fn write(test: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch_dir(test).join(name);
    std::fs::write(&path, bytes).expect("writing a test file");
    path
}

/// Reads `bytes` as an image file, both raw and gzip-compressed from disk,
/// and returns the two error messages (it must fail both ways).
fn image_errors(test: &str, bytes: &[u8]) -> [String; 2] {
    let raw = write(&format!("{test}-raw"), "imgs-idx3-ubyte", bytes);
    let gz = write(&format!("{test}-gz"), "imgs-idx3-ubyte.gz", &gzip(bytes));
    let raw_err = read_images(&raw).expect_err("a bad raw file must be rejected");
    let gz_err = read_images(&gz).expect_err("a bad gzip file must be rejected");
    let raw_msg = raw_err.to_string();
    let gz_msg = gz_err.to_string();
    assert_mentions(&raw_msg, &["imgs-idx3-ubyte"]);
    assert_mentions(&gz_msg, &["imgs-idx3-ubyte.gz"]);
    assert!(matches!(raw_err, Error::Format { .. }), "{raw_err:?}");
    assert!(matches!(gz_err, Error::Format { .. }), "{gz_err:?}");
    [raw_msg, gz_msg]
}

#[test]
fn good_files_read_raw_and_gzip() {
    let bytes = image_file(3, 4, 5);
    for (name, content) in [("a-idx3", bytes.clone()), ("a-idx3.gz", gzip(&bytes))] {
        let path = write("good", name, &content);
        let images = read_images(&path).expect("a good file");
        assert_eq!((images.count, images.rows, images.cols), (3, 4, 5));
        assert_eq!(images.pixels, bytes[16..].to_vec());
    }
    let labels = label_file(7);
    let path = write("good-labels", "l.gz", &gzip(&labels));
    assert_eq!(read_labels(&path).expect("good labels"), labels[8..].to_vec());
    assert_eq!(
        parse_labels(Path::new("mem"), &labels).expect("good labels"),
        labels[8..].to_vec()
    );
}

#[test]
fn wrong_magic() {
    let mut bytes = image_file(2, 3, 3);
    bytes[3] = 0x04;
    for msg in image_errors("magic", &bytes) {
        assert_mentions(&msg, &["wrong magic number 0x00000804", "expected 0x00000803"]);
    }
    // A label file where images are expected: the message suggests a swap.
    for msg in image_errors("swapped", &label_file(4)) {
        assert_mentions(&msg, &["0x00000801", "label file", "swapped"]);
    }
    let err = parse_labels(Path::new("labels.gz"), &image_file(1, 1, 1)).unwrap_err();
    assert_mentions(&err.to_string(), &["labels.gz", "wrong magic", "image file"]);
}

#[test]
fn empty_file() {
    for msg in image_errors("empty", &[]) {
        assert_mentions(&msg, &["empty", "16-byte header"]);
    }
    assert!(image_errors("empty", &[])[1].contains("after decompression"));
}

#[test]
fn truncated_header() {
    let bytes = &image_file(2, 3, 3)[..10];
    for msg in image_errors("header", bytes) {
        assert_mentions(&msg, &["truncated header", "10 bytes", "16 bytes"]);
    }
    let err = parse_labels(Path::new("l"), &label_file(3)[..7]).unwrap_err();
    assert_mentions(&err.to_string(), &["truncated header", "7 bytes", "8 bytes"]);
}

#[test]
fn truncated_pixels() {
    let mut bytes = image_file(3, 4, 5);
    bytes.truncate(16 + 59);
    let [raw, gz] = image_errors("pixels", &bytes);
    assert_mentions(
        &raw,
        &["expected 76 bytes for 3 images of 4×5, got 75", "truncated"],
    );
    assert_mentions(
        &gz,
        &["expected 76 bytes after decompression for 3 images of 4×5, got 75"],
    );
    let err = parse_labels(Path::new("lbl"), &label_file(5)[..10]).unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["lbl", "expected 13 bytes for 5 labels, got 10"],
    );
}

#[test]
fn extra_trailing_bytes() {
    let mut bytes = image_file(3, 4, 5);
    bytes.extend([1, 2, 3]);
    for msg in image_errors("trailing", &bytes) {
        assert_mentions(&msg, &["expected 76 bytes", "got 79", "3 trailing bytes"]);
    }
}

#[test]
fn zero_and_absurd_dimensions() {
    for dims in [[2, 0, 28], [2, 28, 0]] {
        let bytes = header(0x0803, &dims);
        for msg in image_errors("zero-dims", &bytes) {
            assert_mentions(&msg, &["zero image dimensions"]);
        }
    }
    for msg in image_errors("zero-count", &header(0x0803, &[0, 28, 28])) {
        assert_mentions(&msg, &["holds 0 images"]);
    }
    let err = parse_labels(Path::new("l"), &header(0x0801, &[0])).unwrap_err();
    assert_mentions(&err.to_string(), &["0 labels"]);
    for msg in image_errors("huge-side", &header(0x0803, &[1, 5000, 28])) {
        assert_mentions(&msg, &["5000×28", "limit"]);
    }
    // A header announcing far more data than exists must fail fast and not
    // try to allocate it.
    for msg in image_errors("huge-count", &header(0x0803, &[u32::MAX, 4096, 4096])) {
        assert_mentions(&msg, &["4294967295 images of 4096×4096", "limit"]);
    }
}

#[test]
fn label_and_image_counts_must_agree() {
    let images = parse_images(Path::new("x"), &image_file(3, 2, 2)).expect("good images");
    let labels = parse_labels(Path::new("y"), &label_file(2)).expect("good labels");
    let err = ImageSet::new(
        images.clone(),
        labels,
        Path::new("train-images-idx3-ubyte.gz"),
        Path::new("train-labels-idx1-ubyte.gz"),
    )
    .unwrap_err();
    assert_mentions(
        &err.to_string(),
        &[
            "train-labels-idx1-ubyte.gz",
            "holds 2 labels",
            "train-images-idx3-ubyte.gz holds 3 images",
        ],
    );
    // A label outside 0..10 is rejected too.
    let mut bad = label_file(3);
    bad[8 + 1] = 10;
    let labels = parse_labels(Path::new("y"), &bad).expect("well-formed IDX");
    let err = ImageSet::new(images, labels, Path::new("i"), Path::new("lab")).unwrap_err();
    assert_mentions(&err.to_string(), &["lab", "label 10 at index 1"]);
}

#[test]
fn corrupt_gzip_stream() {
    let good = gzip(&image_file(20, 8, 8));
    // A flipped bit in the compressed data, a wrong CRC in the trailer, a
    // stream cut short, and garbage after the stream.
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x55;
    let mut bad_crc = good.clone();
    let crc_at = good.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    let cut = good[..good.len() - 20].to_vec();
    let mut garbage_after = good.clone();
    garbage_after.extend(b"not gzip");
    for (case, bytes) in [
        ("flipped", flipped),
        ("crc", bad_crc),
        ("cut", cut),
        ("garbage", garbage_after),
    ] {
        let path = write(&format!("gzip-{case}"), "corrupt-idx3-ubyte.gz", &bytes);
        let err = read_images(&path).expect_err(case);
        let msg = err.to_string();
        assert_mentions(&msg, &["corrupt-idx3-ubyte.gz"]);
        assert!(
            msg.contains("gzip") || msg.contains("truncated"),
            "{case}: the message should say the stream is corrupt or truncated: {msg}"
        );
    }
}

#[test]
fn missing_file_names_the_path() {
    let path = scratch_dir("missing").join("nope-idx3-ubyte.gz");
    let err = read_images(&path).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_mentions(&err.to_string(), &["nope-idx3-ubyte.gz", "opening"]);
}

/// A small fuzz run: random bytes and random mutations of valid files (raw
/// and gzip) must give `Ok` or `Err`, never a panic. Seeded, so a failure
/// reproduces.
#[test]
fn random_and_mutated_inputs_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let seeds = [
        image_file(3, 4, 5),
        gzip(&image_file(3, 4, 5)),
        label_file(9),
        gzip(&label_file(9)),
    ];
    let mut accepted = 0;
    for _ in 0..3000 {
        let bytes = if rng.random_bool(0.2) {
            let len = rng.random_range(0..64);
            (0..len).map(|_| rng.random()).collect::<Vec<u8>>()
        } else {
            let mut bytes = seeds[rng.random_range(0..seeds.len())].clone();
            for _ in 0..rng.random_range(1..4) {
                match rng.random_range(0..3) {
                    0 if !bytes.is_empty() => {
                        let i = rng.random_range(0..bytes.len());
                        bytes[i] = rng.random();
                    }
                    1 => bytes.truncate(rng.random_range(0..=bytes.len())),
                    _ => bytes.push(rng.random()),
                }
            }
            bytes
        };
        let name = Path::new("fuzz");
        accepted += usize::from(parse_images(name, &bytes).is_ok());
        accepted += usize::from(parse_labels(name, &bytes).is_ok());
    }
    // Mutations that keep a file valid (a changed pixel) are accepted, so
    // the run does exercise both outcomes.
    assert!(accepted > 0, "no input was accepted: the mutations are too harsh");
}
