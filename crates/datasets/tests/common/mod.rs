//! Helpers shared by the datasets tests: crafting IDX files, gzip, scratch
//! directories.
#![allow(dead_code)] // each test file uses a different subset

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::PathBuf;

/// The bytes of an IDX image file: the header, then `count·rows·cols` pixels
/// with a recognisable pattern (pixel k of the file is `k mod 251`).
pub fn image_file(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut bytes = header(0x0803, &[count, rows, cols]);
    let n = count as usize * rows as usize * cols as usize;
    bytes.extend((0..n).map(|k| (k % 251) as u8));
    bytes
}

/// The bytes of an IDX label file whose label k is `k mod 10`.
pub fn label_file(count: u32) -> Vec<u8> {
    let mut bytes = header(0x0801, &[count]);
    bytes.extend((0..count as usize).map(|k| (k % 10) as u8));
    bytes
}

/// An IDX header: the magic then the dimensions, big-endian.
pub fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend(d.to_be_bytes());
    }
    bytes
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// A fresh, empty scratch directory for one test, under cargo's per-target
/// temporary directory.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("gan-data-tests")
        .join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("clearing the scratch directory");
    }
    std::fs::create_dir_all(&dir).expect("creating the scratch directory");
    dir
}

/// The names of the entries of `dir`, sorted (hidden files included).
pub fn dir_entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("listing the scratch directory")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Asserts that `message` contains every one of `parts`.
#[track_caller]
pub fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "error message should mention {part:?}, but it is:\n{message}"
        );
    }
}

/// `shared/data`, found by walking up from this crate (it sits beside the
/// repository checkout, wherever that is).
pub fn shared_data() -> PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("shared").join("data"))
        .find(|candidate| candidate.join("mnist").is_dir())
        .unwrap_or_else(|| {
            panic!(
                "no shared/data/mnist found in any parent of {}: these tests need the \
                 project's shared data (shared/ beside the repository checkout)",
                manifest.display()
            )
        })
}
