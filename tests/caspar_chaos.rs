//! Chaos: thousands of commands while the simulator drops, stalls, restarts, answers late and sends
//! garbage at random. Every command must get exactly one outcome, the pending table must be empty
//! afterwards, and no task may outlive the test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use onair::amcp::{ChannelLayer, Clip, Command};
use onair::caspar::{CasparHandle, CommandError};
use onair::config::CasparConfig;
use onair::sim::{Sim, SimConfig};
use tokio::time::timeout;

const MS: Duration = Duration::from_millis(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_resolves_under_chaos() {
    let baseline_tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let mut sim_cfg = SimConfig::for_tests();
    sim_cfg.formats = vec![sim_cfg.formats[0]; 2];
    let sim = Arc::new(Sim::start(sim_cfg).await.unwrap());
    let cfg = CasparConfig {
        address: sim.addr().to_string(),
        connect_timeout: 500 * MS,
        command_timeout: 400 * MS,
        scanner_timeout: 800 * MS,
        ping_interval: 50 * MS,
        ping_timeout: 150 * MS,
        backoff_initial: 10 * MS,
        backoff_max: 100 * MS,
        ..CasparConfig::default()
    };
    let (h, actor) = CasparHandle::spawn(cfg);
    h.wait_connected().await;

    let stop = Arc::new(AtomicBool::new(false));
    let chaos = tokio::spawn({
        let sim = sim.clone();
        let stop = stop.clone();
        async move {
            let mut rng = fastrand::Rng::with_seed(0x0A1A);
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(rng.u64(30..120))).await;
                match rng.u8(0..6) {
                    0 => sim.drop_connections(),
                    1 => {
                        sim.faults().set_stalled(true);
                        tokio::time::sleep(Duration::from_millis(rng.u64(50..300))).await;
                        sim.faults().set_stalled(false);
                    }
                    2 => sim.restart(Duration::from_millis(rng.u64(0..150))).await,
                    3 => {
                        sim.faults()
                            .set_reply_delay(Duration::from_millis(rng.u64(100..600)));
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        sim.faults().set_reply_delay(Duration::ZERO);
                    }
                    4 => sim.faults().corrupt_next_reply(),
                    _ => sim
                        .faults()
                        .set_command_delay(Duration::from_millis(rng.u64(0..5))),
                }
            }
            sim.faults().set_stalled(false);
            sim.faults().set_reply_delay(Duration::ZERO);
            sim.faults().set_command_delay(Duration::ZERO);
            sim.set_refuse_connections(false);
        }
    });

    let issued_per_client = 1500;
    let clients: Vec<_> = (0..4u16)
        .map(|c| {
            let h = h.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::with_capacity(issued_per_client);
                for batch in 0..issued_per_client / 50 {
                    let cmds = (0..50).map(|i| match (batch + i) % 3 {
                        0 => Command::Play(
                            ChannelLayer::new(1 + c % 2, 10).unwrap(),
                            Some(Clip::new("CLIP1")),
                        ),
                        1 => Command::Version,
                        _ => Command::Info(Some(ChannelLayer::channel(2).unwrap())),
                    });
                    outcomes.extend(h.send_many(cmds).await);
                    if outcomes
                        .last()
                        .is_some_and(|r| *r == Err(CommandError::NotConnected))
                    {
                        h.wait_connected().await;
                    }
                }
                outcomes
            })
        })
        .collect();

    let mut all = Vec::new();
    for c in clients {
        let outcomes = timeout(Duration::from_secs(60), c)
            .await
            .expect("clients finish")
            .unwrap();
        all.extend(outcomes);
    }
    stop.store(true, Ordering::SeqCst);
    chaos.await.unwrap();

    assert_eq!(
        all.len(),
        4 * issued_per_client,
        "every command got exactly one outcome"
    );
    let ok = all.iter().filter(|r| r.is_ok()).count();
    let lost = all
        .iter()
        .filter(|r| **r == Err(CommandError::ConnectionLost))
        .count();
    let timeouts = all
        .iter()
        .filter(|r| matches!(r, Err(CommandError::Timeout(_))))
        .count();
    let not_connected = all
        .iter()
        .filter(|r| **r == Err(CommandError::NotConnected))
        .count();
    let other = all.len() - ok - lost - timeouts - not_connected;
    eprintln!(
        "ok {ok}, lost {lost}, timeouts {timeouts}, not connected {not_connected}, other {other}"
    );
    assert!(
        ok > 0 && lost + timeouts + not_connected > 0,
        "chaos should have hit some commands"
    );
    let stats = h.stats();
    assert_eq!(
        (stats.in_flight, stats.waiting),
        (0, 0),
        "pending table empty at the end"
    );
    assert!(stats.connects > 1, "the link must have reconnected");

    // The link still works once the chaos stops.
    h.wait_connected().await;
    h.shutdown();
    timeout(Duration::from_secs(5), actor)
        .await
        .expect("actor stops")
        .unwrap();
    Arc::into_inner(sim)
        .expect("chaos task released the sim")
        .shutdown()
        .await;
    // Spawned tasks finish asynchronously after their handles are done; give them a moment.
    timeout(Duration::from_secs(5), async {
        while tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
            > baseline_tasks
        {
            tokio::time::sleep(10 * MS).await;
        }
    })
    .await
    .expect("no task outlives the sim and the link");
}
