//! Validation of the merged configuration: every range and consistency rule names its key.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

#[test]
fn every_validation_rule_names_its_key() {
    type Edit = fn(&mut Config);
    let cases: &[(Edit, &str)] = &[
        (
            |c| c.caspar.address = "::1:5250".into(),
            "caspar.address: \"::1:5250\" is not HOST:PORT (an IPv6 address must be in brackets); e.g. 127.0.0.1:5250, casparcg:5250 or [::1]:5250",
        ),
        (
            |c| c.caspar.address = "host:99999".into(),
            "caspar.address: \"host:99999\" is not HOST:PORT (port \"99999\" is not a number between 1 and 65535); e.g. 127.0.0.1:5250, casparcg:5250 or [::1]:5250",
        ),
        (
            |c| c.caspar.connect_timeout = Duration::ZERO,
            "caspar.connect_timeout: must be at least 1ms, got 0s",
        ),
        (
            |c| c.caspar.command_timeout = Duration::from_secs(90_000),
            "caspar.command_timeout: must be at most 24h, got 25h",
        ),
        (
            |c| c.caspar.ping_interval = Duration::ZERO,
            "caspar.ping_interval: must be at least 1ms, got 0s",
        ),
        (
            |c| c.caspar.ping_timeout = Duration::ZERO,
            "caspar.ping_timeout: must be at least 1ms, got 0s",
        ),
        (
            |c| c.caspar.max_in_flight_per_queue = 500,
            "caspar.max_in_flight_per_queue: must be between 1 and 128, got 500",
        ),
        (
            |c| c.caspar.max_in_flight_per_queue = 0,
            "caspar.max_in_flight_per_queue: must be between 1 and 128, got 0",
        ),
        (
            |c| c.caspar.backoff_initial = Duration::from_secs(3),
            "caspar.backoff_initial: must not exceed caspar.backoff_max (3s > 2s)",
        ),
        (
            |c| c.caspar.backoff_max = Duration::ZERO,
            "caspar.backoff_max: must be at least 1ms, got 0s",
        ),
        (
            |c| c.caspar.backoff_reset_after = Duration::ZERO,
            "caspar.backoff_reset_after: must be at least 1ms, got 0s",
        ),
        (
            |c| c.caspar.tcp_keepalive = Duration::from_millis(500),
            "caspar.tcp_keepalive: must be at least 1s, got 500ms",
        ),
        (
            |c| c.caspar.osc_stale_after = Duration::ZERO,
            "caspar.osc_stale_after: must be at least 1ms, got 0s",
        ),
        (
            |c| c.caspar.info_poll_interval = Duration::ZERO,
            "caspar.info_poll_interval: must be at least 1ms, got 0s",
        ),
        (
            |c| c.caspar.max_frame_bytes = 10,
            "caspar.max_frame_bytes: must be between 1024 and 1073741824, got 10",
        ),
        (
            |c| c.server.operator_tokens = vec!["ok".into(), String::new()],
            "server.operator_tokens: entry 2 is empty",
        ),
        (
            |c| c.server.viewer_tokens = vec!["a b".into()],
            "server.viewer_tokens: entry 1 contains whitespace, a control character or a comma",
        ),
        (
            |c| {
                c.server.operator_tokens = vec!["same".into()];
                c.server.viewer_tokens = vec!["x".into(), "same".into()];
            },
            "server.viewer_tokens: entry 2 is also an operator token; a token has one role",
        ),
        (
            |c| c.server.allowed_origins = vec!["https://panel.example.com/".into()],
            "server.allowed_origins: \"https://panel.example.com/\" is not an origin (it must not have a path, query or trailing slash); write it as a browser sends it, e.g. https://panel.example.com or http://127.0.0.1:8080",
        ),
        (
            |c| c.server.max_clients = 0,
            "server.max_clients: must be between 1 and 100000, got 0",
        ),
        (
            |c| c.server.max_clients_per_ip = 0,
            "server.max_clients_per_ip: must be between 1 and 100000, got 0",
        ),
        (
            |c| c.server.max_message_bytes = 100,
            "server.max_message_bytes: must be between 1024 and 16777216, got 100",
        ),
        (
            |c| c.server.ws_ping_interval = Duration::ZERO,
            "server.ws_ping_interval: must be at least 1ms, got 0s",
        ),
        (
            |c| c.server.ws_send_queue = 0,
            "server.ws_send_queue: must be between 1 and 65536, got 0",
        ),
        (
            |c| c.server.ws_send_queue_bytes = 1000,
            "server.ws_send_queue_bytes: must be between 65536 and 1073741824, got 1000",
        ),
        (
            |c| c.server.rate_limit_per_sec = 0,
            "server.rate_limit_per_sec: must be between 1 and 10000, got 0",
        ),
        (
            |c| c.server.rate_limit_burst = 0,
            "server.rate_limit_burst: must be between 1 and 100000, got 0",
        ),
        (
            |c| c.server.progress_hz = 51,
            "server.progress_hz: must be between 1 and 50, got 51",
        ),
        (
            |c| c.server.progress_hz = 0,
            "server.progress_hz: must be between 1 and 50, got 0",
        ),
        (
            |c| c.server.event_buffer = 0,
            "server.event_buffer: must be between 1 and 1000000, got 0",
        ),
        (
            |c| c.server.event_buffer_bytes = 2 * 1024 * 1024 * 1024,
            "server.event_buffer_bytes: must be between 65536 and 1073741824, got 2147483648",
        ),
        (
            |c| c.server.allowed_hosts = vec!["http://onair.lan".into()],
            "server.allowed_hosts: \"http://onair.lan\" is not a host name (no scheme, path or user); write it as it appears in the browser's address bar without the scheme, e.g. onair.studio.lan or onair.studio.lan:8250",
        ),
        (
            |c| c.server.allowed_hosts = vec!["Onair.lan".into()],
            "server.allowed_hosts: \"Onair.lan\" is not a host name (it must be lower-case); write it as it appears in the browser's address bar without the scheme, e.g. onair.studio.lan or onair.studio.lan:8250",
        ),
        (
            |c| c.server.max_connections = 2,
            "server.max_connections: must be between 8 and 1000000, got 2",
        ),
        (
            |c| c.server.metrics_token = Some(String::new()),
            "server.metrics_token: the token is empty",
        ),
        (
            |c| c.store.data_dir = PathBuf::new(),
            "store.data_dir: must not be empty (use \".\" for the current directory)",
        ),
        (
            |c| c.store.max_playlists = 0,
            "store.max_playlists: must be between 1 and 100000, got 0",
        ),
        (
            |c| c.store.max_items_per_playlist = 2_000_000,
            "store.max_items_per_playlist: must be between 1 and 1000000, got 2000000",
        ),
        (
            |c| c.playout.default_channel_layer = "3".parse().expect("channel"),
            "playout.default_channel_layer: \"3\" names no layer: expected CHANNEL-LAYER, e.g. 1-10",
        ),
        (
            |c| c.playout.default_channel_layer.channel = 0,
            "playout.default_channel_layer: channel must be between 1 and 9999, got 0",
        ),
        (
            |c| c.playout.timezone = Some("Europe/Berlinn".into()),
            "playout.timezone: \"Europe/Berlinn\" is not a time zone of the IANA database; write a name such as Europe/Berlin, America/New_York or UTC (or leave it unset for the system's zone)",
        ),
        (
            |c| c.playout.preroll = Duration::from_millis(40),
            "playout.preroll: must be between 42ms (a frame at 23.976 fps) and 1m, got 40ms",
        ),
        (
            |c| c.playout.next_day_warning = Duration::from_secs(86_401),
            "playout.next_day_warning: must be at most 24h (a day), got 86401s; 0s turns the warning off",
        ),
        (
            |c| c.playout.preroll = Duration::from_secs(61),
            "playout.preroll: must be between 42ms (a frame at 23.976 fps) and 1m, got 61s",
        ),
        (
            |c| c.playout.max_drift_frames = 251,
            "playout.max_drift_frames: must be at most 250 (10 s at 25 fps), got 251; a backup further off than that is playing something else",
        ),
        (
            |c| c.log.level = "inof".into(),
            "log.level: \"inof\" is not a level (trace, debug, info, warn, error, off) or a TARGET=LEVEL directive such as onair=debug",
        ),
        (
            |c| c.log.level = " ".into(),
            "log.level: must not be empty (use \"off\" to turn logging off)",
        ),
    ];
    for (edit, want) in cases {
        let mut config = Config::default();
        edit(&mut config);
        let err = config.validate().expect_err(want);
        assert!(matches!(err, ConfigError::Invalid { .. }));
        assert_eq!(err.to_string(), *want);
    }
}

#[test]
fn loopback_detection() {
    let mut c = Config::default();
    for (addr, loopback) in [
        ("127.0.0.1:1", true),
        ("[::1]:1", true),
        ("[::ffff:127.0.0.1]:1", true),
        ("0.0.0.0:1", false),
        ("[::]:1", false),
        ("10.1.2.3:1", false),
    ] {
        c.server.listen = addr.parse().expect("address");
        assert_eq!(c.listen_is_loopback(), loopback, "{addr}");
    }
}
