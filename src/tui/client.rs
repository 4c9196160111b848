//! The console's WebSocket client: one task that connects to the daemon's `/ws`, forwards every
//! server message to the UI, sends the UI's messages, and reconnects by itself with backoff.
//!
//! The task never decides anything about the state: it reports what happens on the socket as
//! [`NetEvent`]s and the model (see [`super::update`]) interprets them. It does two things on its
//! own, because they are about the socket rather than the state:
//! - **resume**: each reconnect asks for `?boot_id=…&since=…` (the position the model published with
//!   [`ClientHandle::set_position`]), so the daemon replays the missed events instead of the console
//!   losing them; the daemon answers with a snapshot when it can no longer replay (or rebooted).
//! - **liveness**: a half-open TCP connection looks healthy forever, so the task sends an application
//!   `ping` when the line is quiet and drops a connection that stays silent for too long.
//!
//! Messages the UI sends while the socket is down are answered with [`NetEvent::SendFailed`] at once:
//! a command is never queued to fire later, when the operator may no longer want it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::protocol::{ClientMsg, ServerMsg};
use crate::retry::Reconnect;

/// Where the console connects and how patiently.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `ws://host:port/ws`.
    pub url: String,
    /// Sent as `Authorization: Bearer …`; never logged.
    pub token: Option<String>,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// A connection up this long resets the backoff.
    pub backoff_reset_after: Duration,
    pub connect_timeout: Duration,
    /// Send an application `ping` after this much silence from the daemon.
    pub ping_after: Duration,
    /// Drop the connection after this much silence (a `pong` counts as an answer).
    pub dead_after: Duration,
}

impl ClientConfig {
    /// The defaults: reconnect after 100 ms doubling to 2 s (full jitter), ping after 5 s of
    /// silence, give up on a connection silent for 15 s.
    pub fn new(url: impl Into<String>, token: Option<String>) -> Self {
        ClientConfig {
            url: url.into(),
            token,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            backoff_reset_after: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            ping_after: Duration::from_secs(5),
            dead_after: Duration::from_secs(15),
        }
    }
}

/// What happened on the connection, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum NetEvent {
    /// Attempt `attempt` (1-based since the last successful connection) is starting.
    Connecting { attempt: u32 },
    /// The WebSocket is open; `hello` follows.
    Connected,
    /// A message from the daemon.
    Server(Box<ServerMsg>),
    /// The connection ended or could not be made; the next attempt starts after `retry_in`.
    Disconnected { reason: String, retry_in: Duration },
    /// A message the UI asked to send was not sent (`id` of the command, if it was one).
    SendFailed { id: Option<String>, reason: String },
    /// A text frame that is not a server message we understand (shown in the log, then ignored).
    Garbage(String),
}

/// The resume position: the daemon's boot id and the `seq` the model's state reflects.
pub type Position = Option<(String, u64)>;

/// The UI's side of the client task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    tx: mpsc::Sender<ClientMsg>,
    position: watch::Sender<Position>,
}

impl ClientHandle {
    /// Queues a message for the socket without waiting; fails when the task is gone or swamped
    /// (the UI then reports the command as not sent).
    pub fn send(&self, msg: ClientMsg) -> Result<(), String> {
        self.tx.try_send(msg).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => "too many messages waiting to be sent".to_owned(),
            mpsc::error::TrySendError::Closed(_) => "the connection task has stopped".to_owned(),
        })
    }

    /// Publishes where the model's state is, for the next reconnect's resume.
    pub fn set_position(&self, position: Position) {
        self.position.send_if_modified(|p| {
            let changed = *p != position;
            if changed {
                *p = position;
            }
            changed
        });
    }
}

/// Starts the client task. It runs until `cancel` fires or the receiver of events is dropped.
pub fn spawn(
    config: ClientConfig,
    cancel: CancellationToken,
) -> (ClientHandle, mpsc::Receiver<NetEvent>, JoinHandle<()>) {
    let (tx, commands) = mpsc::channel(64);
    let (events, rx) = mpsc::channel(1024);
    let (position, position_rx) = watch::channel(None);
    let task = tokio::spawn(run(config, commands, events, position_rx, cancel));
    (ClientHandle { tx, position }, rx, task)
}

/// Everything the connection loop holds.
struct Task {
    config: ClientConfig,
    commands: mpsc::Receiver<ClientMsg>,
    events: mpsc::Sender<NetEvent>,
    position: watch::Receiver<Position>,
    cancel: CancellationToken,
}

/// Why a connection or the whole task ended.
enum End {
    /// Reconnect after a delay, saying why.
    Lost(String),
    /// Cancelled, or the UI went away: stop.
    Stop,
}

async fn run(
    config: ClientConfig,
    commands: mpsc::Receiver<ClientMsg>,
    events: mpsc::Sender<NetEvent>,
    position: watch::Receiver<Position>,
    cancel: CancellationToken,
) {
    let mut retry = Reconnect::new(
        config.backoff_initial,
        config.backoff_max,
        config.backoff_reset_after,
    );
    let mut task = Task {
        config,
        commands,
        events,
        position,
        cancel,
    };
    loop {
        let attempt = retry.attempt();
        if !task.emit(NetEvent::Connecting { attempt }).await {
            return;
        }
        let reason = match task.connect().await {
            Ok(ws) => {
                retry.connected();
                if !task.emit(NetEvent::Connected).await {
                    return;
                }
                match task.session(ws).await {
                    End::Lost(reason) => reason,
                    End::Stop => return,
                }
            }
            Err(End::Lost(reason)) => reason,
            Err(End::Stop) => return,
        };
        let retry_in = retry.delay();
        if !task.emit(NetEvent::Disconnected { reason, retry_in }).await {
            return;
        }
        if !task.wait(retry_in).await {
            return;
        }
    }
}

impl Task {
    /// Sends an event to the UI; `false` once the UI is gone.
    async fn emit(&self, event: NetEvent) -> bool {
        self.events.send(event).await.is_ok()
    }

    /// Refuses a message the UI wanted sent while there is no connection.
    async fn refuse(&self, msg: ClientMsg, reason: &str) -> bool {
        let id = match msg {
            ClientMsg::Command { id, .. } => Some(id),
            _ => None,
        };
        self.emit(NetEvent::SendFailed {
            id,
            reason: reason.to_owned(),
        })
        .await
    }

    /// Waits out a reconnect delay, refusing whatever the UI sends meanwhile; `false` means stop.
    async fn wait(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => return false,
                () = &mut sleep => return true,
                msg = self.commands.recv() => match msg {
                    Some(msg) => {
                        if !self.refuse(msg, "not connected to the daemon").await {
                            return false;
                        }
                    }
                    None => return false,
                },
            }
        }
    }

    /// Opens the WebSocket, resuming at the published position.
    async fn connect(&mut self) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, End> {
        let url = resume_url(&self.config.url, &self.position.borrow());
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| End::Lost(format!("invalid URL {}: {e}", self.config.url)))?;
        if let Some(token) = &self.config.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                End::Lost("the token contains characters not allowed in a header".into())
            })?;
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        let connect = tokio_tungstenite::connect_async(request);
        let timeout = tokio::time::timeout(self.config.connect_timeout, connect);
        tokio::pin!(timeout);
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => return Err(End::Stop),
                result = &mut timeout => {
                    return match result {
                        Err(_) => Err(End::Lost("the daemon did not answer in time".into())),
                        Ok(Ok((ws, _))) => Ok(ws),
                        Ok(Err(e)) => Err(End::Lost(describe(&e))),
                    };
                }
                msg = self.commands.recv() => match msg {
                    Some(msg) => {
                        if !self.refuse(msg, "not connected to the daemon yet").await {
                            return Err(End::Stop);
                        }
                    }
                    None => return Err(End::Stop),
                },
            }
        }
    }

    /// Runs one connection until it ends.
    async fn session(&mut self, ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> End {
        let (mut sink, mut stream) = ws.split();
        let mut heard = Instant::now();
        let mut pinged = Instant::now();
        let mut check = tokio::time::interval(Duration::from_millis(500));
        let end = loop {
            tokio::select! {
                () = self.cancel.cancelled() => break End::Stop,
                frame = stream.next() => match frame {
                    Some(Ok(frame)) => {
                        heard = Instant::now();
                        match self.frame(frame).await {
                            Ok(()) => {}
                            Err(end) => break end,
                        }
                    }
                    Some(Err(e)) => break End::Lost(describe(&e)),
                    None => break End::Lost("the daemon closed the connection".into()),
                },
                msg = self.commands.recv() => {
                    let Some(msg) = msg else { break End::Stop };
                    let id = match &msg {
                        ClientMsg::Command { id, .. } => Some(id.clone()),
                        _ => None,
                    };
                    let sent = match serde_json::to_string(&msg) {
                        Ok(text) => sink.send(WsMessage::text(text)).await.map_err(|e| describe(&e)),
                        Err(e) => Err(format!("cannot encode the message: {e}")),
                    };
                    if let Err(reason) = sent {
                        let _ = self.emit(NetEvent::SendFailed { id, reason: reason.clone() }).await;
                        break End::Lost(reason);
                    }
                }
                _ = check.tick() => {
                    let quiet = heard.elapsed();
                    if quiet >= self.config.dead_after {
                        break End::Lost(format!(
                            "no answer from the daemon for {} s",
                            quiet.as_secs()
                        ));
                    }
                    if quiet >= self.config.ping_after && pinged.elapsed() >= self.config.ping_after {
                        pinged = Instant::now();
                        if let Ok(text) = serde_json::to_string(&ClientMsg::Ping)
                            && let Err(e) = sink.send(WsMessage::text(text)).await {
                                break End::Lost(describe(&e));
                            }
                    }
                }
            }
        };
        if let End::Stop = end {
            // Say goodbye properly, but never let a stuck socket hold up the console's exit.
            let _ = tokio::time::timeout(Duration::from_millis(300), sink.close()).await;
        }
        end
    }

    /// Handles one frame from the daemon.
    async fn frame(&mut self, frame: WsMessage) -> Result<(), End> {
        match frame {
            WsMessage::Text(text) => {
                let event = match serde_json::from_str::<ServerMsg>(text.as_str()) {
                    Ok(msg) => NetEvent::Server(Box::new(msg)),
                    Err(e) => {
                        NetEvent::Garbage(format!("undecodable message from the daemon: {e}"))
                    }
                };
                if self.emit(event).await {
                    Ok(())
                } else {
                    Err(End::Stop)
                }
            }
            WsMessage::Close(frame) => Err(End::Lost(match frame {
                Some(f) if !f.reason.is_empty() => {
                    format!(
                        "the daemon closed the connection ({}: {})",
                        u16::from(f.code),
                        f.reason
                    )
                }
                Some(f) => format!("the daemon closed the connection ({})", u16::from(f.code)),
                None => "the daemon closed the connection".into(),
            })),
            // Pings are answered by tungstenite; binary frames are not part of the protocol.
            _ => Ok(()),
        }
    }
}

/// `url` with the resume query for `position` added (the daemon replays from there).
pub fn resume_url(url: &str, position: &Position) -> String {
    let Some((boot_id, since)) = position else {
        return url.to_owned();
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{sep}boot_id={}&since={since}",
        percent_encode(boot_id)
    )
}

/// Query-string escaping: everything but RFC 3986's unreserved characters.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, QUERY_VALUE).to_string()
}

/// A connection error in words an operator can act on.
fn describe(e: &WsError) -> String {
    match e {
        WsError::Http(response) => {
            let status = response.status().as_u16();
            match status {
                401 => "the daemon refused the token (401): check --token or ONAIR_TOKEN".into(),
                403 => "the daemon refused this client (403)".into(),
                429 => "the daemon has too many clients from this address (429)".into(),
                503 => "the daemon is not accepting clients (503: shutting down or full)".into(),
                _ => format!("the daemon answered HTTP {status} instead of a WebSocket"),
            }
        }
        WsError::Io(io) => format!("cannot reach the daemon: {io}"),
        WsError::ConnectionClosed | WsError::AlreadyClosed => "the connection was closed".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_url_adds_the_position_and_encodes_the_boot_id() {
        assert_eq!(resume_url("ws://h/ws", &None), "ws://h/ws");
        assert_eq!(
            resume_url("ws://h/ws", &Some(("ab c/1".into(), 42))),
            "ws://h/ws?boot_id=ab%20c%2F1&since=42"
        );
        assert_eq!(
            resume_url("ws://h/ws?token=t", &Some(("b".into(), 0))),
            "ws://h/ws?token=t&boot_id=b&since=0"
        );
    }

    #[tokio::test]
    async fn sends_are_refused_while_the_daemon_is_unreachable() {
        // Port 1 on loopback refuses connections.
        let mut config = ClientConfig::new("ws://127.0.0.1:1/ws", None);
        config.backoff_initial = Duration::from_millis(200);
        config.backoff_max = Duration::from_millis(200);
        let cancel = CancellationToken::new();
        let (handle, mut rx, task) = spawn(config, cancel.clone());
        let mut saw_disconnect = false;
        while let Some(ev) = rx.recv().await {
            if let NetEvent::Disconnected { reason, .. } = &ev {
                assert!(reason.contains("cannot reach"), "{reason}");
                saw_disconnect = true;
                let _ = handle.send(ClientMsg::Command {
                    id: "x1".into(),
                    request: crate::protocol::Request::Take(Default::default()),
                });
            }
            if let NetEvent::SendFailed { id, .. } = ev {
                assert_eq!(id.as_deref(), Some("x1"));
                break;
            }
        }
        assert!(saw_disconnect);
        cancel.cancel();
        let _ = task.await;
    }
}
