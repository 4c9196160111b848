//! onair: a playout control daemon for CasparCG with an operator terminal UI in the same binary.
//!
//! # Layout
//! Dependencies point one way (checked by `tests/module_boundaries.rs`; see docs/architecture.md):
//!
//! - [`amcp`]: the AMCP wire protocol (commands, tokenizer, reply codec, body parsers, video
//!   formats). Pure, no I/O; imports nothing else of the crate.
//! - [`caspar`]: the reconnecting AMCP client (connection actor, pending table, keepalive, OSC
//!   listener).
//! - [`playout`]: playlists and their store, the engine that runs them on CasparCG, the as-run log
//!   and the media library.
//! - [`schedule`]: the 24/7 schedule's planning core (time zones and the channel day, frame
//!   arithmetic, the timeline with fillers, clocks). Pure: no I/O, no tasks.
//! - [`protocol`]: the WebSocket protocol's wire types (messages, typed requests, views, events,
//!   error codes, the link report) shared by the server and the console, and their JSON Schema.
//! - [`server`]: the daemon's HTTP and WebSocket surfaces (Host/Origin/token checks, accept loop,
//!   `/ws`, `/health*`, `/metrics`, the web page). Talks to the rest through `protocol`.
//! - [`tui`]: the operator console, a WebSocket client of the daemon.
//! - [`sim`]: a CasparCG emulator (AMCP + OSC) with fault injection, for the demo, tests and
//!   benchmarks.
//! - [`daemon`]: `onair serve`, the composition root that wires everything together.
//! - [`demo`]: `onair demo` (simulator + daemon + console). [`health`]: `onair health`.
//! - [`media_watch`]: rescans the media library when a local media folder changes.
//! - [`config`]: configuration (TOML file, `ONAIR_*` environment, flags) and its validation.
//! - [`retry`]: reconnect attempts and backoff, shared by the AMCP link and the console.
//! - [`report`]: errors and their causes on one
//!   line, each cause said once. [`shutdown`]: SIGINT/SIGTERM. [`systemd`]: `Type=notify` readiness
//!   and watchdog. [`telemetry`]: logging setup.

pub mod amcp;
pub mod caspar;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod health;
pub mod media_watch;
pub mod playout;
pub mod protocol;
pub mod report;
pub mod retry;
pub mod schedule;
pub mod server;
pub mod shutdown;
pub mod sim;
pub mod systemd;
pub mod telemetry;
pub mod tui;
