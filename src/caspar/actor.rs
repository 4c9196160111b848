//! The connection actor: owns the socket, connects, probes REQ support, keeps the link alive with
//! PING, and reconnects forever with backoff. The pending table itself lives in [`super::session`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior, sleep_until};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::error::{CommandError, DisconnectReason};
use super::reconnect_log::{self, Outage, ReconnectLog, Recovery};
use super::session::{Deadlines, PendingTable};
use super::stats::Stats;
use super::{LinkState, Msg};
use crate::amcp::codec::{AmcpCodec, Body, DecodeError, Frame};
use crate::config::CasparConfig;
use crate::retry::Reconnect;

/// Commands accepted but not yet answered, per connection, before callers are made to wait: bounds
/// memory when a caller submits faster than the server answers.
const MAX_PENDING: usize = 65_536;

/// The request id of the REQ probe; session ids start at 1.
const PROBE_ID: &str = "0";

pub(crate) struct Actor {
    pub(crate) config: CasparConfig,
    pub(crate) rx: mpsc::Receiver<Msg>,
    pub(crate) state: watch::Sender<LinkState>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) shutdown: CancellationToken,
    /// The local address of the current connection, shared with the handles.
    pub(crate) local_addr: Arc<Mutex<Option<SocketAddr>>>,
    /// Cluster mode's lease, checked as each command is written.
    pub(crate) fence: Option<super::Fence>,
}

struct Link {
    reader: FramedRead<OwnedReadHalf, AmcpCodec>,
    writer: OwnedWriteHalf,
    version: String,
    req: bool,
    local: Option<SocketAddr>,
}

impl Actor {
    pub(crate) async fn run(mut self) {
        let mut retry = Reconnect::new(
            self.config.backoff_initial,
            self.config.backoff_max,
            self.config.backoff_reset_after,
        );
        let mut log = ReconnectLog::new();
        loop {
            let attempt = retry.attempt();
            self.state.send_replace(LinkState::Connecting { attempt });
            self.stats.connect_attempt();
            let connecting = connect(self.config.clone());
            let reason = match self.reject_while(connecting).await {
                None => DisconnectReason::Shutdown,
                Some(Err(reason)) => {
                    self.log_failure(&mut log, attempt, &reason);
                    reason
                }
                Some(Ok(link)) => {
                    retry.connected();
                    let recovery = log.connected(std::time::Instant::now());
                    let reason = self.serve(link, recovery).await;
                    if reason != DisconnectReason::Shutdown {
                        log.lost(Instant::now().into_std());
                        tracing::warn!(address = %self.config.address, %reason, "caspar: link down");
                    }
                    reason
                }
            };
            self.stats.disconnected(&reason);
            if reason == DisconnectReason::Shutdown {
                tracing::info!(address = %self.config.address, "caspar: link closed (shutdown)");
            }
            let shutting_down = reason == DisconnectReason::Shutdown;
            self.state.send_replace(LinkState::Disconnected {
                reason,
                since: SystemTime::now(),
            });
            if shutting_down {
                break;
            }
            let delay = retry.delay();
            tracing::debug!(?delay, "caspar: reconnecting after backoff");
            if self.reject_while(tokio::time::sleep(delay)).await.is_none() {
                self.state.send_replace(LinkState::Disconnected {
                    reason: DisconnectReason::Shutdown,
                    since: SystemTime::now(),
                });
                self.stats.disconnected(&DisconnectReason::Shutdown);
                break;
            }
        }
        // Anything still queued in the channel gets its answer before the actor goes away.
        self.rx.close();
        while let Ok(msg) = self.rx.try_recv() {
            self.reject(msg);
        }
    }

    /// A failed attempt, logged only when [`ReconnectLog`] says a line is due.
    fn log_failure(&self, log: &mut ReconnectLog, attempt: u32, reason: &DisconnectReason) {
        let Some(line) = log.failed(attempt, Instant::now().into_std()) else {
            tracing::debug!(attempt, %reason, "caspar: attempt failed");
            return;
        };
        let address = &self.config.address;
        let skipped = match line.unlogged {
            0 => String::new(),
            n => format!(", {n} not logged since the last line"),
        };
        let down = reconnect_log::human(line.down_for);
        match (line.outage, line.is_first()) {
            // The sentences say everything; fields would repeat them on every human line.
            (Outage::NeverConnected, true) => tracing::warn!(
                "caspar: cannot connect to {address}: {reason}. Is CasparCG running at {address}? \
                 Set --caspar (or caspar.address), or try `onair sim`. Retrying with backoff; \
                 repeated failures are logged at attempts 2, 4, 8, … and at least every 10 min"
            ),
            (Outage::NeverConnected, false) => tracing::warn!(
                "caspar: still cannot connect to {address} ({attempt} attempts in {down}{skipped}): {reason}"
            ),
            (Outage::Lost, _) => tracing::warn!(
                "caspar: link still down ({attempt} reconnect attempts in {down}{skipped}): {reason}"
            ),
        }
    }

    /// Runs `fut` while answering every submitted command with `NotConnected`; `None` on shutdown.
    async fn reject_while<F: Future>(&mut self, fut: F) -> Option<F::Output> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return None,
                out = &mut fut => return Some(out),
                msg = self.rx.recv() => match msg {
                    Some(msg) => self.reject(msg),
                    // Every handle is gone: nobody can send commands any more.
                    None => return None,
                },
            }
        }
    }

    fn reject(&self, msg: Msg) {
        let Msg::Submit(items) = msg;
        for (_, responder) in items {
            self.stats.not_connected();
            responder.deliver(Err(CommandError::NotConnected));
        }
    }

    /// Serves one established link until it fails; every pending command is failed on the way out.
    /// `recovery` is the outage this connection ends, if any: said once, in the `connected` line.
    async fn serve(&mut self, link: Link, recovery: Option<Recovery>) -> DisconnectReason {
        let Link {
            mut reader,
            mut writer,
            version,
            req,
            local,
        } = link;
        let address = &self.config.address;
        match recovery {
            None => tracing::info!(%address, %version, req, "caspar: connected"),
            Some(r) => {
                let down = reconnect_log::human(r.down_for);
                let after = match r.outage {
                    Outage::NeverConnected => "the first connection",
                    Outage::Lost => "link back up",
                };
                tracing::info!(
                    %address, %version, req,
                    "caspar: connected ({after} after {down}, {} failed attempts)",
                    r.failed_attempts
                );
            }
        }
        self.stats.connected();
        // Before the state: whoever sees `Connected` (the engine subscribing OSC) sees the address.
        *self
            .local_addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = local;
        self.state.send_replace(LinkState::Connected {
            server_version: version,
            since: SystemTime::now(),
            req_supported: req,
        });
        let deadlines = Deadlines {
            normal: self.config.command_timeout,
            scanner: self.config.scanner_timeout,
        };
        let mut session = PendingTable::new(
            req,
            self.config.max_in_flight_per_queue,
            deadlines,
            self.stats.clone(),
        )
        .fenced(self.fence.clone());
        let reason = self.pump(&mut session, &mut reader, &mut writer).await;
        session.fail_all(&CommandError::ConnectionLost);
        // Closing the write side ends the connection politely; errors do not matter any more.
        let _ = writer.shutdown().await;
        reason
    }

    async fn pump(
        &mut self,
        session: &mut PendingTable,
        reader: &mut FramedRead<OwnedReadHalf, AmcpCodec>,
        writer: &mut OwnedWriteHalf,
    ) -> DisconnectReason {
        let mut ping = tokio::time::interval(self.config.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ping.reset();
        let mut ping_seq: u64 = 0;
        let mut pong_due: Option<(Instant, String)> = None;
        loop {
            let deadline = session.next_deadline();
            let pong_deadline = pong_due.as_ref().map(|(d, _)| *d);
            let has_output = !session.output().is_empty();
            let accepting = session.len() < MAX_PENDING;
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return DisconnectReason::Shutdown,
                frame = reader.next() => match frame {
                    None => return DisconnectReason::Closed,
                    Some(Err(DecodeError::Io(e))) => return DisconnectReason::Io(e.to_string()),
                    Some(Err(e)) => return DisconnectReason::Protocol(e.to_string()),
                    Some(Ok(Frame::Pong(token))) => {
                        if pong_due.as_ref().is_some_and(|(_, t)| *t == token) {
                            pong_due = None;
                        }
                    }
                    Some(Ok(frame)) => session.on_frame(frame, Instant::now()),
                },
                written = writer.write_buf(session.output()), if has_output => match written {
                    Ok(0) => return DisconnectReason::Io("socket closed for writing".into()),
                    Ok(_) => {}
                    Err(e) => return DisconnectReason::Io(e.to_string()),
                },
                msg = self.rx.recv(), if accepting => match msg {
                    None => return DisconnectReason::Shutdown,
                    Some(Msg::Submit(items)) => {
                        let now = Instant::now();
                        for (cmd, responder) in items {
                            session.submit(&cmd, responder, now);
                        }
                    }
                },
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    session.expire(Instant::now());
                    if session.needs_reset() {
                        return DisconnectReason::Protocol(
                            "a command timed out on a server without REQ ids; replies can no longer be matched".into(),
                        );
                    }
                }
                () = sleep_until(pong_deadline.unwrap_or_else(Instant::now)), if pong_deadline.is_some() => {
                    return DisconnectReason::PingTimeout;
                }
                _ = ping.tick(), if pong_due.is_none() => {
                    ping_seq += 1;
                    let token = format!("onair{ping_seq}");
                    let out = session.output();
                    out.extend_from_slice(b"PING ");
                    out.extend_from_slice(token.as_bytes());
                    out.extend_from_slice(b"\r\n");
                    pong_due = Some((Instant::now() + self.config.ping_timeout, token));
                }
            }
        }
    }
}

/// Connects, enables keepalive and probes REQ support (docs/amcp-notes.md §2: `REQ <id> VERSION` answers
/// `RES <id> 201`; a server without REQ answers a bare `400 ERROR`).
async fn connect(config: CasparConfig) -> Result<Link, DisconnectReason> {
    let stream = tokio::time::timeout(config.connect_timeout, TcpStream::connect(&config.address))
        .await
        .map_err(|_| {
            DisconnectReason::ConnectFailed(format!("timed out after {:?}", config.connect_timeout))
        })?
        .map_err(|e| DisconnectReason::ConnectFailed(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    set_keepalive(&stream, config.tcp_keepalive);
    let local = stream.local_addr().ok();
    let (rd, mut writer) = stream.into_split();
    // Large reads: a pipelined burst of replies arrives in few syscalls.
    let mut reader =
        FramedRead::with_capacity(rd, AmcpCodec::new(config.max_frame_bytes), 64 * 1024);
    let timeout = config.command_timeout;
    let probe = format!("REQ {PROBE_ID} VERSION\r\n");
    let reply = exchange(&mut reader, &mut writer, &probe, timeout).await?;
    let (req, reply) = match reply.req_id.as_deref() {
        Some(PROBE_ID) => (true, reply),
        None if reply.code == 400 => (
            false,
            exchange(&mut reader, &mut writer, "VERSION\r\n", timeout).await?,
        ),
        _ => {
            return Err(DisconnectReason::ProbeFailed(format!(
                "unexpected reply {} {}",
                reply.code, reply.status
            )));
        }
    };
    let version = match (&reply.body, reply.code) {
        (Body::Line(v), 201) => v.trim().to_owned(),
        _ => {
            return Err(DisconnectReason::ProbeFailed(format!(
                "VERSION answered {} {}",
                reply.code, reply.status
            )));
        }
    };
    Ok(Link {
        reader,
        writer,
        version,
        req,
        local,
    })
}

async fn exchange(
    reader: &mut FramedRead<OwnedReadHalf, AmcpCodec>,
    writer: &mut OwnedWriteHalf,
    line: &str,
    timeout: Duration,
) -> Result<crate::amcp::codec::Reply, DisconnectReason> {
    let io = async {
        writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| DisconnectReason::Io(e.to_string()))?;
        loop {
            match reader.next().await {
                None => return Err(DisconnectReason::Closed),
                Some(Err(e)) => return Err(DisconnectReason::Protocol(e.to_string())),
                Some(Ok(Frame::Pong(_))) => continue,
                Some(Ok(Frame::Reply(r))) => return Ok(r),
            }
        }
    };
    tokio::time::timeout(timeout, io).await.map_err(|_| {
        DisconnectReason::ProbeFailed(format!("no VERSION reply within {timeout:?}"))
    })?
}

/// TCP keepalive catches a dead peer even when the application is idle; failure to set it is logged,
/// not fatal, since the PING keeps watching the link anyway.
fn set_keepalive(stream: &TcpStream, idle: Duration) {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(idle)
        .with_interval(idle);
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "freebsd"))]
    let keepalive = keepalive.with_retries(3);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::warn!(error = %e, "caspar: cannot enable TCP keepalive");
    }
}
