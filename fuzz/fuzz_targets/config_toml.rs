//! Fuzzes the configuration loader: any file contents give a `Config` or a `ConfigError`, never a
//! panic, and a loaded configuration passes its own validation again.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use onair::config::{Overrides, load};

fuzz_target!(|data: &[u8]| {
    // `load` reads a path, so the input goes through a real temporary file.
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write");
    file.flush().expect("flush");
    let env: Vec<(String, String)> = Vec::new();
    if let Ok(config) = load(Some(file.path()), env, &Overrides::default()) {
        assert!(config.validate().is_ok());
    }
});
