//! Layering: defaults < file < `ONAIR_*` environment < flags, and what each layer can set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::config::keys::KEYS;

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
