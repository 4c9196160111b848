//! For tests: stall the store writer of one data directory, as a stuck file system would (an NFS
//! server gone, a dying disk), so that shutdown with a write hanging can be tested for real.
//!
//! While a [`Stall`] for a directory exists, every [`super::StoreWriter`] whose store was opened on
//! exactly that path blocks on its blocking-pool thread before its next batch touches the disk,
//! until the stall is released. Nothing else is affected; without a stall the writer pays one
//! uncontended lock per batch.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    released: bool,
    /// Writer batches that reached the gate.
    entered: usize,
}

impl Gate {
    fn state(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

static STALLS: Mutex<Vec<(PathBuf, Arc<Gate>)>> = Mutex::new(Vec::new());

fn stalls() -> MutexGuard<'static, Vec<(PathBuf, Arc<Gate>)>> {
    STALLS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Holds the writers of one data directory until released (or dropped).
pub struct Stall {
    dir: PathBuf,
    gate: Arc<Gate>,
}

impl std::fmt::Debug for Stall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stall").field("dir", &self.dir).finish()
    }
}

impl Stall {
    /// Stalls the writers of `data_dir` (the path as given to `Store::open`) from their next batch.
    pub fn new(data_dir: impl Into<PathBuf>) -> Stall {
        let dir = data_dir.into();
        let gate = Arc::new(Gate::default());
        stalls().push((dir.clone(), gate.clone()));
        Stall { dir, gate }
    }

    /// Waits until a writer is blocked here; false if none arrived within `timeout`.
    pub fn wait_stalled(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.gate.state();
        while state.entered == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .gate
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Lets the blocked writers go on (dropping the stall does the same).
    pub fn release(self) {}
}

impl Drop for Stall {
    fn drop(&mut self) {
        stalls().retain(|(_, g)| !Arc::ptr_eq(g, &self.gate));
        self.gate.state().released = true;
        self.gate.changed.notify_all();
    }
}

/// Called by the writer before a batch: blocks while a stall for `data_dir` is in place.
pub(crate) fn pass(data_dir: &Path) {
    let gate = {
        let stalls = stalls();
        if stalls.is_empty() {
            return;
        }
        match stalls.iter().find(|(d, _)| d == data_dir) {
            Some((_, g)) => g.clone(),
            None => return,
        }
    };
    let mut state = gate.state();
    state.entered += 1;
    gate.changed.notify_all();
    while !state.released {
        state = gate
            .changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
    }
}
