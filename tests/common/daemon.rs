//! A real `onair serve` child for integration tests and benchmarks: start it on `127.0.0.1:0`
//! against a simulator, read its address from its log, talk HTTP and WebSocket to it; the child is
//! killed and reaped when the test ends, however it ends.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onair::sim::Sim;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

pub const WAIT: Duration = Duration::from_secs(15);

/// The daemon child; killed (and reaped) when the test ends, however it ends.
pub struct Daemon {
    pub child: Child,
    pub addr: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `onair` binary, run without the caller's `ONAIR_*` and `RUST_LOG` variables.
pub fn onair() -> Command {
    command_without_callers_env(env!("CARGO_BIN_EXE_onair"))
}

/// The daemon refuses `ONAIR_*` variables it does not know (such as the benchmarks' own knobs,
/// `ONAIR_HTTP_PROBES`), and `RUST_LOG` would override the log level a test or benchmark sets.
fn command_without_callers_env(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        if k.to_str()
            .is_some_and(|k| k.starts_with("ONAIR_") || k == "RUST_LOG")
        {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// `onair serve` against `sim` with `data`, as [`Serve`] starts it by default.
pub fn serve(sim: &Sim, data: &Path) -> Daemon {
    serve_with(sim, data, &[])
}

/// [`serve`] with extra arguments.
pub fn serve_with(sim: &Sim, data: &Path, extra: &[&str]) -> Daemon {
    Serve::new(&sim.addr().to_string(), data)
        .args(extra)
        .start()
}

/// How to start `onair serve --listen 127.0.0.1:0 --caspar CASPAR --data DATA`: extra arguments and
/// environment, a wrapper program, how long to wait for the address. The tests' and the benchmarks'
/// one way to run the daemon, so a change to how it starts or says where it listens is made once.
pub struct Serve {
    wrapper: Vec<OsString>,
    caspar: String,
    data: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    startup: Duration,
}

impl Serve {
    /// The daemon against the AMCP server at `caspar` (`HOST:PORT`), keeping its files in `data`.
    pub fn new(caspar: &str, data: &Path) -> Serve {
        Serve {
            wrapper: Vec::new(),
            caspar: caspar.to_owned(),
            data: data.to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            startup: Duration::from_secs(30),
        }
    }

    /// Runs the daemon through a program, e.g. `["prlimit", "--nofile=256:256", "--"]`.
    pub fn wrapper<S: AsRef<OsStr>>(mut self, argv: &[S]) -> Serve {
        self.wrapper = argv.iter().map(|a| a.as_ref().to_owned()).collect();
        self
    }

    /// Arguments after `--data DATA`.
    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Serve {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Environment variables for the daemon (`ONAIR_*` settings, allocator tunables, ...).
    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(mut self, vars: &[(K, V)]) -> Serve {
        self.env.extend(
            vars.iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())),
        );
        self
    }

    /// How long the daemon may take to print its address (a big rundown to load in a debug build
    /// wants more than the default 30 s).
    pub fn startup(mut self, wait: Duration) -> Serve {
        self.startup = wait;
        self
    }

    /// Starts the daemon and waits for the address it prints; fails the test or benchmark when it
    /// does not start or print it in time.
    pub fn start(self) -> Daemon {
        let exe = env!("CARGO_BIN_EXE_onair");
        let mut cmd = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = command_without_callers_env(program);
                cmd.args(args).arg(exe);
                cmd
            }
            None => onair(),
        };
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--caspar", &self.caspar])
            .arg("--data")
            .arg(&self.data)
            .args(&self.args)
            .envs(self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("onair serve starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut daemon = Daemon {
            child,
            addr: String::new(),
        };
        let deadline = Instant::now() + self.startup;
        while daemon.addr.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("onair serve prints its address");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                daemon.addr = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        // Keep draining stderr so the child never blocks on a full pipe; shown when debugging
        // (`ONAIR_TEST_DAEMON_LOG=1`).
        let show = std::env::var_os("ONAIR_TEST_DAEMON_LOG").is_some();
        let pid = daemon.child.id();
        std::thread::spawn(move || {
            while let Ok(line) = rx.recv() {
                if show {
                    eprintln!("[onair {pid}] {line}");
                }
            }
        });
        daemon
    }
}

/// `GET path`: the status and the body as JSON (bounded: a frozen daemon fails the test).
pub async fn get(addr: &str, path: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut out = Vec::new();
    timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("an HTTP answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Polls `/health` until `want` holds for it; returns that document.
pub async fn health_until(addr: &str, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, doc) = get(addr, "/health").await;
        if want(&doc) {
            return doc;
        }
        assert!(Instant::now() < deadline, "{what}: last /health {doc}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = timeout(WAIT, ws.next())
            .await
            .expect("a message in time (a frozen daemon sends none)")
            .expect("open")
            .expect("frame");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).expect("JSON"),
            Message::Close(frame) => panic!("the daemon closed the WebSocket: {frame:?}"),
            _ => {}
        }
    }
}

/// Sends a command and returns its ack (events before it are skipped).
pub async fn command(ws: &mut Ws, id: &str, op: &str, args: Value) -> Value {
    let msg = json!({"type": "command", "id": id, "op": op, "args": args});
    ws.send(Message::text(msg.to_string())).await.expect("send");
    loop {
        let m = next_json(ws).await;
        if m["type"] == "ack" && m["id"] == id {
            return m;
        }
    }
}

/// [`command`] on a daemon that has just won the leader lease (cluster mode): it answers
/// `not_leader` until it has applied the station's journal as it was when it won, a moment.
pub async fn command_on_new_leader(ws: &mut Ws, id: &str, op: &str, args: Value) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let ack = command(ws, id, op, args.clone()).await;
        if ack["error"]["code"] != "not_leader" || Instant::now() >= deadline {
            return ack;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A WebSocket client of `addr`, past its `hello` and `snapshot`.
pub async fn ws(addr: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("ws connects");
    assert_eq!(next_json(&mut ws).await["type"], "hello");
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    ws
}
