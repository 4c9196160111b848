//! Fuzzes the OSC decoder: any datagram is decoded or rejected without panicking, and the state
//! it builds stays usable (snapshot, staleness) however many datagrams arrive.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use onair::caspar::osc::OscDecoder;
use tokio::time::Instant;

fuzz_target!(|data: &[u8]| {
    // A 0xFF byte splits the input into several datagrams, so state built by one meets the next.
    let mut decoder = OscDecoder::new();
    let now = Instant::now();
    for datagram in data.split(|b| *b == 0xff) {
        let _ = decoder.ingest(datagram, now);
    }
    let _ = decoder.snapshot();
    decoder.mark_stale(now + Duration::from_secs(5), Duration::from_secs(1));
    let _ = decoder.next_stale_deadline(Duration::from_secs(1));
});
