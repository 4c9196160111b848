//! `[cluster]`: absent means cluster mode off; present, its defaults are filled in by the loader
//! (the node from the host name, the renewal period from the lease), and every rule names its key.

use std::time::Duration;

use super::*;

const MINIMAL: &str = "[cluster]\nnats = [\"nats://127.0.0.1:4222\"]\nstation = \"studio-a\"\n";

#[test]
fn no_section_means_cluster_mode_off() {
    let (c, _) = load_toml("[log]\nlevel = \"info\"\n");
    assert_eq!(c.expect("loads").cluster, None);
    assert!(!Config::default().to_toml().contains("[cluster]"));
}

#[test]
fn the_loader_fills_in_the_node_and_the_renewal_period() {
    let (c, _) = load_toml(MINIMAL);
    let cluster = c.expect("loads").cluster.expect("cluster mode on");
    let node = cluster.node.clone().expect("the host name");
    assert!(!node.is_empty() && !node.contains('.'), "{node}");
    assert_eq!(cluster.lease_ttl, Duration::from_secs(2));
    assert_eq!(cluster.renew_every, Some(Duration::from_millis(500)));
    assert_eq!(cluster.safety_margin(), Duration::from_millis(300));
    assert_eq!(cluster.replicas, 1);
    assert_eq!(cluster.station, "studio-a");

    // A longer lease without renew_every renews every quarter of it.
    let (c, _) = load_toml(&format!("{MINIMAL}lease_ttl = \"10s\"\nnode = \"n1\"\n"));
    let cluster = c.expect("loads").cluster.expect("cluster mode on");
    assert_eq!(cluster.renew_every, Some(Duration::from_millis(2500)));
    assert_eq!(cluster.node.as_deref(), Some("n1"));
}

#[test]
fn the_environment_can_turn_cluster_mode_on_and_set_every_key() {
    let c = load(
        None,
        env(&[
            ("ONAIR_CLUSTER_NATS", "nats://10.0.0.7:4222, 10.0.0.8:4222"),
            ("ONAIR_CLUSTER_STATION", "studio_b"),
            ("ONAIR_CLUSTER_NODE", "playout-2"),
            ("ONAIR_CLUSTER_LEASE_TTL", "1s"),
            ("ONAIR_CLUSTER_RENEW_EVERY", "200ms"),
            ("ONAIR_CLUSTER_REPLICAS", "3"),
        ]),
        &Overrides::default(),
    )
    .expect("loads");
    assert_eq!(
        c.cluster,
        Some(ClusterConfig {
            nats: vec!["nats://10.0.0.7:4222".into(), "10.0.0.8:4222".into()],
            station: "studio_b".into(),
            node: Some("playout-2".into()),
            lease_ttl: Duration::from_secs(1),
            renew_every: Some(Duration::from_millis(200)),
            replicas: 3,
            compact_every: 5_000,
        })
    );
}

#[test]
fn a_loaded_cluster_section_prints_and_reloads() {
    let (c, _) = load_toml(MINIMAL);
    let c = c.expect("loads");
    let text = c.to_toml();
    assert!(text.contains("[cluster]"), "{text}");
    assert!(text.contains("renew_every = \"500ms\""), "{text}");
    assert!(text.contains("node = "), "{text}");
    let (again, _) = load_toml(&text);
    assert_eq!(again.expect("reloads"), c);
}

#[test]
fn rules_name_the_key() {
    let cases = [
        (
            "[cluster]\nstation = \"s\"\n",
            "cluster.nats: must list at least one NATS server",
        ),
        (
            "[cluster]\nnats = [\"nats://a:4222\"]\n",
            "cluster.station: must be set",
        ),
        (
            "[cluster]\nnats = [\"nats://a:4222\"]\nstation = \"studio a\"\n",
            "cluster.station: \"studio a\" may contain only letters",
        ),
        (
            "[cluster]\nnats = [\"tls://a:4222\"]\nstation = \"s\"\n",
            "cluster.nats: entry 1: \"tls://a:4222\" is not a NATS URL (TLS is not supported yet",
        ),
        (
            "[cluster]\nnats = [\"a:1\", \"a:1\"]\nstation = \"s\"\n",
            "cluster.nats: entry 2 repeats entry 1",
        ),
        (
            &format!("{MINIMAL}node = \"a.b\"\n"),
            "cluster.node: \"a.b\" may contain only letters",
        ),
        (
            &format!("{MINIMAL}lease_ttl = \"100ms\"\n"),
            "cluster.lease_ttl: must be between 500ms and 1m, got 100ms (set in FILE)",
        ),
        (
            &format!("{MINIMAL}renew_every = \"1s\"\n"),
            "cluster.renew_every: must be between 50ms and 850ms (half of lease_ttl 2s less its \
             safety margin 300ms, so that a failed renewal is retried before the lease is given \
             up), got 1s (set in FILE)",
        ),
        (
            &format!("{MINIMAL}replicas = 0\n"),
            "cluster.replicas: must be between 1 and 5",
        ),
        (
            &format!("{MINIMAL}replica = 3\n"),
            "line 4: unknown key \"cluster.replica\" (did you mean \"cluster.replicas\"?)",
        ),
    ];
    for (text, says) in cases {
        let err = file_error(text);
        assert!(err.contains(says), "{text}\n→ {err}");
    }
    assert!(
        env_error(&[("ONAIR_CLUSTER_LEASE_TTL", "2x")])
            .starts_with("environment variable ONAIR_CLUSTER_LEASE_TTL: cluster.lease_ttl:")
    );
}

#[test]
fn validation_in_code_accepts_an_unresolved_section() {
    // Built in code, node and renew_every may stay unset: the lease derives them.
    let config = Config {
        cluster: Some(ClusterConfig {
            nats: vec!["nats://127.0.0.1:4222".into()],
            station: "s".into(),
            ..ClusterConfig::default()
        }),
        ..Config::default()
    };
    assert_eq!(config.validate().ok(), Some(()));
}
