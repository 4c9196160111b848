//! Fuzzes the WebSocket client message parser: `decode_client` on any text never panics, a decoded
//! command's op and args go through `parse_command` without panicking, and a decoded message
//! re-serializes to JSON that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onair::server::protocol::{ClientMsg, decode_client, parse_command};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(msg) = decode_client(text) else {
        return;
    };
    if let ClientMsg::Command { op, args, .. } = &msg {
        let _ = parse_command(op, args.clone());
    }
    let again = serde_json::to_string(&msg).expect("a decoded message serializes");
    // Equality is not asserted: serde_json's default float parsing may round a number differently.
    assert!(decode_client(&again).is_ok(), "{again}");
});
