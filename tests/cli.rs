//! The real `onair` binary from the outside: version, help, `serve --print-config` layering and
//! configuration errors, and the exit status of the console subcommands without a terminal.

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
