//! Fuzzes the WebSocket client message parser: `decode_client` on any text never panics (for
//! either role), and a decoded message, typed request included, re-serializes to JSON that decodes
//! again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onair::protocol::{Role, decode_client};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = decode_client(text, Role::Viewer);
    let Ok(msg) = decode_client(text, Role::Operator) else {
        return;
    };
    let again = serde_json::to_string(&msg).expect("a decoded message serializes");
    // Equality is not asserted: serde_json's default float parsing may round a number differently.
    assert!(decode_client(&again, Role::Operator).is_ok(), "{again}");
});
