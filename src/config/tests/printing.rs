//! Printing: `--print-config` TOML round-trips and lists exactly the key table, which
//! docs/configuration.md covers (every TOML example there loads); `Debug` hides the tokens.

use std::collections::BTreeSet;

use super::*;
use crate::config::keys::KEYS;

#[test]
fn key_table_matches_the_structs() {
    let table: toml::Table = toml::from_str(&everything_changed().to_toml()).expect("parses");
    let printed: BTreeSet<String> = table
        .iter()
        .flat_map(|(section, v)| {
            v.as_table()
                .into_iter()
                .flat_map(|t| t.keys())
                .map(move |k| format!("{section}.{k}"))
        })
        .collect();
    let listed: BTreeSet<String> = KEYS.iter().map(|k| k.dotted()).collect();
    assert_eq!(printed, listed);
}

#[test]
fn printed_toml_round_trips() {
    for config in [Config::default(), everything_changed()] {
        let text = config.to_toml();
        let file = toml_file(&text);
        assert_eq!(
            load(Some(file.path()), env(&[]), &Overrides::default()).expect("reloads"),
            config,
            "{text}"
        );
    }
    assert!(
        everything_changed()
            .to_toml()
            .starts_with("# onair configuration. Contains access tokens")
    );
    assert!(
        Config::default()
            .to_toml()
            .contains("ping_interval = \"1s\"")
    );
}

#[test]
fn debug_output_hides_tokens() {
    let text = format!("{:?}", everything_changed());
    for secret in ["op-1", "view-1", "scrape"] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
    assert!(text.contains("<2 redacted>"));
}

#[test]
fn documentation_covers_every_key_and_its_example_loads() {
    let doc = include_str!("../../../docs/configuration.md");
    for key in KEYS {
        assert!(
            doc.contains(&format!("`{}`", key.name)),
            "docs/configuration.md lacks {}",
            key.dotted()
        );
        assert!(
            doc.contains(&key.env_var()),
            "docs/configuration.md lacks {}",
            key.env_var()
        );
    }
    let examples: Vec<&str> = doc
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    assert!(examples.len() >= 2, "an example onair.toml and [[servers]]");
    for example in examples {
        let file = toml_file(example);
        load(Some(file.path()), env(&[]), &Overrides::default())
            .unwrap_or_else(|e| panic!("the documented example does not load: {e}\n{example}"));
    }
}
