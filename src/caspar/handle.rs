//! `CasparHandle`: the cheap-clone front of the connection actor, used by the engine, server and tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::actor::Actor;
use super::error::CommandError;
use super::responder;
use super::stats::{Stats, StatsSnapshot};
use super::{Fence, LinkState, Msg};
use crate::amcp::Command;
use crate::amcp::codec::Reply;
use crate::config::CasparConfig;

/// Depth of the channel from handles to the actor; a full channel makes senders wait (back-pressure).
const CHANNEL_DEPTH: usize = 1024;

/// A handle to the connection actor. Clones share the same connection.
#[derive(Clone, Debug)]
pub struct CasparHandle {
    tx: mpsc::Sender<Msg>,
    state: watch::Receiver<LinkState>,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    local_addr: Arc<Mutex<Option<SocketAddr>>>,
}

impl CasparHandle {
    /// Starts the connection actor for `config.address` and returns its handle and task.
    pub fn spawn(config: CasparConfig) -> (CasparHandle, JoinHandle<()>) {
        Self::spawn_fenced(config, None)
    }

    /// [`CasparHandle::spawn`] for a daemon in cluster mode: playout commands are written only
    /// while `fence` says this daemon leads, and carry its term.
    pub fn spawn_fenced(
        config: CasparConfig,
        fence: Option<Fence>,
    ) -> (CasparHandle, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let (state_tx, state) = watch::channel(LinkState::Connecting { attempt: 0 });
        let stats = Arc::new(Stats::default());
        let shutdown = CancellationToken::new();
        let local_addr = Arc::new(Mutex::new(None));
        let actor = Actor {
            config,
            rx,
            state: state_tx,
            stats: stats.clone(),
            shutdown: shutdown.clone(),
            local_addr: local_addr.clone(),
            fence,
        };
        let task = tokio::spawn(actor.run());
        (
            CasparHandle {
                tx,
                state,
                stats,
                shutdown,
                local_addr,
            },
            task,
        )
    }

    /// This machine's address on the current (or last) AMCP connection: the interface the server
    /// reaches us on, so where its OSC datagrams can arrive. `None` before the first connection.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *self
            .local_addr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends one command and waits for its outcome. Fails at once with `NotConnected` while the
    /// link is down.
    pub async fn send(&self, cmd: Command) -> Result<Reply, CommandError> {
        if !self.state.borrow().is_connected() {
            self.stats.not_connected();
            return Err(CommandError::NotConnected);
        }
        let (tx, rx) = oneshot::channel();
        if self
            .tx
            .send(Msg::Submit(vec![(cmd, tx.into())]))
            .await
            .is_err()
        {
            return Err(CommandError::NotConnected);
        }
        // A dropped responder means the actor ended without answering, which only happens when it
        // was torn down with the runtime: the command's fate is unknown, as after a lost connection.
        rx.await.unwrap_or(Err(CommandError::ConnectionLost))
    }

    /// Hands `cmd` to the connection now, without waiting (the actor writes it as soon as it runs),
    /// and returns its outcome as a future. The engine submits a main/backup pair's command to both
    /// servers this way, one right after the other, so neither waits for the other's reply. When
    /// the queue to the actor is full the future waits for room, as [`CasparHandle::send`] does.
    pub fn dispatch(
        &self,
        cmd: Command,
    ) -> impl Future<Output = Result<Reply, CommandError>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let pending = if self.state.borrow().is_connected() {
            match self.tx.try_send(Msg::Submit(vec![(cmd, tx.into())])) {
                Ok(()) => Ok(None),
                Err(mpsc::error::TrySendError::Full(msg)) => Ok(Some(msg)),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(CommandError::NotConnected),
            }
        } else {
            self.stats.not_connected();
            Err(CommandError::NotConnected)
        };
        let sender = self.tx.clone();
        async move {
            match pending {
                Err(e) => return Err(e),
                Ok(Some(msg)) => {
                    if sender.send(msg).await.is_err() {
                        return Err(CommandError::NotConnected);
                    }
                }
                Ok(None) => {}
            }
            rx.await.unwrap_or(Err(CommandError::ConnectionLost))
        }
    }

    /// [`CasparHandle::dispatch`] for several commands handed over together, so that nothing can
    /// come between them and they are written in this order (a graphic's `LOADBG` and `PLAY` in
    /// one frame); their outcomes in the same order.
    pub fn dispatch_many(
        &self,
        cmds: Vec<Command>,
    ) -> impl Future<Output = Vec<Result<Reply, CommandError>>> + Send + 'static {
        let n = cmds.len();
        let (responders, waiter) = responder::batch(n);
        let items: Vec<_> = cmds.into_iter().zip(responders).collect();
        let pending = if self.state.borrow().is_connected() {
            match self.tx.try_send(Msg::Submit(items)) {
                Ok(()) => Ok(None),
                Err(mpsc::error::TrySendError::Full(msg)) => Ok(Some(msg)),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
            }
        } else {
            for _ in 0..n {
                self.stats.not_connected();
            }
            Err(())
        };
        let sender = self.tx.clone();
        async move {
            match pending {
                Err(()) => return (0..n).map(|_| Err(CommandError::NotConnected)).collect(),
                Ok(Some(msg)) => {
                    if let Err(mpsc::error::SendError(Msg::Submit(items))) = sender.send(msg).await
                    {
                        for (_, r) in items {
                            r.deliver(Err(CommandError::NotConnected));
                        }
                    }
                }
                Ok(None) => {}
            }
            waiter.wait().await
        }
    }

    /// Sends several commands pipelined (in this order, subject to per-queue flow control) and
    /// returns their outcomes in the same order.
    pub async fn send_many(
        &self,
        cmds: impl IntoIterator<Item = Command>,
    ) -> Vec<Result<Reply, CommandError>> {
        let cmds: Vec<Command> = cmds.into_iter().collect();
        if !self.state.borrow().is_connected() {
            for _ in &cmds {
                self.stats.not_connected();
            }
            return cmds
                .iter()
                .map(|_| Err(CommandError::NotConnected))
                .collect();
        }
        let (responders, waiter) = responder::batch(cmds.len());
        let items = cmds.into_iter().zip(responders).collect();
        if let Err(mpsc::error::SendError(Msg::Submit(items))) =
            self.tx.send(Msg::Submit(items)).await
        {
            for (_, r) in items {
                self.stats.not_connected();
                r.deliver(Err(CommandError::NotConnected));
            }
        }
        waiter.wait().await
    }

    /// The current link state.
    pub fn state(&self) -> LinkState {
        self.state.borrow().clone()
    }

    /// A receiver that sees every state change.
    pub fn watch_state(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }

    /// Waits until the link is connected.
    pub async fn wait_connected(&self) {
        let mut rx = self.state.clone();
        let _ = rx.wait_for(LinkState::is_connected).await;
    }

    /// A copy of the link's counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Stops the actor: the socket is closed (playout is not touched), pending commands fail with
    /// `ConnectionLost`, and no reconnect follows.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }
}
