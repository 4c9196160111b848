//! A real `nats-server` with JetStream on a loopback port, for the cluster tests (issue 18).
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
        let child = spawn(&bin, dir.path(), None);
        let port = read_port(dir.path(), child.id());
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
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts")
}

/// The client port from the server's ports file (`nats-server_<pid>.ports`).
fn read_port(dir: &Path, pid: u32) -> u16 {
    let file = dir.join(format!("nats-server_{pid}.ports"));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(port) = v["nats"][0]
                .as_str()
                .and_then(|u| u.rsplit(':').next())
                .and_then(|p| p.parse().ok())
        {
            return port;
        }
        assert!(
            Instant::now() < deadline,
            "nats-server wrote no ports file {} within {START_TIMEOUT:?}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
