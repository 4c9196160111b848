//! The "did you mean" messages for unknown sections, keys, `[[servers]]` entry keys and `ONAIR_*`
//! variables (split from `load`, which reports them with where they came from).

use super::keys::{self, CASPAR, KEYS, Key, RESERVED_ENV, SECTIONS, SERVERS};

pub(super) fn unknown_section(section: &str, value: &toml::Value) -> String {
    if value
        .as_array()
        .is_some_and(|items| items.iter().all(toml::Value::is_table))
        && !value.as_array().is_some_and(Vec::is_empty)
    {
        return match keys::closest(section, [SERVERS]) {
            Some(near) => format!("unknown list [[{section}]] (did you mean [[{near}]]?)"),
            None => format!("unknown list [[{section}]] (the only list is [[servers]])"),
        };
    }
    if !value.is_table() {
        if let Some(key) = KEYS.iter().find(|k| k.name == section) {
            return format!(
                "unknown key \"{section}\" (did you mean \"{}\"? keys go under their [section])",
                key.dotted()
            );
        }
        return format!("unknown key \"{section}\"");
    }
    match keys::closest(section, SECTIONS.iter().copied().chain([SERVERS])) {
        Some(SERVERS) => format!("unknown section [{section}] (did you mean [[servers]]?)"),
        Some(near) => format!("unknown section [{section}] (did you mean [{near}]?)"),
        None => format!(
            "unknown section [{section}] (sections are {}, and the list [[servers]])",
            SECTIONS
                .iter()
                .map(|s| format!("[{s}]"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(super) fn unknown_key(section: &str, name: &str) -> String {
    let in_section = KEYS.iter().filter(|k| k.section == section).map(|k| k.name);
    unknown_in(section, name, in_section)
        .unwrap_or_else(|| format!("unknown key \"{section}.{name}\""))
}

/// A key of a `[[servers]]` entry that is not `name`, `backup` or a `[caspar]` key; `entry` is
/// `servers[N]`.
pub(super) fn unknown_entry_key(entry: &str, name: &str) -> String {
    let allowed = ["name", "backup"]
        .into_iter()
        .chain(KEYS.iter().filter(|k| k.section == CASPAR).map(|k| k.name));
    unknown_in(entry, name, allowed).unwrap_or_else(|| {
        format!(
            "unknown key \"{entry}.{name}\" (a [[servers]] entry takes name, backup and the \
             [caspar] keys)"
        )
    })
}

/// `prefix.name` is no key: a near miss among `allowed`, or the section the name belongs in.
fn unknown_in<'a>(
    prefix: &str,
    name: &str,
    allowed: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    if let Some(near) = keys::closest(name, allowed) {
        return Some(format!(
            "unknown key \"{prefix}.{name}\" (did you mean \"{prefix}.{near}\"?)"
        ));
    }
    KEYS.iter().find(|k| k.name == name).map(|other| {
        format!(
            "unknown key \"{prefix}.{name}\" (it belongs in [{}]: \"{}\")",
            other.section,
            other.dotted()
        )
    })
}

pub(super) fn unknown_env(var: &str) -> String {
    if var.starts_with("ONAIR_SERVERS_") {
        return "not a configuration setting: [[servers]] entries are set in the configuration \
                file only"
            .to_owned();
    }
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
