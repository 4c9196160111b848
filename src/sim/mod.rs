//! A faithful CasparCG emulator (AMCP over TCP, OSC over UDP) with fault injection.
//!
//! - [`dialect`]: what differs between 2.3, 2.4 and 2.5.
//! - [`parse`]: the server's read path: CRLF framing quirks, REQ, tokenizing, command lookup, parser errors.
//! - [`request`]: a parsed command as the queues hand it to the executor.
//! - [`exec`]: command semantics against the model (PLAY/LOADBG/…, INFO, CLS, CALL);
//!   [`cg`] `CG` and the template pages, [`exec_misc`] the rarer ones, [`exec_mixer`] `MIXER`.
//! - [`model`]: channels, layers, producers, transitions, `LOADBG … AUTO` and the frame tick.
//! - [`media`]: the virtual or folder-backed media library (video formats are in
//!   [`crate::amcp::format`], re-exported as [`format`]).
//! - [`monitor`]: the channel state tree shared by OSC and `INFO n` XML.
//! - [`osc`]: OSC bundle encoding and the UDP sender.
//! - [`clock`]: the frame clock (real time, accelerated, or stepped by tests); [`frame_clock`] the
//!   ideal frame grid it follows, [`takes`] the log of the frame each take (clip, template call,
//!   opacity change) became visible on.
//! - [`server`]: TCP listener, connections, queues, batches and fault injection; `queue` the
//!   queue workers that execute commands and batches.
//! - [`control`]: the faults from outside the process, on a line-based TCP port (`--control`).

pub mod cg;
pub mod clock;
pub mod control;
pub mod dialect;
pub mod exec;
pub mod exec_misc;
pub mod exec_mixer;
pub mod faults;
pub mod frame_clock;
pub mod framing;
mod handle;
pub mod media;
pub mod media_dir;
pub mod mixer;
pub mod model;
pub mod monitor;
pub mod osc;
pub mod parse;
pub mod producer;
pub mod ptree;
mod queue;
pub mod request;
mod run;
pub mod server;
pub mod takes;

pub use crate::amcp::format;
pub use cg::TemplateInstance;
pub use clock::ClockMode;
pub use control::SimControl;
pub use dialect::Dialect;
pub use faults::Faults;
pub use frame_clock::SimFrameClock;
pub use handle::{Sim, SimConfig};
pub use run::{SimOptions, SimPlan, StartFaults, config_from, run};
pub use takes::{OpacityChange, TakeHow, TakeRecord};
