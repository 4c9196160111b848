//! Local media folder: when CasparCG's media folder is on this machine (`caspar.media_dir`), a file
//! added, removed or renamed there triggers a media rescan, so the clip list follows the folder
//! without an operator pressing rescan.
//!
//! Events are debounced (a copy of a large clip is one burst of writes) and coalesced into one
//! pending trigger. Each trigger rescans at once and once more a little later: CasparCG's own media
//! scanner indexes new files on its own schedule, so `CLS` right after the change may not list them yet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::playout::engine::{EngineHandle, Op};

/// Quiet time after the last event before a rescan: long enough for a copy's bursts of writes to
/// settle into one trigger, short enough to feel immediate.
pub const DEBOUNCE: Duration = Duration::from_millis(500);

/// The second rescan after a trigger, for files CasparCG's scanner had not indexed yet.
pub const FOLLOW_UP: Duration = Duration::from_secs(3);

/// Watches while alive; dropping it stops the watcher (the rescan task ends with the daemon).
pub struct MediaWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for MediaWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaWatcher").finish_non_exhaustive()
    }
}

impl MediaWatcher {
    /// Starts watching `dir` (with its sub-folders: clip names include them) and a task that asks
    /// `engine` for a rescan after each change, until `shutdown`.
    pub fn start(
        dir: &Path,
        engine: EngineHandle,
        shutdown: CancellationToken,
    ) -> Result<MediaWatcher, notify::Error> {
        // Capacity 1 and `try_send`: while a trigger is pending, more changes add nothing.
        let (tx, rx) = mpsc::channel(1);
        let shown: PathBuf = dir.to_owned();
        let handler = move |result: DebounceEventResult| match result {
            Ok(events) => {
                if events.iter().any(|e| changes_listing(&e.kind)) {
                    let _ = tx.try_send(());
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!(dir = %shown.display(), error = %e, "media folder watcher error");
                }
            }
        };
        let mut debouncer = new_debouncer(DEBOUNCE, None, handler)?;
        debouncer.watch(dir, RecursiveMode::Recursive)?;
        tokio::spawn(rescan_on_change(rx, engine, shutdown));
        Ok(MediaWatcher {
            _debouncer: debouncer,
        })
    }
}

/// Whether an event can change what `CLS` lists: reads and metadata-only changes cannot.
fn changes_listing(kind: &EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Any | EventKind::Other => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        // A copy finished: the file is complete now.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
    }
}

async fn rescan_on_change(
    mut rx: mpsc::Receiver<()>,
    engine: EngineHandle,
    shutdown: CancellationToken,
) {
    let follow_up = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(follow_up);
    let mut follow_up_armed = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            got = rx.recv() => {
                if got.is_none() {
                    return;
                }
                tracing::debug!("media folder changed; rescanning");
                follow_up.as_mut().reset(tokio::time::Instant::now() + FOLLOW_UP);
                follow_up_armed = true;
            }
            () = &mut follow_up, if follow_up_armed => follow_up_armed = false,
        }
        // The engine coalesces concurrent rescans and reports failures as an alarm itself.
        if let Err(e) = engine.execute(Op::MediaRescan).await {
            tracing::debug!(error = %e, "media rescan after a folder change failed");
        }
    }
}
