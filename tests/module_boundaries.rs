//! Dependencies between the crate's modules point one way (docs/architecture.md). This test reads
//! every source file and fails when a module names another that it must not depend on:
//!
//! - `amcp` (the wire protocol) imports nothing else of the crate;
//! - `server` and `tui` speak to the rest through `protocol`, never `amcp` or `caspar`;
//! - `protocol` (wire types) does not depend on the surfaces or the AMCP client;
//! - `playout` never imports `server`, `tui` or `sim`;
//! - `sim` (the CasparCG emulator) never imports `caspar` or `playout`;
//! - `cluster` (NATS: the journal, the lease) carries the playout model's changes but never
//!   drives a server or a surface (`amcp`, `caspar`, `server`, `tui`, `sim`), and `playout` never
//!   imports it: the daemon connects the two;
//! - `schedule` (the planning core) is pure: it imports nothing else of the crate, and its
//!   production code names no tokio, file, network or process I/O.
//!
//! Test code (`#[cfg(test)]` modules, `tests.rs` and `*_tests.rs` files) may reach further, e.g. a
//! playout test that starts the simulator.

use std::path::{Path, PathBuf};

/// (module, modules it must not name).
const RULES: &[(&str, &[&str])] = &[
    (
        "amcp",
        &[
            "caspar",
            "cluster",
            "config",
            "daemon",
            "demo",
            "health",
            "playout",
            "protocol",
            "server",
            "sim",
            "tui",
            "telemetry",
            "retry",
            "report",
            "shutdown",
            "systemd",
        ],
    ),
    ("server", &["amcp", "caspar", "sim"]),
    ("tui", &["amcp", "caspar", "sim", "server"]),
    ("protocol", &["server", "tui", "caspar", "sim"]),
    ("playout", &["server", "tui", "sim", "cluster"]),
    ("cluster", &["amcp", "caspar", "server", "tui", "sim"]),
    ("sim", &["caspar", "playout", "server", "tui", "protocol"]),
    (
        "schedule",
        &[
            "amcp",
            "caspar",
            "cluster",
            "config",
            "daemon",
            "demo",
            "health",
            "media_watch",
            "playout",
            "protocol",
            "server",
            "sim",
            "tui",
            "telemetry",
            "retry",
            "report",
            "shutdown",
            "systemd",
        ],
    ),
];

/// Names that mean I/O or a runtime, which the pure planning core must not use.
const SCHEDULE_IO: &[&str] = &["tokio", "std::fs", "std::net", "std::io", "std::process"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/server/ws.rs` → `server`, `src/retry.rs` → `retry`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_owned()
}

/// The production code of a file: without its `#[cfg(test)]` tail and without comments.
fn production_code(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// Every `crate::name` in a line.
fn crate_paths(line: &str) -> Vec<&str> {
    line.match_indices("crate::")
        .filter(|(i, _)| {
            // `onair::crate` or `mycrate::` are not ours.
            *i == 0
                || !line.as_bytes()[*i - 1].is_ascii_alphanumeric()
                    && line.as_bytes()[*i - 1] != b'_'
        })
        .map(|(i, m)| {
            let rest = &line[i + m.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

#[test]
fn modules_keep_their_boundaries() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        if name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let module = module_of(&src, file);
        let Some((_, forbidden)) = RULES.iter().find(|(m, _)| *m == module) else {
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for (line_no, line) in production_code(&text) {
            if module == "schedule"
                && let Some(io) = SCHEDULE_IO.iter().find(|io| line.contains(*io))
            {
                violations.push(format!(
                    "{}:{line_no}: `schedule` is pure and must not use `{io}`: {}",
                    file.strip_prefix(&src).unwrap_or(file).display(),
                    line.trim()
                ));
            }
            if line.contains("crate::{") {
                // A grouped import can hide a path from this scanner: one path per `use`.
                violations.push(format!(
                    "{}:{line_no}: write one `use crate::…` per module instead of `crate::{{…}}`",
                    file.strip_prefix(&src).unwrap_or(file).display(),
                ));
            }
            for target in crate_paths(line) {
                if forbidden.contains(&target) {
                    violations.push(format!(
                        "{}:{line_no}: `{module}` must not use `crate::{target}`: {}",
                        file.strip_prefix(&src).unwrap_or(file).display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "module boundaries crossed (see docs/architecture.md):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_what_it_should() {
    assert_eq!(crate_paths("use crate::caspar::{A, B};"), ["caspar"]);
    assert_eq!(
        crate_paths("let x = crate::amcp::X; crate::sim::y()"),
        ["amcp", "sim"]
    );
    assert!(crate_paths("use onair_crate::x;").is_empty());
    let code =
        "use crate::a;\n// use crate::b;\nfn f() {}\n#[cfg(test)]\nmod tests { use crate::c; }\n";
    let kept: Vec<&str> = production_code(code).into_iter().map(|(_, l)| l).collect();
    assert_eq!(kept, ["use crate::a;", "fn f() {}"]);
}
