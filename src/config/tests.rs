//! Tests of loading, layering, validation messages and printing, with an injected environment.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::keys::KEYS;
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
        },
        log: LogConfig {
            format: LogFormat::Json,
            level: "onair=debug,warn".to_owned(),
        },
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = load(None, env(&[]), &Overrides::default()).expect("defaults load");
    assert_eq!(c, Config::default());
    assert_eq!(c.caspar.address, "127.0.0.1:5250");
    assert_eq!(c.caspar.scanner_timeout, Duration::from_secs(30));
    assert_eq!(c.caspar.backoff_initial, Duration::from_millis(100));
    assert_eq!(c.caspar.osc_listen, None);
    assert_eq!(c.caspar.max_frame_bytes, 4 * 1024 * 1024);
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8250");
    assert_eq!(
        (c.server.ws_send_queue_bytes, c.server.event_buffer_bytes),
        (4 * 1024 * 1024, 8 * 1024 * 1024)
    );
    assert!(c.server.operator_tokens.is_empty() && c.server.metrics_token.is_none());
    assert_eq!(c.store.data_dir, Path::new("./data"));
    assert_eq!(c.playout.default_channel_layer.to_string(), "1-10");
    assert_eq!(c.playout.recovery, Recovery::Resume);
    assert_eq!(c.playout.timezone, None, "the system's zone");
    assert_eq!(c.playout.day_start, jiff::civil::Time::constant(6, 0, 0, 0));
    assert_eq!(c.playout.preroll, Duration::from_secs(2));
    assert_eq!(
        (c.log.format, c.log.level.as_str()),
        (LogFormat::Human, "info")
    );
    assert!(c.listen_is_loopback());
    assert_eq!(Config::default().validate().ok(), Some(()));
}

#[test]
fn layers_override_only_what_they_set() {
    let file = toml_file(
        "[caspar]\naddress = \"file-host:1111\"\nping_interval = \"3s\"\n\
         [server]\nlisten = \"127.0.0.1:1001\"\nmax_clients = 10\n\
         [store]\ndata_dir = \"/from/file\"\n",
    );
    let vars = env(&[
        ("ONAIR_SERVER_LISTEN", "127.0.0.1:1002"),
        ("ONAIR_STORE_DATA_DIR", "/from/env"),
        ("ONAIR_CASPAR_PING_TIMEOUT", "2s"),
        ("PATH", "/usr/bin"),
    ]);
    let flags = Overrides {
        data: Some(PathBuf::from("/from/flag")),
        ..Overrides::default()
    };
    let c = load(Some(file.path()), vars.clone(), &flags).expect("loads");
    assert_eq!(c.caspar.address, "file-host:1111", "file beats default");
    assert_eq!(
        c.caspar.ping_interval,
        Duration::from_secs(3),
        "file beats default"
    );
    assert_eq!(c.server.max_clients, 10, "file beats default");
    assert_eq!(
        c.server.listen.to_string(),
        "127.0.0.1:1002",
        "env beats file"
    );
    assert_eq!(
        c.caspar.ping_timeout,
        Duration::from_secs(2),
        "env beats default"
    );
    assert_eq!(
        c.store.data_dir,
        Path::new("/from/flag"),
        "flag beats env and file"
    );
    assert_eq!(
        c.caspar.command_timeout,
        Duration::from_secs(5),
        "untouched keys keep their default"
    );

    let flags = Overrides {
        caspar: Some("flag-host:2222".to_owned()),
        listen: Some("127.0.0.1:1003".to_owned()),
        data: None,
    };
    let c = load(Some(file.path()), vars, &flags).expect("loads");
    assert_eq!(c.caspar.address, "flag-host:2222");
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:1003");
    assert_eq!(c.store.data_dir, Path::new("/from/env"));
}

#[test]
fn every_key_can_be_set_from_the_environment() {
    let want = everything_changed();
    let table: toml::Table = toml::from_str(&want.to_toml()).expect("printed TOML parses");
    let mut vars = Vec::new();
    for key in KEYS {
        let value = &table[key.section][key.name];
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Array(items) => items
                .iter()
                .filter_map(toml::Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        vars.push((key.env_var(), text));
    }
    assert_eq!(
        load(None, vars, &Overrides::default()).expect("loads"),
        want
    );
}

#[test]
fn key_table_matches_the_structs() {
    let table: toml::Table = toml::from_str(&everything_changed().to_toml()).expect("parses");
    let printed: BTreeSet<String> = table
        .iter()
        .flat_map(|(section, v)| {
            v.as_table()
                .into_iter()
                .flat_map(|t| t.keys())
                .map(move |k| format!("{section}.{k}"))
        })
        .collect();
    let listed: BTreeSet<String> = KEYS.iter().map(|k| k.dotted()).collect();
    assert_eq!(printed, listed);
}

#[test]
fn printed_toml_round_trips() {
    for config in [Config::default(), everything_changed()] {
        let text = config.to_toml();
        let file = toml_file(&text);
        assert_eq!(
            load(Some(file.path()), env(&[]), &Overrides::default()).expect("reloads"),
            config,
            "{text}"
        );
    }
    assert!(
        everything_changed()
            .to_toml()
            .starts_with("# onair configuration. Contains access tokens")
    );
    assert!(
        Config::default()
            .to_toml()
            .contains("ping_interval = \"1s\"")
    );
}

#[test]
fn env_lists_are_comma_separated() {
    let c = load(
        None,
        env(&[
            ("ONAIR_SERVER_OPERATOR_TOKENS", "a, b,,c"),
            (
                "ONAIR_SERVER_ALLOWED_ORIGINS",
                "https://x.example,http://127.0.0.1:8080",
            ),
        ]),
        &Overrides::default(),
    )
    .expect("loads");
    assert_eq!(c.server.operator_tokens, ["a", "b", "c"]);
    assert_eq!(
        c.server.allowed_origins,
        ["https://x.example", "http://127.0.0.1:8080"]
    );

    let file = toml_file("[server]\noperator_tokens = [\"f\"]\nmetrics_token = \"m\"\n");
    let vars = env(&[
        ("ONAIR_SERVER_OPERATOR_TOKENS", ""),
        ("ONAIR_SERVER_METRICS_TOKEN", " "),
    ]);
    let c = load(Some(file.path()), vars, &Overrides::default()).expect("loads");
    assert!(
        c.server.operator_tokens.is_empty(),
        "an empty list variable clears the file's list"
    );
    assert_eq!(
        c.server.metrics_token, None,
        "an empty optional variable unsets it"
    );
}

#[test]
fn unknown_keys_in_the_file_are_named() {
    assert_eq!(
        file_error("[caspar]\nadress = \"x:1\"\n"),
        "FILE: line 2: unknown key \"caspar.adress\" (did you mean \"caspar.address\"?)"
    );
    assert_eq!(
        file_error("[caspar]\nlisten = \"127.0.0.1:1\"\n"),
        "FILE: line 2: unknown key \"caspar.listen\" (it belongs in [server]: \"server.listen\")"
    );
    assert_eq!(
        file_error("\n[casper]\n"),
        "FILE: line 2: unknown section [casper] (did you mean [caspar]?)"
    );
    assert_eq!(
        file_error("address = \"x:1\"\n"),
        "FILE: line 1: unknown key \"address\" (did you mean \"caspar.address\"? keys go under their [section])"
    );
    assert_eq!(
        file_error("caspar = 1\n"),
        "FILE: line 1: \"caspar\" must be a table: put its keys under a [caspar] line"
    );
    assert_eq!(
        file_error("[caspar]\nzzz = 1\n"),
        "FILE: line 2: unknown key \"caspar.zzz\""
    );
}

#[test]
fn bad_values_in_the_file_name_key_and_line() {
    assert_eq!(
        file_error("[caspar]\naddress = \"h:1\"\nping_interval = \"1x\"\n"),
        "FILE: line 3: caspar.ping_interval: invalid duration \"1x\" (expected e.g. 500ms, 1s, 2m)"
    );
    assert_eq!(
        file_error("[caspar]\nping_interval = 5\n"),
        "FILE: line 2: caspar.ping_interval: invalid type: integer `5`, expected a duration text such as \"500ms\", \"1s\" or \"2m\""
    );
    assert_eq!(
        file_error("[server]\nlisten = \"foo\"\n"),
        "FILE: line 2: server.listen: \"foo\" is not a socket address: expected IP:PORT such as 127.0.0.1:8250 or [::1]:8250"
    );
    assert_eq!(
        file_error("[playout]\nday_start = \"6:00\"\n"),
        "FILE: line 2: playout.day_start: \"6:00\" is not a time of day: expected HH:MM or HH:MM:SS, e.g. 06:00"
    );
    assert_eq!(
        file_error("[playout]\nrecovery = \"panic\"\n"),
        "FILE: line 2: playout.recovery: unknown variant `panic`, expected `resume` or `hold`"
    );
    assert!(
        file_error("[playout]\ndefault_channel_layer = \"0-10\"\n").starts_with(
            "FILE: line 2: playout.default_channel_layer: invalid channel-layer \"0-10\""
        )
    );
    assert!(
        file_error("[server]\nmax_clients = -1\n")
            .starts_with("FILE: line 2: server.max_clients: invalid value: integer `-1`")
    );
    assert!(file_error("[caspar\n").starts_with("FILE: TOML parse error at line 1"));
    assert_eq!(
        file_error("[store]\nmax_playlists = 0\n")
            .split(" (set in ")
            .next(),
        Some("store.max_playlists: must be between 1 and 100000, got 0")
    );
    assert!(file_error("[store]\nmax_playlists = 0\n").ends_with("(set in FILE)"));
}

#[test]
fn missing_or_unreadable_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope.toml");
    let err = load(Some(&missing), env(&[]), &Overrides::default()).expect_err("missing file");
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string().starts_with(&format!(
            "cannot read configuration file {}: ",
            missing.display()
        )),
        "{err}"
    );

    let (result, _) = load_toml("");
    assert_eq!(
        result.expect("an empty file is the defaults"),
        Config::default()
    );
    let binary = toml_file("");
    std::fs::write(binary.path(), [0xff, 0xfe, 0x00]).expect("write");
    let err = load(Some(binary.path()), env(&[]), &Overrides::default()).expect_err("binary file");
    assert!(
        err.to_string()
            .ends_with("the file is not valid UTF-8 text"),
        "{err}"
    );
}

#[test]
fn environment_errors_name_the_variable() {
    assert_eq!(
        env_error(&[("ONAIR_CASPAR_ADRESS", "x:1")]),
        "environment variable ONAIR_CASPAR_ADRESS: not a configuration setting (did you mean ONAIR_CASPAR_ADDRESS?)"
    );
    assert!(
        env_error(&[("ONAIR_WHATEVER", "1")])
            .starts_with("environment variable ONAIR_WHATEVER: not a configuration setting; ")
    );
    assert_eq!(
        env_error(&[("ONAIR_CASPAR_PING_INTERVAL", "1x")]),
        "environment variable ONAIR_CASPAR_PING_INTERVAL: caspar.ping_interval: invalid duration \"1x\" (expected e.g. 500ms, 1s, 2m)"
    );
    assert_eq!(
        env_error(&[("ONAIR_SERVER_MAX_CLIENTS", "many")]),
        "environment variable ONAIR_SERVER_MAX_CLIENTS: server.max_clients: \"many\" is not a whole number"
    );
    assert_eq!(
        env_error(&[("ONAIR_CASPAR_ADDRESS", "")]),
        "environment variable ONAIR_CASPAR_ADDRESS: caspar.address: is empty"
    );
    assert_eq!(
        env_error(&[("ONAIR_CASPAR_MAX_IN_FLIGHT_PER_QUEUE", "500")]),
        "caspar.max_in_flight_per_queue: must be between 1 and 128, got 500 (set by ONAIR_CASPAR_MAX_IN_FLIGHT_PER_QUEUE)"
    );
    // Variables used elsewhere in the program, and other programs' variables, are not errors.
    let vars = env(&[
        ("ONAIR_TOKEN", "t"),
        ("ONAIR_CONFIG", "/x.toml"),
        ("HOME", "/root"),
        ("onair_lower", "x"),
    ]);
    assert_eq!(
        load(None, vars, &Overrides::default()).expect("loads"),
        Config::default()
    );
}

#[test]
fn flag_errors_name_the_flag() {
    let flags = Overrides {
        listen: Some("foo".to_owned()),
        ..Overrides::default()
    };
    let err = load(None, env(&[]), &flags).expect_err("bad --listen");
    assert_eq!(
        err.to_string(),
        "server.listen: \"foo\" is not a socket address: expected IP:PORT such as 127.0.0.1:8250 or [::1]:8250 (set by --listen)"
    );
    let flags = Overrides {
        caspar: Some("nohost".to_owned()),
        ..Overrides::default()
    };
    let err = load(None, env(&[]), &flags).expect_err("bad --caspar");
    assert_eq!(
        err.to_string(),
        "caspar.address: \"nohost\" is not HOST:PORT (no port); e.g. 127.0.0.1:5250, casparcg:5250 or [::1]:5250 (set by --caspar)"
    );
}

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
            |c| c.playout.preroll = Duration::from_secs(61),
            "playout.preroll: must be between 42ms (a frame at 23.976 fps) and 1m, got 61s",
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
fn debug_output_hides_tokens() {
    let text = format!("{:?}", everything_changed());
    for secret in ["op-1", "view-1", "scrape"] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
    assert!(text.contains("<2 redacted>"));
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

#[cfg(unix)]
#[test]
fn non_utf8_environment_is_an_error_not_a_panic() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let bad = OsString::from_vec(vec![b'x', 0xff]);
    let vars = vec![
        (OsString::from("OTHER"), bad.clone()),
        (OsString::from("ONAIR_CONFIG"), bad.clone()),
    ];
    assert_eq!(utf8_env(vars).expect("ignored"), vec![]);
    let err =
        utf8_env(vec![(OsString::from("ONAIR_STORE_DATA_DIR"), bad)]).expect_err("non-UTF-8 value");
    assert_eq!(
        err.to_string(),
        "environment variable ONAIR_STORE_DATA_DIR: the value is not valid UTF-8"
    );
}

#[test]
fn documentation_covers_every_key_and_its_example_loads() {
    let doc = include_str!("../../docs/configuration.md");
    for key in KEYS {
        assert!(
            doc.contains(&format!("`{}`", key.name)),
            "docs/configuration.md lacks {}",
            key.dotted()
        );
        assert!(
            doc.contains(&key.env_var()),
            "docs/configuration.md lacks {}",
            key.env_var()
        );
    }
    let example = doc
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an example onair.toml");
    let file = toml_file(example);
    load(Some(file.path()), env(&[]), &Overrides::default()).expect("the documented example loads");
}

#[test]
fn media_dir_is_optional_and_not_empty() {
    let c = load(None, env(&[]), &Overrides::default()).expect("defaults load");
    assert_eq!(c.caspar.media_dir, None);
    let c = load(
        None,
        env(&[("ONAIR_CASPAR_MEDIA_DIR", "/srv/caspar/media")]),
        &Overrides::default(),
    )
    .expect("a media folder loads");
    assert_eq!(c.caspar.media_dir, Some(PathBuf::from("/srv/caspar/media")));
    let file = toml_file("[caspar]\nmedia_dir = \"\"\n");
    let err = load(Some(file.path()), env(&[]), &Overrides::default())
        .expect_err("an empty media folder is refused")
        .to_string();
    assert!(err.contains("caspar.media_dir"), "{err}");
}
