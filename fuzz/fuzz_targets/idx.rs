//! The IDX reader on arbitrary bytes, raw and as if gzipped: it must return
//! `Ok` or an error, never panic, and never allocate more than the input
//! justifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let name = Path::new("fuzz-input");
    let _ = datasets::parse_images(name, bytes);
    let _ = datasets::parse_labels(name, bytes);
});
