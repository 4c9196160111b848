//! The recordings in `tests/fixtures/` are a verbatim copy of the project's shared `fixtures/`
//! (kept in the repository so `cargo test` works on any clone). When the shared copy is beside the
//! checkout, as in CI, this test fails if the two have drifted apart.

use std::path::{Path, PathBuf};

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable fixture directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn vendored_fixtures_match_shared_ones() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = manifest.join("../shared/fixtures");
    let vendored = manifest.join("tests/fixtures");
    if !shared.is_dir() {
        eprintln!("no shared fixtures beside the checkout; nothing to compare");
        return;
    }
    let (a, b) = (files(&shared), files(&vendored));
    assert_eq!(
        a, b,
        "file lists differ: copy ../shared/fixtures to tests/fixtures again"
    );
    for rel in a {
        let x = std::fs::read(shared.join(&rel)).expect("read shared");
        let y = std::fs::read(vendored.join(&rel)).expect("read vendored");
        assert!(
            x == y,
            "{} differs: copy ../shared/fixtures to tests/fixtures again",
            rel.display()
        );
    }
}
