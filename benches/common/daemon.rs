//! Shared by the benchmarks: the real `onair serve` as a child process, and its CPU and memory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The real daemon as a child process, so its CPU and memory can be measured on their own.
pub struct Daemon {
    pub child: Child,
    pub addr: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `onair serve` on a free loopback port against `caspar`, with `env` added to a clean
/// `ONAIR_*` environment, and waits for the address it prints.
pub fn start_daemon(caspar: &str, data: &Path, env: &[(&str, String)]) -> Daemon {
    start_with(Command::new(env!("CARGO_BIN_EXE_onair")), caspar, data, env)
}

/// [`start_daemon`] run through a wrapper program, e.g. `prlimit --nofile=256:256 --`.
#[allow(dead_code)] // each bench compiles this module and uses part of it
pub fn start_daemon_with(
    wrapper: &str,
    wrapper_args: &[String],
    caspar: &str,
    data: &Path,
    env: &[(&str, String)],
) -> Daemon {
    let mut cmd = Command::new(wrapper);
    cmd.args(wrapper_args).arg(env!("CARGO_BIN_EXE_onair"));
    start_with(cmd, caspar, data, env)
}

fn start_with(mut cmd: Command, caspar: &str, data: &Path, env: &[(&str, String)]) -> Daemon {
    // The daemon rejects ONAIR_* variables it does not know, such as the benchmarks' own.
    for (k, _) in std::env::vars() {
        if k.starts_with("ONAIR_") {
            cmd.env_remove(k);
        }
    }
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--caspar",
        caspar,
        "--data",
    ])
    .arg(data)
    .env("ONAIR_LOG_LEVEL", "warn")
    .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("onair serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("onair serve prints its address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    // Keep draining stderr so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Daemon { child, addr }
}

/// (user + system CPU seconds, RSS bytes) of a process, from /proc.
#[allow(dead_code)] // each bench compiles this module and uses part of it
pub fn proc_usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the stat line, i.e. 11 and 12 after the command name.
    let cpu = (ticks(11) + ticks(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    (cpu, rss_kb * 1024)
}
