//! Console rendering benchmark: `cargo bench --bench tui` prints one JSON document.
//!
//! Draws the whole console (`view` into a 120×40 `TestBackend`, including ratatui's diff of the
//! buffer) for a 10,000-item rundown and, for comparison, a 20-item one, moving the cursor by a page
//! between frames so the visible window changes every time (the worst case for the windowed table).
//! A second figure times applying a `progress` message through `update` plus the frame after it,
//! which is what happens ten times a second while something plays.
//!
//! Target: 10,000 items p99 well under a 60 Hz frame (16 ms), and not much slower than 20 items.
//! `ONAIR_BENCH_FRAMES` sets the number of frames per figure (default 2,000).

use std::time::{Duration, Instant};

use onair::protocol::ServerMsg;
use onair::tui::client::NetEvent;
use onair::tui::fixtures::live_model;
use onair::tui::message::{Message, Move};
use onair::tui::model::Model;
use onair::tui::update::update;
use onair::tui::view::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::{Value, json};

/// Microseconds at percentile `p` of sorted samples (nearest rank).
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e6
}

fn summary(mut samples: Vec<Duration>) -> Value {
    samples.sort();
    let round = |x: f64| (x * 10.0).round() / 10.0;
    json!({
        "frames": samples.len(),
        "p50_us": round(percentile(&samples, 50.0)),
        "p99_us": round(percentile(&samples, 99.0)),
        "max_us": round(percentile(&samples, 100.0)),
    })
}

/// Times `frames` draws; `before` runs before each one, timed too when `timed` is set.
fn measure(
    model: &mut Model,
    frames: usize,
    timed: bool,
    before: impl Fn(&mut Model, usize),
) -> Value {
    let mut terminal = match Terminal::new(TestBackend::new(120, 40)) {
        Ok(t) => t,
        Err(e) => match e {},
    };
    let mut samples = Vec::with_capacity(frames);
    for n in 0..frames + 50 {
        let start = Instant::now();
        before(model, n);
        let start = if timed { start } else { Instant::now() };
        let drawn = terminal.draw(|f| view(model, f));
        let took = start.elapsed();
        if let Err(e) = drawn {
            match e {}
        }
        // The first frames warm caches and the layout cache; not counted.
        if n >= 50 {
            samples.push(took);
        }
    }
    summary(samples)
}

/// Pages down, and back to the top at the end of the rundown.
fn scroll(model: &mut Model, _: usize) {
    if model.rundown.selected + 1 >= model.items().len() {
        update(model, Message::Move(Move::Home));
    } else {
        update(model, Message::Move(Move::PageDown));
    }
}

/// A progress message, as the daemon sends ten times a second while playing.
fn progress(model: &mut Model, n: usize) {
    let mut progress = model.state.progress.clone();
    if let Some(p) = progress.get_mut("main") {
        p.elapsed = (n % 150) as f64 / 10.0;
        p.remaining = p.duration - p.elapsed;
    }
    update(
        model,
        Message::Net(NetEvent::Server(Box::new(ServerMsg::Progress { progress }))),
    );
}

fn main() {
    let frames = std::env::var("ONAIR_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut big = live_model(120, 40, 10_000);
    let mut small = live_model(120, 40, 20);
    let report = json!({
        "terminal": "TestBackend 120x40",
        "render_10000_items_scrolling": measure(&mut big, frames, false, scroll),
        "render_20_items_scrolling": measure(&mut small, frames, false, scroll),
        "progress_update_and_render_10000_items": measure(&mut big, frames, true, progress),
    });
    match serde_json::to_string_pretty(&report) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot print the report: {e}"),
    }
}
