//! Cluster mode's parts of the daemon (docs/operations.md, "Cluster mode"): the leader lease it
//! campaigns for, the fence its AMCP links write through, the replicated journal its engine
//! applies, and what `/health` shows of them. Without `[cluster]` there is none of it.

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use crate::caspar::Fence;
use crate::cluster::lease::{Lease, LeaseSettings};
use crate::cluster::replica;
use crate::config::Config;

/// The lease, campaigning from the start (in the background: NATS being down never holds up
/// start-up), and this node's name; `None` without `[cluster]`.
pub(super) fn campaign(
    config: &Config,
    addr: SocketAddr,
) -> anyhow::Result<Option<(Lease, String)>> {
    let Some(cluster) = &config.cluster else {
        return Ok(None);
    };
    let settings = LeaseSettings::from_config(cluster, Some(addr.to_string()))
        .map_err(|e| anyhow::anyhow!("cluster.node: {e}"))?;
    tracing::info!(node = %settings.node, station = %settings.station,
        "cluster mode: campaigning for the leader lease");
    let node = settings.node.clone();
    Ok(Some((Lease::spawn(settings), node)))
}

/// What every AMCP link checks as it writes: playout commands only while the lease is held,
/// stamped with its term.
pub(super) fn fence(lease: Option<&Lease>) -> Option<Fence> {
    lease.map(|l| Fence::new(l.drive(), l.term()))
}

/// The replicated journal, connected in the background; `None` without `[cluster]`.
pub(super) fn journal(
    config: &Config,
    lease: Option<&Lease>,
    node: Option<String>,
    shutdown: &CancellationToken,
) -> Option<replica::Started> {
    let (cluster, lease, node) = (config.cluster.as_ref()?, lease?, node?);
    Some(replica::start(
        replica::ReplicaSettings {
            nats: cluster.nats.clone(),
            station: cluster.station.clone(),
            replicas: cluster.replicas,
            node,
            compact_every: cluster.compact_every,
        },
        lease.term(),
        shutdown.child_token(),
    ))
}

/// The lease's probe with the replicated journal's figures (`journal`) added.
pub(super) fn probe(
    lease: Box<dyn Fn() -> serde_json::Value + Send + Sync>,
    journal: Option<std::sync::Arc<replica::JournalStats>>,
) -> Box<dyn Fn() -> serde_json::Value + Send + Sync> {
    Box::new(move || {
        let mut v = lease();
        if let (Some(j), Some(obj)) = (&journal, v.as_object_mut()) {
            obj.insert("journal".to_owned(), j.json());
        }
        v
    })
}
