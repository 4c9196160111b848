//! Where each section, key and `[[servers]]` entry sits in the configuration file, so that a message
//! names its line (split from `load`).

use std::collections::HashMap;

use toml::de::{DeTable, DeValue};

use super::keys::SERVERS;

/// Line numbers of sections, keys and `[[servers]]` entries in the file text, for messages; best
/// effort (a text the span parser rejects just gives no lines).
#[derive(Default)]
pub(super) struct KeyLines {
    sections: HashMap<String, usize>,
    keys: HashMap<(String, String), usize>,
    entries: HashMap<usize, usize>,
    entry_keys: HashMap<(usize, String), usize>,
}

impl KeyLines {
    pub(super) fn new(text: &str) -> Self {
        // Offsets of the line breaks, searched rather than counted per key: a file may hold
        // thousands of keys (a long [[servers]] list), and counting would be quadratic.
        let breaks: Vec<usize> = memchr::memchr_iter(b'\n', text.as_bytes()).collect();
        let line_of = |offset: usize| breaks.partition_point(|&b| b < offset) + 1;
        let mut lines = KeyLines::default();
        let Ok(document) = DeTable::parse(text) else {
            return lines;
        };
        for (name, value) in document.get_ref() {
            let section = name.get_ref().to_string();
            lines
                .sections
                .insert(section.clone(), line_of(name.span().start));
            match value.get_ref() {
                DeValue::Table(entries) => {
                    for key in entries.keys() {
                        lines.keys.insert(
                            (section.clone(), key.get_ref().to_string()),
                            line_of(key.span().start),
                        );
                    }
                }
                DeValue::Array(items) if section == SERVERS => {
                    for (i, item) in items.iter().enumerate() {
                        lines.entries.insert(i, line_of(item.span().start));
                        if let DeValue::Table(entries) = item.get_ref() {
                            for key in entries.keys() {
                                lines.entry_keys.insert(
                                    (i, key.get_ref().to_string()),
                                    line_of(key.span().start),
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        lines
    }

    pub(super) fn section(&self, section: &str) -> Option<usize> {
        self.sections.get(section).copied()
    }

    pub(super) fn key(&self, section: &str, name: &str) -> Option<usize> {
        self.keys
            .get(&(section.to_owned(), name.to_owned()))
            .copied()
    }

    /// The line of `[[servers]]` entry `index`.
    pub(super) fn entry(&self, index: usize) -> Option<usize> {
        self.entries.get(&index).copied()
    }

    pub(super) fn entry_key(&self, index: usize, name: &str) -> Option<usize> {
        self.entry_keys.get(&(index, name.to_owned())).copied()
    }

    pub(super) fn prefix(&self, line: Option<usize>) -> String {
        line.map(|n| format!("line {n}: ")).unwrap_or_default()
    }
}
