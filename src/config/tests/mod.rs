//! Tests of loading, layering, validation messages, printing and `[[servers]]`, with an injected
//! environment; one file per topic, sharing the helpers below (temporary files, an injected
//! environment, the error text with the temporary path as `FILE`, a configuration that changes
//! every key).

mod cluster;
mod errors;
mod layers;
mod printing;
mod servers;
mod validation;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file
}

fn load_toml(text: &str) -> (Result<Config, ConfigError>, PathBuf) {
    let file = toml_file(text);
    (
        load(Some(file.path()), env(&[]), &Overrides::default()),
        file.path().to_owned(),
    )
}

/// The error message of loading `text` as a file, with the temporary path replaced by `FILE`.
fn file_error(text: &str) -> String {
    let (result, path) = load_toml(text);
    let err = result.expect_err("the file should be rejected");
    err.to_string().replace(&path.display().to_string(), "FILE")
}

fn env_error(pairs: &[(&str, &str)]) -> String {
    load(None, env(pairs), &Overrides::default())
        .expect_err("the environment should be rejected")
        .to_string()
}

/// A configuration where every key differs from its default.
fn everything_changed() -> Config {
    Config {
        caspar: CasparConfig {
            address: "[::1]:6000".to_owned(),
            connect_timeout: Duration::from_millis(1500),
            command_timeout: Duration::from_secs(6),
            scanner_timeout: Duration::from_secs(120),
            ping_interval: Duration::from_millis(750),
            ping_timeout: Duration::from_millis(600),
            max_in_flight_per_queue: 32,
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            backoff_reset_after: Duration::from_secs(30),
            tcp_keepalive: Duration::from_secs(20),
            osc_listen: Some("0.0.0.0:6250".parse().expect("address")),
            osc_stale_after: Duration::from_secs(3),
            info_poll_interval: Duration::from_millis(250),
            max_frame_bytes: 8 * 1024 * 1024,
            media_dir: Some(PathBuf::from("/srv/caspar/media")),
        },
        server: ServerConfig {
            listen: "[::]:9000".parse().expect("address"),
            operator_tokens: vec!["op-1".to_owned(), "op-2".to_owned()],
            viewer_tokens: vec!["view-1".to_owned()],
            allowed_origins: vec!["https://panel.example.com".to_owned()],
            allowed_hosts: vec!["onair.studio.lan".to_owned(), "panel.lan:443".to_owned()],
            max_connections: 2048,
            header_read_timeout: Duration::from_secs(5),
            max_clients: 200,
            max_clients_per_ip: 20,
            max_message_bytes: 131_072,
            ws_ping_interval: Duration::from_secs(15),
            ws_send_queue: 512,
            ws_send_queue_bytes: 2 * 1024 * 1024,
            rate_limit_per_sec: 5,
            rate_limit_burst: 10,
            progress_hz: 25,
            event_buffer: 4096,
            event_buffer_bytes: 16 * 1024 * 1024,
            metrics_token: Some("scrape".to_owned()),
        },
        store: StoreConfig {
            data_dir: PathBuf::from("/var/lib/onair"),
            max_playlists: 10,
            max_items_per_playlist: 500,
            watch_external_edits: false,
        },
        playout: PlayoutConfig {
            default_channel_layer: "2-20".parse().expect("channel-layer"),
            recovery: Recovery::Hold,
            autoplay: false,
            timezone: Some("America/New_York".to_owned()),
            day_start: jiff::civil::Time::constant(5, 30, 15, 0),
            preroll: Duration::from_millis(2_500),
            next_day_warning: Duration::from_secs(7_200),
            max_drift_frames: 5,
        },
        log: LogConfig {
            format: LogFormat::Json,
            level: "onair=debug,warn".to_owned(),
        },
        // The [caspar] form: `servers` would replace it (tests/servers.rs covers that form).
        servers: Vec::new(),
        cluster: Some(ClusterConfig {
            nats: vec![
                "nats://10.0.0.7:4222".to_owned(),
                "nats-2.studio.lan:4223".to_owned(),
            ],
            station: "studio-a".to_owned(),
            node: Some("playout-1".to_owned()),
            lease_ttl: Duration::from_secs(3),
            renew_every: Some(Duration::from_millis(600)),
            replicas: 3,
            compact_every: 5_000,
        }),
    }
}
