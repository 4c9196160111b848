//! onair: a playout control daemon for CasparCG with an operator terminal UI in the same binary.
//!
//! # Layout
//! - [`amcp`]: the AMCP wire protocol (commands, tokenizer, reply codec, body parsers). Pure, no I/O.
//! - [`caspar`]: the reconnecting AMCP client (connection actor, pending table, keepalive, backoff).
//! - [`config`]: the daemon's configuration (TOML file, `ONAIR_*` environment, flags) and validation.
//! - [`protocol`]: the WebSocket protocol's wire types (messages, typed requests, views, events,
//!   error codes) shared by the server and the console, and their JSON Schema.
//! - [`sim`]: a CasparCG emulator (AMCP + OSC) with fault injection, for the demo, tests and benchmarks.
//! - [`shutdown`]: SIGINT/SIGTERM handling.
//! - [`telemetry`]: logging setup.
//! - [`report`]: errors and their causes on one line, each cause said once.

pub mod amcp;
pub mod caspar;
pub mod civil;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod health;
pub mod playout;
pub mod protocol;
pub mod report;
pub mod server;
pub mod shutdown;
pub mod sim;
pub mod telemetry;
pub mod tui;
