//! Two findings of the pair chaos soak (issue 17), with a server that answers slowly but stays
//! connected (a command delay: pings still answered, nothing times out) and INFO polling (the
//! simulators send no OSC), as in the soak. Both were engine bugs, fixed by proving an AUTO switch
//! from the order of commands on a link (`playout::engine::actor::proof`):
//!
//! 1. Two consecutive items of the same clip, and readings further apart than one item: the AUTO
//!    switch was never recognised, nothing more was armed, and both servers held the clip's last
//!    frame for good while the engine still showed the earlier item playing, without an alarm.
//! 2. A slow main (the lead while connected and in step) held up a healthy backup: the backup's
//!    next item was only armed once the engine saw the switch on the main, so the backup held the
//!    last frame of a short item for about the main's command time. Now a switch any side in step
//!    proves is taken as seen.

mod common;

use std::time::{Duration, Instant};

use common::pair::{Pair, layer_of, pair, playlist, sim_with};
use common::schedule::poll_until;
use onair::playout::engine::Op;
use onair::sim::Sim;
use onair::sim::media::SimMedia;
use onair::sim::producer::Producer;

/// Whether layer 1-10 holds a clip's last frame with nothing armed with AUTO behind it.
fn holds(sim: &Sim) -> bool {
    sim.with_state(|s| {
        s.layer(0, 10).is_some_and(|l| {
            let auto_next = l.background.is_some() && l.auto_delta.is_some();
            matches!(&l.foreground, Producer::Clip(c) if c.eof && !auto_next)
        })
    })
}

/// The longest time each side held a last frame during `window`, read every 5 ms.
async fn longest_holds(p: &Pair, window: Duration) -> (Duration, Duration) {
    let start = Instant::now();
    let (mut since, mut longest) = ([None::<Instant>; 2], [Duration::ZERO; 2]);
    while start.elapsed() < window {
        for (side, sim) in [&p.main, &p.backup].into_iter().enumerate() {
            if holds(sim) {
                let from = *since[side].get_or_insert_with(Instant::now);
                longest[side] = longest[side].max(from.elapsed());
            } else {
                since[side] = None;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (longest[0], longest[1])
}

async fn start(clips: &[&str]) -> Pair {
    let lib = SimMedia::virtual_library(20);
    let p = pair(
        sim_with(lib.clone()).await,
        sim_with(lib).await,
        vec![playlist(clips, true)],
    )
    .await;
    p.engine
        .execute(Op::Take {
            playlist: Some("pl".into()),
            item: Some("i0".into()),
        })
        .await
        .expect("take");
    poll_until("both sides play", || {
        layer_of(&p.main).is_some() && layer_of(&p.backup).is_some()
    })
    .await;
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_clip_auto_switch_is_recognised_when_the_server_answers_slowly() {
    // SHORT is 2 s; every command takes 1.5 s on both sides (as one slow server would).
    let p = start(&["SHORT"; 8]).await;
    for sim in [&p.main, &p.backup] {
        sim.faults().set_command_delay(Duration::from_millis(1500));
    }
    let (main, backup) = longest_holds(&p, Duration::from_secs(14)).await;
    let snap = p.engine.snapshot();
    let playout = &snap.playlists[0].playout;
    eprintln!(
        "longest hold: main {main:?}, backup {backup:?}; engine: {:?} on air {:?}, cued {:?}",
        playout.status, playout.on_air, playout.cued
    );
    // Before the fix both held from a few seconds in to the end (9.9 s of 14), the engine showing
    // i0 or i1 on air and the next cued and armed. Now each hold is about a command time.
    // A hold of a command time or two is the slow server's; one that never ends is the engine's.
    assert!(
        main < Duration::from_secs(6) && backup < Duration::from_secs(6),
        "playout stopped: main held {main:?}, backup held {backup:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_main_does_not_hold_up_the_backup() {
    // SHORT (2 s) and CLIP1 (10 s) alternate; only the main is slow (3 s a command, under the 5 s
    // command timeout: it stays connected and in step, so it stays the lead).
    let p = start(&["SHORT", "CLIP1", "SHORT", "CLIP1", "SHORT", "CLIP1"]).await;
    p.main
        .faults()
        .set_command_delay(Duration::from_millis(3000));
    let (main, backup) = longest_holds(&p, Duration::from_secs(20)).await;
    eprintln!("longest hold: main {main:?} (slow), backup {backup:?} (healthy)");
    // Before the fix the backup held the end of a SHORT for up to the main's command time (0.96 s
    // and 3 s in two runs): its LOADBG was only sent once the main's (slow) reading showed the
    // switch. Now the backup's own reading proves it (0 in three runs).
    assert!(
        backup < Duration::from_millis(500),
        "the healthy backup held a last frame for {backup:?} (the main {main:?})"
    );
}
