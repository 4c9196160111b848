//! Cluster mode: two or more daemons sharing one station through NATS JetStream (issue 18;
//! docs/operations.md, "Cluster mode"). `journal`: the replicated edit journal on JetStream;
//! `replica`: the engine's end of it, connected; `lease`: the leader lease that decides which
//! daemon drives the servers.

pub mod journal;
pub mod lease;
pub mod replica;
