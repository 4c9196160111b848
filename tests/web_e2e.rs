//! The web control page in a real headless browser: simulator + `onair serve` + Debian Chromium
//! driven by playwright-core (`tests/web/e2e.mjs`). The page connects, adds clips from the media
//! library, takes one and shows it on air with advancing progress; the daemon is killed (the page
//! shows it is reconnecting), a playlist file is edited meanwhile, the daemon restarts on the same
//! port, and the page reconnects and resyncs to the new daemon's state without a reload. Then the
//! daemon restarts gracefully requiring tokens: the page asks for one, a viewer token shows the
//! controls disabled, an operator token enables them. Last, playlist roles: `main` ends in black
//! and a filler on its layer takes the layer over; the page names both roles and says after which
//! item `main` was taken over. Before that, graphics: with a logo on `main` and an item with a lower
//! third on air, the page's graphics panel lists the logo, the event's Fire button makes the
//! simulator play the template (asked over stdio: `@@ TEMPLATES`), Update sends new data typed in
//! its dialog (JSON, then XML) to the simulator's page and refuses invalid JSON without sending,
//! Invoke makes the simulator execute `CG … INVOKE` (`@@ INVOKES`), Clear asks first and then the
//! lower third leaves the simulator and the panel, and the logo toggles off and on. Screenshots
//! land in `target/web-e2e/`.
//!
//! Needs `/usr/bin/chromium`, node ≥ 20 and `tests/web/node_modules/playwright-core`
//! (`scripts/install-web-test-deps.sh`, which `.ci/run` calls). Without them the tests print
//! `SKIPPED: …` and pass.
//!
//! Set `ONAIR_UPDATE_DOC_SCREENSHOT=1` to copy the final screenshot to `docs/web-client.png`.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use onair::sim::{ClockMode, Sim, SimConfig};
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
/// Written into the playlist file while the daemon is down; `e2e.mjs` expects exactly this text.
const OFFLINE_TITLE: &str = "Edited <b>offline</b> & \"resynced\"";
/// The whole browser run, restarts included, must finish within this.
const DEADLINE: Duration = Duration::from_secs(240);
/// Tokens of the last daemon run (`RESTART_WITH_TOKENS`), handed to `e2e.mjs` in its environment.
const OPERATOR_TOKEN: &str = "e2e-operator-5f1c";
const VIEWER_TOKEN: &str = "e2e-viewer-93ab";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Prints past the test harness's output capture, so a skip is visible in a passing run.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Node's major version, if `node` runs at all.
fn node_major() -> Option<u32> {
    let out = Command::new("node").arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let v = String::from_utf8_lossy(&out.stdout);
    v.trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Why the browser test cannot run here, if it cannot.
fn browser_missing() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!(
            "{CHROMIUM} not found (Debian package `chromium`; run scripts/install-web-test-deps.sh)"
        ));
    }
    node_missing().or_else(|| {
        let pw = manifest_dir().join("tests/web/node_modules/playwright-core/package.json");
        (!pw.exists()).then(|| {
            format!(
                "{} not found (run scripts/install-web-test-deps.sh, which runs `npm ci` in tests/web)",
                pw.display()
            )
        })
    })
}

fn node_missing() -> Option<String> {
    match node_major() {
        None => Some("`node` not found (Debian package `nodejs`)".to_owned()),
        Some(v) if v < 20 => Some(format!("node {v} is too old (playwright-core needs 20+)")),
        Some(_) => None,
    }
}

/// Kills and reaps a child process however the test ends.
struct Guard(Option<Child>);

impl Guard {
    fn child(&mut self) -> Option<&mut Child> {
        self.0.as_mut()
    }

    /// SIGKILL (a crash, not a graceful stop) and wait for the exit.
    fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM (the daemon's graceful shutdown: `shutdown` message, close 1001), then SIGKILL if
    /// it has not exited within 5 s.
    fn terminate(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    self.0 = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.kill();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running `onair serve` and the tail of its log (for failure messages).
struct Daemon {
    process: Guard,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Daemon {
    /// Starts `onair serve` on exactly `port` and waits until it prints its address; with
    /// `tokens`, it requires the operator and viewer tokens.
    fn start(port: u16, caspar: SocketAddr, data: &Path, tokens: bool) -> Result<Daemon, String> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_onair"));
        for (k, _) in std::env::vars() {
            if k.starts_with("ONAIR_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        if tokens {
            cmd.env("ONAIR_SERVER_OPERATOR_TOKENS", OPERATOR_TOKEN)
                .env("ONAIR_SERVER_VIEWER_TOKENS", VIEWER_TOKEN);
        }
        let child = cmd
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--caspar")
            .arg(caspar.to_string())
            .arg("--data")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start onair serve: {e}"))?;
        let mut process = Guard(Some(child));
        let stderr = process
            .child()
            .and_then(|c| c.stderr.take())
            .ok_or("no stderr pipe")?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = channel();
        let tail = Arc::clone(&log);
        std::thread::spawn(move || {
            // Keeps draining after start-up (a full pipe would block the daemon), keeping a tail.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut t) = tail.lock() {
                    if t.len() >= 200 {
                        t.pop_front();
                    }
                    t.push_back(line.clone());
                }
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("listening on http://") => {
                    return Ok(Daemon { process, log });
                }
                Ok(_) => {}
                Err(_) => {
                    let tail: Vec<String> = log
                        .lock()
                        .map(|t| t.iter().cloned().collect())
                        .unwrap_or_default();
                    return Err(format!(
                        "onair serve on port {port} did not start:\n{}",
                        tail.join("\n")
                    ));
                }
            }
        }
    }

    fn log_tail(&self) -> String {
        self.log
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }
}

/// A port that was free a moment ago: bound on 127.0.0.1:0 and released, so the daemon can be
/// started on it again and again (the page reconnects to the same address).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// Starts the daemon on a fresh port, trying another if the picked one was taken meanwhile.
fn start_on_free_port(caspar: SocketAddr, data: &Path) -> Result<(Daemon, u16), String> {
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port()?;
        match Daemon::start(port, caspar, data, false) {
            Ok(d) => return Ok((d, port)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Restarts on the same port, retrying while the old socket is still being released.
fn restart_on(port: u16, caspar: SocketAddr, data: &Path, tokens: bool) -> Result<Daemon, String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match Daemon::start(port, caspar, data, tokens) {
            Ok(d) => return Ok(d),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Changes the title of the second item of `main` in its file, as an editor would while the daemon
/// is down: only a fresh snapshot from the restarted daemon can tell the page about it. After a
/// crash the latest edits are in the journal, not yet in the file: fold them in first (what a
/// clean stop does), as docs/operations.md asks of anyone editing files by hand.
fn edit_playlist_offline(data: &Path) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let limits = onair::playout::model::Limits::default();
        let layer = "1-10".parse().map_err(|e| format!("{e:?}"))?;
        let (store, _) =
            onair::playout::store::Store::open(data, limits, layer).map_err(|e| e.to_string())?;
        let writer = onair::playout::store::StoreWriter::spawn(store);
        writer.compact().await.map_err(|e| e.to_string())
    })?;
    let path = data.join("playlists").join("main.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let item = doc
        .pointer_mut("/playlist/items/1")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| format!("{}: no second item", path.display()))?;
    item.insert("title".into(), OFFLINE_TITLE.into());
    let out = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::write(&path, out + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

fn artifact_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| {
            if d.is_absolute() {
                d
            } else {
                manifest_dir().join(d)
            }
        })
        .unwrap_or_else(|| manifest_dir().join("target"))
        .join("web-e2e")
}

/// Lines a child writes, read on a thread (so a timeout is possible) and forwarded to `tx`.
fn pump(reader: impl std::io::Read + Send + 'static, tx: Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
}

fn reply(stdin: &mut ChildStdin, line: &str) -> Result<(), String> {
    writeln!(stdin, "{line}")
        .and_then(|()| stdin.flush())
        .map_err(|e| format!("writing to e2e.mjs: {e}"))
}

/// The template pages on the simulator's channels, one JSON line for `e2e.mjs`: what CasparCG
/// would show, not what the daemon believes it shows. Channels are numbered from 1, as in AMCP.
fn templates_line(sim: &Sim) -> String {
    let pages: Vec<serde_json::Value> = sim
        .templates()
        .into_iter()
        .map(|t| {
            json!({"channel": t.channel + 1, "layer": t.layer, "template": t.template,
                   "playing": t.playing, "data": t.data})
        })
        .collect();
    format!("TEMPLATES {}", serde_json::Value::from(pages))
}

/// The `CG … INVOKE` commands the simulator executed, one JSON line for `e2e.mjs`: what reached
/// CasparCG (channel and layer as addressed, the parameters as tokenized: cg-layer, method).
fn invokes_line(sim: &Sim) -> String {
    let calls: Vec<serde_json::Value> = sim
        .command_log()
        .into_iter()
        .filter(|r| r.name == "CG INVOKE")
        .map(|r| json!({"channel": r.channel, "layer": r.layer, "params": r.params}))
        .collect();
    format!("INVOKES {}", serde_json::Value::from(calls))
}

/// Runs `e2e.mjs` against the daemon and serves its KILL/RESTART/TEMPLATES/INVOKES requests.
fn drive_browser(
    mut daemon: Daemon,
    port: u16,
    sim: &Sim,
    data: &Path,
    out: &Path,
) -> Result<(), String> {
    let caspar = sim.addr();
    let url = format!("http://127.0.0.1:{port}/");
    let child = Command::new("node")
        .arg(manifest_dir().join("tests/web/e2e.mjs"))
        .arg(&url)
        .arg(out)
        .current_dir(manifest_dir())
        .env("ONAIR_E2E_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("ONAIR_E2E_VIEWER_TOKEN", VIEWER_TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))?;
    let mut node = Guard(Some(child));
    let c = node.child().ok_or("node child")?;
    let (mut stdin, stdout, stderr) = match (c.stdin.take(), c.stdout.take(), c.stderr.take()) {
        (Some(i), Some(o), Some(e)) => (i, o, e),
        _ => return Err("node pipes".into()),
    };
    let (tx, rx): (Sender<String>, Receiver<String>) = channel();
    pump(stdout, tx.clone());
    pump(stderr, tx);

    let deadline = Instant::now() + DEADLINE;
    let mut done = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(line) => line,
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "e2e.mjs did not finish within {DEADLINE:?}; daemon log:\n{}",
                    daemon.log_tail()
                ));
            }
        };
        match line.strip_prefix("@@ ") {
            Some("KILL") => {
                daemon.process.kill();
                edit_playlist_offline(data)?;
                reply(&mut stdin, "KILLED")?;
            }
            Some("RESTART") => {
                daemon = restart_on(port, caspar, data, false)?;
                reply(&mut stdin, "RESTARTED")?;
            }
            Some("RESTART_WITH_TOKENS") => {
                daemon.process.terminate();
                daemon = restart_on(port, caspar, data, true)?;
                reply(&mut stdin, "RESTARTED")?;
            }
            Some("TEMPLATES") => reply(&mut stdin, &templates_line(sim))?,
            Some("INVOKES") => reply(&mut stdin, &invokes_line(sim))?,
            Some("DONE") => done = true,
            _ => eprintln!("{line}"),
        }
    }
    let status = node
        .child()
        .ok_or("node child")?
        .wait()
        .map_err(|e| format!("waiting for node: {e}"))?;
    if status.success() && done {
        Ok(())
    } else {
        Err(format!(
            "e2e.mjs failed ({status}); screenshots in {}; daemon log:\n{}",
            out.display(),
            daemon.log_tail()
        ))
    }
}

#[test]
fn web_page_connects_takes_and_resyncs_after_a_daemon_restart() {
    if let Some(why) = browser_missing() {
        say(&format!(
            "SKIPPED: web_e2e: the browser test cannot run: {why}"
        ));
        return;
    }
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut cfg = SimConfig::for_tests();
    // A quarter of real time: CLIP1 (10 s) stays on air for 40 s, through the restart, while its
    // progress still visibly advances.
    cfg.clock = ClockMode::Speed(0.25);
    let sim = rt.block_on(Sim::start(cfg)).expect("simulator starts");
    let data = tempfile::tempdir().expect("temp dir");
    let out = artifact_dir();
    std::fs::create_dir_all(&out).expect("artifact dir");

    let (daemon, port) = start_on_free_port(sim.addr(), data.path()).expect("daemon starts");
    let result = drive_browser(daemon, port, &sim, data.path(), &out);
    if let Err(e) = result {
        panic!("{e}");
    }
    let shot = out.join("onair-web.png");
    assert!(shot.exists(), "{} was not written", shot.display());
    if std::env::var_os("ONAIR_UPDATE_DOC_SCREENSHOT").is_some() {
        std::fs::copy(&shot, manifest_dir().join("docs/web-client.png"))
            .expect("copy the screenshot to docs/");
    }
    say(&format!(
        "web_e2e: passed in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    ));
    drop(sim);
}

/// The client's protocol rules (`assets/state.js`, `assets/client.js`) under node's test runner:
/// the reducer on its own, the client against a fake WebSocket, the words for a main/backup
/// pair's servers (`assets/servers.js`) and for graphics (`assets/graphics.js`). No browser
/// needed, only node.
#[test]
fn client_protocol_rules_in_node() {
    if let Some(why) = node_missing() {
        say(&format!("SKIPPED: web client unit tests: {why}"));
        return;
    }
    let out = Command::new("node")
        .arg("--test")
        .arg(manifest_dir().join("tests/web/state.test.mjs"))
        .arg(manifest_dir().join("tests/web/client.test.mjs"))
        .arg(manifest_dir().join("tests/web/servers.test.mjs"))
        .arg(manifest_dir().join("tests/web/graphics.test.mjs"))
        .current_dir(manifest_dir())
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "node --test failed:\n{text}");
    assert!(text.contains("# fail 0"), "{text}");
}
