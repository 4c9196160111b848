//! Fault injection from outside the process: [`SimControl`] is a cheap handle on a running
//! simulator's fault switches, and [`serve`] offers it on a line-based TCP port
//! (`onair sim --control 127.0.0.1:5251`), so a person or a test script can stall, delay, drop or
//! restart the "server" while a daemon is connected to it.
//!
//! Protocol: one command per line (LF or CR LF, case-insensitive), one answer line each: `OK`,
//! `OK <details>` or `ERR <why>`. `help` lists the commands. The port has no authentication, so
//! `onair sim` binds it on loopback only.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::codec::{Framed, LinesCodec};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::faults::Faults;
use super::server::Shared;
use crate::config::duration;

/// Longest command line accepted; a longer one is answered `ERR` and the connection closed.
const MAX_LINE: usize = 1024;
/// Control connections served at once; more are answered `ERR` and closed.
const MAX_CONNECTIONS: usize = 16;
/// `restart` without a downtime keeps the port closed this long.
const DEFAULT_DOWNTIME: Duration = Duration::from_secs(1);

/// What `help` answers (on one line, like every answer).
pub const HELP: &str = "commands: stall [DURATION] | unstall | delay DURATION | \
    command-delay DURATION [COMMAND] | garbage | drop | restart [DOWNTIME] | refuse | accept | \
    osc on|off | clear | status | help";

/// A handle on a running simulator's faults and connections; clones share the simulator.
#[derive(Clone)]
pub struct SimControl {
    shared: Arc<Shared>,
}

impl SimControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        SimControl { shared }
    }

    /// The fault switches: stall, reply delay, garbage, per-command processing delay.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Closes every open AMCP connection now (the listener stays up).
    pub fn drop_connections(&self) {
        self.shared.drop_connections();
    }

    /// While `true`, new connections are refused; see [`super::Sim::set_refuse_connections`].
    pub fn set_refuse_connections(&self, refuse: bool) {
        self.shared.refusing.send_replace(refuse);
    }

    /// Waits until the AMCP port is actually open (`true`) or closed (`false`).
    pub async fn wait_listening(&self, listening: bool) {
        let mut rx = self.shared.listening.subscribe();
        let _ = rx.wait_for(|l| *l == listening).await;
    }

    /// A server restart: connections dropped, queued commands lost, the port closed for
    /// `downtime`, then back with empty channels. When this returns the port accepts again.
    pub async fn restart(&self, downtime: Duration) {
        self.set_refuse_connections(true);
        self.shared.drop_connections();
        self.shared.bump_generation();
        self.shared.state().reset();
        self.wait_listening(false).await;
        tokio::time::sleep(downtime).await;
        self.set_refuse_connections(false);
        self.wait_listening(true).await;
    }

    /// Stops or restarts the OSC stream without touching AMCP.
    pub fn set_osc_enabled(&self, enabled: bool) {
        self.shared.osc.set_enabled(enabled);
    }

    /// Open AMCP connections.
    pub fn connection_count(&self) -> usize {
        *self.shared.connections().borrow()
    }

    /// Carries out one control command; the answer line, without its line end.
    pub async fn execute(&self, line: &str) -> String {
        match self.run(line).await {
            Ok(None) => "OK".to_owned(),
            Ok(Some(details)) => format!("OK {details}"),
            Err(why) => format!("ERR {why}"),
        }
    }

    async fn run(&self, line: &str) -> Result<Option<String>, String> {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or_default().to_ascii_lowercase();
        let rest: Vec<&str> = words.collect();
        let faults = self.faults();
        match (verb.as_str(), rest.as_slice()) {
            ("stall", []) => faults.set_stalled(true),
            ("stall", [d]) => {
                faults.set_stalled(false);
                if !faults.stall_for(parse(d)?) {
                    return Err(format!("{d} is too long"));
                }
            }
            ("unstall", []) => faults.set_stalled(false),
            ("delay", [d]) => faults.set_reply_delay(parse(d)?),
            ("command-delay", [d]) => faults.set_command_delay(parse(d)?),
            ("command-delay", [d, name @ ..]) => {
                faults.set_command_delay_for(&name.join(" "), parse(d)?);
            }
            ("garbage", []) => faults.corrupt_next_reply(),
            ("drop", []) => {
                let n = self.connection_count();
                self.drop_connections();
                return Ok(Some(format!("connections dropped: {n}")));
            }
            ("restart", []) => self.restart(DEFAULT_DOWNTIME).await,
            ("restart", [d]) => self.restart(parse(d)?).await,
            ("refuse", []) => {
                self.set_refuse_connections(true);
                self.wait_listening(false).await;
            }
            ("accept", []) => {
                self.set_refuse_connections(false);
                self.wait_listening(true).await;
            }
            ("osc", [on]) => match on.to_ascii_lowercase().as_str() {
                "on" => self.set_osc_enabled(true),
                "off" => self.set_osc_enabled(false),
                _ => return Err(format!("osc takes on or off, not {on:?}")),
            },
            ("clear", []) => {
                faults.clear();
                self.set_osc_enabled(true);
                self.set_refuse_connections(false);
                self.wait_listening(true).await;
            }
            ("status", []) => return Ok(Some(self.status())),
            ("help", []) => return Ok(Some(HELP.to_owned())),
            ("", _) => return Err("empty line; try help".to_owned()),
            (
                "stall" | "unstall" | "delay" | "command-delay" | "garbage" | "drop" | "restart"
                | "refuse" | "accept" | "osc" | "clear" | "status" | "help",
                _,
            ) => return Err(format!("wrong arguments for {verb}; {HELP}")),
            _ => return Err(format!("unknown command {verb:?}; {HELP}")),
        }
        Ok(None)
    }

    fn status(&self) -> String {
        let faults = self.faults();
        let stalled = match (faults.stalled_open_ended(), faults.stall_left()) {
            (true, _) => "true".to_owned(),
            // The time left of a stall with an end, e.g. `stalled=4823ms`.
            (false, Some(left)) => duration::format(round_ms(left)),
            (false, None) => "false".to_owned(),
        };
        format!(
            "stalled={stalled} delay={} refusing={} connections={}",
            duration::format(faults.reply_delay()),
            *self.shared.refusing.borrow(),
            self.connection_count(),
        )
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn parse(text: &str) -> Result<Duration, String> {
    duration::parse(text).map_err(|e| e.to_string())
}

/// Serves control connections on `listener` until `stop` is cancelled.
pub async fn serve(listener: TcpListener, control: SimControl, stop: CancellationToken) {
    let tracker = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // A failed accept (a reset before it, out of descriptors) concerns that client only.
                Err(e) => {
                    tracing::debug!(error = %e, "sim control: accept failed");
                    continue;
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            let mut lines = Framed::new(stream, LinesCodec::new());
            let _ = lines.send("ERR too many control connections").await;
            continue;
        };
        let (control, stop) = (control.clone(), stop.clone());
        tracker.spawn(async move {
            connection(stream, &control, &stop).await;
            drop(slot);
        });
    }
    tracker.close();
    tracker.wait().await;
}

async fn connection(stream: TcpStream, control: &SimControl, stop: &CancellationToken) {
    let mut lines = Framed::new(stream, LinesCodec::new_with_max_length(MAX_LINE));
    loop {
        let line = tokio::select! {
            () = stop.cancelled() => return,
            line = lines.next() => line,
        };
        let answer = match line {
            None => return,
            Some(Ok(line)) if line.trim().is_empty() => continue,
            Some(Ok(line)) => {
                tracing::info!(command = line.trim(), "sim control");
                tokio::select! {
                    () = stop.cancelled() => return,
                    answer = control.execute(&line) => answer,
                }
            }
            Some(Err(_)) => {
                // Too long (or not UTF-8): the codec ends the stream after an error.
                let _ = lines
                    .send(format!("ERR lines are at most {MAX_LINE} bytes of UTF-8"))
                    .await;
                linger(lines.into_inner()).await;
                return;
            }
        };
        if lines.send(answer).await.is_err() {
            return;
        }
    }
}

/// Closes politely: FIN first, then reads what the client still sends (briefly). Closing a socket
/// with unread input resets it, and a reset can destroy the answer still in flight.
async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 1024];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}
