//! `caspar.osc_listen` unset: the OSC listener follows the AMCP connection's local address (the
//! interface the server reaches us on), so a CasparCG on another machine can send to it. Tried on
//! loopback: the simulator listens on 127.0.0.2 (Linux routes all of 127.0.0.0/8 to `lo`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use onair::caspar::osc::OscListener;
use onair::config::Config;
use onair::daemon::Daemon;
use onair::sim::{ClockMode, Sim, SimConfig};
use tokio_util::sync::CancellationToken;

/// Polls `probe` until it returns `Some`, or panics after `within` naming `what`.
async fn eventually<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_osc_listens_where_the_amcp_connection_is_and_telemetry_arrives() {
    let mut sim_config = SimConfig::for_tests();
    sim_config.listen = SocketAddr::from(([127, 0, 0, 2], 0));
    // Channel ticks (and so OSC) need a running clock; the test default is stepped by hand.
    sim_config.clock = ClockMode::Realtime;
    let sim = Sim::start(sim_config).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    assert_eq!(
        config.caspar.osc_listen, None,
        "following the link is the default"
    );
    config.caspar.address = sim.addr().to_string();
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.store.data_dir = data.path().to_path_buf();
    let daemon = Daemon::start(config).await.expect("daemon starts");

    let local = eventually("the AMCP connection", Duration::from_secs(10), || {
        daemon.caspar.local_addr()
    })
    .await;
    assert!(local.ip().is_loopback(), "{local}");
    let osc = daemon.state.probes.osc.as_ref().expect("an OSC probe");
    let listen = eventually(
        "OSC datagrams at the AMCP connection's address",
        Duration::from_secs(10),
        || {
            let v = osc();
            let listen: SocketAddr = v["listen"].as_str()?.parse().ok()?;
            (listen.ip() == local.ip() && v["datagrams"].as_u64()? > 0).then_some(listen)
        },
    )
    .await;
    assert_ne!(listen.port(), 0);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_following_listener_moves_to_a_new_address_and_receives_there() {
    let shutdown = CancellationToken::new();
    let osc = OscListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .unwrap()
        .following_link()
        .spawn(shutdown.clone(), Duration::from_secs(1));
    let old = osc.local_addr();
    let to = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    assert!(osc.follow_link(to).expect("rebinds"));
    let new = osc.local_addr();
    assert_eq!(new.ip(), to);
    assert_ne!(new.port(), 0);
    // Same address again: nothing to do (a reconnect over the same interface keeps the port).
    assert!(!osc.follow_link(to).unwrap());
    assert_eq!(osc.local_addr(), new);

    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"/not-osc", new).unwrap();
    eventually(
        "a datagram at the new address",
        Duration::from_secs(5),
        || (osc.stats().datagrams > 0).then_some(()),
    )
    .await;
    // The old socket is closed: nothing listens there any more.
    assert!(
        std::net::UdpSocket::bind(old).is_ok(),
        "the old port {old} is free again"
    );
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_address_is_kept() {
    let shutdown = CancellationToken::new();
    let osc = OscListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .unwrap()
        .spawn(shutdown.clone(), Duration::from_secs(1));
    let before = osc.local_addr();
    assert!(
        !osc.follow_link(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)))
            .unwrap()
    );
    assert_eq!(osc.local_addr(), before);
    shutdown.cancel();
}
