//! The chaos task: the faults studios see, at random intervals, on one server or (in pair mode) on
//! the main, the backup or both at once. Every fault it turns on it also turns off, and it clears
//! them all when the run ends so the links can recover. It notes when each fault was on, per side,
//! so the pair mode can tell a side's own downtime from a gap.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onair::caspar::CasparHandle;
use onair::sim::Sim;

/// A server the chaos can hit: its simulator and the daemon's link to it.
#[derive(Clone)]
pub struct Target {
    pub sim: Arc<Sim>,
    pub link: CasparHandle,
}

/// One fault as injected: on which side (0 = main), what, and from when to when (a dropped
/// connection or a corrupt reply is an instant).
#[derive(Debug, Clone)]
pub struct FaultWindow {
    pub side: usize,
    pub kind: &'static str,
    pub from: Instant,
    pub to: Instant,
}

#[derive(Clone, Default)]
pub struct Chaos {
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
    pending_while_down_max: Arc<AtomicU64>,
    windows: Arc<Mutex<Vec<FaultWindow>>>,
}

fn between(lo: Duration, hi: Duration) -> Duration {
    let (lo, hi) = (lo.as_millis() as u64, hi.as_millis() as u64);
    Duration::from_millis(fastrand::u64(lo..=hi.max(lo)))
}

/// Which sides one action hits: the only server; or the main or the backup (45 % each), or both
/// (10 %), so that both-down and one-side-down are both exercised.
fn pick_sides(n: usize) -> Vec<usize> {
    if n < 2 {
        return vec![0];
    }
    match fastrand::u8(..20) {
        0..=8 => vec![0],
        9..=17 => vec![1],
        _ => vec![0, 1],
    }
}

impl Chaos {
    pub fn new() -> Chaos {
        Chaos::default()
    }

    /// Actions by kind; an action on both sides of a pair counts once per side.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().expect("chaos counts").clone()
    }

    pub fn pending_while_down_max(&self) -> u64 {
        self.pending_while_down_max.load(Ordering::SeqCst)
    }

    /// Every fault injected so far, per side.
    pub fn windows(&self) -> Vec<FaultWindow> {
        self.windows.lock().expect("chaos windows").clone()
    }

    fn count(&self, what: &'static str) {
        *self
            .counts
            .lock()
            .expect("chaos counts")
            .entry(what)
            .or_default() += 1;
    }

    fn note(&self, side: usize, kind: &'static str, from: Instant) {
        self.windows
            .lock()
            .expect("chaos windows")
            .push(FaultWindow {
                side,
                kind,
                from,
                to: Instant::now(),
            });
    }

    /// After a fault that breaks the connection: once the link is seen down, every command of the
    /// dead connection must already have been failed (in flight + waiting = 0).
    async fn check_pending_after_disconnect(&self, link: &CasparHandle) {
        let down = super::wait_until(Duration::from_secs(5), || !link.state().is_connected()).await;
        if down {
            let s = link.stats();
            self.pending_while_down_max
                .fetch_max(s.in_flight + s.waiting, Ordering::SeqCst);
            self.count("disconnects_checked");
        }
    }

    pub async fn drive(self, targets: Vec<Target>, every: (Duration, Duration), deadline: Instant) {
        loop {
            let wait = between(every.0, every.1);
            if Instant::now() + wait >= deadline {
                break;
            }
            // The chaos interval itself is the one deliberate sleep of the soak.
            tokio::time::sleep(wait).await;
            let kind = fastrand::u8(..7);
            let sides = pick_sides(targets.len());
            if sides.len() > 1 {
                self.count("both_sides");
            }
            let hits = sides
                .iter()
                .map(|&side| self.hit(kind, side, &targets[side]));
            futures_util::future::join_all(hits).await;
        }
        for t in &targets {
            let faults = t.sim.faults();
            faults.set_stalled(false);
            faults.set_reply_delay(Duration::ZERO);
            faults.set_command_delay(Duration::ZERO);
            t.sim.set_refuse_connections(false);
        }
    }

    /// One fault of kind `kind` on `side`, for a random time.
    async fn hit(&self, kind: u8, side: usize, target: &Target) {
        let (sim, link) = (&target.sim, &target.link);
        let hold = between(Duration::from_millis(300), Duration::from_millis(2500));
        let from = Instant::now();
        match kind {
            0 => {
                self.count("restart");
                // Restart returns when the server listens again; the drop is observed first.
                let check = self.check_pending_after_disconnect(link);
                let restart = async {
                    sim.restart(between(
                        Duration::from_millis(100),
                        Duration::from_millis(1500),
                    ))
                    .await;
                    self.note(side, "restart", from);
                };
                tokio::join!(check, restart);
            }
            1 => {
                self.count("stall");
                sim.faults().set_stalled(true);
                // A stall longer than the ping timeout makes the link give up the connection.
                let check = self.check_pending_after_disconnect(link);
                let _ = tokio::time::timeout(hold, check).await;
                tokio::time::sleep(hold.saturating_sub(Duration::from_millis(300))).await;
                sim.faults().set_stalled(false);
                self.note(side, "stall", from);
            }
            2 => {
                self.count("drop_connections");
                sim.drop_connections();
                self.note(side, "drop_connections", from);
                self.check_pending_after_disconnect(link).await;
            }
            3 => {
                self.count("reply_delay");
                sim.faults()
                    .set_reply_delay(between(Duration::from_millis(20), hold / 2));
                tokio::time::sleep(hold).await;
                sim.faults().set_reply_delay(Duration::ZERO);
                self.note(side, "reply_delay", from);
            }
            4 => {
                self.count("corrupt_reply");
                sim.faults().corrupt_next_reply();
                self.note(side, "corrupt_reply", from);
            }
            5 => {
                // Another client floods channel 1's queue past the server's 128-command limit,
                // so the daemon's own commands on that channel meet `504 QUEUE OVERFLOW`.
                self.count("queue_overflow");
                sim.faults()
                    .set_command_delay_for("MIXER OPACITY", Duration::from_millis(20));
                if let Ok(mut flood) = tokio::net::TcpStream::connect(sim.addr()).await {
                    use tokio::io::AsyncWriteExt;
                    let lines = "MIXER 1-10 OPACITY 1\r\n".repeat(300);
                    let _ = flood.write_all(lines.as_bytes()).await;
                    tokio::time::sleep(hold).await;
                }
                sim.faults()
                    .set_command_delay_for("MIXER OPACITY", Duration::ZERO);
                self.note(side, "queue_overflow", from);
            }
            _ => {
                self.count("command_delay");
                sim.faults()
                    .set_command_delay(between(Duration::from_millis(50), hold / 3));
                tokio::time::sleep(hold).await;
                sim.faults().set_command_delay(Duration::ZERO);
                self.note(side, "command_delay", from);
            }
        }
    }
}
