//! Loading: defaults < TOML file < `ONAIR_*` environment < flags. Each layer is checked key by key as
//! it is applied, so an error names the key and where the bad value came from (file and line, or
//! variable); the merged result is then validated as a whole. `[[servers]]` entries come from the
//! file only, and are checked key by key like `[caspar]`, whose keys they take.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::Config;
use super::hints::{unknown_entry_key, unknown_env, unknown_key, unknown_section};
use super::keys::{self, CASPAR, ENV_PREFIX, Key, RESERVED_ENV, SECTIONS, SERVERS};
use super::lines::KeyLines;
use super::servers::entry_key;
use super::validate::BOTH_FORMS;

/// A configuration file larger than this is refused rather than read into memory.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Values given as command-line flags; they override the file and the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--caspar HOST:PORT` → the main server's address: `caspar.address`, or `address` of the
    /// main `[[servers]]` entry.
    pub caspar: Option<String>,
    /// `--listen ADDR` → `server.listen`.
    pub listen: Option<String>,
    /// `--data DIR` → `store.data_dir`.
    pub data: Option<PathBuf>,
}

/// Why the configuration could not be loaded. `Display` is one sentence for a human.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value of the wrong form.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// An `ONAIR_*` variable is unknown or has a value of the wrong form.
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    /// A value is out of range or inconsistent with another (after all layers were applied).
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

/// Loads the configuration: built-in defaults, then `file` (if any), then the `ONAIR_*` entries of
/// `env` (other names are ignored; see [`RESERVED_ENV`]), then `overrides`; and validates it.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &Overrides,
) -> Result<Config, ConfigError> {
    let mut layers = Layers::default();
    if let Some(path) = file {
        layers.add_file(path)?;
    }
    layers.add_env(env)?;
    let mut config = layers.build()?;
    layers.apply_overrides(&mut config, overrides)?;
    if let Some(cluster) = &mut config.cluster {
        super::cluster::resolve(cluster)
            .map_err(|(key, message)| ConfigError::Invalid { key, message })?;
    }
    match config.first_problem() {
        None => Ok(config),
        Some((key, message)) => {
            // A [[servers]] rule may be about a key the entry left out (a missing name, a default
            // address): the list as a whole still came from the file.
            let origin = layers.origins.get(&key).or_else(|| {
                key.starts_with(SERVERS)
                    .then(|| layers.origins.get(SERVERS))
                    .flatten()
            });
            let message = match origin {
                Some(origin) => format!("{message} ({origin})"),
                None => message,
            };
            Err(ConfigError::Invalid { key, message })
        }
    }
}

/// The `ONAIR_*` variables of a process environment (e.g. `std::env::vars_os()`) as UTF-8 pairs for
/// [`load`]; a configuration variable whose name or value is not UTF-8 is an error rather than a
/// panic or a silently skipped setting. The [`RESERVED_ENV`] variables are left out.
pub fn utf8_env(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in vars {
        let lossy = name.to_string_lossy().into_owned();
        if !lossy.starts_with(ENV_PREFIX) || RESERVED_ENV.contains(&lossy.as_str()) {
            continue;
        }
        let Ok(name) = name.into_string() else {
            return Err(ConfigError::Env {
                var: lossy,
                message: "the variable name is not valid UTF-8".to_owned(),
            });
        };
        let Ok(value) = value.into_string() else {
            return Err(ConfigError::Env {
                var: name,
                message: "the value is not valid UTF-8".to_owned(),
            });
        };
        out.push((name, value));
    }
    Ok(out)
}

/// Where a key's value came from, for messages.
enum Origin {
    File(PathBuf),
    Env(String),
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "set in {}", path.display()),
            Origin::Env(var) => write!(f, "set by {var}"),
            Origin::Flag(flag) => write!(f, "set by {flag}"),
        }
    }
}

/// The file and environment layers merged as TOML, with the origin of every key set.
#[derive(Default)]
struct Layers {
    merged: toml::Table,
    origins: HashMap<String, Origin>,
}

impl Layers {
    fn set(&mut self, key: &Key, value: toml::Value, origin: Origin) {
        let section = self
            .merged
            .entry(key.section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(table) = section {
            table.insert(key.name.to_owned(), value);
        }
        self.origins.insert(key.dotted(), origin);
    }

    fn unset(&mut self, key: &Key) {
        if let Some(toml::Value::Table(table)) = self.merged.get_mut(key.section) {
            table.remove(key.name);
        }
        self.origins.remove(&key.dotted());
    }

    fn add_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = read_file(path)?;
        let parse_error = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| parse_error(e.to_string().trim_end().to_owned()))?;
        let lines = KeyLines::new(&text);
        if table.contains_key(CASPAR) && table.contains_key(SERVERS) {
            // Pointing at [caspar]: that is the section to move and remove.
            let at = lines.prefix(lines.section(CASPAR));
            return Err(parse_error(format!("{at}{BOTH_FORMS}")));
        }
        let mut sections: Vec<(String, toml::Value)> = table.into_iter().collect();
        sections.sort_by_key(|(section, _)| lines.section(section).unwrap_or(usize::MAX));
        for (section, value) in sections {
            let at = lines.prefix(lines.section(&section));
            if section == SERVERS {
                self.add_servers(value, &lines, path)?;
                continue;
            }
            if !SECTIONS.contains(&section.as_str()) {
                return Err(parse_error(format!(
                    "{at}{}",
                    unknown_section(&section, &value)
                )));
            }
            let toml::Value::Table(entries) = value else {
                // [[server]] or [[caspar]] is most likely an attempt at a list of CasparCG servers.
                let hint = if value.is_array() {
                    " (CasparCG servers are listed with [[servers]])"
                } else {
                    ""
                };
                return Err(parse_error(format!(
                    "{at}\"{section}\" must be a table: put its keys under a [{section}] line{hint}"
                )));
            };
            let mut entries: Vec<(String, toml::Value)> = entries.into_iter().collect();
            entries.sort_by_key(|(name, _)| lines.key(&section, name).unwrap_or(usize::MAX));
            for (name, value) in entries {
                let at = lines.prefix(lines.key(&section, &name));
                let Some(key) = keys::find(&section, &name) else {
                    return Err(parse_error(format!("{at}{}", unknown_key(&section, &name))));
                };
                check_value(key, &value).map_err(|m| parse_error(format!("{at}{m}")))?;
                self.set(key, value, Origin::File(path.to_owned()));
            }
        }
        Ok(())
    }

    /// The `[[servers]]` list of the file: every entry a table, every key `name`, `backup` or a
    /// `[caspar]` key with a value of the right form. The list's rules (unique names, backups that
    /// exist, one main) are checked by validation, once every layer is applied.
    fn add_servers(
        &mut self,
        value: toml::Value,
        lines: &KeyLines,
        path: &Path,
    ) -> Result<(), ConfigError> {
        let parse_error = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let at = lines.prefix(lines.section(SERVERS));
        let toml::Value::Array(entries) = value else {
            return Err(parse_error(format!(
                "{at}\"servers\" must be a list of tables: write each server under its own \
                 [[servers]] line (two brackets)"
            )));
        };
        if entries.is_empty() {
            return Err(parse_error(format!(
                "{at}servers: the list is empty: add a [[servers]] entry for the main server, or \
                 remove the key to use [caspar]"
            )));
        }
        let mut checked = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            let entry_label = entry_key(i);
            let toml::Value::Table(entry) = entry else {
                let at = lines.prefix(lines.entry(i));
                return Err(parse_error(format!(
                    "{at}{entry_label}: must be a table: write each server under its own \
                     [[servers]] line, with its keys below it"
                )));
            };
            let mut keys_set: Vec<(&String, &toml::Value)> = entry.iter().collect();
            keys_set.sort_by_key(|(name, _)| lines.entry_key(i, name).unwrap_or(usize::MAX));
            for (name, value) in keys_set {
                let at = lines.prefix(lines.entry_key(i, name));
                let label = format!("{entry_label}.{name}");
                match name.as_str() {
                    "name" | "backup" if !value.is_str() => {
                        let example = if name == "name" { "main" } else { "backup" };
                        return Err(parse_error(format!(
                            "{at}{label}: must be a server name in quotes, e.g. {name} = \
                             \"{example}\""
                        )));
                    }
                    "name" | "backup" => {}
                    _ => {
                        let Some(key) = keys::find(CASPAR, name) else {
                            return Err(parse_error(format!(
                                "{at}{}",
                                unknown_entry_key(&entry_label, name)
                            )));
                        };
                        check_value_as(key, value, &label)
                            .map_err(|m| parse_error(format!("{at}{m}")))?;
                    }
                }
                self.origins.insert(label, Origin::File(path.to_owned()));
            }
            self.origins
                .insert(entry_label, Origin::File(path.to_owned()));
            checked.push(toml::Value::Table(entry));
        }
        self.origins
            .insert(SERVERS.to_owned(), Origin::File(path.to_owned()));
        self.merged
            .insert(SERVERS.to_owned(), toml::Value::Array(checked));
        Ok(())
    }

    fn add_env(
        &mut self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        // Sorted for a deterministic first error; a later duplicate wins, as in a real environment.
        let vars: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(var, _)| var.starts_with(ENV_PREFIX))
            .collect();
        for (var, raw) in vars {
            if RESERVED_ENV.contains(&var.as_str()) {
                continue;
            }
            let Some(key) = keys::find_env(&var) else {
                let message = unknown_env(&var);
                return Err(ConfigError::Env { var, message });
            };
            let env_error = |message: String| ConfigError::Env {
                var: var.clone(),
                message,
            };
            if key.section == CASPAR
                && let Some(servers) = self.origins.get(SERVERS)
            {
                // [caspar] would be silently ignored next to [[servers]]: refuse, as in a file.
                return Err(env_error(format!(
                    "{}: [caspar] and [[servers]] are both set ([[servers]] {servers}): \
                     ONAIR_CASPAR_* variables set the older single-server [caspar] form; set \
                     {} in the main server's [[servers]] entry instead, and unset {var}",
                    key.dotted(),
                    key.name
                )));
            }
            match keys::env_value(key, &raw).map_err(env_error)? {
                Some(value) => {
                    check_value(key, &value).map_err(env_error)?;
                    self.set(key, value, Origin::Env(var.clone()));
                }
                None => self.unset(key),
            }
        }
        Ok(())
    }

    fn build(&self) -> Result<Config, ConfigError> {
        // Every value was checked on its own when it was set, so this only fails on a bug.
        toml::Value::Table(self.merged.clone())
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                key: "configuration".to_owned(),
                message: e.to_string(),
            })
    }

    fn apply_overrides(
        &mut self,
        config: &mut Config,
        overrides: &Overrides,
    ) -> Result<(), ConfigError> {
        if let Some(address) = &overrides.caspar {
            let address = address.trim().to_owned();
            match config
                .main_server_index()
                .and_then(|i| Some((i, config.servers.get_mut(i)?)))
            {
                Some((i, main)) => {
                    main.link.address = address;
                    self.origins.insert(
                        format!("{}.address", entry_key(i)),
                        Origin::Flag("--caspar"),
                    );
                }
                None => {
                    config.caspar.address = address;
                    self.origins
                        .insert("caspar.address".to_owned(), Origin::Flag("--caspar"));
                }
            }
        }
        if let Some(listen) = &overrides.listen {
            config.server.listen = listen.trim().parse().map_err(|_| ConfigError::Invalid {
                key: "server.listen".to_owned(),
                message: format!("{} (set by --listen)", super::socket_addr::invalid(listen)),
            })?;
            self.origins
                .insert("server.listen".to_owned(), Origin::Flag("--listen"));
        }
        if let Some(dir) = &overrides.data {
            config.store.data_dir.clone_from(dir);
            self.origins
                .insert("store.data_dir".to_owned(), Origin::Flag("--data"));
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    let read_error = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    let parse_error = |message: &str| ConfigError::Parse {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    if u64::try_from(bytes.len()).map_or(true, |n| n > MAX_FILE_BYTES) {
        return Err(parse_error(
            "the file is larger than 1 MiB; is it the right file?",
        ));
    }
    String::from_utf8(bytes).map_err(|_| parse_error("the file is not valid UTF-8 text"))
}

/// Checks one value on its own by deserializing a configuration that sets only this key, so the
/// message can name the key and its source.
fn check_value(key: &Key, value: &toml::Value) -> Result<(), String> {
    check_value_as(key, value, &key.dotted())
}

/// [`check_value`] with the key named `label` in the message: a `[[servers]]` entry's key is
/// checked as the `[caspar]` key it stands for, and reported as `servers[N].name`.
fn check_value_as(key: &Key, value: &toml::Value, label: &str) -> Result<(), String> {
    let mut section = toml::Table::new();
    section.insert(key.name.to_owned(), value.clone());
    let mut root = toml::Table::new();
    root.insert(key.section.to_owned(), toml::Value::Table(section));
    toml::Value::Table(root)
        .try_into::<Config>()
        .map(drop)
        .map_err(|e| format!("{label}: {}", e.message().trim_end()))
}
