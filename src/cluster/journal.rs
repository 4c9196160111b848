//! The station's replicated edit journal on NATS JetStream (cluster mode, docs/operations.md
//! "Cluster mode"): one stream per station, one message per acknowledged edit, in order. The
//! stream's sequence numbers order the station's edits; every node applies them in that order.
//!
//! Only the leader appends, and each append says which sequence it expects to follow (JetStream's
//! `Nats-Expected-Last-Sequence`): an append from a node that has not applied everything before it,
//! or from a deposed leader racing its successor, is refused by the server, so the journal never
//! forks. Appends may be pipelined: the k-th append in flight expects the one before it, and when
//! one is refused every later one is refused too, as an edit on top of a failed edit should be.
//!
//! Compaction: the playlists as of a sequence go to the object store as one snapshot, and the
//! stream is purged up to it, so a new node starts from the snapshot without replaying history.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, object_store, stream};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::AsyncReadExt;

pub use crate::playout::replica::{Replicated, Snapshot};

/// How long a JetStream request (append, info, purge) may take before it counts as failed: an
/// edit's acknowledgement waits for it, so it must be short; a NATS cluster answers in
/// milliseconds.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest snapshot read back (a station's playlists: 10,000-item rundowns of a few MB each).
const MAX_SNAPSHOT: u64 = 512 * 1024 * 1024;
/// The snapshot object's name in the station's bucket.
const SNAPSHOT_OBJECT: &str = "playlists";

/// One journal message: the change and who appended it under which lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The leader's term (its lease revision) when it appended.
    pub term: u64,
    /// The node that appended (and which of its runs: see `replica`).
    pub node: String,
    /// The appending engine's own number for the edit.
    pub id: u64,
    pub change: Replicated,
}

#[derive(Debug, Error)]
pub enum JournalError {
    /// The journal moved on since the sequence the append expected: another node appended (this
    /// one is behind, or no longer the leader). Nothing was appended.
    #[error("the journal is past sequence {expected}: another node appended")]
    Conflict { expected: u64 },
    /// NATS did not answer, or answered with an error; the append may or may not have been
    /// stored (reading the journal tells).
    #[error("NATS: {0}")]
    Nats(String),
    /// A message in the journal that is not an entry (written by something else).
    #[error("journal message {seq} is not an onair entry: {why}")]
    Corrupt { seq: u64, why: String },
}

fn nats(e: impl std::fmt::Display) -> JournalError {
    JournalError::Nats(e.to_string())
}

/// The names a station's journal uses on NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub stream: String,
    pub subject: String,
    pub bucket: String,
}

impl Names {
    /// For station `station` (`[A-Za-z0-9_-]`, checked by the configuration).
    pub fn of(station: &str) -> Names {
        Names {
            stream: format!("ONAIR_{station}_JOURNAL"),
            subject: format!("onair.{station}.journal"),
            bucket: format!("onair_{station}_snapshots"),
        }
    }
}

/// A station's journal on a JetStream connection.
#[derive(Clone)]
pub struct Journal {
    js: jetstream::Context,
    names: Names,
}

/// An append on its way: resolves to the sequence JetStream stored it at.
pub type Pending = std::pin::Pin<Box<dyn Future<Output = Result<u64, JournalError>> + Send>>;

impl Journal {
    /// Opens (creating if needed) the journal stream and the snapshot bucket of `station`, with
    /// `replicas` copies each (1 for a single NATS server, 3 for a 3-node cluster).
    pub async fn open(
        client: async_nats::Client,
        station: &str,
        replicas: usize,
    ) -> Result<Journal, JournalError> {
        let mut js = jetstream::new(client);
        js.set_timeout(REQUEST_TIMEOUT);
        let names = Names::of(station);
        js.get_or_create_stream(stream::Config {
            name: names.stream.clone(),
            subjects: vec![names.subject.clone()],
            storage: stream::StorageType::File,
            num_replicas: replicas,
            // The journal is the station's history: nothing is dropped but by compaction.
            discard: stream::DiscardPolicy::New,
            deny_delete: true,
            allow_direct: true,
            ..stream::Config::default()
        })
        .await
        .map_err(nats)?;
        let bucket = object_store::Config {
            bucket: names.bucket.clone(),
            num_replicas: replicas,
            storage: stream::StorageType::File,
            ..object_store::Config::default()
        };
        if js.get_object_store(&names.bucket).await.is_err() {
            js.create_object_store(bucket).await.map_err(nats)?;
        }
        Ok(Journal { js, names })
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Sends `entry` to follow sequence `after` (0: the journal is empty) and returns its
    /// acknowledgement as a future, so that several appends can be in flight, in order.
    pub async fn append(&self, entry: &Entry, after: u64) -> Result<Pending, JournalError> {
        let payload = serde_json::to_vec(entry).map_err(nats)?;
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload.into())
            .expected_last_sequence(after);
        let ack = self
            .js
            .send_publish(self.names.subject.clone(), publish)
            .await
            .map_err(|e| refused(e, after))?;
        Ok(Box::pin(async move {
            ack.await.map(|a| a.sequence).map_err(|e| refused(e, after))
        }))
    }

    /// The sequence of the last entry (0 when none was ever appended).
    pub async fn last_seq(&self) -> Result<u64, JournalError> {
        let mut stream = self.js.get_stream(&self.names.stream).await.map_err(nats)?;
        Ok(stream.info().await.map_err(nats)?.state.last_sequence)
    }

    /// The sequence of the first entry still in the journal (the ones before were compacted);
    /// past the last one when the journal is empty.
    pub async fn first_seq(&self) -> Result<u64, JournalError> {
        let mut stream = self.js.get_stream(&self.names.stream).await.map_err(nats)?;
        Ok(stream.info().await.map_err(nats)?.state.first_sequence)
    }

    /// The entries from sequence `from` on, in order, live: after the last one it waits for the
    /// next. Ends with an error when NATS goes away or an entry does not decode.
    pub async fn follow(
        &self,
        from: u64,
    ) -> Result<impl Stream<Item = Result<(u64, Entry), JournalError>> + use<>, JournalError> {
        let stamped = self.follow_stamped(from).await?;
        Ok(stamped.map(|r| r.map(|(seq, entry, _)| (seq, entry))))
    }

    /// [`Journal::follow`], with the instant each entry was stored (Unix nanoseconds, on the NATS
    /// server's clock): how far behind the journal a node is, in time.
    pub async fn follow_stamped(
        &self,
        from: u64,
    ) -> Result<impl Stream<Item = Result<(u64, Entry, i128), JournalError>> + use<>, JournalError>
    {
        let stream = self.js.get_stream(&self.names.stream).await.map_err(nats)?;
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from.max(1),
                },
                ..consumer::pull::OrderedConfig::default()
            })
            .await
            .map_err(nats)?;
        let messages = consumer.messages().await.map_err(nats)?;
        Ok(messages.map(|m| {
            let m = m.map_err(nats)?;
            let info = m.info().map_err(nats)?;
            let (seq, stored) = (info.stream_sequence, info.published.unix_timestamp_nanos());
            let entry = serde_json::from_slice(&m.payload).map_err(|e| JournalError::Corrupt {
                seq,
                why: e.to_string(),
            })?;
            Ok((seq, entry, stored))
        }))
    }

    /// Stores `snapshot` and drops the entries it covers from the stream (a node that starts
    /// later reads the snapshot, then the entries after it).
    pub async fn compact(&self, snapshot: &Snapshot) -> Result<(), JournalError> {
        let bytes = serde_json::to_vec(snapshot).map_err(nats)?;
        let bucket = self
            .js
            .get_object_store(&self.names.bucket)
            .await
            .map_err(nats)?;
        bucket
            .put(SNAPSHOT_OBJECT, &mut bytes.as_slice())
            .await
            .map_err(nats)?;
        let stream = self.js.get_stream(&self.names.stream).await.map_err(nats)?;
        // Keeps the entries after the snapshot (purge "up to, not including" the sequence).
        stream
            .purge()
            .sequence(snapshot.seq + 1)
            .await
            .map_err(nats)?;
        Ok(())
    }

    /// The latest snapshot, if one was stored.
    pub async fn snapshot(&self) -> Result<Option<Snapshot>, JournalError> {
        let bucket = self
            .js
            .get_object_store(&self.names.bucket)
            .await
            .map_err(nats)?;
        let mut object = match bucket.get(SNAPSHOT_OBJECT).await {
            Ok(o) => o,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(nats(e)),
        };
        let mut bytes = Vec::new();
        (&mut object)
            .take(MAX_SNAPSHOT)
            .read_to_end(&mut bytes)
            .await
            .map_err(nats)?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| JournalError::Corrupt {
                seq: 0,
                why: format!("snapshot: {e}"),
            })
    }
}

/// A refused publish: a conflict when the journal moved past `after`, else a NATS failure.
fn refused(e: jetstream::context::PublishError, after: u64) -> JournalError {
    if e.kind() == jetstream::context::PublishErrorKind::WrongLastSequence {
        JournalError::Conflict { expected: after }
    } else {
        nats(e)
    }
}
