//! Fuzzes the reply-body parsers (VERSION, INFO list, INFO channel XML, CLS/CINF, TLS): any text
//! must give a value or an error, never a panic, and parsed values must be self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onair::amcp::body::{
    MediaKind, parse_cls, parse_cls_line, parse_info_list, parse_info_xml, parse_tls, parse_version,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<String> = text.split("\r\n").map(str::to_owned).collect();

    if let Ok(version) = parse_version(&text) {
        assert_eq!(version.raw, text.trim());
        let _ = (version.supports_req(), version.supports_batch());
    }
    let _ = parse_info_list(&lines);
    if let Ok(state) = parse_info_xml(&text) {
        for layer in state.layers.values() {
            let _ = (layer.foreground.is_empty(), layer.background.is_empty());
        }
    }
    for entry in parse_cls(&lines)
        .into_iter()
        .flatten()
        .chain(parse_cls_line(&text))
    {
        if entry.fps().is_some() {
            assert_eq!(entry.kind, MediaKind::Movie);
            assert!(entry.fps_fraction().is_some());
        }
        if let Some(secs) = entry.duration_secs() {
            assert!(secs >= 0.0);
        }
    }
    for id in parse_tls(&lines) {
        assert!(!id.is_empty());
    }
});
