//! OSC output: the per-tick state packed into ~2 KB bundles with counter time tags, sent over UDP.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use rosc::{OscMessage, OscPacket, OscTime};

use super::model::SimState;
use super::monitor::osc_messages;

/// A bundle is closed once adding the next message would take it past this size (docs/amcp-notes.md §6.1).
pub const BUNDLE_LIMIT: usize = 2048;

/// `#bundle\0` + 8-byte time tag.
const BUNDLE_HEADER: usize = 16;

/// Packs `messages` into OSC bundles of at most [`BUNDLE_LIMIT`] bytes (a single larger message
/// gets a bundle of its own). Each bundle's time tag is `*counter`, which is then incremented: the
/// server's time tag is a counter, not a clock.
pub fn encode_bundles(messages: &[OscMessage], counter: &mut u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut encoded = Vec::with_capacity(256);
    for msg in messages {
        encoded.clear();
        let Ok(_) = rosc::encoder::encode_into(&OscPacket::Message(msg.clone()), &mut encoded);
        let element = 4 + encoded.len();
        if current.len() > BUNDLE_HEADER && current.len() + element > BUNDLE_LIMIT {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.extend_from_slice(b"#bundle\0");
            let tag = OscTime {
                seconds: (*counter >> 32) as u32,
                fractional: *counter as u32,
            };
            current.extend_from_slice(&tag.seconds.to_be_bytes());
            current.extend_from_slice(&tag.fractional.to_be_bytes());
            *counter = counter.wrapping_add(1);
        }
        current.extend_from_slice(
            &u32::try_from(encoded.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        current.extend_from_slice(&encoded);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Endpoints that receive OSC, reference-counted: the same IP:port subscribed by two AMCP
/// connections keeps receiving until both are gone.
#[derive(Debug, Default)]
pub struct OscSubscribers {
    inner: Mutex<HashMap<SocketAddr, usize>>,
}

impl OscSubscribers {
    pub fn add(&self, addr: SocketAddr) {
        *self.lock().entry(addr).or_insert(0) += 1;
    }

    /// Drops one reference; the endpoint stops receiving when the last one goes.
    pub fn remove(&self, addr: SocketAddr) {
        let mut map = self.lock();
        if let Some(n) = map.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                map.remove(&addr);
            }
        }
    }

    /// The current endpoints, sorted (deterministic send order).
    pub fn snapshot(&self) -> Vec<SocketAddr> {
        let mut v: Vec<SocketAddr> = self.lock().keys().copied().collect();
        v.sort();
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, usize>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends each channel tick's state to the subscribers from one unbound, non-blocking IPv4 socket.
#[derive(Debug)]
pub struct OscSender {
    socket: UdpSocket,
    counter: Mutex<u64>,
    enabled: AtomicBool,
}

impl OscSender {
    /// Binds `0.0.0.0:0`, like the server's unbound sender socket.
    pub fn new() -> io::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0)))?;
        // The clock must never wait on the network: a full send buffer drops the datagram.
        socket.set_nonblocking(true)?;
        Ok(OscSender {
            socket,
            counter: Mutex::new(0),
            enabled: AtomicBool::new(true),
        })
    }

    /// The "OSC stream stops/starts" fault: while disabled nothing is sent.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Publishes channel `ch` (0-based) to every target. Per-destination errors (closed port,
    /// unreachable host, full buffer) are ignored: UDP to a dead listener must not affect the sim.
    pub fn send_tick(&self, state: &SimState, targets: &[SocketAddr], ch: usize) {
        if targets.is_empty() || !self.is_enabled() {
            return;
        }
        let datagrams = {
            let mut counter = self.counter.lock().unwrap_or_else(|e| e.into_inner());
            encode_bundles(&osc_messages(state, ch), &mut counter)
        };
        for target in targets {
            for d in &datagrams {
                let _ = self.socket.send_to(d, target);
            }
        }
    }

    /// The local address datagrams come from.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

#[cfg(test)]
#[path = "osc_tests.rs"]
mod tests;
