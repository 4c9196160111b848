//! The table of configuration keys: their TOML section and name, their `ONAIR_*` variable, and how an
//! environment text becomes a TOML value. A unit test keeps it in step with the `Config` structs.
//! The `[[servers]]` entries take the `[caspar]` keys of this table, plus `name` and `backup`.

use Kind::{Bool, Integer, List, OptionalText, Text};

/// `ONAIR_*` variables that are not configuration keys but are used by other parts of the program,
/// so the daemon accepts them in its environment: `ONAIR_CONFIG` (the configuration file of
/// `onair serve`) and `ONAIR_TOKEN` (the token of `onair tui`).
pub const RESERVED_ENV: &[&str] = &["ONAIR_CONFIG", "ONAIR_TOKEN"];

/// The prefix of every configuration variable.
pub(crate) const ENV_PREFIX: &str = "ONAIR_";

/// How a value is written in the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Any text (durations, addresses, paths, enum names are texts too).
    Text,
    /// Text that may be unset: an empty variable unsets it.
    OptionalText,
    /// A whole number.
    Integer,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// Comma-separated texts; an empty variable is an empty list.
    List,
}

/// One configuration key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub section: &'static str,
    pub name: &'static str,
    pub kind: Kind,
}

impl Key {
    /// `section.name`, as used in messages.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// `ONAIR_SECTION_NAME`.
    pub fn env_var(&self) -> String {
        format!("{ENV_PREFIX}{}_{}", self.section, self.name).to_ascii_uppercase()
    }
}

const fn key(section: &'static str, name: &'static str, kind: Kind) -> Key {
    Key {
        section,
        name,
        kind,
    }
}

/// Every key, in the order of the `Config` structs.
pub(crate) const KEYS: &[Key] = &[
    key("caspar", "address", Text),
    key("caspar", "connect_timeout", Text),
    key("caspar", "command_timeout", Text),
    key("caspar", "scanner_timeout", Text),
    key("caspar", "ping_interval", Text),
    key("caspar", "ping_timeout", Text),
    key("caspar", "max_in_flight_per_queue", Integer),
    key("caspar", "backoff_initial", Text),
    key("caspar", "backoff_max", Text),
    key("caspar", "backoff_reset_after", Text),
    key("caspar", "tcp_keepalive", Text),
    key("caspar", "osc_listen", OptionalText),
    key("caspar", "osc_stale_after", Text),
    key("caspar", "info_poll_interval", Text),
    key("caspar", "max_frame_bytes", Integer),
    key("caspar", "media_dir", OptionalText),
    key("server", "listen", Text),
    key("server", "operator_tokens", List),
    key("server", "viewer_tokens", List),
    key("server", "allowed_origins", List),
    key("server", "allowed_hosts", List),
    key("server", "max_connections", Integer),
    key("server", "header_read_timeout", Text),
    key("server", "max_clients", Integer),
    key("server", "max_clients_per_ip", Integer),
    key("server", "max_message_bytes", Integer),
    key("server", "ws_ping_interval", Text),
    key("server", "ws_send_queue", Integer),
    key("server", "ws_send_queue_bytes", Integer),
    key("server", "rate_limit_per_sec", Integer),
    key("server", "rate_limit_burst", Integer),
    key("server", "progress_hz", Integer),
    key("server", "event_buffer", Integer),
    key("server", "event_buffer_bytes", Integer),
    key("server", "metrics_token", OptionalText),
    key("store", "data_dir", Text),
    key("store", "max_playlists", Integer),
    key("store", "max_items_per_playlist", Integer),
    key("store", "watch_external_edits", Bool),
    key("playout", "default_channel_layer", Text),
    key("playout", "recovery", Text),
    key("playout", "autoplay", Bool),
    key("playout", "timezone", OptionalText),
    key("playout", "day_start", Text),
    key("playout", "preroll", Text),
    key("playout", "next_day_warning", Text),
    key("playout", "max_drift_frames", Integer),
    key("log", "format", Text),
    key("log", "level", Text),
    key("cluster", "nats", List),
    key("cluster", "station", Text),
    key("cluster", "node", OptionalText),
    key("cluster", "lease_ttl", Text),
    key("cluster", "renew_every", OptionalText),
    key("cluster", "replicas", Integer),
    key("cluster", "compact_every", Integer),
];

/// The sections, i.e. the TOML tables.
/// `cluster` is optional: setting any of its keys (in the file or the environment) turns cluster
/// mode on, and then its required keys must be set too.
pub(crate) const SECTIONS: &[&str] = &["caspar", "server", "store", "playout", "log", "cluster"];

/// The section whose keys a `[[servers]]` entry takes.
pub(crate) const CASPAR: &str = "caspar";

/// The list of CasparCG servers, `[[servers]]`: set in the file only (a list of tables has no
/// natural form as variables), so it has no entries in [`KEYS`].
pub(crate) const SERVERS: &str = "servers";

pub(crate) fn find(section: &str, name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.section == section && k.name == name)
}

pub(crate) fn find_env(var: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.env_var() == var)
}

/// Converts an environment text to the TOML value of `key`; `Ok(None)` unsets an optional key.
/// Texts are trimmed; list items are trimmed and empty items dropped.
pub(crate) fn env_value(key: &Key, raw: &str) -> Result<Option<toml::Value>, String> {
    let text = raw.trim();
    if text.is_empty() {
        return match key.kind {
            List => Ok(Some(toml::Value::Array(Vec::new()))),
            OptionalText => Ok(None),
            Text | Integer | Bool => Err(format!("{}: is empty", key.dotted())),
        };
    }
    let value = match key.kind {
        Text | OptionalText => toml::Value::String(text.to_owned()),
        Integer => text
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("{}: {text:?} is not a whole number", key.dotted()))?,
        Bool => toml::Value::Boolean(
            parse_bool(text)
                .ok_or_else(|| format!("{}: {text:?} is not true or false", key.dotted()))?,
        ),
        List => toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_owned()))
                .collect(),
        ),
    };
    Ok(Some(value))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The candidate closest to `wrong` if it is a plausible typo (edit distance of at most 2, or 3 for
/// long names), for "did you mean" hints.
pub(crate) fn closest<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = if wrong.len() > 12 { 3 } else { 2 };
    candidates
        .into_iter()
        .map(|c| {
            (
                edit_distance(&wrong.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_upper_snake_case() {
        assert_eq!(
            find("caspar", "ping_interval").map(Key::env_var).as_deref(),
            Some("ONAIR_CASPAR_PING_INTERVAL")
        );
        assert_eq!(
            find_env("ONAIR_STORE_DATA_DIR").map(Key::dotted).as_deref(),
            Some("store.data_dir")
        );
        assert!(find_env("ONAIR_CASPAR_ADRESS").is_none());
        for k in KEYS {
            assert!(SECTIONS.contains(&k.section), "{}", k.dotted());
            assert!(!RESERVED_ENV.contains(&k.env_var().as_str()));
        }
    }

    #[test]
    fn env_texts_become_typed_values() {
        let list = find("server", "operator_tokens").copied().unwrap();
        let got = env_value(&list, " a, b ,,c ").unwrap().unwrap();
        assert_eq!(
            got,
            toml::Value::Array(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            env_value(&list, "").unwrap(),
            Some(toml::Value::Array(vec![]))
        );
        let int = find("server", "max_clients").copied().unwrap();
        assert_eq!(
            env_value(&int, "12").unwrap(),
            Some(toml::Value::Integer(12))
        );
        assert_eq!(
            env_value(&int, "twelve").unwrap_err(),
            "server.max_clients: \"twelve\" is not a whole number"
        );
        assert_eq!(
            env_value(&int, " ").unwrap_err(),
            "server.max_clients: is empty"
        );
        let flag = find("store", "watch_external_edits").copied().unwrap();
        assert_eq!(
            env_value(&flag, "OFF").unwrap(),
            Some(toml::Value::Boolean(false))
        );
        assert!(env_value(&flag, "maybe").is_err());
        let opt = find("server", "metrics_token").copied().unwrap();
        assert_eq!(env_value(&opt, "").unwrap(), None);
    }

    #[test]
    fn suggests_close_names_only() {
        let names = KEYS.iter().map(|k| k.name);
        assert_eq!(closest("adress", names.clone()), Some("address"));
        assert_eq!(
            closest("ping_intervall", names.clone()),
            Some("ping_interval")
        );
        assert_eq!(closest("colour", names), None);
    }
}
