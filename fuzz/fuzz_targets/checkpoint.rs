//! The checkpoint loader on arbitrary bytes: loading into a small network must
//! return `Ok` or an error, never panic, and a failed load changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn::{BatchNorm1d, Linear, Sequential};
use rand::SeedableRng;

fuzz_target!(|bytes: &[u8]| {
    let dir = std::env::temp_dir().join(format!("gan-fuzz-checkpoint-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input.safetensors");
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let net = Sequential::<f32>::new()
        .push(Linear::new(3, 4, &mut rng))
        .push(BatchNorm1d::new(4));
    let before = nn::checkpoint::module_entries(&net);
    if nn::checkpoint::load_module(&net, &path).is_err() {
        assert_eq!(
            nn::checkpoint::module_entries(&net),
            before,
            "a failed load changed the module"
        );
    }
    let _ = nn::checkpoint::load_entries::<f64>(&path);
});
