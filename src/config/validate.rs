//! Validation of a whole configuration: ranges, consistency between keys, and the forms of addresses,
//! origins, tokens and log filters. Messages name the key and the problem, and never contain a token.
//! The link settings of every `[[servers]]` entry get the `[caspar]` checks, under `servers[N].`.

use std::fmt::Display;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::duration::format as fmt_duration;
use super::{
    CasparConfig, Config, ConfigError, LogConfig, PlayoutConfig, ServerConfig, ServerEntry,
    StoreConfig,
};
use crate::amcp::MAX_CHANNEL;

/// No duration may exceed this: larger values are surely typos, and `Instant + d` must not overflow.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
const MILLI: Duration = Duration::from_millis(1);
const MIB: usize = 1024 * 1024;
const MAX_TOKEN_CHARS: usize = 4096;
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
/// Beyond 10 s at 25 fps a backup is not drifting but playing something else, which other alarms
/// report; a larger tolerance would only hide that.
const MAX_DRIFT_FRAMES: u32 = 250;
/// What to do when both forms are set, shared by the file, environment and validation messages.
pub(super) const BOTH_FORMS: &str = "[caspar] and [[servers]] are both set: [caspar] is the older \
     single-server form; move its keys into the main server's [[servers]] entry and remove [caspar]";

impl Config {
    /// Checks every value's range and form and the consistency between keys; the error names the
    /// first offending key (in the order of `docs/configuration.md`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.first_problem() {
            None => Ok(()),
            Some((key, message)) => Err(ConfigError::Invalid { key, message }),
        }
    }

    /// The first problem as (dotted key, message).
    pub(super) fn first_problem(&self) -> Option<(String, String)> {
        let mut checks = Checks::default();
        if self.servers.is_empty() {
            check_caspar(&self.caspar, "caspar.", &mut checks);
        } else {
            // A loaded file with both is refused earlier; this catches a configuration built in
            // code, where only a changed value shows that [caspar] was meant to be used.
            if self.caspar != CasparConfig::default() {
                checks.fail("caspar", BOTH_FORMS.to_owned());
            }
            check_servers(&self.servers, &mut checks);
        }
        check_server(&self.server, &mut checks);
        check_store(&self.store, &mut checks);
        check_playout(&self.playout, &mut checks);
        check_log(&self.log, &mut checks);
        if let Some(cluster) = &self.cluster {
            for (key, message) in super::cluster::problems(cluster) {
                checks.fail(key, message);
            }
        }
        checks.problems.into_iter().next()
    }
}

#[derive(Default)]
struct Checks {
    problems: Vec<(String, String)>,
}

impl Checks {
    fn fail(&mut self, key: impl Into<String>, message: String) {
        self.problems.push((key.into(), message));
    }

    fn result(&mut self, key: impl Into<String>, result: Result<(), String>) {
        if let Err(message) = result {
            self.fail(key, message);
        }
    }

    fn range<T: PartialOrd + Display>(&mut self, key: impl Into<String>, value: T, min: T, max: T) {
        if value < min || value > max {
            self.fail(key, format!("must be between {min} and {max}, got {value}"));
        }
    }

    fn duration(&mut self, key: impl Into<String>, value: Duration, min: Duration) {
        if value < min {
            self.fail(
                key,
                format!(
                    "must be at least {}, got {}",
                    fmt_duration(min),
                    fmt_duration(value)
                ),
            );
        } else if value > MAX_DURATION {
            self.fail(
                key,
                format!(
                    "must be at most {}, got {}",
                    fmt_duration(MAX_DURATION),
                    fmt_duration(value)
                ),
            );
        }
    }
}

/// The link checks; `prefix` is `caspar.` for the `[caspar]` section and `servers[N].` for an
/// entry of `[[servers]]`, so every message names the key as the operator wrote it.
fn check_caspar(c: &CasparConfig, prefix: &str, checks: &mut Checks) {
    let k = |name: &str| format!("{prefix}{name}");
    checks.result(k("address"), check_host_port(&c.address));
    checks.duration(k("connect_timeout"), c.connect_timeout, MILLI);
    checks.duration(k("command_timeout"), c.command_timeout, MILLI);
    checks.duration(k("scanner_timeout"), c.scanner_timeout, MILLI);
    checks.duration(k("ping_interval"), c.ping_interval, MILLI);
    checks.duration(k("ping_timeout"), c.ping_timeout, MILLI);
    checks.range(
        k("max_in_flight_per_queue"),
        c.max_in_flight_per_queue,
        1,
        128,
    );
    checks.duration(k("backoff_initial"), c.backoff_initial, MILLI);
    checks.duration(k("backoff_max"), c.backoff_max, MILLI);
    if c.backoff_initial > c.backoff_max {
        let (initial, max) = (fmt_duration(c.backoff_initial), fmt_duration(c.backoff_max));
        checks.fail(
            k("backoff_initial"),
            format!("must not exceed {} ({initial} > {max})", k("backoff_max")),
        );
    }
    checks.duration(k("backoff_reset_after"), c.backoff_reset_after, MILLI);
    // The socket option takes whole seconds.
    checks.duration(k("tcp_keepalive"), c.tcp_keepalive, Duration::from_secs(1));
    checks.duration(k("osc_stale_after"), c.osc_stale_after, MILLI);
    checks.duration(k("info_poll_interval"), c.info_poll_interval, MILLI);
    checks.range(k("max_frame_bytes"), c.max_frame_bytes, 1024, 1024 * MIB);
    if let Some(dir) = &c.media_dir
        && dir.as_os_str().is_empty()
    {
        // An empty path would watch the working directory, which is never the media folder.
        checks.fail(
            k("media_dir"),
            "must not be empty (leave it unset when the media folder is not on this machine)"
                .to_owned(),
        );
    }
}

/// `[[servers]]`: each entry's link settings as `[caspar]`, in entry order, then the list's rules
/// (names, backups, one main).
fn check_servers(servers: &[ServerEntry], checks: &mut Checks) {
    if let Some((key, message)) = super::servers::too_many(servers) {
        checks.fail(key, message);
        return;
    }
    for (i, server) in servers.iter().enumerate() {
        check_caspar(
            &server.link,
            &format!("{}.", super::servers::entry_key(i)),
            checks,
        );
    }
    for (key, message) in super::servers::problems(servers) {
        checks.fail(key, message);
    }
}

fn check_server(s: &ServerConfig, checks: &mut Checks) {
    checks.result("server.operator_tokens", check_tokens(&s.operator_tokens));
    checks.result("server.viewer_tokens", check_tokens(&s.viewer_tokens));
    if let Some(i) = s
        .viewer_tokens
        .iter()
        .position(|t| s.operator_tokens.contains(t))
    {
        checks.fail(
            "server.viewer_tokens",
            format!(
                "entry {} is also an operator token; a token has one role",
                i + 1
            ),
        );
    }
    for origin in &s.allowed_origins {
        checks.result("server.allowed_origins", check_origin(origin));
    }
    for host in &s.allowed_hosts {
        checks.result("server.allowed_hosts", check_allowed_host(host));
    }
    checks.range("server.max_connections", s.max_connections, 8, 1_000_000);
    checks.duration(
        "server.header_read_timeout",
        s.header_read_timeout,
        Duration::from_millis(100),
    );
    checks.range("server.max_clients", s.max_clients, 1, 100_000);
    checks.range(
        "server.max_clients_per_ip",
        s.max_clients_per_ip,
        1,
        100_000,
    );
    checks.range(
        "server.max_message_bytes",
        s.max_message_bytes,
        1024,
        16 * MIB,
    );
    checks.duration("server.ws_ping_interval", s.ws_ping_interval, MILLI);
    checks.range("server.ws_send_queue", s.ws_send_queue, 1, 65536);
    checks.range(
        "server.ws_send_queue_bytes",
        s.ws_send_queue_bytes,
        64 * 1024,
        1024 * MIB,
    );
    checks.range("server.rate_limit_per_sec", s.rate_limit_per_sec, 1, 10_000);
    checks.range("server.rate_limit_burst", s.rate_limit_burst, 1, 100_000);
    checks.range("server.progress_hz", s.progress_hz, 1, 50);
    checks.range("server.event_buffer", s.event_buffer, 1, 1_000_000);
    checks.range(
        "server.event_buffer_bytes",
        s.event_buffer_bytes,
        64 * 1024,
        1024 * MIB,
    );
    if let Some(token) = &s.metrics_token {
        checks.result(
            "server.metrics_token",
            check_token(token).map_err(|problem| format!("the token {problem}")),
        );
    }
}

fn check_store(s: &StoreConfig, checks: &mut Checks) {
    if s.data_dir.as_os_str().is_empty() {
        checks.fail(
            "store.data_dir",
            "must not be empty (use \".\" for the current directory)".to_owned(),
        );
    } else if s.data_dir.to_str().is_none() {
        checks.fail(
            "store.data_dir",
            format!("{:?} is not valid UTF-8", s.data_dir),
        );
    }
    checks.range("store.max_playlists", s.max_playlists, 1, 100_000);
    checks.range(
        "store.max_items_per_playlist",
        s.max_items_per_playlist,
        1,
        1_000_000,
    );
}

fn check_playout(p: &PlayoutConfig, checks: &mut Checks) {
    let cl = p.default_channel_layer;
    if !(1..=MAX_CHANNEL).contains(&cl.channel) {
        checks.fail(
            "playout.default_channel_layer",
            format!(
                "channel must be between 1 and {MAX_CHANNEL}, got {}",
                cl.channel
            ),
        );
    } else if cl.layer.is_none() {
        checks.fail(
            "playout.default_channel_layer",
            format!("\"{cl}\" names no layer: expected CHANNEL-LAYER, e.g. 1-10"),
        );
    }
    for (key, message) in super::schedule::problems(p) {
        checks.fail(key, message);
    }
    if p.max_drift_frames > MAX_DRIFT_FRAMES {
        checks.fail(
            "playout.max_drift_frames",
            format!(
                "must be at most {MAX_DRIFT_FRAMES} (10 s at 25 fps), got {}; a backup further \
                 off than that is playing something else",
                p.max_drift_frames
            ),
        );
    }
}

fn check_log(l: &LogConfig, checks: &mut Checks) {
    checks.result("log.level", check_log_level(&l.level));
}

fn check_tokens(tokens: &[String]) -> Result<(), String> {
    for (i, token) in tokens.iter().enumerate() {
        check_token(token).map_err(|problem| format!("entry {} {problem}", i + 1))?;
    }
    Ok(())
}

/// The problem with a token, phrased to follow "the token" or "entry N"; never quotes the token.
fn check_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        Err("is empty".to_owned())
    } else if token
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ',')
    {
        Err("contains whitespace, a control character or a comma".to_owned())
    } else if token.chars().count() > MAX_TOKEN_CHARS {
        Err(format!("is longer than {MAX_TOKEN_CHARS} characters"))
    } else {
        Ok(())
    }
}

/// `HOST:PORT` where HOST is a DNS name, an IPv4 address or an IPv6 address in brackets.
pub(super) fn check_host_port(address: &str) -> Result<(), String> {
    let bad = |reason: String| {
        format!(
            "\"{address}\" is not HOST:PORT ({reason}); e.g. 127.0.0.1:5250, casparcg:5250 or [::1]:5250"
        )
    };
    // `tcp://host:5250` would otherwise split at its last colon and read as a bad IPv6 address.
    if let Some((scheme, rest)) = address.split_once("://") {
        return Err(bad(format!(
            "write HOST:PORT without a scheme: {rest:?}, not {scheme}://"
        )));
    }
    let (host, port) = split_host_port(address).map_err(bad)?;
    let port = port.ok_or_else(|| bad("no port".to_owned()))?;
    check_host(host).map_err(bad)?;
    check_port(port).map_err(bad)
}

/// A browser origin: `http(s)://host[:port]`, lower-case, with no path (not even a trailing slash).
/// An `allowed_hosts` entry is what a client puts in `Host`: a name or address, optionally with a
/// port; nothing else (no scheme, path or user).
fn check_allowed_host(entry: &str) -> Result<(), String> {
    let bad = |reason: &str| {
        format!(
            "\"{entry}\" is not a host name ({reason}); write it as it appears in the browser's address bar without the scheme, e.g. onair.studio.lan or onair.studio.lan:8250"
        )
    };
    if entry.contains(['/', '?', '#', '@']) || entry.contains("://") {
        return Err(bad("no scheme, path or user"));
    }
    if entry != entry.to_ascii_lowercase() {
        return Err(bad("it must be lower-case"));
    }
    let (host, port) = split_host_port(entry).map_err(|e| bad(&e))?;
    check_host(host).map_err(|e| bad(&e))?;
    port.map_or(Ok(()), check_port).map_err(|e| bad(&e))
}

fn check_origin(origin: &str) -> Result<(), String> {
    let bad = |reason: String| {
        format!(
            "\"{origin}\" is not an origin ({reason}); write it as a browser sends it, e.g. https://panel.example.com or http://127.0.0.1:8080"
        )
    };
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| bad("it must start with http:// or https://".to_owned()))?;
    if rest.contains(['/', '?', '#', '@']) {
        return Err(bad(
            "it must not have a path, query or trailing slash".to_owned()
        ));
    }
    if rest != rest.to_ascii_lowercase() {
        return Err(bad("it must be lower-case".to_owned()));
    }
    let (host, port) = split_host_port(rest).map_err(bad)?;
    check_host(host).map_err(bad)?;
    port.map_or(Ok(()), check_port).map_err(bad)
}

fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if text.starts_with('[') {
        let end = text.find(']').ok_or_else(|| "unclosed [".to_owned())?;
        let (host, rest) = text.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(format!("unexpected {rest:?} after the address")),
        };
    }
    Ok(match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    })
}

fn check_host(host: &str) -> Result<(), String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(drop)
            .map_err(|_| format!("{inner:?} is not an IPv6 address"));
    }
    if host.contains(':') {
        return Err("an IPv6 address must be in brackets".to_owned());
    }
    if host.parse::<Ipv4Addr>().is_ok() || is_host_name(host) {
        Ok(())
    } else {
        Err(format!("{host:?} is not a host name or IP address"))
    }
}

/// RFC 1123 names (plus `_`, common in container networks), with an optional final dot; a name
/// whose last label is numeric would be a mistyped IPv4 address.
fn is_host_name(host: &str) -> bool {
    let name = host.strip_suffix('.').unwrap_or(host);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let last_numeric = name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok) && !last_numeric
}

fn check_port(port: &str) -> Result<(), String> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!("port {port:?} is not a number between 1 and 65535")),
    }
}

/// A `tracing` `EnvFilter` directive list. A bare word must be a level: `inof` would otherwise be
/// taken as a target name and silently turn all logging off.
fn check_log_level(level: &str) -> Result<(), String> {
    if level.trim().is_empty() {
        return Err("must not be empty (use \"off\" to turn logging off)".to_owned());
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(level)
        .map_err(|e| format!("\"{level}\" is not a valid log filter: {e}"))?;
    for directive in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !directive.contains(['=', '[', ':'])
            && !LEVELS.contains(&directive.to_ascii_lowercase().as_str())
        {
            return Err(format!(
                "\"{directive}\" is not a level (trace, debug, info, warn, error, off) or a TARGET=LEVEL directive such as onair=debug"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        for ok in [
            "127.0.0.1:5250",
            "[::1]:5250",
            "casparcg:5250",
            "caspar-1.studio.example.:5250",
            "caspar_main:1",
        ] {
            assert_eq!(check_host_port(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "127.0.0.1",
            ":5250",
            "host:",
            "host:0",
            "host:65536",
            "host:+1",
            "::1:5250",
            "[::1]5250",
            "[::1",
            "[nope]:1",
            "1.2.3:5250",
            "-host:1",
            "a b:1",
            "[::1]",
        ] {
            assert!(check_host_port(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn host_port_with_a_scheme_is_told_to_drop_it() {
        for (with, without) in [
            ("tcp://host:5250", "host:5250"),
            ("amcp://[::1]:5250", "[::1]:5250"),
        ] {
            let err = check_host_port(with).expect_err("a scheme is not HOST:PORT");
            assert!(
                err.contains(&format!("without a scheme: {without:?}")),
                "{err}"
            );
            assert!(!err.contains("IPv6"), "{err}");
        }
    }

    #[test]
    fn origin_forms() {
        for ok in [
            "https://panel.example.com",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost",
        ] {
            assert_eq!(check_origin(ok), Ok(()), "{ok}");
        }
        for bad in [
            "panel.example.com",
            "https://panel.example.com/",
            "https://Panel.example.com",
            "ftp://x",
            "https://",
            "http://a:b",
            "*",
        ] {
            assert!(check_origin(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn log_levels() {
        for ok in [
            "info",
            "WARN",
            "onair=debug,info",
            "onair::caspar=trace",
            "off",
        ] {
            assert_eq!(check_log_level(ok), Ok(()), "{ok}");
        }
        for bad in ["", "inof", "onair=loud", "info,verbose"] {
            assert!(check_log_level(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn token_problems_never_quote_the_token() {
        let msg = check_tokens(&["good".to_owned(), "has secret space".to_owned()]).unwrap_err();
        assert_eq!(
            msg,
            "entry 2 contains whitespace, a control character or a comma"
        );
        assert!(!msg.contains("secret"));
    }
}
