//! Cluster mode: two or more daemons sharing one station through NATS JetStream (issue 18;
//! docs/operations.md, "Cluster mode"). `journal`: the replicated edit journal on JetStream;
//! `replica`: the engine's end of it, connected.

pub mod journal;
pub mod replica;
