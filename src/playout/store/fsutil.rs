//! File-system building blocks of the atomic save: durable temp files, directory fsync, atomic
//! replacement by link or bytes. Keeping files aside is in `aside.rs`, the regular-file checks in
//! `regular.rs`.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::StoreError;
use super::format::{MAX_FILE_BYTES, Stamp};
use super::regular::{FileKind, OpenError, kind_at, open_dir, open_regular};

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
        open_dir(dir)
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

/// Atomically makes `dst` a second name of the regular file `src`: link to a temp name, then rename
/// over `dst`, so `dst` is at every instant either its old or its new version. Never links through
/// a symbolic link (nor links one): if `src` is not a regular file by the time of the link, nothing
/// changes and the error says what is there. Renaming over `dst` replaces whatever name `dst` is
/// (a link there is replaced, its target untouched).
pub(crate) fn replace_with_link(src: &Path, dst: &Path) -> Result<(), StoreError> {
    let dir = dst.parent().unwrap_or(Path::new("."));
    let name = dst
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(temp_name(&name));
    let discard = |e| {
        let _ = fs::remove_file(&tmp);
        e
    };
    match fs::hard_link(src, &tmp) {
        Ok(()) => {}
        // No hard links on this file system: a copy of the regular file, never through a link.
        Err(e)
            if !matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::AlreadyExists
            ) =>
        {
            let bytes = read_regular(src)?;
            let copy = write_temp(dir, &name, &bytes)?;
            return fs::rename(&copy.path, dst).map_err(|e| {
                copy.discard();
                StoreError::io("rename into", dst, e)
            });
        }
        Err(e) => return Err(StoreError::io("link", src, e)),
    }
    // `link` does not follow a symbolic link: it links the link. A link swapped in for `src` since
    // it was checked would make `dst` a link too; refuse instead.
    match kind_at(&tmp).map_err(|e| discard(StoreError::io("inspect", &tmp, e)))? {
        Some(FileKind::Regular) => {}
        other => {
            return Err(discard(StoreError::not_regular(
                src,
                other.unwrap_or(FileKind::Other),
            )));
        }
    }
    fs::rename(&tmp, dst).map_err(|e| discard(StoreError::io("rename into", dst, e)))
}

/// All of a regular file (bounded by the playlist size limit).
fn read_regular(path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut file = open_regular(path, OpenOptions::new().read(true)).map_err(|e| match e {
        OpenError::NotRegular(n) => StoreError::NotRegular(n),
        OpenError::Io(e) => StoreError::io("read", path, e),
    })?;
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io("read", path, e))?;
    Ok(bytes)
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
