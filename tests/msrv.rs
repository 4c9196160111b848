//! The `rust-version` in Cargo.toml is a promise: no package pinned by Cargo.lock may need a newer
//! Rust. ratatui 0.30.2 and time 0.3.55 raised the floor to 1.88 while Cargo.toml still said 1.85;
//! this test reads every locked package's `rust-version` from `cargo metadata --locked` (all
//! platforms, dev-dependencies included) and fails naming the packages that ask for more.

use std::process::Command;

/// `1.88`, `1.88.0` → `(1, 88, 0)`; `None` for anything else.
fn parse(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.trim().split('.').map(str::parse::<u64>);
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    parts.next().is_none().then_some((major, minor, patch))
}

#[test]
fn rust_version_covers_every_locked_package() {
    let ours = env!("CARGO_PKG_RUST_VERSION");
    let ours_v = parse(ours).unwrap_or_else(|| panic!("rust-version {ours:?} does not parse"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--locked", "--format-version", "1"])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata --locked failed (it needs the manifests of every locked package, so \
         crates.io the first time):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("a package list");
    assert!(packages.len() > 50, "suspiciously few packages");
    let mut highest = (0, 0, 0);
    let mut too_new = Vec::new();
    for package in packages {
        let Some(needs) = package["rust_version"].as_str() else {
            continue;
        };
        let name = format!("{} {}", package["name"], package["version"]);
        let v = parse(needs).unwrap_or_else(|| panic!("{name}: rust-version {needs:?}"));
        highest = highest.max(v);
        if v > ours_v {
            too_new.push(format!("{name} needs {needs}"));
        }
    }
    assert!(
        too_new.is_empty(),
        "Cargo.toml says rust-version = {ours:?}, but the lockfile needs more: {too_new:#?}"
    );
    // Our own code's needs are clippy's to check (`incompatible_msrv` reads the same field); the
    // let-chains in src/ need 1.88 as well.
    eprintln!("rust-version {ours}; highest among locked packages {highest:?}");
}

#[test]
fn versions_parse_like_cargo_writes_them() {
    assert_eq!(parse("1.88"), Some((1, 88, 0)));
    assert_eq!(parse("1.88.1"), Some((1, 88, 1)));
    assert_eq!(parse("1.x"), None);
    assert_eq!(parse("1.2.3.4"), None);
}
