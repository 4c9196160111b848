//! OSC telemetry from CasparCG: a UDP listener that decodes the server's per-frame state bundles
//! (docs/amcp-notes.md §6) into the latest per-channel, per-layer state and publishes it through a `watch`.
//!
//! The server sends each channel's *complete* state once per tick, packed into several ~2 KB
//! bundles whose time tags are a counter, not a clock; keys that are not sent any more (a layer
//! after `CLEAR`, `frames_left` after an `AUTO` fired) simply stop arriving. So the decoder groups
//! messages into per-channel *windows*: a window ends when a key already set in it arrives again
//! (in the server's sorted order that is `format`/`framerate`, the first keys of every tick). When a
//! window closes, a layer present in it loses the fields it did not send, and a layer absent from
//! two windows in a row is removed (one lost datagram must not make a layer flicker out). Values are
//! applied as they arrive, so elapsed times are never a tick late.
//!
//! The receive loop drains every datagram already queued before it publishes one snapshot, so a
//! tick's several datagrams (and all channels of one frame) cost one update; it never waits for
//! subscribers (`watch::send_replace`). Strings are `Arc<str>`: a snapshot clones pointers, and a
//! value is copied only when it changes. A channel with no datagram for `stale_after` is flagged
//! stale (and the flag is published); its last state is kept for display.
//!
//! Not here: subscribing and the fallback. A 2.4+ server is asked with `OSC SUBSCRIBE <port>`
//! (the port of [`OscTelemetry::local_addr`]), which lasts as long as that AMCP connection, so the
//! caller re-sends it after every reconnect; a 2.3 server only sends to each AMCP client's IP at its
//! configured default port (6250), so bind that port for 2.3. While a channel is stale the engine
//! polls `INFO <channel>` instead.

mod decoder;
mod state;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use decoder::{OscDecodeError, OscDecoder};
pub use state::{ChannelTelemetry, ForegroundTelemetry, LayerTelemetry, OscState};

/// Channels tracked at most; messages for further channels are counted as over the limit.
pub const MAX_CHANNELS: usize = 64;
/// Layers tracked per channel at most.
pub const MAX_LAYERS: usize = 256;
/// Datagrams handled before a snapshot is published even if more are queued.
const MAX_DRAIN: usize = 256;
/// Socket receive buffer requested: 8 channels' frame bursts queue without loss while we run late.
const RECV_BUFFER: usize = 1 << 20;

/// Counters of the receive loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OscStats {
    pub datagrams: u64,
    pub messages: u64,
    /// Datagrams that were not OSC (or nested too deeply); each is skipped whole.
    pub decode_errors: u64,
    /// Socket errors from `recv` (the loop carries on).
    pub receive_errors: u64,
    /// Messages ignored because [`MAX_CHANNELS`] or [`MAX_LAYERS`] was reached.
    pub over_limit: u64,
    pub last_received: Option<Instant>,
}

/// The receive loop's counters, shared with every [`OscTelemetry`].
#[derive(Debug, Default)]
struct Counters {
    datagrams: AtomicU64,
    messages: AtomicU64,
    decode_errors: AtomicU64,
    receive_errors: AtomicU64,
    over_limit: AtomicU64,
    /// Nanoseconds after `epoch` of the last datagram, plus one (0 = never).
    last_received: AtomicU64,
}

/// A bound UDP socket, not yet receiving.
#[derive(Debug)]
pub struct OscListener {
    socket: UdpSocket,
    local_addr: SocketAddr,
    follows_link: bool,
}

impl OscListener {
    /// Binds `addr` (port 0 picks a free port: tell the server with `OSC SUBSCRIBE <port>`).
    /// Must be called inside a Tokio runtime (an error otherwise).
    pub fn bind(addr: SocketAddr) -> io::Result<OscListener> {
        let (socket, local_addr) = bind_socket(addr)?;
        Ok(OscListener {
            socket,
            local_addr,
            follows_link: false,
        })
    }

    /// Makes [`OscTelemetry::follow_link`] move the listener to the AMCP connection's local address
    /// (the default when `caspar.osc_listen` is unset); without this the bound address is final.
    pub fn following_link(mut self) -> OscListener {
        self.follows_link = true;
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Starts the receive loop as a task that ends when `shutdown` is cancelled.
    pub fn spawn(self, shutdown: CancellationToken, stale_after: Duration) -> OscTelemetry {
        let (tx, rx) = watch::channel(Arc::new(OscState::default()));
        let counters = Arc::new(Counters::default());
        let epoch = Instant::now();
        let (rebind_tx, rebind_rx) = mpsc::unbounded_channel();
        tokio::spawn(receive_loop(
            self.socket,
            rebind_rx,
            tx,
            counters.clone(),
            epoch,
            shutdown,
            stale_after,
        ));
        OscTelemetry {
            rx,
            counters,
            epoch,
            stale_after,
            local_addr: Arc::new(Mutex::new(self.local_addr)),
            rebind: self.follows_link.then_some(rebind_tx),
        }
    }
}

/// Binds a non-blocking UDP socket with a large receive buffer. Must be called inside a Tokio
/// runtime (an error otherwise).
fn bind_socket(addr: SocketAddr) -> io::Result<(UdpSocket, SocketAddr)> {
    tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: the kernel may cap it; the default still works at a few channels.
    let _ = socket.set_recv_buffer_size(RECV_BUFFER);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    let socket = UdpSocket::from_std(socket.into())?;
    let local_addr = socket.local_addr()?;
    Ok((socket, local_addr))
}

async fn receive_loop(
    mut socket: UdpSocket,
    mut rebind: mpsc::UnboundedReceiver<UdpSocket>,
    tx: watch::Sender<Arc<OscState>>,
    counters: Arc<Counters>,
    epoch: Instant,
    shutdown: CancellationToken,
    stale_after: Duration,
) {
    let mut decoder = OscDecoder::new();
    let mut buf = vec![0u8; 65_536];
    let stale_timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(stale_timer);
    let mut timer_armed = false;
    loop {
        let mut replacement = None;
        let first = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            // Moved to another address (the AMCP connection's changed): the old socket closes here.
            Some(new) = rebind.recv() => {
                replacement = Some(new);
                None
            }
            // Every handle is gone: nobody can read the telemetry any more.
            () = tx.closed() => return,
            () = &mut stale_timer, if timer_armed => {
                timer_armed = false;
                if decoder.mark_stale(Instant::now(), stale_after) {
                    tx.send_replace(Arc::new(decoder.snapshot()));
                }
                None
            }
            r = socket.recv_from(&mut buf) => Some(r),
        };
        if let Some(new) = replacement {
            socket = new;
        }
        if let Some(first) = first {
            let mut received = 0usize;
            let mut result = first.map(|(n, _)| n);
            // Drain what is already queued (the rest of this tick, other channels) before
            // publishing once.
            loop {
                match result {
                    Ok(n) => {
                        received += 1;
                        let now = Instant::now();
                        let data = buf.get(..n).unwrap_or_default();
                        match decoder.ingest(data, now) {
                            Ok(m) => counters.messages.fetch_add(m, Ordering::Relaxed),
                            Err(_) => counters.decode_errors.fetch_add(1, Ordering::Relaxed),
                        };
                        let nanos = now.duration_since(epoch).as_nanos();
                        let stamp = u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1;
                        counters.last_received.store(stamp, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        counters.receive_errors.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(error = %e, "osc: receive error");
                        break;
                    }
                }
                if received >= MAX_DRAIN {
                    break;
                }
                result = socket.try_recv_from(&mut buf).map(|(n, _)| n);
            }
            if received > 0 {
                tx.send_replace(Arc::new(decoder.snapshot()));
            }
            // Counted after publishing: whoever sees the count also sees the state.
            counters
                .datagrams
                .fetch_add(received as u64, Ordering::Relaxed);
            counters
                .over_limit
                .store(decoder.over_limit(), Ordering::Relaxed);
            if received == 0 {
                // A persistent socket error must not become a busy loop.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if !timer_armed && let Some(deadline) = decoder.next_stale_deadline(stale_after) {
            // The deadline may be early (newer datagrams move it on): firing early only re-arms.
            stale_timer.as_mut().reset(deadline);
            timer_armed = true;
        }
    }
}

/// A cheap-clone view of the listener's telemetry, for the engine, health checks and metrics.
#[derive(Debug, Clone)]
pub struct OscTelemetry {
    rx: watch::Receiver<Arc<OscState>>,
    counters: Arc<Counters>,
    epoch: Instant,
    stale_after: Duration,
    /// Shared by every clone: a rebind moves it.
    local_addr: Arc<Mutex<SocketAddr>>,
    /// Hands a newly bound socket to the receive loop; `None` when the address is fixed.
    rebind: Option<mpsc::UnboundedSender<UdpSocket>>,
}

impl OscTelemetry {
    /// A handle fed by the caller instead of a socket (engine tests): send states into the sender.
    pub fn manual(stale_after: Duration) -> (OscTelemetry, watch::Sender<Arc<OscState>>) {
        let (tx, rx) = watch::channel(Arc::new(OscState::default()));
        let handle = OscTelemetry {
            rx,
            counters: Arc::new(Counters::default()),
            epoch: Instant::now(),
            stale_after,
            local_addr: Arc::new(Mutex::new(SocketAddr::from(([0, 0, 0, 0], 0)))),
            rebind: None,
        };
        (handle, tx)
    }

    /// A receiver that sees every published snapshot. Clone the `Arc` out of `borrow()` rather
    /// than holding the borrow: the listener replaces the value while no borrow is held.
    pub fn subscribe(&self) -> watch::Receiver<Arc<OscState>> {
        self.rx.clone()
    }

    /// The latest snapshot.
    pub fn latest(&self) -> Arc<OscState> {
        self.rx.borrow().clone()
    }

    /// Whether channel `channel` sent nothing within `stale_after` (or never sent anything).
    pub fn is_stale(&self, channel: u16) -> bool {
        let state = self.latest();
        state.channel(channel).is_none_or(|c| {
            c.stale || Instant::now().saturating_duration_since(c.updated_at) >= self.stale_after
        })
    }

    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// The UDP address the listener is bound to (its port is what `OSC SUBSCRIBE` needs).
    pub fn local_addr(&self) -> SocketAddr {
        *self
            .local_addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// For a listener that follows the link ([`OscListener::following_link`]): moves it to `ip`
    /// (a free port) unless it is bound there already, so a server on another machine can reach
    /// it. Returns whether it moved. Call it before `OSC SUBSCRIBE`, which names the new port.
    pub fn follow_link(&self, ip: IpAddr) -> io::Result<bool> {
        let Some(rebind) = &self.rebind else {
            return Ok(false);
        };
        let mut current = self
            .local_addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if current.ip() == ip {
            return Ok(false);
        }
        let (socket, addr) = bind_socket(SocketAddr::new(ip, 0))?;
        rebind.send(socket).map_err(|_| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the OSC receive loop has ended")
        })?;
        let from = *current;
        tracing::info!(%from, to = %addr, "OSC listener moved to the AMCP connection's address");
        *current = addr;
        Ok(true)
    }

    pub fn stats(&self) -> OscStats {
        let c = &self.counters;
        let last = c.last_received.load(Ordering::Relaxed);
        OscStats {
            datagrams: c.datagrams.load(Ordering::Relaxed),
            messages: c.messages.load(Ordering::Relaxed),
            decode_errors: c.decode_errors.load(Ordering::Relaxed),
            receive_errors: c.receive_errors.load(Ordering::Relaxed),
            over_limit: c.over_limit.load(Ordering::Relaxed),
            last_received: (last > 0).then(|| self.epoch + Duration::from_nanos(last - 1)),
        }
    }
}
