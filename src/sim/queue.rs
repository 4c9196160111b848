//! The command queues' workers: executing single commands and committed batches against the
//! model, stamping the takes they cause, and the connection-bound `OSC SUBSCRIBE`.
//!
//! Split from [`super::server`], which owns connections, queues and the shared state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::clock;
use super::exec;
use super::request::{Outcome, SimRequest};
use super::server::{Conn, Job, Shared, Work, prefixed};

/// Executes one queue's jobs in arrival order until shutdown, skipping jobs from before a restart
/// and applying the per-command processing delay.
pub(crate) async fn queue_worker(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    waiting: Arc<AtomicUsize>,
    shutdown: CancellationToken,
) {
    loop {
        let job = tokio::select! {
            () = shutdown.cancelled() => return,
            job = rx.recv() => match job { Some(j) => j, None => return },
        };
        waiting.fetch_sub(1, Ordering::SeqCst);
        // Early outs only (a stale command must not sit out a delay first); what keeps stale work
        // off a restarted server is `run`'s check with the state locked.
        if !current(&shared, job.generation) {
            continue;
        }
        match job.work {
            Work::Single(request) => {
                let delay = shared.faults.command_delay(request.name);
                if !delay.is_zero() {
                    shared.faults.delay_started();
                    let cancelled = tokio::select! {
                        () = shutdown.cancelled() => true,
                        () = tokio::time::sleep(delay) => false,
                    };
                    shared.faults.delay_ended();
                    if cancelled {
                        return;
                    }
                }
                if let Some(reply) = run(&shared, &job.conn, job.generation, &request) {
                    job.conn.send(prefixed(job.req_id.as_deref(), reply));
                }
            }
            Work::Batch { begin_id, items } => {
                run_batch(&shared, &job.conn, job.generation, begin_id, items)
            }
        }
    }
}

/// Executes one request of a connection from `generation`; `None` when the server sends no reply
/// (or restarted since).
fn run(shared: &Shared, conn: &Conn, generation: u64, request: &SimRequest) -> Option<String> {
    let mut state = shared.state();
    if !current(shared, generation) {
        return None;
    }
    shared.commands_executed.fetch_add(1, Ordering::Relaxed);
    shared.log_command(request);
    if let Some(reply) = osc_subscription(shared, conn, request) {
        return Some(reply);
    }
    clock::catch_up_all(shared, &mut state);
    let outcome = exec::execute(&mut state, request);
    shared.stamp_takes(&mut state, None);
    drop(state);
    match outcome {
        Outcome::Reply(r) => Some(r),
        Outcome::Silent => None,
    }
}

/// Runs a committed batch under one lock so that its effects land on the same frame (docs/amcp-notes.md §4.9).
///
/// As `AMCPCommandQueue::Execute` does, an empty batch sends nothing and a batch of one command is
/// executed as a plain command: its own reply, no `202 COMMIT OK` (recorded on 2.4.3:
/// `REQ b1 BEGIN` / `REQ b2 STOP 1-20` / `REQ b3 COMMIT` answers only `RES b2 202 STOP OK`).
fn run_batch(
    shared: &Shared,
    conn: &Conn,
    generation: u64,
    begin_id: Option<String>,
    items: Vec<(Option<String>, SimRequest)>,
) {
    if let [(req_id, request)] = items.as_slice() {
        if let Some(reply) = run(shared, conn, generation, request) {
            conn.send(prefixed(req_id.as_deref(), reply));
        }
        return;
    }
    if items.is_empty() {
        return;
    }
    let mut replies = Vec::with_capacity(items.len());
    {
        let mut state = shared.state();
        if !current(shared, generation) {
            return;
        }
        clock::catch_up_all(shared, &mut state);
        for (req_id, request) in &items {
            shared.commands_executed.fetch_add(1, Ordering::Relaxed);
            shared.log_command(request);
            let outcome = match osc_subscription(shared, conn, request) {
                Some(r) => Outcome::Reply(r),
                None => exec::execute(&mut state, request),
            };
            replies.push((req_id.clone(), outcome));
        }
        // One instant for the whole batch: its effects land on the same frame.
        shared.stamp_takes(&mut state, None);
    }
    let mut all_ok = true;
    for (req_id, outcome) in replies {
        match outcome {
            Outcome::Reply(r) => {
                all_ok &= r.starts_with('2');
                conn.send(prefixed(req_id.as_deref(), r));
            }
            Outcome::Silent => all_ok = false,
        }
    }
    let status = if all_ok {
        "202 COMMIT OK\r\n"
    } else {
        "202 COMMIT PARTIAL\r\n"
    };
    conn.send(prefixed(begin_id.as_deref(), status.into()));
}

/// Whether work queued at `generation` still belongs to the running server. Checked with the state
/// locked: a restart bumps the generation before it resets the state under the same lock, so a
/// command from before the restart never runs against (nor answers from) the restarted server's
/// empty channels, as none can on a real server whose process died.
fn current(shared: &Shared, generation: u64) -> bool {
    generation == shared.generation.load(Ordering::SeqCst)
}

/// `OSC SUBSCRIBE`/`UNSUBSCRIBE` are tied to the connection, so they are handled here, not in `exec`.
fn osc_subscription(shared: &Shared, conn: &Conn, request: &SimRequest) -> Option<String> {
    let subscribe = match request.name {
        "OSC SUBSCRIBE" => true,
        "OSC UNSUBSCRIBE" => false,
        _ => return None,
    };
    let port = request
        .params
        .first()
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0);
    let Some(port) = port else {
        return Some(format!("403 {} BAD PORT\r\n", request.name));
    };
    let target = SocketAddr::new(conn.peer.ip(), port);
    let mut ports = conn.osc_ports.lock().unwrap_or_else(|e| e.into_inner());
    if subscribe {
        ports.push(port);
        shared.osc_subscribers.add(target);
    } else if let Some(i) = ports.iter().position(|p| *p == port) {
        ports.swap_remove(i);
        shared.osc_subscribers.remove(target);
    }
    Some(format!("202 {} OK\r\n", request.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::exec::tests::request;
    use crate::sim::{Sim, SimConfig};

    /// A command taken off the queue just before a restart (the window between the worker's first
    /// generation check and the state lock) neither runs against the restarted server nor answers
    /// from its empty channels: the engine once took such an answer on its old connection for an
    /// operator's clear.
    #[tokio::test]
    async fn work_from_before_a_restart_never_runs_after_it() {
        let sim = Sim::start(SimConfig::for_tests()).await.unwrap();
        let shared = sim.shared.clone();
        let (out, mut replies) = mpsc::unbounded_channel();
        let conn = Conn::for_tests(out);
        let before = shared.generation.load(Ordering::SeqCst);
        let play = request("PLAY 1-10 CLIP1");
        assert!(run(&shared, &conn, before, &play).is_some_and(|r| r.starts_with("202")));
        // The restart: generation first, then the reset, as `SimControl::restart` does.
        shared.bump_generation();
        shared.state().reset();
        assert_eq!(run(&shared, &conn, before, &request("INFO 1-10")), None);
        assert_eq!(run(&shared, &conn, before, &play), None);
        let batch = vec![(None, play.clone()), (None, request("INFO 1-10"))];
        run_batch(&shared, &conn, before, Some("b".into()), batch);
        assert!(replies.try_recv().is_err(), "nothing answered");
        let empty = sim.with_state(|s| s.layer(0, 10).is_none_or(|l| l.foreground.is_empty()));
        assert!(empty, "the restarted server's layer stays empty");
        // Work of the running server still runs.
        let now = shared.generation.load(Ordering::SeqCst);
        assert!(run(&shared, &conn, now, &play).is_some());
    }
}
