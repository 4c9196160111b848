//! Daemon configuration: built-in defaults, an optional TOML file, `ONAIR_*` environment variables and
//! command-line flags, layered in that order (each layer overrides only the keys it sets) and validated
//! with messages that name the key, the problem and where the value came from.
//!
//! Every key is documented for operators in `docs/configuration.md`. The entry point is [`load`]; a
//! [`Config`] built in code can be checked with [`Config::validate`] and printed with
//! [`Config::to_toml`]. The CasparCG servers to drive are [`Config::station`]: the `[[servers]]`
//! list, or the older single-server `[caspar]` section. This module depends on no other part of the daemon except the
//! [`ChannelLayer`] address type of [`crate::amcp`]; time zones and times of day are jiff's.

mod cluster;
pub use cluster::ClusterConfig;
pub mod duration;
mod hints;
mod keys;
mod lines;
mod load;
mod schedule;
pub use schedule::format_day_start;
mod servers;
pub use servers::{LEGACY_SERVER_NAME, ServerEntry, Station};
mod validate;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::amcp::ChannelLayer;

pub use keys::RESERVED_ENV;
pub use load::{ConfigError, Overrides, load, utf8_env};

/// The whole daemon configuration; `Default` is the built-in configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[caspar]`: the AMCP/OSC link to CasparCG, the older single-server form; it applies only
    /// while `servers` is empty (see [`Config::station`]).
    pub caspar: CasparConfig,
    /// `[server]`: the HTTP + WebSocket listener and its limits.
    pub server: ServerConfig,
    /// `[store]`: where and how playlists are kept.
    pub store: StoreConfig,
    /// `[playout]`: playout behaviour.
    pub playout: PlayoutConfig,
    /// `[log]`: logging.
    pub log: LogConfig,
    /// `[[servers]]`: the named CasparCG servers; empty means the `[caspar]` section applies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerEntry>,
    /// `[cluster]`: cluster mode through NATS JetStream; `None` (no section) runs the daemon alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConfig>,
}

/// `[caspar]`: how to reach CasparCG and keep the link healthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CasparConfig {
    /// AMCP server, `HOST:PORT` (host name, IPv4, or IPv6 in brackets).
    pub address: String,
    /// Deadline for establishing the TCP connection.
    #[serde(with = "duration::serde")]
    pub connect_timeout: Duration,
    /// Deadline for an ordinary command's reply.
    #[serde(with = "duration::serde")]
    pub command_timeout: Duration,
    /// Deadline for media-scanner commands (CLS, CINF, TLS, THUMBNAIL).
    #[serde(with = "duration::serde")]
    pub scanner_timeout: Duration,
    /// How often an application `PING` is sent.
    #[serde(with = "duration::serde")]
    pub ping_interval: Duration,
    /// How long to wait for `PONG` before declaring the link dead.
    #[serde(with = "duration::serde")]
    pub ping_timeout: Duration,
    /// Commands in flight per server queue; the server overflows above 128.
    pub max_in_flight_per_queue: usize,
    /// First reconnect delay (exponential backoff with full jitter).
    #[serde(with = "duration::serde")]
    pub backoff_initial: Duration,
    /// Largest reconnect delay.
    #[serde(with = "duration::serde")]
    pub backoff_max: Duration,
    /// A connection that stayed up this long resets the backoff.
    #[serde(with = "duration::serde")]
    pub backoff_reset_after: Duration,
    /// TCP keepalive idle time on the AMCP socket.
    #[serde(with = "duration::serde")]
    pub tcp_keepalive: Duration,
    /// UDP address the daemon binds to receive OSC; port 0 picks a free port (subscribed with
    /// `OSC SUBSCRIBE` on servers 2.4 and later). Unset: the local address of the AMCP connection,
    /// port 0 (the interface the server reaches us on), re-bound when a reconnect changes it.
    #[serde(with = "opt_socket_addr", skip_serializing_if = "Option::is_none")]
    pub osc_listen: Option<SocketAddr>,
    /// OSC telemetry older than this is shown as stale.
    #[serde(with = "duration::serde")]
    pub osc_stale_after: Duration,
    /// `INFO` polling interval used when OSC is unavailable.
    #[serde(with = "duration::serde")]
    pub info_poll_interval: Duration,
    /// Largest reply line or body accepted from the server, in bytes.
    pub max_frame_bytes: usize,
    /// CasparCG's media folder when it is on this machine: a file added, removed or renamed there
    /// triggers a media rescan (unset: rescans only on connect and on request).
    pub media_dir: Option<PathBuf>,
}

impl Default for CasparConfig {
    fn default() -> Self {
        CasparConfig {
            address: "127.0.0.1:5250".to_owned(),
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
            scanner_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(1),
            ping_timeout: Duration::from_secs(1),
            max_in_flight_per_queue: 64,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            backoff_reset_after: Duration::from_secs(10),
            tcp_keepalive: Duration::from_secs(10),
            osc_listen: None,
            osc_stale_after: Duration::from_secs(1),
            info_poll_interval: Duration::from_secs(1),
            max_frame_bytes: 4 * 1024 * 1024,
            media_dir: None,
        }
    }
}

/// `[server]`: the HTTP + WebSocket listener, access control and limits.
///
/// `Debug` does not show tokens (only how many there are), so logging a config never leaks them.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTP + WebSocket listen address (an IP literal and port).
    #[serde(with = "socket_addr")]
    pub listen: SocketAddr,
    /// Tokens granting the `operator` role (read and command).
    pub operator_tokens: Vec<String>,
    /// Tokens granting the `viewer` role (read only).
    pub viewer_tokens: Vec<String>,
    /// Browser `Origin`s allowed to open `/ws`, e.g. `https://panel.example.com`; empty allows only
    /// clients that send no `Origin` or the daemon's own.
    pub allowed_origins: Vec<String>,
    /// Extra names the daemon answers to in the `Host` header (e.g. `onair.studio.lan` or
    /// `onair.studio.lan:8250`), besides loopback names and its own address. Any other `Host` is
    /// refused with 421: this is what stops DNS rebinding (docs/operations.md).
    pub allowed_hosts: Vec<String>,
    /// HTTP connections open at once (WebSocket clients included); when full, the oldest connection
    /// that is not serving a request is closed to make room, else the new one is closed at once.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, counted from when the connection opens or the
    /// previous response was sent (so it is also the keep-alive idle timeout).
    #[serde(with = "duration::serde")]
    pub header_read_timeout: Duration,
    /// WebSocket clients in total.
    pub max_clients: usize,
    /// WebSocket clients per remote IP address.
    pub max_clients_per_ip: usize,
    /// Largest WebSocket message accepted from a client, in bytes.
    pub max_message_bytes: usize,
    /// Server ping interval; a client that misses a pong is disconnected.
    #[serde(with = "duration::serde")]
    pub ws_ping_interval: Duration,
    /// Events, snapshots and progress messages queued per client before it is resynchronised or
    /// dropped.
    pub ws_send_queue: usize,
    /// Bytes queued per client (every message, acks included) before it is resynchronised or
    /// dropped.
    pub ws_send_queue_bytes: usize,
    /// Commands per second per client (token-bucket refill rate).
    pub rate_limit_per_sec: u32,
    /// Token-bucket size: commands a client may send in a burst.
    pub rate_limit_burst: u32,
    /// Progress (elapsed/remaining) updates per second.
    pub progress_hz: u32,
    /// Events kept for clients that resume after a dropped connection.
    pub event_buffer: usize,
    /// Bytes of encoded events kept (the older ones go first, whichever limit is reached).
    pub event_buffer_bytes: usize,
    /// Bearer token required by `GET /metrics`; `None` leaves it open.
    pub metrics_token: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8250)),
            operator_tokens: Vec::new(),
            viewer_tokens: Vec::new(),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            max_clients: 64,
            max_clients_per_ip: 16,
            max_message_bytes: 65536,
            ws_ping_interval: Duration::from_secs(30),
            ws_send_queue: 256,
            ws_send_queue_bytes: 4 * 1024 * 1024,
            rate_limit_per_sec: 20,
            rate_limit_burst: 40,
            progress_hz: 10,
            event_buffer: 1024,
            event_buffer_bytes: 8 * 1024 * 1024,
            metrics_token: None,
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |n: usize| format!("<{n} redacted>");
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field(
                "operator_tokens",
                &format_args!("{}", redacted(self.operator_tokens.len())),
            )
            .field(
                "viewer_tokens",
                &format_args!("{}", redacted(self.viewer_tokens.len())),
            )
            .field("allowed_origins", &self.allowed_origins)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("max_connections", &self.max_connections)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_clients", &self.max_clients)
            .field("max_clients_per_ip", &self.max_clients_per_ip)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("ws_ping_interval", &self.ws_ping_interval)
            .field("ws_send_queue", &self.ws_send_queue)
            .field("ws_send_queue_bytes", &self.ws_send_queue_bytes)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("progress_hz", &self.progress_hz)
            .field("event_buffer", &self.event_buffer)
            .field("event_buffer_bytes", &self.event_buffer_bytes)
            .field(
                "metrics_token",
                &self
                    .metrics_token
                    .as_ref()
                    .map(|_| format_args!("<redacted>")),
            )
            .finish()
    }
}

/// `[store]`: playlist persistence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Data directory: `playlists/`, `asrun/` and the state file live here.
    pub data_dir: PathBuf,
    /// Playlists in the data directory.
    pub max_playlists: usize,
    /// Items in one playlist.
    pub max_items_per_playlist: usize,
    /// Notice and load playlist files edited by someone else.
    pub watch_external_edits: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            data_dir: PathBuf::from("./data"),
            max_playlists: 100,
            max_items_per_playlist: 10_000,
            watch_external_edits: true,
        }
    }
}

/// `[playout]`: playout behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlayoutConfig {
    /// Channel-layer of new playlists, e.g. `1-10` (always has a layer).
    pub default_channel_layer: ChannelLayer,
    /// What to do when CasparCG comes back empty while something should be on air.
    pub recovery: Recovery,
    /// Whether autoplay is on at start-up.
    pub autoplay: bool,
    /// IANA name of the station's time zone (hard and soft start times, the channel day); unset:
    /// the system's zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Local time the channel day starts at, `HH:MM` or `HH:MM:SS`.
    #[serde(with = "schedule::day_start")]
    pub day_start: jiff::civil::Time,
    /// How long before its time a hard or soft item is loaded in the background.
    #[serde(with = "duration::serde")]
    pub preroll: Duration,
    /// How long before a channel day starts its missing rundown is alarmed (`0s`: never).
    #[serde(with = "duration::serde")]
    pub next_day_warning: Duration,
    /// A backup server whose position differs from the main's by more than this many frames
    /// raises a warning alarm.
    pub max_drift_frames: u32,
}

impl Default for PlayoutConfig {
    fn default() -> Self {
        PlayoutConfig {
            default_channel_layer: ChannelLayer {
                channel: 1,
                layer: Some(10),
            },
            recovery: Recovery::Resume,
            autoplay: true,
            timezone: None,
            day_start: jiff::civil::Time::constant(6, 0, 0, 0),
            preroll: Duration::from_secs(2),
            next_day_warning: Duration::from_secs(3600),
            max_drift_frames: 2,
        }
    }
}

/// Recovery after CasparCG lost what was on air.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recovery {
    /// Play the current item seeked to where the wall clock says it should be, and re-arm autoplay.
    #[default]
    Resume,
    /// Raise the alarm and wait for the operator.
    Hold,
}

/// `[log]`: logging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// A `tracing` `EnvFilter` directive, e.g. `info` or `onair=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            level: "info".to_owned(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal or journald.
    #[default]
    Human,
    /// One JSON object per line, for log shippers.
    Json,
}

impl Config {
    /// The configuration as TOML, for `onair serve --print-config`: parsing it back yields an equal
    /// `Config`. It contains the tokens in clear (so that it round-trips): treat it as a secret.
    pub fn to_toml(&self) -> String {
        let header = if self.has_secrets() {
            "# onair configuration. Contains access tokens: keep it private.\n"
        } else {
            "# onair configuration.\n"
        };
        match toml::to_string(&Printed::from(self)) {
            Ok(body) => format!("{header}\n{body}"),
            // Only reachable for a config that fails validation (a non-UTF-8 data_dir, a count
            // beyond i64): say so in a form that cannot be mistaken for a usable file.
            Err(e) => format!("# error: this configuration cannot be written as TOML: {e}\n"),
        }
    }

    /// Whether the HTTP/WebSocket listener is bound to a loopback address only.
    pub fn listen_is_loopback(&self) -> bool {
        self.server.listen.ip().to_canonical().is_loopback()
    }

    fn has_secrets(&self) -> bool {
        !self.server.operator_tokens.is_empty()
            || !self.server.viewer_tokens.is_empty()
            || self.server.metrics_token.is_some()
    }
}

/// What `--print-config` writes: the configuration with `[caspar]` left out when `[[servers]]` is
/// set, because a file with both is refused (loaded, such a configuration has `[caspar]` at its
/// defaults, so nothing is lost).
#[derive(Serialize)]
struct Printed<'a> {
    // First, where [caspar] would be: the servers are what an operator looks for first.
    #[serde(skip_serializing_if = "<[ServerEntry]>::is_empty")]
    servers: &'a [ServerEntry],
    #[serde(skip_serializing_if = "Option::is_none")]
    caspar: Option<&'a CasparConfig>,
    server: &'a ServerConfig,
    store: &'a StoreConfig,
    playout: &'a PlayoutConfig,
    log: &'a LogConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a ClusterConfig>,
}

impl<'a> From<&'a Config> for Printed<'a> {
    fn from(c: &'a Config) -> Self {
        Printed {
            servers: &c.servers,
            caspar: c.servers.is_empty().then_some(&c.caspar),
            server: &c.server,
            store: &c.store,
            playout: &c.playout,
            log: &c.log,
            cluster: c.cluster.as_ref(),
        }
    }
}

/// `#[serde(with = "socket_addr")]`: an IP socket address as text, with an error message that says
/// what is expected.
mod socket_addr {
    use std::fmt;
    use std::net::SocketAddr;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(addr: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(addr)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        d.deserialize_str(AddrVisitor)
    }

    /// The message used for a text that is not an `IP:PORT`.
    pub fn invalid(text: &str) -> String {
        format!(
            "{text:?} is not a socket address: expected IP:PORT such as 127.0.0.1:8250 or [::1]:8250"
        )
    }

    struct AddrVisitor;

    impl Visitor<'_> for AddrVisitor {
        type Value = SocketAddr;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a socket address text such as \"127.0.0.1:8250\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<SocketAddr, E> {
            v.trim().parse().map_err(|_| E::custom(invalid(v)))
        }
    }
}

/// `Option<SocketAddr>` as an optional `IP:PORT` text (absent: `None`).
mod opt_socket_addr {
    use std::net::SocketAddr;

    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(addr: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match addr {
            Some(addr) => super::socket_addr::serialize(addr, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        super::socket_addr::deserialize(d).map(Some)
    }
}
