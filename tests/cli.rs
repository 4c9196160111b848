//! The real `onair` binary from the outside: version, help, `serve --print-config` layering and
//! configuration errors, the exit status of the console subcommands without a terminal, and what
//! errors and logs look like on a pipe (no colour codes, each cause once).

use std::io::Write;
use std::process::{Command, Output};

use onair::config::Config;

/// The binary with no `ONAIR_*` variables inherited from the environment running the tests.
fn onair() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onair"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ONAIR_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the onair binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file
}

fn assert_no_panic(out: &Output) {
    assert!(!stderr(out).contains("panicked"), "panic: {}", stderr(out));
}

#[test]
fn version_prints_the_crate_version() {
    let out = run(onair().arg("--version"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out).trim(),
        format!("onair {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_every_subcommand() {
    let out = run(onair().arg("--help"));
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for sub in ["serve", "tui", "demo", "sim", "health"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{help}"
        );
    }
}

#[test]
fn print_config_applies_file_then_env_then_flags() {
    let file = toml_file(
        "[caspar]\naddress = \"file-host:1111\"\nping_interval = \"3s\"\n\
         [server]\nlisten = \"127.0.0.1:1001\"\n\
         [store]\ndata_dir = \"/from/file\"\n",
    );
    let out = run(onair()
        .args([
            "serve",
            "--print-config",
            "--data",
            "/from/flag",
            "--config",
        ])
        .arg(file.path())
        .env("ONAIR_SERVER_LISTEN", "127.0.0.1:1002")
        .env("ONAIR_STORE_DATA_DIR", "/from/env")
        .env("ONAIR_TOKEN", "belongs-to-the-tui"));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let config: Config =
        toml::from_str(&stdout(&out)).expect("--print-config prints a valid configuration");
    assert_eq!(config.caspar.address, "file-host:1111", "file over default");
    assert_eq!(
        config.caspar.ping_interval.as_secs(),
        3,
        "file over default"
    );
    assert_eq!(
        config.server.listen.to_string(),
        "127.0.0.1:1002",
        "env over file"
    );
    assert_eq!(
        config.store.data_dir.to_str(),
        Some("/from/flag"),
        "flag over env"
    );
    assert_eq!(
        config.caspar.command_timeout.as_secs(),
        5,
        "default where nothing is set"
    );
}

#[test]
fn config_file_can_come_from_onair_config() {
    let file = toml_file("[caspar]\naddress = \"via-env-file:5250\"\n");
    let out = run(onair()
        .args(["serve", "--print-config"])
        .env("ONAIR_CONFIG", file.path()));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(
        stdout(&out).contains("address = \"via-env-file:5250\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn print_config_without_anything_is_the_defaults() {
    // An empty ONAIR_CONFIG means no file.
    let out = run(onair()
        .args(["serve", "--print-config"])
        .env("ONAIR_CONFIG", ""));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let config: Config = toml::from_str(&stdout(&out)).expect("valid TOML");
    assert_eq!(config, Config::default());
}

#[test]
fn bad_config_file_exits_2_naming_the_key() {
    let file = toml_file("[caspar]\nadress = \"x:1\"\n");
    let out = run(onair()
        .args(["serve", "--print-config", "--config"])
        .arg(file.path()));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("onair serve: "), "{err}");
    assert!(
        err.contains("caspar.adress") && err.contains(&file.path().display().to_string()),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
    assert_no_panic(&out);

    let file = toml_file("[caspar]\nmax_in_flight_per_queue = 500\n");
    let out = run(onair().args(["serve", "--config"]).arg(file.path()));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("caspar.max_in_flight_per_queue: must be between 1 and 128, got 500"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_env_variable_and_bad_flag_exit_2() {
    let out = run(onair()
        .args(["serve", "--print-config"])
        .env("ONAIR_CASPAR_ADRESS", "x:1"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ONAIR_CASPAR_ADRESS"),
        "{}",
        stderr(&out)
    );

    let out = run(onair().args(["serve", "--print-config", "--listen", "foo"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("server.listen: \"foo\" is not a socket address"),
        "{}",
        stderr(&out)
    );

    let missing = tempfile::tempdir()
        .expect("temp dir")
        .path()
        .join("missing.toml");
    let out = run(onair().args(["serve", "--config"]).arg(&missing));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read configuration file"),
        "{}",
        stderr(&out)
    );
    assert_no_panic(&out);
}

#[test]
fn console_subcommands_need_a_terminal_and_exit_2_without_panicking() {
    // The test harness captures stdout, so neither command has a terminal: both must say so and
    // exit 2 before starting anything (no simulator, no daemon, no connection attempts).
    for args in [&["tui", "--url", "ws://127.0.0.1:1/ws"][..], &["demo"]] {
        let out = run(onair().args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("stdout is not a terminal"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_no_panic(&out);
    }
    // A URL that is not ws:// is a usage error too.
    let out = run(onair().args(["tui", "--url", "http://127.0.0.1:8250"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a WebSocket URL"),
        "{}",
        stderr(&out)
    );
    assert_no_panic(&out);
    // `health` is built: with nothing listening on the port it reports CRITICAL (2) on stdout.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let url = format!("http://{closed}");
    let out = run(onair().args(["health", "--url", &url, "--timeout", "2s"]));
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("ONAIR CRITICAL - "),
        "{}",
        stdout(&out)
    );
    assert_no_panic(&out);
}

#[test]
fn logs_to_a_pipe_have_no_colour_codes_and_an_os_error_is_said_once() {
    // A data directory under a regular file cannot be created: the daemon logs a little, then
    // fails with ENOTDIR, which used to be printed twice (`…: Not a directory (os error 20):
    // Not a directory (os error 20)`).
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let data = file.path().join("data");
    let serve = |format: &str| {
        run(onair()
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", format])
            .arg("--data")
            .arg(&data)
            .env_remove("NO_COLOR")
            .env("RUST_LOG", "info"))
    };
    let out = serve("human");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(" INFO "), "no log line to check: {err}");
    assert!(
        !out.stderr.contains(&0x1b),
        "colour codes on a pipe: {err:?}"
    );
    // The CasparCG link may still log while the daemon gives up, so find the error by its prefix.
    let error = err
        .lines()
        .find(|l| l.starts_with("onair serve: "))
        .unwrap_or_default();
    assert!(
        error.starts_with("onair serve: cannot open the data directory"),
        "{err}"
    );
    assert_eq!(error.matches("os error").count(), 1, "{error}");
    assert_no_panic(&out);

    let out = serve("json");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let logs: Vec<&str> = std::str::from_utf8(&out.stderr)
        .expect("UTF-8")
        .lines()
        .filter(|l| !l.starts_with("onair serve: "))
        .collect();
    assert!(!logs.is_empty());
    for line in logs {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("--log-format json wrote {line:?}: {e}"));
        assert!(value.get("level").is_some(), "{line}");
    }
}

#[test]
fn caspar_with_a_scheme_is_told_to_drop_the_scheme() {
    let out = run(onair().args(["serve", "--print-config", "--caspar", "tcp://host:5250"]));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("without a scheme") && err.contains("\"host:5250\""),
        "{err}"
    );
    assert!(!err.contains("IPv6"), "{err}");
}

#[test]
fn sim_names_an_address_in_use_and_shows_its_defaults() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address").to_string();
    let out = run(onair().args(["sim", "--osc-port", "0", "--listen", &addr]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("onair sim: cannot listen on {addr}: ")),
        "{err}"
    );
    assert_no_panic(&out);

    let out = run(onair().args(["sim", "--help"]));
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for default in [
        "[default: 127.0.0.1:5250]",
        "[default: 20]",
        "[default: 6250]",
        "[default: 2.4]",
        "[default: 0s]",
    ] {
        assert!(help.contains(default), "{default} missing from:\n{help}");
    }
    for flag in ["--stall", "--reply-delay", "--command-delay", "--control"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
