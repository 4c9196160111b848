//! File-system building blocks of the atomic save: durable temp files, directory fsync, and
//! "keep a copy aside" without ever overwriting an existing file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::StoreError;
use super::format::Stamp;

/// A temp file that has been written and fsynced, not yet renamed into place.
pub(crate) struct TempFile {
    pub path: PathBuf,
    pub stamp: Stamp,
}

impl TempFile {
    /// Best-effort removal after a failed or refused save (a leftover is cleaned at the next start).
    pub fn discard(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// A name for a temp file next to `target_name` in the same directory (renames must not cross file
/// systems). Hidden and ending in `.tmp`, so loaders and the watcher skip it; unique per process.
fn temp_name(target_name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{target_name}.{}.{n}.tmp", std::process::id())
}

/// True for the names [`temp_name`] makes.
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Writes `bytes` to a fresh temp file in `dir` and fsyncs it.
pub(crate) fn write_temp(
    dir: &Path,
    target_name: &str,
    bytes: &[u8],
) -> Result<TempFile, StoreError> {
    let path = dir.join(temp_name(target_name));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        file.metadata()
    })();
    match result {
        Ok(meta) => Ok(TempFile {
            stamp: Stamp::of(&meta),
            path,
        }),
        Err(e) => {
            let _ = fs::remove_file(&path);
            Err(StoreError::io("write temp file", &path, e))
        }
    }
}

/// Makes renames and unlinks in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io("fsync directory", dir, e))
    }
    #[cfg(not(unix))]
    {
        // Windows cannot open a directory as a file; NTFS journals renames itself.
        let _ = dir;
        Ok(())
    }
}

/// Copies `src` to `dst`, failing if `dst` exists, and fsyncs the copy.
fn copy_new(src: &Path, dst: &Path) -> io::Result<()> {
    let mut from = File::open(src)?;
    let mut to = OpenOptions::new().write(true).create_new(true).open(dst)?;
    let done = io::copy(&mut from, &mut to).and_then(|_| to.sync_all());
    if done.is_err() {
        let _ = fs::remove_file(dst);
    }
    done
}

/// A new name for `src` that no file has: hard link (instant, no data copied) or, where the file
/// system has no hard links, a copy. `link` and `create_new` both fail on an existing name, so an
/// earlier file is never overwritten.
fn link_or_copy_new(src: &Path, dst: &Path) -> io::Result<()> {
    match fs::hard_link(src, dst) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        Err(_) => copy_new(src, dst),
    }
}

/// Keeps a copy of `path` as `<name>.<tag>-<UTC time>` (with `-1`, `-2`, … if that exists) and
/// returns the new path. The original stays in place; the caller replaces or removes it afterwards.
///
/// A real copy rather than a hard link: a kept file must not change if someone later edits the
/// original in place (nano, `>>`), and these copies are rare.
pub(crate) fn keep_aside(path: &Path, tag: &str) -> Result<PathBuf, StoreError> {
    aside(path, tag, copy_new)
}

/// Like [`keep_aside`] but by hard link where possible: for a file the caller removes right after,
/// so nothing can edit it through the old name.
pub(crate) fn move_aside_start(path: &Path, tag: &str) -> Result<PathBuf, StoreError> {
    aside(path, tag, link_or_copy_new)
}

fn aside(
    path: &Path,
    tag: &str,
    make: fn(&Path, &Path) -> io::Result<()>,
) -> Result<PathBuf, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = format!("{name}.{tag}-{}", utc_stamp(SystemTime::now()));
    for n in 0..10_000u32 {
        let candidate = if n == 0 {
            dir.join(&base)
        } else {
            dir.join(format!("{base}-{n}"))
        };
        match make(path, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(StoreError::io("keep a copy of", path, e)),
        }
    }
    Err(StoreError::io(
        "keep a copy of",
        path,
        io::Error::other("10,000 copies with this time stamp already exist"),
    ))
}

/// Atomically makes `dst` a second name (or a copy) of `src`: link to a temp name, then rename over
/// `dst`, so `dst` is at every instant either its old or its new version.
pub(crate) fn replace_with_link(src: &Path, dst: &Path) -> Result<(), StoreError> {
    let dir = dst.parent().unwrap_or(Path::new("."));
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(temp_name(&name));
    link_or_copy_new(src, &tmp).map_err(|e| StoreError::io("link", src, e))?;
    fs::rename(&tmp, dst).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        StoreError::io("rename into", dst, e)
    })
}

/// Writes `bytes` as `dst` atomically (temp file, fsync, rename; the caller fsyncs the directory).
pub(crate) fn replace_with_bytes(dst: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = dst.parent().unwrap_or(Path::new("."));
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = write_temp(dir, &name, bytes)?;
    fs::rename(&tmp.path, dst).map_err(|e| {
        let path = tmp.path.clone();
        tmp.discard();
        StoreError::io("rename into", &path, e)
    })
}

/// Removes a file; a missing one is fine.
pub(crate) fn remove_if_exists(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("remove", path, e)),
    }
}

/// Removes the leftover temp files (names starting with `prefix`) of a crashed save in `dir`;
/// returns how many. They were never renamed into place, so no acknowledged version lives only in
/// one.
pub(crate) fn clean_temp_files(dir: &Path, prefix: &str) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        let name = name.to_string_lossy();
        if is_file
            && name.starts_with(prefix)
            && is_temp_name(&name)
            && fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// `YYYYMMDDTHHMMSSZ` in UTC: sortable, and without `:` so the name is valid on every file system.
pub(crate) fn utc_stamp(t: SystemTime) -> String {
    let unix = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d, hh, mm, ss) = crate::civil::utc_parts(unix);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_stamp_formats_civil_time() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56 UTC
        assert_eq!(utc_stamp(t), "20240229T123456Z");
    }

    #[test]
    fn keep_aside_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.json");
        fs::write(&f, b"one").unwrap();
        let first = keep_aside(&f, "corrupt").unwrap();
        fs::write(&f, b"two").unwrap();
        let second = keep_aside(&f, "corrupt").unwrap();
        assert_ne!(first, second);
        assert_eq!(fs::read(&first).unwrap(), b"one");
        assert_eq!(fs::read(&second).unwrap(), b"two");
    }
}
