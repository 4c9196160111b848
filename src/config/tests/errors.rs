//! Load errors: a bad file, variable or flag is refused with the key named, and the line or the
//! variable or flag it came from.

use super::*;

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
