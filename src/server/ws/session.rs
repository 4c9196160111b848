//! One `/ws` connection: hello and snapshot, then sequenced events, progress, the planned timeline,
//! command acks, pings, and the limits that keep one client from affecting the others.
//!
//! The session owns the read half and a position `pos`: the `seq` of the last event (or snapshot)
//! it queued. Events come from the shared [`EventLog`], already encoded: the session takes the
//! ones after `pos` and queues their shared text. An event is queued only if it is exactly
//! `pos + 1`; anything else (the next event already evicted from the log, a full queue) is answered
//! with a fresh snapshot, so a client never sees a gap. Writing is done by a separate task from a
//! bounded [`Outbox`], so a slow socket never stalls this loop, and commands run on their own task
//! ([`Commands`]) so a slow op never stalls events.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, Stream, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use super::bucket::Bucket;
use super::commands::{Commands, Refused};
use super::dispatch::Handling;
use super::exit::Exit;
use super::log::{After, EventLog, Tail};
use super::outbox::{Kind, Out, Outbox};
use super::timeline::Feed;
use super::upgrade::Socket;
use super::writer::{WriteEnd, write};
use crate::protocol::{
    BadMessage, ClientMsg, ErrorBody, ProgressMap, Role, ServerMsg, codes, decode_client, encode,
};
use crate::server::{AppState, WsStats};

/// Slow-client resyncs tolerated per [`SLOW_WINDOW`]; the next one disconnects the client.
const MAX_SLOW_RESYNCS: usize = 2;
const SLOW_WINDOW: Duration = Duration::from_secs(60);
/// Longest a socket write may block before the client is dropped.
const MAX_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing session waits for its last messages and the client's close reply.
const FINISH: Duration = Duration::from_secs(1);
/// How long a resume waits for the resume buffer to catch up with this session.
const CATCH_UP: Duration = Duration::from_secs(1);

/// What the handler decided before the upgrade.
pub(crate) struct Ctx {
    pub(crate) state: Arc<AppState>,
    pub(crate) log: Arc<EventLog>,
    pub(crate) role: Role,
    /// `boot_id` and `since` from the URL: resume instead of sending the first snapshot.
    pub(crate) resume: Option<(String, u64)>,
    pub(crate) peer: IpAddr,
}

/// Why a snapshot is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// First state, or a resume that cannot be served from the buffer.
    Fresh,
    /// The next event was already gone from the shared log: not the client's fault.
    Lag,
    /// The client's queue was full.
    Slow,
}

/// Runs a connection to its end.
pub(crate) async fn run(socket: Socket, ctx: Ctx) {
    let (sink, stream) = socket.split();
    serve(stream, sink, ctx).await;
}

/// The session over any message transport (the two halves of a WebSocket).
pub(crate) async fn serve<S, W>(mut stream: S, sink: W, ctx: Ctx)
where
    S: Stream<Item = Result<Message, WsError>> + Unpin,
    W: Sink<Message> + Unpin + Send + 'static,
{
    let state = Arc::clone(&ctx.state);
    WsStats::inc(&state.ws.accepted);
    let _connected = Connected::new(Arc::clone(&state));
    let config = &state.config;
    let ping = config.ws_ping_interval.max(Duration::from_millis(10));
    let outbox = Arc::new(Outbox::new(
        config.ws_send_queue,
        config.ws_send_queue_bytes,
    ));
    let counter = Arc::clone(&state);
    let mut writer = tokio::spawn(write(
        sink,
        Arc::clone(&outbox),
        (ping * 2).min(MAX_WRITE_TIMEOUT),
        move |n| {
            counter
                .ws
                .messages_out
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        },
    ));
    let mut session = ClientSession::new(ctx, outbox, ping);
    tracing::debug!(peer = %session.peer, role = ?session.role, "websocket client connected");
    let exit = match session.start().await {
        Ok(()) => session.serve(&mut stream, &mut writer).await,
        Err(exit) => exit,
    };
    session.finish(exit, &mut stream, writer).await;
}

/// Counts the client in `WsStats::clients` for as long as it lives, however the task ends.
struct Connected(Arc<AppState>);

impl Connected {
    fn new(state: Arc<AppState>) -> Self {
        WsStats::inc(&state.ws.clients);
        Connected(state)
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.0
            .ws
            .clients
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

struct ClientSession {
    state: Arc<AppState>,
    log: Arc<EventLog>,
    role: Role,
    peer: IpAddr,
    resume: Option<(String, u64)>,
    outbox: Arc<Outbox>,
    /// The `seq` of the last event or snapshot queued.
    pos: u64,
    /// Wakes the session when the shared log has new events.
    events: watch::Receiver<Tail>,
    progress: watch::Receiver<Arc<ProgressMap>>,
    progress_live: bool,
    progress_dirty: bool,
    progress_period: Duration,
    next_progress: Instant,
    /// The planned timeline: after every snapshot, then on change at most once a second.
    timeline: Feed,
    commands: Commands,
    bucket: Bucket,
    ping: Duration,
    last_heard: Instant,
    slow_resyncs: VecDeque<Instant>,
}

impl ClientSession {
    fn new(ctx: Ctx, outbox: Arc<Outbox>, ping: Duration) -> Self {
        let state = ctx.state;
        // Subscribe before reading the position: an event after it then always wakes `events`
        // (the log is never ahead of the engine, so anything it already has is at most `pos`).
        let events = ctx.log.subscribe();
        let pos = state.engine.snapshot().seq;
        // Not marked as seen: a new client gets the current progress right after its snapshot,
        // whose own copy is only as recent as the last event (a late joiner would otherwise see a
        // finished clip's last tick, marked live, until progress next changed).
        let progress = state.engine.watch_progress();
        let hz = state.config.progress_hz;
        let now = Instant::now();
        ClientSession {
            log: ctx.log,
            role: ctx.role,
            peer: ctx.peer,
            resume: ctx.resume,
            outbox,
            pos,
            events,
            progress,
            progress_live: hz > 0,
            progress_dirty: hz > 0,
            progress_period: Duration::from_secs(1) / hz.max(1),
            next_progress: now,
            timeline: Feed::new(state.engine.watch_timeline(), now),
            commands: Commands::start(Arc::clone(&state)),
            bucket: Bucket::new(
                state.config.rate_limit_per_sec,
                state.config.rate_limit_burst,
                now.into_std(),
            ),
            ping,
            last_heard: now,
            slow_resyncs: VecDeque::new(),
            state,
        }
    }

    /// Queues `hello`, then the snapshot or (for a resume in the URL) the missed events.
    async fn start(&mut self) -> Result<(), Exit> {
        self.send(&ServerMsg::Hello {
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            boot_id: self.state.boot_id.clone(),
            seq: self.pos,
            role: self.role,
        })?;
        match self.resume.take() {
            Some((boot_id, since)) => self.resume(&boot_id, since).await,
            None => self.snapshot(Why::Fresh),
        }
    }

    async fn serve<S>(&mut self, stream: &mut S, writer: &mut JoinHandle<WriteEnd>) -> Exit
    where
        S: Stream<Item = Result<Message, WsError>> + Unpin,
    {
        let mut ping = tokio::time::interval_at(Instant::now() + self.ping, self.ping);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let shutdown = self.state.shutdown.clone();
        loop {
            let step = tokio::select! {
                () = shutdown.cancelled() => Err(Exit::Shutdown),
                end = &mut *writer => Err(Exit::Writer(end.unwrap_or(WriteEnd::Failed))),
                msg = stream.next() => self.incoming(msg).await,
                _ = self.events.changed() => self.pull(),
                Some(done) = self.commands.done.recv() => {
                    self.commands.finish(done).map_err(refused)
                }
                changed = self.progress.changed(), if self.progress_live => {
                    match changed {
                        Ok(()) => self.progress_dirty = true,
                        Err(_) => self.progress_live = false,
                    }
                    Ok(())
                }
                () = tokio::time::sleep_until(self.next_progress), if self.progress_dirty => {
                    self.send_progress()
                }
                changed = self.timeline.rx.changed(), if self.timeline.live => {
                    self.timeline.changed(changed);
                    Ok(())
                }
                () = tokio::time::sleep_until(self.timeline.next), if self.timeline.dirty => {
                    self.send_timeline()
                }
                _ = ping.tick() => self.ping_tick(),
            };
            if let Err(exit) = step.and_then(|()| self.release_acks()) {
                return exit;
            }
        }
    }

    async fn incoming(&mut self, msg: Option<Result<Message, WsError>>) -> Result<(), Exit> {
        let msg = match msg {
            None => return Err(Exit::ClientGone),
            Some(Err(e)) => {
                return Err(if too_big(e) {
                    Exit::TooBig
                } else {
                    Exit::ClientGone
                });
            }
            Some(Ok(msg)) => msg,
        };
        self.last_heard = Instant::now();
        match msg {
            Message::Pong(_) => return Ok(()),
            Message::Close(_) => return Err(Exit::ClientGone),
            _ => {}
        }
        if !self.bucket.take(std::time::Instant::now()) {
            return Err(Exit::RateLimited);
        }
        match msg {
            Message::Text(text) => {
                WsStats::inc(&self.state.ws.messages_in);
                self.text(text.as_str()).await
            }
            Message::Binary(_) => {
                WsStats::inc(&self.state.ws.messages_in);
                self.send(&ServerMsg::Error(ErrorBody::new(
                    codes::BAD_REQUEST,
                    "binary messages are not supported: send JSON text",
                )))
            }
            _ => Ok(()), // a ping: tungstenite answers it
        }
    }

    async fn text(&mut self, text: &str) -> Result<(), Exit> {
        // The role is checked on the op's name before its arguments are parsed: a refusal is an
        // error with the command's id, answered by an ack like any bad command.
        match decode_client(text, self.role) {
            Ok(ClientMsg::Command { id, request }) => {
                WsStats::inc(&self.state.ws.commands);
                self.submit(id, Ok(Handling::from(request)))
            }
            Ok(ClientMsg::Resume { boot_id, since }) => self.resume(&boot_id, since).await,
            Ok(ClientMsg::Ping) => self.send(&ServerMsg::Pong),
            Err(BadMessage {
                id: Some(id),
                error,
            }) => {
                WsStats::inc(&self.state.ws.commands);
                self.submit(id, Err(ErrorBody::from(&error)))
            }
            Err(BadMessage { id: None, error }) => {
                self.send(&ServerMsg::Error(ErrorBody::from(&error)))
            }
        }
    }

    fn submit(&mut self, id: String, command: Result<Handling, ErrorBody>) -> Result<(), Exit> {
        self.commands.submit(id, command).map_err(refused)
    }

    /// Sends every ack that is due, in command order.
    fn release_acks(&mut self) -> Result<(), Exit> {
        while let Some(answer) = self.commands.next_ready(self.pos) {
            if !answer.ok {
                WsStats::inc(&self.state.ws.command_errors);
            }
            self.send_text(answer.text)?;
        }
        Ok(())
    }

    /// Queues the events the shared log has after `pos`.
    fn pull(&mut self) -> Result<(), Exit> {
        let open = self.events.borrow_and_update().open;
        match self.log.after(self.pos) {
            // Evicted before this session took it (or lost in a lag of the log): start again from
            // the full state.
            After::Gone => self.snapshot(Why::Lag)?,
            After::Events(events) => {
                for (seq, text) in events {
                    debug_assert_eq!(seq, self.pos + 1, "the log is contiguous");
                    if self.outbox.push(Out::text(Kind::Event, text)).is_err() {
                        // The snapshot is at least as new as this event.
                        return self.snapshot(Why::Slow);
                    }
                    self.pos = seq;
                }
            }
        }
        if open { Ok(()) } else { Err(Exit::EngineGone) }
    }

    /// `resume`: replay `(since, pos]` from the buffer, or send a snapshot.
    async fn resume(&mut self, boot_id: &str, since: u64) -> Result<(), Exit> {
        if boot_id == self.state.boot_id && since <= self.pos {
            let events = if self.log.caught_up(self.pos, CATCH_UP).await {
                self.log.replay(since, self.pos)
            } else {
                None
            };
            // A replay that cannot fit is sent as the snapshot it would be replaced by anyway.
            let fits = |e: &Vec<(u64, Utf8Bytes)>| {
                self.outbox
                    .fits(e.len(), e.iter().map(|(_, text)| text.len()).sum())
            };
            if let Some(events) = events.filter(fits) {
                for (_, text) in events {
                    if self.outbox.push(Out::text(Kind::Event, text)).is_err() {
                        return self.snapshot(Why::Slow);
                    }
                }
                // The client's timeline is from before it lost the connection (or before its
                // resume): only a newer one needs to go.
                self.timeline.after_replay();
                return Ok(());
            }
        }
        self.snapshot(Why::Fresh)
    }

    /// Replaces whatever events are queued with the current snapshot.
    fn snapshot(&mut self, why: Why) -> Result<(), Exit> {
        let snap = self.state.engine.snapshot();
        let text = self.log.snapshot(&snap).map_err(|_| Exit::Internal)?;
        let dropped = self
            .outbox
            .replace_with_snapshot(text)
            .map_err(|_| Exit::Slow)?;
        self.pos = snap.seq;
        // The snapshot's progress is as old as its last event: follow it with the live one.
        self.progress_dirty = self.progress_live;
        // The timeline right behind it (whatever the rate limit), even an empty one: it was dropped
        // with the events if one was queued, and a new client learns the daemon sends timelines.
        self.send_timeline()?;
        let stats = &self.state.ws;
        stats
            .dropped
            .fetch_add(dropped as u64, std::sync::atomic::Ordering::Relaxed);
        if why != Why::Fresh {
            WsStats::inc(&stats.resyncs);
            tracing::debug!(peer = %self.peer, ?why, dropped, "websocket client resynced");
        }
        if why == Why::Slow {
            let now = Instant::now();
            self.slow_resyncs
                .retain(|t| now.duration_since(*t) < SLOW_WINDOW);
            self.slow_resyncs.push_back(now);
            if self.slow_resyncs.len() > MAX_SLOW_RESYNCS {
                return Err(Exit::Slow);
            }
        }
        Ok(())
    }

    /// Queues a message that must not be dropped; a full queue first drops events for a snapshot.
    fn send(&mut self, msg: &ServerMsg) -> Result<(), Exit> {
        let text = encode(msg).map_err(|_| Exit::Internal)?;
        self.send_text(Utf8Bytes::from(text))
    }

    /// [`Self::send`] of an encoded message.
    fn send_text(&mut self, text: Utf8Bytes) -> Result<(), Exit> {
        if self
            .outbox
            .push(Out::text(Kind::Control, text.clone()))
            .is_ok()
        {
            return Ok(());
        }
        self.snapshot(Why::Slow)?;
        self.outbox
            .push(Out::text(Kind::Control, text))
            .map_err(|_| Exit::Slow)
    }

    fn send_progress(&mut self) -> Result<(), Exit> {
        self.progress_dirty = false;
        self.next_progress = Instant::now() + self.progress_period;
        let progress = Arc::clone(&self.progress.borrow_and_update());
        let text = self.log.progress(&progress).map_err(|_| Exit::Internal)?;
        self.outbox.push_progress(text);
        Ok(())
    }

    /// Queues the latest timeline (at most one waits in the outbox; a full queue retries later).
    fn send_timeline(&mut self) -> Result<(), Exit> {
        let timelines = self.timeline.take(Instant::now());
        let text = self.log.timeline(&timelines).map_err(|_| Exit::Internal)?;
        let ok = self.outbox.push_timeline(text).is_ok();
        self.timeline.queued(timelines, ok);
        Ok(())
    }

    fn ping_tick(&mut self) -> Result<(), Exit> {
        if self.last_heard.elapsed() > self.ping * 2 {
            return Err(Exit::Silent);
        }
        // A full queue is dealt with by the write timeout and the silence check.
        let _ = self.outbox.push(Out::ping());
        Ok(())
    }

    /// Sends the last messages and the close frame, then waits (briefly) for the client's close
    /// reply: closing a socket with unread data resets it and can lose the close frame.
    async fn finish<S>(self, exit: Exit, stream: &mut S, mut writer: JoinHandle<WriteEnd>)
    where
        S: Stream<Item = Result<Message, WsError>> + Unpin,
    {
        if exit.kicked() {
            WsStats::inc(&self.state.ws.kicked);
        }
        tracing::debug!(peer = %self.peer, ?exit, "websocket client disconnected");
        let mut last = Vec::new();
        if matches!(exit, Exit::Shutdown | Exit::EngineGone)
            && let Ok(text) = encode(&ServerMsg::Shutdown)
        {
            last.push(Out::text(Kind::Control, Utf8Bytes::from(text)));
        }
        if let Some((code, reason)) = exit.close() {
            last.push(Out::close(code, reason));
        }
        self.outbox.close_with(last);
        if !matches!(exit, Exit::Writer(_)) {
            let deadline = Instant::now() + FINISH;
            let _ = tokio::time::timeout_at(deadline, &mut writer).await;
            let drain = async { while let Some(Ok(_)) = stream.next().await {} };
            let _ = tokio::time::timeout_at(deadline, drain).await;
        }
        writer.abort();
    }
}

/// The session's end when [`Commands`] refuses.
fn refused(refused: Refused) -> Exit {
    match refused {
        Refused::TooMany => Exit::TooManyCommands,
        Refused::Internal => Exit::Internal,
    }
}

/// Whether a read error is tungstenite's "message too long" (the `max_message_size` limit).
fn too_big(error: WsError) -> bool {
    matches!(error, WsError::Capacity(_))
}
