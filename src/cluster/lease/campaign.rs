//! The lease task: connects to NATS in the background, opens (or creates) the bucket, campaigns as
//! a follower, renews as the leader, fences itself by time, and gives the key back when stopped.
//!
//! Fencing: the drive instant is only ever set from a renewal that succeeded, counted from when it
//! was sent; a failed, refused or unanswered call never extends it. A follower that (re)connects
//! to NATS waits one lease before its first create: if the NATS server lost the key (a restart of
//! a server without the key on disk, a crash that lost the last write), the old leader may still
//! believe in a renewal the server no longer has, and its belief ends within that lease.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, Store, UpdateErrorKind};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::{Holder, KEY, LeaseCounters, LeaseSettings, LeaseState, Role, bucket_name};
use crate::retry::Backoff;

mod publish;

/// Consecutive failed calls after which the bucket is opened again (a NATS server that came back
/// without it, e.g. a new server without the old one's files).
const REOPEN_AFTER: u32 = 3;
/// The longest wait between attempts to open the bucket while NATS is unreachable.
const OPEN_BACKOFF_MAX: Duration = Duration::from_secs(5);

pub(super) struct Outputs {
    /// Shared with the fence task (`super::fence`).
    pub drive: Arc<watch::Sender<Option<Instant>>>,
    pub state: watch::Sender<LeaseState>,
    pub term: watch::Sender<u64>,
    pub counters: Arc<LeaseCounters>,
}

/// The key as this node holds it.
#[derive(Debug, Clone, Copy)]
struct Held {
    revision: u64,
    term: u64,
}

struct Campaign {
    s: LeaseSettings,
    out: Outputs,
    session: String,
    /// The lease in force: `lease_ttl`, or the bucket's shorter `max_age`.
    ttl: Duration,
    margin: Duration,
    held: Option<Held>,
    /// The drive instant last published as `Some`, until it passes.
    until: Option<Instant>,
    /// No create before this instant (one lease after the last (re)connection to NATS).
    quiet_until: Instant,
    connects: u64,
    failures_in_row: u32,
}

pub(super) async fn run(s: LeaseSettings, out: Outputs, stop: CancellationToken) {
    let options = async_nats::ConnectOptions::new()
        .name(format!("onair {}", s.node))
        .retry_on_initial_connect()
        .connection_timeout(s.ttl)
        .reconnect_delay_callback({
            // Reconnect quickly (a lease is seconds), but not in a tight loop.
            let cap = s.renew.max(Duration::from_millis(100));
            move |attempts| (Duration::from_millis(50) * attempts as u32).min(cap)
        });
    let client = match options.connect(s.nats.clone()).await {
        Ok(client) => client,
        Err(e) => {
            // Only a malformed address fails here (the configuration checks them); never drive.
            tracing::error!(error = %e, "cluster: cannot use the NATS addresses; this node never leads");
            stop.cancelled().await;
            return;
        }
    };
    let _fence = super::fence::AbortOnDrop(tokio::spawn(super::fence::run(out.drive.clone())));
    let mut js = jetstream::new(client.clone());
    js.set_timeout(s.call_timeout());
    let renew = s.renew;
    let mut c = Campaign {
        margin: s.margin,
        ttl: s.ttl,
        session: super::new_session(),
        held: None,
        until: None,
        quiet_until: Instant::now() + s.ttl,
        connects: 0,
        failures_in_row: 0,
        s,
        out,
    };
    let mut kv: Option<Store> = None;
    let mut watch: Option<kv::Watch> = None;
    let mut backoff = Backoff::new(renew, OPEN_BACKOFF_MAX);
    let mut next = Instant::now();
    loop {
        let fence_at = c.until;
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            () = sleep_until(fence_at.unwrap_or(next)), if fence_at.is_some() => c.fence_if_due(),
            seen = next_entry(&mut watch) => match seen {
                Some(Ok(entry)) => {
                    if c.saw(&entry) {
                        next = Instant::now();
                    }
                }
                // The watch ended or failed (NATS went away): made again on the next attempt.
                _ => watch = None,
            },
            () = sleep_until(next) => {
                let started = Instant::now();
                c.note_connection(&client);
                if kv.is_none() {
                    match super::bucket::open(&js, &c.s).await {
                        Ok(store) => {
                            c.adopt_bucket_ttl(store.stream.cached_info().config.max_age);
                            kv = Some(store);
                            backoff.reset();
                        }
                        Err(e) => {
                            c.unreachable(&e);
                            next = Instant::now() + renew + backoff.next_delay();
                            continue;
                        }
                    }
                }
                let Some(store) = &kv else { continue };
                if watch.is_none() {
                    watch = timeout(c.s.call_timeout(), store.watch(KEY)).await.ok().and_then(Result::ok);
                }
                let answered = c.step(store).await;
                // After the attempt too: the client may have connected while it waited.
                c.note_connection(&client);
                if answered {
                    c.failures_in_row = 0;
                } else {
                    c.failures_in_row += 1;
                    if c.failures_in_row >= REOPEN_AFTER {
                        kv = None;
                        watch = None;
                    }
                }
                next = started + renew;
            }
        }
    }
    c.give_back(kv.as_ref()).await;
}

/// The watch's next entry; never resolves without a watch.
async fn next_entry(watch: &mut Option<kv::Watch>) -> Option<Result<kv::Entry, kv::WatcherError>> {
    match watch {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

impl Campaign {
    /// A bucket created by a node with a shorter lease expires keys sooner: believe it.
    fn adopt_bucket_ttl(&mut self, max_age: Duration) {
        if max_age.is_zero() {
            tracing::warn!(
                bucket = %bucket_name(&self.s.station),
                "cluster: the lease bucket has no max_age, so a dead leader's lease never \
                 expires; delete the bucket so that it is created again"
            );
        } else if max_age < self.s.ttl {
            tracing::warn!(?max_age, lease_ttl = ?self.s.ttl,
                "cluster: the lease bucket expires keys sooner than this node's lease_ttl; \
                 fencing by the bucket's max_age (give every node the same lease_ttl)");
            self.ttl = max_age;
            self.margin = max_age / 10 + Duration::from_millis(100);
        } else if max_age > self.s.ttl {
            tracing::warn!(?max_age, lease_ttl = ?self.s.ttl,
                "cluster: the lease bucket keeps keys longer than this node's lease_ttl; a \
                 dead leader is replaced only after the bucket's max_age");
        }
    }

    /// One attempt: renew the key held, or try to win it.
    /// `false` when NATS did not answer (not when it refused).
    async fn step(&mut self, kv: &Store) -> bool {
        let call = self.s.call_timeout();
        match self.held {
            Some(held) => {
                let value = self.value(Some(held.term));
                let sent = Instant::now();
                let answer = timeout(call, kv.update(KEY, value, held.revision)).await;
                match answer {
                    Ok(Ok(revision)) => {
                        LeaseCounters::bump(&self.out.counters.renewals_ok);
                        self.held = Some(Held { revision, ..held });
                        self.renewed(sent);
                        true
                    }
                    Ok(Err(e)) if e.kind() == UpdateErrorKind::WrongLastRevision => {
                        LeaseCounters::bump(&self.out.counters.renewals_failed);
                        self.refused(kv).await
                    }
                    other => {
                        LeaseCounters::bump(&self.out.counters.renewals_failed);
                        self.no_answer(&describe(other.map(|r| r.map(|_| ()))));
                        false
                    }
                }
            }
            None if Instant::now() < self.quiet_until => {
                // Just (re)connected: see the module comment.
                self.set_role(Role::Follower);
                true
            }
            None => {
                let value = self.value(None);
                let sent = Instant::now();
                match timeout(call, kv.create(KEY, value)).await {
                    Ok(Ok(revision)) => {
                        LeaseCounters::bump(&self.out.counters.takeovers);
                        self.held = Some(Held {
                            revision,
                            term: revision,
                        });
                        tracing::info!(term = revision, node = %self.s.node, "cluster: won the leader lease");
                        self.renewed(sent);
                        true
                    }
                    Ok(Err(e)) if e.kind() == CreateErrorKind::AlreadyExists => {
                        self.refused(kv).await
                    }
                    other => {
                        self.no_answer(&describe(other.map(|r| r.map(|_| ()))));
                        false
                    }
                }
            }
        }
    }

    /// The key is someone else's or gone (a create or a renewal refused): read who holds it.
    async fn refused(&mut self, kv: &Store) -> bool {
        let entry = match timeout(self.s.call_timeout(), kv.entry(KEY)).await {
            Ok(Ok(entry)) => entry,
            other => {
                self.no_answer(&describe(other.map(|r| r.map(|_| ()))));
                return false;
            }
        };
        match entry.filter(|e| e.operation == Operation::Put) {
            Some(e) => match holder_of(&e) {
                Some(h) if h.node == self.s.node && h.session == self.session => {
                    // Our own write whose answer was lost: keep the tenure, but only a renewal
                    // that answers extends the drive instant.
                    let term = h.term.unwrap_or(e.revision);
                    self.held = Some(Held {
                        revision: e.revision,
                        term,
                    });
                }
                other => self.lost(other),
            },
            None => self.lost(None),
        }
        true
    }

    /// Stopping: stop driving first, then delete the key if this node still holds it.
    async fn give_back(&mut self, kv: Option<&Store>) {
        self.stop_driving();
        if let (Some(held), Some(kv)) = (self.held.take(), kv) {
            let call = self.s.call_timeout();
            match timeout(call, kv.delete_expect_revision(KEY, Some(held.revision))).await {
                Ok(Ok(())) => {
                    tracing::info!(term = held.term, "cluster: gave the leader lease back")
                }
                other => tracing::warn!(error = %describe(other),
                    "cluster: could not give the leader lease back; it expires by itself"),
            }
        }
        self.out.state.send_modify(|st| {
            st.role = Role::Unknown;
            st.term = None;
            st.leader = None;
        });
    }

    fn me(&self, term: Option<u64>) -> Holder {
        Holder {
            node: self.s.node.clone(),
            address: self.s.address.clone(),
            term,
            session: self.session.clone(),
        }
    }

    fn value(&self, term: Option<u64>) -> bytes::Bytes {
        // A struct of strings and a number always serializes.
        serde_json::to_vec(&self.me(term))
            .unwrap_or_default()
            .into()
    }
}

/// The holder in an entry; its term is the entry's revision when the value has none (the win).
fn holder_of(e: &kv::Entry) -> Option<Holder> {
    let mut h: Holder = serde_json::from_slice(&e.value).ok()?;
    h.term = h.term.or(Some(e.revision));
    Some(h)
}

fn describe<E: std::fmt::Display>(r: Result<Result<(), E>, tokio::time::error::Elapsed>) -> String {
    match r {
        Ok(Ok(())) => "no error".to_owned(),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_owned(),
    }
}
