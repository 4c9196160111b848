//! Loading: defaults < TOML file < `ONAIR_*` environment < flags. Each layer is checked key by key as
//! it is applied, so an error names the key and where the bad value came from (file and line, or
//! variable); the merged result is then validated as a whole.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use thiserror::Error;
use toml::Spanned;

use super::Config;
use super::keys::{self, ENV_PREFIX, KEYS, Key, RESERVED_ENV, SECTIONS};

/// A configuration file larger than this is refused rather than read into memory.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Values given as command-line flags; they override the file and the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--caspar HOST:PORT` → `caspar.address`.
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
    match config.first_problem() {
        None => Ok(config),
        Some((key, message)) => {
            let message = match layers.origins.get(key) {
                Some(origin) => format!("{message} ({origin})"),
                None => message,
            };
            Err(ConfigError::Invalid {
                key: key.to_owned(),
                message,
            })
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
        let mut sections: Vec<(String, toml::Value)> = table.into_iter().collect();
        sections.sort_by_key(|(section, _)| lines.section(section).unwrap_or(usize::MAX));
        for (section, value) in sections {
            let at = lines.prefix(lines.section(&section));
            if !SECTIONS.contains(&section.as_str()) {
                return Err(parse_error(format!(
                    "{at}{}",
                    unknown_section(&section, &value)
                )));
            }
            let toml::Value::Table(entries) = value else {
                return Err(parse_error(format!(
                    "{at}\"{section}\" must be a table: put its keys under a [{section}] line"
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
            config.caspar.address = address.trim().to_owned();
            self.origins
                .insert("caspar.address".to_owned(), Origin::Flag("--caspar"));
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
    let mut section = toml::Table::new();
    section.insert(key.name.to_owned(), value.clone());
    let mut root = toml::Table::new();
    root.insert(key.section.to_owned(), toml::Value::Table(section));
    toml::Value::Table(root)
        .try_into::<Config>()
        .map(drop)
        .map_err(|e| format!("{}: {}", key.dotted(), e.message().trim_end()))
}

fn unknown_section(section: &str, value: &toml::Value) -> String {
    if !value.is_table() {
        if let Some(key) = KEYS.iter().find(|k| k.name == section) {
            return format!(
                "unknown key \"{section}\" (did you mean \"{}\"? keys go under their [section])",
                key.dotted()
            );
        }
        return format!("unknown key \"{section}\"");
    }
    match keys::closest(section, SECTIONS.iter().copied()) {
        Some(near) => format!("unknown section [{section}] (did you mean [{near}]?)"),
        None => format!(
            "unknown section [{section}] (sections are {})",
            SECTIONS
                .iter()
                .map(|s| format!("[{s}]"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn unknown_key(section: &str, name: &str) -> String {
    let in_section = KEYS.iter().filter(|k| k.section == section).map(|k| k.name);
    if let Some(near) = keys::closest(name, in_section) {
        return format!("unknown key \"{section}.{name}\" (did you mean \"{section}.{near}\"?)");
    }
    if let Some(other) = KEYS.iter().find(|k| k.name == name) {
        return format!(
            "unknown key \"{section}.{name}\" (it belongs in [{}]: \"{}\")",
            other.section,
            other.dotted()
        );
    }
    format!("unknown key \"{section}.{name}\"")
}

fn unknown_env(var: &str) -> String {
    let names: Vec<String> = KEYS
        .iter()
        .map(Key::env_var)
        .chain(RESERVED_ENV.iter().map(|s| (*s).to_owned()))
        .collect();
    match keys::closest(var, names.iter().map(String::as_str)) {
        Some(near) => format!("not a configuration setting (did you mean {near}?)"),
        None => {
            "not a configuration setting; the ONAIR_* variables are listed in docs/configuration.md"
                .to_owned()
        }
    }
}

/// Line numbers of sections and keys in the file text, for messages; best effort (a structure the
/// span parser cannot follow just gives no line).
struct KeyLines {
    sections: HashMap<String, usize>,
    keys: HashMap<(String, String), usize>,
}

impl KeyLines {
    fn new(text: &str) -> Self {
        let line_of = |offset: usize| {
            text.get(..offset)
                .map_or(0, |before| before.matches('\n').count())
                + 1
        };
        let mut lines = KeyLines {
            sections: HashMap::new(),
            keys: HashMap::new(),
        };
        if let Ok(top) = toml::from_str::<BTreeMap<Spanned<String>, IgnoredAny>>(text) {
            for name in top.keys() {
                lines
                    .sections
                    .insert(name.get_ref().clone(), line_of(name.span().start));
            }
        }
        if let Ok(nested) =
            toml::from_str::<BTreeMap<String, BTreeMap<Spanned<String>, IgnoredAny>>>(text)
        {
            for (section, entries) in nested {
                for name in entries.keys() {
                    lines.keys.insert(
                        (section.clone(), name.get_ref().clone()),
                        line_of(name.span().start),
                    );
                }
            }
        }
        lines
    }

    fn section(&self, section: &str) -> Option<usize> {
        self.sections.get(section).copied()
    }

    fn key(&self, section: &str, name: &str) -> Option<usize> {
        self.keys
            .get(&(section.to_owned(), name.to_owned()))
            .copied()
    }

    fn prefix(&self, line: Option<usize>) -> String {
        line.map(|n| format!("line {n}: ")).unwrap_or_default()
    }
}
