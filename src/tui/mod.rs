//! `onair tui`: the operator console, a WebSocket client of the daemon in The Elm Architecture.
//!
//! - [`model`]: the state (the daemon's state as received, connection, cursors, log, dialogs).
//! - [`message`]: [`Message`] and the key map [`message::map_key`].
//! - [`update`]: `update(&mut Model, Message) -> Vec<Effect>`; never awaits.
//! - [`view`]: `view(&Model, &mut Frame)`, a pure function of the model, one module per pane.
//! - [`layout`]: pane rectangles, shared by `view` and `update` (page sizes, scroll windows).
//! - [`text`]: outside text as shown: item names instead of raw ids, no control characters.
//! - [`roles`]: a playlist's part on its layer in words (filler, end action, layer taken over).
//! - [`servers`]: the main and backup CasparCG servers in words (lead, in step, drift, missing).
//! - [`graphics`]: secondary events and live graphics in words (rundown marker, graphics dialog).
//! - [`timeline`]: the planned timeline matched to rows, station times, the START/DIFF texts.
//! - [`client`]: the WebSocket task (reconnect with backoff, resume, liveness).
//!
//! The console is only a client (docs/architecture.md): quitting `onair tui`, or a crash, never touches
//! playout. (Quitting `onair demo` ends the demo, whose simulator and daemon share its process.)
//! This module owns the terminal: [`run`] enters raw mode and the alternate screen and always
//! restores them (normal exit, error, panic via ratatui's hook, SIGTERM/SIGINT/SIGHUP via
//! cancellation); the loop itself, [`run_loop`], is generic over the backend so tests drive it
//! with `TestBackend`.

pub mod client;
#[doc(hidden)]
pub mod fixtures;
pub mod graphics;
pub mod layout;
pub mod message;
pub mod model;
pub mod roles;
pub mod servers;
pub mod text;
pub mod timeline;
pub mod update;
pub mod view;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{Event, EventStream};
use futures_util::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::telemetry::LogBuffer;
use client::{ClientConfig, ClientHandle, NetEvent};
use message::Message;
use model::{Mode, Model};
use update::{Effect, update};

/// How often the screen is redrawn when nothing happens (the clock, "stale" ages, retry countdown).
const TICK: Duration = Duration::from_millis(250);
/// At most this many queued connection events are applied before the next frame is drawn.
const BURST: usize = 256;

/// Milliseconds since the Unix epoch.
pub use crate::schedule::unix_ms_now as wall_ms;

/// Checks what `onair tui` and `onair demo` need before they start anything: a terminal on stdout
/// and a `ws://` URL. The error is the message to print.
pub fn preflight(command: &str, url: Option<&str>) -> Result<(), String> {
    if let Some(url) = url {
        if url.starts_with("wss://") {
            return Err(format!(
                "onair {command}: wss:// is not supported by this build; use ws:// (through an SSH \
                 tunnel or a TLS-terminating proxy for remote daemons)"
            ));
        }
        if !url.starts_with("ws://") {
            return Err(format!(
                "onair {command}: --url {url:?} is not a WebSocket URL such as ws://127.0.0.1:8250/ws"
            ));
        }
    }
    if !std::io::stdout().is_terminal() {
        return Err(format!(
            "onair {command}: stdout is not a terminal; the console needs an interactive terminal \
             (run it directly, or with `ssh -t` over SSH)"
        ));
    }
    Ok(())
}

/// `onair tui`: the console until the operator quits. Exit 0 on quit, 2 for a usage problem (no
/// terminal, bad URL), 1 if the console failed.
pub fn main(url: String, token: Option<String>) -> ExitCode {
    if let Err(message) = preflight("tui", Some(&url)) {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    let logs = crate::telemetry::init_buffer("warn", 1000);
    let runtime = match crate::report::runtime("onair tui") {
        Ok(r) => r,
        Err(code) => return code,
    };
    let config = ClientConfig::new(url, token);
    let result = runtime.block_on(run(config, Some(logs), Mode::Attached));
    // Do not wait for the connection task's last goodbye longer than this.
    runtime.shutdown_timeout(Duration::from_millis(500));
    crate::report::exit("onair tui", result, 1)
}

/// Restores the terminal when dropped, however the console ends.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs the console on the real terminal until the operator quits or a signal arrives.
pub async fn run(config: ClientConfig, logs: Option<LogBuffer>, mode: Mode) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let signals = tokio::spawn(cancel_on_signal(cancel.clone()));
    // try_init installs ratatui's panic hook first, which restores the terminal before the
    // panic message is printed.
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            ratatui::restore();
            signals.abort();
            return Err(e).context("cannot set up the terminal");
        }
    };
    let restore = Restore;
    let panicked = watch_panics(cancel.clone());
    let url = config.url.clone();
    let (client, net, task) = client::spawn(config, cancel.child_token());
    let mut model = Model::new(url, Instant::now(), wall_ms());
    model.mode = mode;
    let io = Io {
        events: EventStream::new(),
        net,
        client,
        logs,
        cancel: cancel.clone(),
    };
    let result = run_loop(&mut terminal, &mut model, io).await;
    cancel.cancel();
    drop(restore);
    signals.abort();
    let _ = tokio::time::timeout(Duration::from_millis(500), task).await;
    if panicked.load(Ordering::SeqCst) {
        anyhow::bail!("a task panicked (see the message above); the console stopped");
    }
    result
}

/// Stops the console when any thread panics. ratatui's hook has then already restored the
/// terminal (a panic in a background task, e.g. the demo's daemon, does not end the loop by
/// itself), so drawing on must stop too.
fn watch_panics(cancel: CancellationToken) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&flag);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.store(true, Ordering::SeqCst);
        cancel.cancel();
        previous(info);
    }));
    flag
}

/// Cancels on SIGTERM, SIGINT or SIGHUP (a closed SSH session), so the loop ends and the terminal
/// is restored. In raw mode Ctrl-C is a key, not SIGINT; this covers `kill`.
async fn cancel_on_signal(cancel: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let wait = |kind: SignalKind| async move {
            match signal(kind) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(SignalKind::terminate()) => {}
            () = wait(SignalKind::interrupt()) => {}
            () = wait(SignalKind::hangup()) => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    cancel.cancel();
}

/// Everything the loop listens to and talks to.
pub struct Io<E> {
    /// Terminal events (crossterm's `EventStream`, or a channel in tests).
    pub events: E,
    /// The client task's events.
    pub net: mpsc::Receiver<NetEvent>,
    pub client: ClientHandle,
    /// This process's own log records, shown in the log pane.
    pub logs: Option<LogBuffer>,
    pub cancel: CancellationToken,
}

/// The console's loop: one `select!` over terminal events, connection events, the redraw tick and
/// cancellation; each message goes through `update`, its effects are carried out, and the frame is
/// redrawn. Returns when the model wants to quit, the input ends, or `cancel` fires.
pub async fn run_loop<B, E>(
    terminal: &mut Terminal<B>,
    model: &mut Model,
    mut io: Io<E>,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
{
    let size = terminal.size().context("terminal size")?;
    update(model, Message::Resize(size.width, size.height));
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut log_cursor = 0u64;
    loop {
        terminal
            .draw(|frame| view::view(model, frame))
            .context("drawing the console")?;
        if model.quit {
            return Ok(());
        }
        let msg = tokio::select! {
            // Cancellation first: it also stops the client task, whose channel then closes.
            biased;
            () = io.cancel.cancelled() => return Ok(()),
            event = io.events.next() => match event {
                Some(Ok(event)) => message::from_event(model, event),
                Some(Err(e)) => return Err(e).context("reading the terminal"),
                None => return Ok(()),
            },
            net = io.net.recv() => match net {
                Some(event) => Some(Message::Net(event)),
                None if io.cancel.is_cancelled() => return Ok(()),
                None => anyhow::bail!("the connection task stopped unexpectedly"),
            },
            _ = tick.tick() => {
                if let Some(logs) = &io.logs {
                    let (records, next) = logs.since(log_cursor);
                    log_cursor = next;
                    if !records.is_empty() {
                        let lines = records.iter().map(update::log_line).collect();
                        dispatch(terminal, model, &io.client, Message::Logs(lines))?;
                    }
                }
                Some(Message::Tick)
            }
        };
        if let Some(msg) = msg {
            dispatch(terminal, model, &io.client, msg)?;
        }
        // A burst (a replay after reconnecting, progress and events together) costs one frame.
        for _ in 0..BURST {
            match io.net.try_recv() {
                Ok(event) => dispatch(terminal, model, &io.client, Message::Net(event))?,
                Err(_) => break,
            }
        }
        io.client.set_position(model.position());
    }
}

/// Sets the clock, runs `update` and carries out its effects.
fn dispatch<B>(
    terminal: &mut Terminal<B>,
    model: &mut Model,
    client: &ClientHandle,
    msg: Message,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    model.now = Instant::now();
    model.wall_ms = wall_ms();
    let mut queue = std::collections::VecDeque::from([msg]);
    while let Some(msg) = queue.pop_front() {
        for effect in update(model, msg) {
            match effect {
                Effect::Send(out) => {
                    let id = match &out {
                        crate::protocol::ClientMsg::Command { id, .. } => Some(id.clone()),
                        _ => None,
                    };
                    if let Err(reason) = client.send(out) {
                        queue.push_back(Message::Net(NetEvent::SendFailed { id, reason }));
                    }
                }
                Effect::Redraw => terminal.clear().context("clearing the terminal")?,
                Effect::Quit => {}
            }
        }
    }
    Ok(())
}
