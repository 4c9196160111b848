//! The chaos task: the faults studios see, one at a time, at random intervals. Every fault it turns
//! on it also turns off, and it clears them all when the run ends so the link can recover.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onair::caspar::CasparHandle;
use onair::sim::Sim;

#[derive(Clone, Default)]
pub struct Chaos {
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
    pending_while_down_max: Arc<AtomicU64>,
}

fn between(lo: Duration, hi: Duration) -> Duration {
    let (lo, hi) = (lo.as_millis() as u64, hi.as_millis() as u64);
    Duration::from_millis(fastrand::u64(lo..=hi.max(lo)))
}

impl Chaos {
    pub fn new() -> Chaos {
        Chaos::default()
    }

    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.counts.lock().expect("chaos counts").clone()
    }

    pub fn pending_while_down_max(&self) -> u64 {
        self.pending_while_down_max.load(Ordering::SeqCst)
    }

    fn count(&self, what: &'static str) {
        *self
            .counts
            .lock()
            .expect("chaos counts")
            .entry(what)
            .or_default() += 1;
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

    pub async fn drive(
        self,
        sim: Arc<Sim>,
        link: CasparHandle,
        every: (Duration, Duration),
        deadline: Instant,
    ) {
        loop {
            let wait = between(every.0, every.1);
            if Instant::now() + wait >= deadline {
                break;
            }
            // The chaos interval itself is the one deliberate sleep of the soak.
            tokio::time::sleep(wait).await;
            let hold = between(Duration::from_millis(300), Duration::from_millis(2500));
            match fastrand::u8(..7) {
                0 => {
                    self.count("restart");
                    // Restart returns when the server listens again; the drop is observed first.
                    let check = self.check_pending_after_disconnect(&link);
                    let restart = sim.restart(between(
                        Duration::from_millis(100),
                        Duration::from_millis(1500),
                    ));
                    tokio::join!(check, restart);
                }
                1 => {
                    self.count("stall");
                    sim.faults().set_stalled(true);
                    // A stall longer than the ping timeout makes the link give up the connection.
                    let check = self.check_pending_after_disconnect(&link);
                    let _ = tokio::time::timeout(hold, check).await;
                    tokio::time::sleep(hold.saturating_sub(Duration::from_millis(300))).await;
                    sim.faults().set_stalled(false);
                }
                2 => {
                    self.count("drop_connections");
                    sim.drop_connections();
                    self.check_pending_after_disconnect(&link).await;
                }
                3 => {
                    self.count("reply_delay");
                    sim.faults()
                        .set_reply_delay(between(Duration::from_millis(20), hold / 2));
                    tokio::time::sleep(hold).await;
                    sim.faults().set_reply_delay(Duration::ZERO);
                }
                4 => {
                    self.count("corrupt_reply");
                    sim.faults().corrupt_next_reply();
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
                }
                _ => {
                    self.count("command_delay");
                    sim.faults()
                        .set_command_delay(between(Duration::from_millis(50), hold / 3));
                    tokio::time::sleep(hold).await;
                    sim.faults().set_command_delay(Duration::ZERO);
                }
            }
        }
        let faults = sim.faults();
        faults.set_stalled(false);
        faults.set_reply_delay(Duration::ZERO);
        faults.set_command_delay(Duration::ZERO);
        sim.set_refuse_connections(false);
    }
}
