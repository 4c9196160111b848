//! A real `nats-server` with JetStream on a loopback port, for the cluster tests (issue 18); and a
//! 3-node NATS cluster with JetStream ([`NatsCluster`]).
//!
//! The binary comes from Debian's `nats-server` package (`scripts/install-nats-server.sh`, run by
//! `.ci/run`). When it is missing a test skips with a message, except in CI (`CI` or
//! `REQUIRE_NATS_SERVER` set): there it fails, so a CI machine without it cannot pass silently.
//! The server listens on a port it picks itself (`-p -1`, read back from its ports file), keeps
//! JetStream's files in a temporary directory, and is killed when the handle is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `nats-server` (killed on drop).
pub struct NatsServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
}

/// The `nats-server` binary, or `None` (with a message) where a test may skip.
fn binary() -> Option<PathBuf> {
    let found = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("nats-server"))
                    .find(|p| p.exists())
            })
        });
    if found.is_none() {
        let required =
            std::env::var_os("CI").is_some() || std::env::var_os("REQUIRE_NATS_SERVER").is_some();
        assert!(
            !required,
            "nats-server is not installed: run scripts/install-nats-server.sh (Debian package \
             nats-server, 2.9 or newer)"
        );
        eprintln!("SKIPPED: nats-server is not installed (scripts/install-nats-server.sh)");
    }
    found
}

impl NatsServer {
    /// Starts a server with JetStream on a free loopback port; `None` when the binary is missing
    /// outside CI (the test then returns early).
    pub fn start() -> Option<NatsServer> {
        let bin = binary()?;
        let dir = tempfile::tempdir().expect("temp dir for nats-server");
        let mut child = spawn(&bin, dir.path(), None);
        let port = read_port(dir.path(), &mut child);
        let server = NatsServer {
            child: Some(child),
            dir,
            port,
        };
        server.wait_accepting();
        Some(server)
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to its clients) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same JetStream files (after [`Self::kill`]).
    pub fn restart(&mut self) {
        self.kill();
        let bin = binary().expect("nats-server was there a moment ago");
        self.child = Some(spawn(&bin, self.dir.path(), Some(self.port)));
        self.wait_accepting();
    }

    fn wait_accepting(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not accept on port {} within {START_TIMEOUT:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(bin: &Path, dir: &Path, port: Option<u16>) -> Child {
    let port = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
    Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port, "-m", "0"])
        .arg("-sd")
        .arg(dir.join("jetstream"))
        .arg("--ports_file_dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(log_file(dir))
        .spawn()
        .expect("nats-server starts")
}

/// The client port from the server's ports file (`nats-server_<pid>.ports`).
fn read_port(dir: &Path, child: &mut Child) -> u16 {
    read_ports_file(dir, child, "nats").unwrap_or_else(|e| panic!("{e}"))
}

/// The port of the first URL under `key` (`nats`, `monitoring`, `cluster`) in the server's ports
/// file, once the server has written it; an error (with the end of its log) when the server
/// exited first or wrote nothing in time.
fn read_ports_file(dir: &Path, child: &mut Child, key: &str) -> Result<u16, String> {
    let file = dir.join(format!("nats-server_{}.ports", child.id()));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(port) = v[key][0]
                .as_str()
                .and_then(|u| u.rsplit(':').next())
                .and_then(|p| p.parse().ok())
        {
            return Ok(port);
        }
        let exited = child.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() >= deadline {
            let log = std::fs::read_to_string(dir.join(LOG)).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return Err(format!(
                "nats-server wrote no ports file {} ({}); its log ends: {tail:?}",
                file.display(),
                exited.map_or_else(
                    || format!("still running after {START_TIMEOUT:?}"),
                    |s| format!("it exited: {s}")
                )
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The server's log, in its directory (read back when it fails to start).
const LOG: &str = "nats-server.log";

/// Where a server's output goes: its log file.
fn log_file(dir: &Path) -> Stdio {
    std::fs::File::create(dir.join(LOG)).map_or_else(|_| Stdio::null(), Stdio::from)
}

/// A NATS cluster of `nats-server`s with JetStream on loopback (each killed on drop): every node
/// has its own JetStream directory, client port, cluster port and monitoring port, and routes to
/// all the others. [`NatsCluster::start`] returns once JetStream has a meta leader that every node
/// knows, so streams and buckets with 3 replicas can be created at once.
pub struct NatsCluster {
    nodes: Vec<ClusterNode>,
    bin: PathBuf,
}

struct ClusterNode {
    name: String,
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    cluster_port: u16,
    monitor_port: u16,
}

/// The cluster's name, as the nodes know it (`--cluster_name`).
const CLUSTER_NAME: &str = "onair-test";

impl NatsCluster {
    /// Starts `size` nodes (3 for the tests); `None` when the binary is missing outside CI.
    pub fn start(size: usize) -> Option<NatsCluster> {
        let bin = binary()?;
        // The cluster ports are free when chosen but another process may bind one before its
        // server does (the server then exits at once): the start is tried again on fresh ports.
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_start(&bin, size) {
                Ok(cluster) => return Some(cluster),
                Err(e) => failures.push(e),
            }
        }
        panic!("the NATS cluster did not start: {failures:?}");
    }

    fn try_start(bin: &Path, size: usize) -> Result<NatsCluster, String> {
        // The routes name every node's cluster port up front (JetStream refuses to start a
        // clustered server without them), so these ports are chosen here: held together so they
        // differ, released just before the servers bind them.
        let cluster_ports = {
            let held: Vec<std::net::TcpListener> = (0..size)
                .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
                .collect();
            held.iter()
                .map(|l| l.local_addr().expect("its address").port())
                .collect::<Vec<u16>>()
        };
        let mut cluster = NatsCluster {
            nodes: Vec::new(),
            bin: bin.to_owned(),
        };
        for (i, &cluster_port) in cluster_ports.iter().enumerate() {
            cluster.nodes.push(ClusterNode {
                name: format!("n{i}"),
                child: None,
                dir: tempfile::tempdir().expect("temp dir for nats-server"),
                port: 0,
                cluster_port,
                monitor_port: 0,
            });
        }
        for i in 0..size {
            cluster.spawn(i)?;
        }
        cluster.wait_ready();
        Ok(cluster)
    }

    /// Every node's `nats://127.0.0.1:PORT`, in node order.
    pub fn urls(&self) -> Vec<String> {
        (0..self.nodes.len()).map(|i| self.url(i)).collect()
    }

    /// Node `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// Node `i`'s server name (`n0`, `n1`, …), as JetStream reports it.
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Kills node `i` (SIGKILL) and waits until the others have a JetStream meta leader again.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.wait_ready();
    }

    /// Starts node `i` again on its ports with its JetStream files (after [`Self::kill`]).
    pub fn restart(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.spawn(i).unwrap_or_else(|e| panic!("{e}"));
        self.wait_ready();
    }

    /// The names clients gave their connections to node `i` (`onair a` for node `a`'s lease).
    pub fn client_names(&self, i: usize) -> Vec<String> {
        let doc = monitor(self.nodes[i].monitor_port, "/connz?limit=1024");
        doc["connections"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// How many client connections node `i` has (named or not).
    pub fn connections(&self, i: usize) -> u64 {
        monitor(self.nodes[i].monitor_port, "/connz")["num_connections"]
            .as_u64()
            .unwrap_or(0)
    }

    /// `/jsz` of node `i` with stream details: where each stream's replicas are.
    pub fn jsz(&self, i: usize) -> serde_json::Value {
        monitor(
            self.nodes[i].monitor_port,
            "/jsz?accounts=true&streams=true&config=true",
        )
    }

    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let routes = self
            .nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.cluster_port))
            .collect::<Vec<_>>()
            .join(",");
        let node = &mut self.nodes[i];
        let port = |p: u16| {
            if p == 0 {
                "-1".to_owned()
            } else {
                p.to_string()
            }
        };
        let child = Command::new(&self.bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port(node.port)])
            .args(["-m", &port(node.monitor_port), "-n", &node.name])
            .args(["--cluster_name", CLUSTER_NAME, "--cluster"])
            .arg(format!("nats://127.0.0.1:{}", node.cluster_port))
            .args(["--routes", &routes])
            .arg("-sd")
            .arg(node.dir.path().join("jetstream"))
            .arg("--ports_file_dir")
            .arg(node.dir.path())
            .stdout(Stdio::null())
            .stderr(log_file(node.dir.path()))
            .spawn()
            .expect("nats-server starts");
        let child = node.child.insert(child);
        node.port = read_ports_file(node.dir.path(), child, "nats")?;
        node.monitor_port = read_ports_file(node.dir.path(), child, "monitoring")?;
        Ok(())
    }

    /// Waits until every running node is routed to every other running node and knows the same
    /// JetStream meta leader (a new cluster elects one within seconds; so does one that lost it).
    fn wait_ready(&self) {
        let running: Vec<&ClusterNode> = self.nodes.iter().filter(|n| n.child.is_some()).collect();
        let deadline = Instant::now() + START_TIMEOUT * 2;
        let mut last = serde_json::Value::Null;
        loop {
            let leaders: Vec<Option<String>> = running
                .iter()
                .map(|n| {
                    let routes = monitor(n.monitor_port, "/routez")["num_routes"].as_u64();
                    last = monitor(n.monitor_port, "/jsz");
                    let leader = last["meta_cluster"]["leader"].as_str().map(str::to_owned);
                    leader.filter(|_| routes == Some(running.len() as u64 - 1))
                })
                .collect();
            let leader = leaders[0].clone();
            if leader.as_ref().is_some_and(|l| {
                running.iter().any(|n| &n.name == l)
                    && leaders.iter().all(|x| x.as_ref() == Some(l))
            }) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the NATS cluster has no JetStream meta leader known to every node; last /jsz {last}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// `GET path` from a server's monitoring port, as JSON (`Null` when it does not answer yet).
fn monitor(port: u16, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return serde_json::Value::Null;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    // HTTP/1.0: the body comes whole, never chunked, and the server closes at its end.
    let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return serde_json::Value::Null;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(serde_json::Value::Null)
}
