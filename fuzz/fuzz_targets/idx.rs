//! The IDX reader on arbitrary bytes, raw and as if gzipped: it must return
//! `Ok` or an error, never panic, and never allocate more than the input
//! justifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    let name = Path::new("fuzz-input");
    let _ = gan::data::parse_images(name, bytes);
    let _ = gan::data::parse_labels(name, bytes);
});
