//! The playlist file format (`{"schema": 1, "playlist": …}`), bounded reads, content hashes and file
//! stamps.

use std::fs::{Metadata, OpenOptions};
use std::hash::Hasher;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::LoadError;
use super::regular::{OpenError, open_regular};
use crate::playout::model::{Limits, Playlist};

/// The schema this onair writes and the newest it reads.
pub const SCHEMA: u64 = 1;

/// Largest file read: far above a full 10,000-item playlist (about 3 MB) yet bounded, so a runaway
/// file cannot exhaust memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    schema: u64,
    playlist: &'a T,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeIn {
    schema: u64,
    playlist: Playlist,
}

/// Reads only the schema, so a file from a newer onair gets that error rather than a parse error.
#[derive(Deserialize)]
struct SchemaProbe {
    schema: Option<u64>,
}

/// The file bytes of a playlist: pretty JSON (people edit these files) with a final newline.
pub fn encode(playlist: &Playlist) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = serde_json::to_vec_pretty(&EnvelopeOut {
        schema: SCHEMA,
        playlist,
    })?;
    out.push(b'\n');
    Ok(out)
}

/// Parses and validates a playlist file whose name says it holds playlist `expected_id`.
pub fn decode(bytes: &[u8], expected_id: &str, limits: &Limits) -> Result<Playlist, LoadError> {
    let envelope: EnvelopeIn = match serde_json::from_slice(bytes) {
        Ok(e) => e,
        Err(e) => return Err(check_schema(bytes).unwrap_or(LoadError::Parse(e.to_string()))),
    };
    schema_supported(envelope.schema)?;
    let playlist = envelope.playlist;
    playlist.validate(limits).map_err(LoadError::Invalid)?;
    if playlist.id != expected_id {
        return Err(LoadError::IdMismatch {
            found: playlist.id,
            expected: expected_id.to_owned(),
        });
    }
    Ok(playlist)
}

/// `Some(error)` when the bytes carry an unsupported schema number.
pub(crate) fn check_schema(bytes: &[u8]) -> Option<LoadError> {
    let probe: SchemaProbe = serde_json::from_slice(bytes).ok()?;
    schema_supported(probe.schema?).err()
}

pub(crate) fn schema_supported(found: u64) -> Result<(), LoadError> {
    match found {
        SCHEMA => Ok(()),
        0 => Err(LoadError::Parse("schema 0 does not exist".to_owned())),
        _ => Err(LoadError::UnsupportedSchema {
            found,
            supported: SCHEMA,
        }),
    }
}

/// A file's bytes, refusing files above [`MAX_FILE_BYTES`], with the stamp of what was read.
/// Only a regular file is opened (see [`open_regular`]): a FIFO or link is refused, never read.
pub fn read_capped(path: &Path) -> Result<(Vec<u8>, Stamp), LoadError> {
    let io_err = |e: io::Error| LoadError::Io(Arc::new(e));
    let file = match open_regular(path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(OpenError::NotRegular(n)) => return Err(LoadError::NotRegular(n.kind)),
        Err(OpenError::Io(e)) => return Err(io_err(e)),
    };
    let meta = file.metadata().map_err(io_err)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            size: meta.len(),
            max: MAX_FILE_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow while we read it: `take` keeps the bound anyway.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LoadError::TooLarge {
            size: bytes.len() as u64,
            max: MAX_FILE_BYTES,
        });
    }
    Ok((bytes, Stamp::of(&meta)))
}

/// A content hash, to recognise the daemon's own writes (not a security measure).
pub fn content_hash(bytes: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(bytes);
    h.write_usize(bytes.len());
    h.finish()
}

/// Identity of one version of a file without reading it: inode, size and modification time.
///
/// Every write by the store (and by editors that save by rename) makes a new inode, so an
/// unchanged stamp means the file is still the version the store last checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Stamp {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| {
                t.duration_since(std::time::UNIX_EPOCH)
                    .ok()
                    .map(|d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
            })
            .unwrap_or(-1);
        let (dev, ino) = dev_ino(meta);
        Stamp {
            dev,
            ino,
            len: meta.len(),
            mtime_ns,
        }
    }
}

#[cfg(unix)]
fn dev_ino(meta: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn dev_ino(_meta: &Metadata) -> (u64, u64) {
    (0, 0)
}
