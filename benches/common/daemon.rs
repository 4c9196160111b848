//! Shared by the benchmarks: the real `onair serve` as a child process, and its CPU and memory.

use std::path::Path;

// The tests' way to start the daemon (`tests/common/daemon.rs`); each bench uses part of it.
#[allow(dead_code)]
#[path = "../../tests/common/daemon.rs"]
mod serve;

pub use serve::{Daemon, Serve};
// `GET path` as (status, JSON): for the benches that read `/health`.
#[allow(unused_imports)]
pub use serve::get;

/// Starts `onair serve` on a free loopback port against `caspar`, with `env` added to a clean
/// `ONAIR_*` environment, and waits for the address it prints. Warnings only: nothing reads its log.
pub fn start_daemon(caspar: &str, data: &Path, env: &[(&str, String)]) -> Daemon {
    quiet(Serve::new(caspar, data), env).start()
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
    let mut argv = vec![wrapper.to_owned()];
    argv.extend_from_slice(wrapper_args);
    quiet(Serve::new(caspar, data).wrapper(&argv), env).start()
}

fn quiet(serve: Serve, env: &[(&str, String)]) -> Serve {
    serve.envs(&[("ONAIR_LOG_LEVEL", "warn")]).envs(env)
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
