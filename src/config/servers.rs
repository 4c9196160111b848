//! `[[servers]]`: the named CasparCG servers of the station (main servers, each optionally with a
//! backup fed the same playout commands), how the older single-server `[caspar]` section maps onto
//! them, and the rules a list of servers must follow (docs/configuration.md, "[[servers]]").

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{CasparConfig, Config};

/// The name the `[caspar]` form's only server gets, so code can treat both forms alike.
pub const LEGACY_SERVER_NAME: &str = "main";

/// A server name is at most this long: it appears in alarms, logs and metric labels.
pub(super) const MAX_NAME_CHARS: usize = 32;

/// A station drives at most this many servers (mains and backups); beyond it the list is refused as
/// a whole, which also keeps the pairwise checks cheap on a file of thousands of entries.
pub(super) const MAX_LISTED: usize = 16;

/// One CasparCG server of the station.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerEntry {
    /// Unique name, `[A-Za-z0-9_-]`, at most 32 characters.
    // Defaulted so that a missing name is reported by validation with its key, not by serde.
    #[serde(default)]
    pub name: String,
    /// The name of the server fed the same playout commands as this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// The per-link settings; in TOML the `[caspar]` keys sit directly in the `[[servers]]` entry.
    // Flattened so an entry reads like a `[caspar]` section with a name. Unknown keys are caught by
    // the loader key by key (serde cannot deny unknown fields through `flatten`).
    #[serde(flatten)]
    pub link: CasparConfig,
}

/// The servers the daemon drives: main servers (each with its backup, if it names one), the
/// first listed first; playlists without a `server` play on the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    /// The first main server: the first that is nobody's backup (`main` in the `[caspar]` form).
    pub main: ServerEntry,
    /// Its backup, if it names one.
    pub backup: Option<ServerEntry>,
    /// The other main servers in file order, each with its backup.
    pub others: Vec<(ServerEntry, Option<ServerEntry>)>,
}

impl Config {
    /// `[[servers]]` resolved; without it, `[caspar]` read as one server named `main`.
    ///
    /// Meant for a validated configuration. On one that is not, it still answers without panicking:
    /// the main is the first server that is nobody's backup (else the first server), and a backup
    /// name that matches no server gives no backup.
    pub fn station(&self) -> Station {
        let Some(main) = self.main_server_index().and_then(|i| self.servers.get(i)) else {
            return Station {
                main: ServerEntry {
                    name: LEGACY_SERVER_NAME.to_owned(),
                    backup: None,
                    link: self.caspar.clone(),
                },
                backup: None,
                others: Vec::new(),
            };
        };
        let backup_of = |main: &ServerEntry| {
            main.backup
                .as_deref()
                .filter(|name| *name != main.name)
                .and_then(|name| self.servers.iter().find(|s| s.name == name))
                .cloned()
        };
        let backups = self.backup_names();
        let others = self
            .servers
            .iter()
            .filter(|s| s.name != main.name && !backups.contains(s.name.as_str()))
            .map(|m| (m.clone(), backup_of(m)))
            .collect();
        Station {
            main: main.clone(),
            backup: backup_of(main),
            others,
        }
    }

    /// The names of the servers that are another's backup.
    fn backup_names(&self) -> HashSet<&str> {
        // A server naming itself as its backup does not make itself a backup.
        self.servers
            .iter()
            .filter_map(|s| s.backup.as_deref().filter(|b| *b != s.name))
            .collect()
    }

    /// Whether the configuration used the old `[caspar]` form (the daemon logs a deprecation note).
    ///
    /// True when there is no `[[servers]]` list and a `[caspar]` setting differs from its default
    /// (set in the file, by `ONAIR_CASPAR_*` or by `--caspar`). A configuration that sets nothing
    /// about the link is not counted: it has nothing to migrate, and a note would only be noise.
    pub fn uses_legacy_caspar(&self) -> bool {
        self.servers.is_empty() && self.caspar != CasparConfig::default()
    }

    /// The index in `servers` of the main server: the first that is nobody's backup, else the
    /// first (only reachable for a list that fails validation). `None` without `[[servers]]`.
    pub(super) fn main_server_index(&self) -> Option<usize> {
        if self.servers.is_empty() {
            return None;
        }
        let backups = self.backup_names();
        Some(
            self.servers
                .iter()
                .position(|s| !backups.contains(s.name.as_str()))
                .unwrap_or(0),
        )
    }
}

/// Whether `name` is a valid server name.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The key of entry `index` (counted from 0, in file order) in messages: `servers[1]`.
pub(super) fn entry_key(index: usize) -> String {
    format!("servers[{index}]")
}

/// Whether the list is too long to check entry by entry: the problem, as (key, message).
pub(super) fn too_many(servers: &[ServerEntry]) -> Option<(String, String)> {
    (servers.len() > MAX_LISTED).then(|| {
        (
            "servers".to_owned(),
            format!(
                "{} servers are listed: a station drives at most {MAX_LISTED} (mains and backups)",
                servers.len()
            ),
        )
    })
}

/// The problems of the list's structure (names, backups, how many mains), as (key, message), in
/// entry order. The link settings of each entry are checked with the `[caspar]` checks elsewhere.
pub(super) fn problems(servers: &[ServerEntry]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut first_with_name: HashMap<&str, usize> = HashMap::new();
    for (i, server) in servers.iter().enumerate() {
        let key = format!("{}.name", entry_key(i));
        if server.name.is_empty() {
            out.push((
                key,
                "is missing or empty: give every server a name, e.g. name = \"main\"".to_owned(),
            ));
        } else if !valid_name(&server.name) {
            out.push((
                key,
                format!(
                    "{:?} is not a server name: use 1 to {MAX_NAME_CHARS} letters, digits, '-' or \
                     '_', e.g. \"main\" or \"backup-1\"",
                    server.name
                ),
            ));
        } else if let Some(&first) = first_with_name.get(server.name.as_str()) {
            out.push((
                key,
                format!(
                    "{:?} is also the name of {}: every server needs its own name",
                    server.name,
                    entry_key(first)
                ),
            ));
        } else {
            first_with_name.insert(&server.name, i);
        }
    }
    // The rest refers to servers by name, which is only meaningful once the names are sound.
    if !out.is_empty() {
        return out;
    }
    backup_problems(servers, &first_with_name, &mut out);
    if out.is_empty() {
        main_problems(servers, &mut out);
    }
    if out.is_empty() {
        link_clashes(servers, &mut out);
    }
    out
}

/// `backup` names another server, which has no backup of its own and backs up only this one.
fn backup_problems(
    servers: &[ServerEntry],
    index_of: &HashMap<&str, usize>,
    out: &mut Vec<(String, String)>,
) {
    // For each backup server, the first main that named it.
    let mut backed_up_by: HashMap<&str, usize> = HashMap::new();
    for (i, server) in servers.iter().enumerate() {
        let Some(backup) = server.backup.as_deref() else {
            continue;
        };
        let key = format!("{}.backup", entry_key(i));
        if backup == server.name {
            out.push((
                key,
                format!(
                    "server {:?} cannot be its own backup: name another server of the \
                     [[servers]] list, or remove this key",
                    server.name
                ),
            ));
            continue;
        }
        let Some(&target) = index_of.get(backup) else {
            let hint = match super::keys::closest(backup, servers.iter().map(|s| s.name.as_str())) {
                Some(near) => format!(" (did you mean {near:?}?)"),
                None => String::new(),
            };
            out.push((
                key,
                format!(
                    "no server is named {backup:?}{hint}: name a server of the [[servers]] list"
                ),
            ));
            continue;
        };
        if let Some(&other) = backed_up_by.get(backup) {
            out.push((
                key,
                format!(
                    "server {backup:?} is already the backup of {:?} ({}): a server backs up at \
                     most one main; remove this key",
                    servers[other].name,
                    entry_key(other)
                ),
            ));
            continue;
        }
        backed_up_by.insert(backup, i);
        if servers[target].backup.is_some() {
            // Named on the backup's own key: that is the line to delete.
            out.push((
                format!("{}.backup", entry_key(target)),
                format!(
                    "server {backup:?} is the backup of {:?} ({}), and a backup server has no \
                     backup of its own: remove this key",
                    server.name,
                    entry_key(i)
                ),
            ));
        }
    }
}

/// At least one main server (one that is nobody's backup).
fn main_problems(servers: &[ServerEntry], out: &mut Vec<(String, String)>) {
    let backups: HashSet<&str> = servers.iter().filter_map(|s| s.backup.as_deref()).collect();
    // Several mains are several independent servers (playlists name theirs with `server`).
    let any_main = servers.iter().any(|s| !backups.contains(s.name.as_str()));
    if !any_main {
        // Only a cycle of backups leaves no main, and a cycle has a backup with a backup, which
        // was reported above; kept so that no list goes unreported.
        out.push((
            "servers".to_owned(),
            "every server is the backup of another: one server must be the main, named by no \
             server's backup key"
                .to_owned(),
        ));
    }
}

/// Two servers on one address would be the same server fed every command twice; two OSC listeners
/// on one port cannot both bind.
fn link_clashes(servers: &[ServerEntry], out: &mut Vec<(String, String)>) {
    for (i, server) in servers.iter().enumerate() {
        let earlier = &servers[..i];
        let address = server.link.address.trim();
        if let Some(j) = earlier
            .iter()
            .position(|s| s.link.address.trim().eq_ignore_ascii_case(address))
        {
            out.push((
                format!("{}.address", entry_key(i)),
                format!(
                    "{address:?} is also the address of {:?} ({}): a backup must be another \
                     CasparCG server (an entry without address uses the default, 127.0.0.1:5250)",
                    servers[j].name,
                    entry_key(j)
                ),
            ));
        }
        let Some(mine) = server.link.osc_listen.filter(|a| a.port() != 0) else {
            continue;
        };
        let clash = earlier.iter().position(|s| {
            s.link.osc_listen.is_some_and(|theirs| {
                theirs.port() == mine.port()
                    && (theirs.ip() == mine.ip()
                        || theirs.ip().is_unspecified()
                        || mine.ip().is_unspecified())
            })
        });
        if let Some(j) = clash {
            out.push((
                format!("{}.osc_listen", entry_key(i)),
                format!(
                    "{mine} overlaps the osc_listen of {:?} ({}): each server needs its own OSC \
                     port (or leave osc_listen unset for a free port on each)",
                    servers[j].name,
                    entry_key(j)
                ),
            ));
        }
    }
}
