//! The AMCP wire protocol as CasparCG 2.3/2.4/2.5 speaks it: pure, no I/O.
//!
//! - [`command`]: typed commands and their encoding to one command line (quoting, escaping, validation).
//! - [`tokenize`]: a faithful port of the server's tokenizer (2.3 and 2.4 dialects), used by the simulator
//!   and to prove the encoder round-trips.
//! - [`codec`]: the reply decoder and request encoder for `tokio_util::codec::Framed`.
//! - [`body`]: parsers for reply bodies (VERSION, INFO list, INFO channel XML, CLS, TLS).
//! - [`format`]: video formats (`1080i5000`, …) with their frame and reported rates.
//!
//! See `docs/amcp-notes.md`; the recordings in `tests/fixtures/` are the ground truth.

mod address;
pub mod body;
pub mod codec;
pub mod command;
pub mod format;
pub mod tokenize;

pub use address::{ChannelLayer, MAX_CHANNEL, ParseChannelLayerError};
pub use command::{
    CallOp, CgOp, Clip, Command, CommandClass, Direction, EncodeError, MixerOp, MixerTween, Queue,
    Transition, TransitionKind,
};
pub use tokenize::{TokenizerDialect, tokenize};
