//! Keeping a file aside as `<name>.<tag>-<UTC time>` (`corrupt`, `deleted`) without ever
//! overwriting an existing file, and keeping the `.corrupt-*` copies bounded: at most
//! [`KEEP_CORRUPT`] per file, none larger than [`MAX_FILE_BYTES`].
//!
//! Unbounded, every rejected external edit would cost its size again (a script writing 50 MB of
//! garbage in a loop would fill the disk the playlists live on); the newest few copies are all an
//! operator needs to see what went wrong.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::StoreError;
use super::format::MAX_FILE_BYTES;
use super::regular::{FileKind, OpenError, kind_at, open_regular};

/// `.corrupt-*` copies kept per file; older ones are removed when a new one is made.
pub const KEEP_CORRUPT: usize = 5;

/// Bytes kept of a file larger than [`MAX_FILE_BYTES`]: such a file is no playlist anyone can
/// recover, and its first MiB shows what it was (a video, a log, garbage) at a bounded cost.
pub const TRUNCATED_HEAD_BYTES: u64 = 1024 * 1024;

/// Suffix of a kept copy that holds only the first [`TRUNCATED_HEAD_BYTES`] of the file.
pub const TRUNCATED_SUFFIX: &str = ".truncated";

fn open_error(path: &Path, e: OpenError) -> StoreError {
    match e {
        OpenError::NotRegular(n) => StoreError::NotRegular(n),
        OpenError::Io(e) => StoreError::io("keep a copy of", path, e),
    }
}

/// Keeps a copy of `path` as `<name>.<tag>-<UTC time>` (with `-1`, `-2`, … if that exists) and
/// returns the new path. The original stays in place; the caller replaces or removes it afterwards.
///
/// A real copy rather than a hard link: a kept file must not change if someone later edits the
/// original in place (nano, `>>`). The copy is bounded: a file larger than [`MAX_FILE_BYTES`] keeps
/// only its first [`TRUNCATED_HEAD_BYTES`], in a name ending [`TRUNCATED_SUFFIX`] (copying or
/// renaming it whole would keep an unbounded file). For the `corrupt` tag only the newest
/// [`KEEP_CORRUPT`] copies of this file are kept. Only a regular file is read (never a FIFO, never
/// through a link).
pub(crate) fn keep_aside(path: &Path, tag: &str) -> Result<PathBuf, StoreError> {
    let src = open_regular(path, OpenOptions::new().read(true)).map_err(|e| open_error(path, e))?;
    let size = src
        .metadata()
        .map_err(|e| StoreError::io("keep a copy of", path, e))?
        .len();
    let truncated = size > MAX_FILE_BYTES;
    let (limit, suffix) = if truncated {
        (TRUNCATED_HEAD_BYTES, TRUNCATED_SUFFIX)
    } else {
        // The file may grow while it is copied: the bound holds anyway.
        (MAX_FILE_BYTES, "")
    };
    let kept = unique(path, tag, suffix, |dst| copy_into(&src, limit, dst))?;
    if truncated {
        tracing::warn!(
            file = %path.display(),
            kept = %kept.display(),
            size,
            "file larger than {MAX_FILE_BYTES} bytes: kept only its first {TRUNCATED_HEAD_BYTES} bytes"
        );
    }
    if tag == "corrupt" {
        prune(path, tag, KEEP_CORRUPT);
    }
    Ok(kept)
}

/// Like [`keep_aside`] but by hard link where possible (no data copied, whatever the size): for a
/// file the caller removes right after, so nothing can edit it through the old name.
pub(crate) fn move_aside_start(path: &Path, tag: &str) -> Result<PathBuf, StoreError> {
    if let Some(kind) = kind_at(path).map_err(|e| StoreError::io("inspect", path, e))?
        && kind != FileKind::Regular
    {
        return Err(StoreError::not_regular(path, kind));
    }
    unique(path, tag, "", |dst| link_or_copy_new(path, dst))
}

/// Makes `<name>.<tag>-<time>[-n]<suffix>` with `make`, which must fail with `AlreadyExists` rather
/// than overwrite. `n` starts above every copy made within the same second, so a new copy always
/// sorts as the newest (a number freed by [`prune`] is not reused).
fn unique(
    path: &Path,
    tag: &str,
    suffix: &str,
    mut make: impl FnMut(&Path) -> io::Result<()>,
) -> Result<PathBuf, StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = file_name(path);
    let stamp = utc_stamp(SystemTime::now());
    let base = format!("{name}.{tag}-{stamp}");
    let first = copies(path, tag)
        .iter()
        .filter(|((s, _), _)| *s == stamp)
        .map(|((_, n), _)| n + 1)
        .max()
        .unwrap_or(0);
    for n in first..first.saturating_add(10_000) {
        let candidate = if n == 0 {
            dir.join(format!("{base}{suffix}"))
        } else {
            dir.join(format!("{base}-{n}{suffix}"))
        };
        match make(&candidate) {
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

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Copies at most `limit` bytes of `src` into a new file `dst` (never an existing one) and fsyncs it.
fn copy_into(src: &File, limit: u64, dst: &Path) -> io::Result<()> {
    let mut to = OpenOptions::new().write(true).create_new(true).open(dst)?;
    // `&File` reads from the shared offset: start at the beginning whichever attempt this is.
    let mut from = src;
    io::Seek::seek(&mut from, io::SeekFrom::Start(0))?;
    let done = io::copy(&mut from.take(limit), &mut to).and_then(|_| to.sync_all());
    if done.is_err() {
        let _ = fs::remove_file(dst);
    }
    done
}

/// A new name for `src`: hard link (instant, no data copied) or, where the file system has no hard
/// links, a copy. Both fail on an existing name, so an earlier file is never overwritten. A link
/// swapped in for `src` is never linked or copied through: the result must be a regular file.
fn link_or_copy_new(src: &Path, dst: &Path) -> io::Result<()> {
    match fs::hard_link(src, dst) {
        Ok(()) => {
            // `link` does not follow a symbolic link but links the link itself; refuse that.
            match kind_at(dst)? {
                Some(FileKind::Regular) => Ok(()),
                other => {
                    let _ = fs::remove_file(dst);
                    let kind = other.unwrap_or(FileKind::Other);
                    Err(io::Error::other(format!(
                        "{} became {kind} while it was being linked",
                        src.display()
                    )))
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        Err(_) => {
            let from = open_regular(src, OpenOptions::new().read(true)).map_err(io::Error::from)?;
            copy_into(&from, u64::MAX, dst)
        }
    }
}

/// Removes all but the newest `keep` of the copies [`unique`] made for `path` with `tag`; returns
/// how many were removed. Only names of exactly that form, and only regular files, are touched: a
/// file the operator renamed or made is theirs. Best effort: a copy that cannot be removed is logged
/// and left.
pub(crate) fn prune(path: &Path, tag: &str, keep: usize) -> usize {
    let mut copies = copies(path, tag);
    if copies.len() <= keep {
        return 0;
    }
    // Newest first: the time stamp, then the `-n` of copies made within one second.
    copies.sort_by(|a, b| b.0.cmp(&a.0));
    let mut removed = 0;
    for (_, old) in copies.drain(keep..) {
        match fs::remove_file(&old) {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(file = %old.display(), error = %e, "cannot remove an old kept copy")
            }
        }
    }
    if removed > 0 {
        tracing::info!(file = %path.display(), removed, keep, "removed older kept copies");
    }
    removed
}

/// The copies [`unique`] made for `path` with `tag` (regular files only), with their sort keys.
fn copies(path: &Path, tag: &str) -> Vec<((String, u32), PathBuf)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let prefix = format!("{}.{tag}-", file_name(path));
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let key = copy_key(name.strip_prefix(&prefix)?)?;
            Some((key, e.path()))
        })
        .collect()
}

/// `(time stamp, n)` of `YYYYMMDDTHHMMSSZ[-n][.truncated]`, the part after `<name>.<tag>-`.
fn copy_key(rest: &str) -> Option<(String, u32)> {
    let rest = rest.strip_suffix(TRUNCATED_SUFFIX).unwrap_or(rest);
    let stamp = rest.get(..16).filter(|s| s.is_ascii())?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = stamp.as_bytes()[8] == b'T'
        && stamp.ends_with('Z')
        && digits(&stamp[..8])
        && digits(&stamp[9..15]);
    if !well_formed {
        return None;
    }
    let n = match &rest[16..] {
        "" => 0,
        more => {
            let n = more.strip_prefix('-')?;
            if !digits(n) {
                return None;
            }
            n.parse().ok()?
        }
    };
    Some((stamp.to_owned(), n))
}

/// `YYYYMMDDTHHMMSSZ` in UTC: sortable, and without `:` so the name is valid on every file system.
pub(crate) fn utc_stamp(t: SystemTime) -> String {
    // A clock before 1970 names its copies as of the epoch, as it always has.
    let ts = jiff::Timestamp::try_from(t.max(UNIX_EPOCH)).unwrap_or(jiff::Timestamp::MAX);
    let dt = jiff::tz::Offset::UTC.to_datetime(ts);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
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

    #[test]
    fn copy_keys_order_copies_and_ignore_other_names() {
        let key = |s: &str| copy_key(s);
        assert_eq!(
            key("20240229T123456Z"),
            Some(("20240229T123456Z".into(), 0))
        );
        assert_eq!(
            key("20240229T123456Z-12"),
            Some(("20240229T123456Z".into(), 12))
        );
        assert_eq!(
            key("20240229T123456Z-2.truncated"),
            Some(("20240229T123456Z".into(), 2))
        );
        assert!(key("20240229T123456Z-12") > key("20240229T123456Z-9"));
        assert!(key("20240301T000000Z") > key("20240229T235959Z-99"));
        for other in [
            "",
            "20240229T123456Z.bak",
            "20240229T123456Z-",
            "mine",
            "2024022XT123456Z",
        ] {
            assert_eq!(key(other), None, "{other:?}");
        }
    }

    #[test]
    fn only_the_newest_corrupt_copies_are_kept_and_others_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.json");
        let mine = dir.path().join("a.json.corrupt-keep-me");
        fs::write(&mine, b"operator's").unwrap();
        let mut kept = Vec::new();
        for i in 0..8 {
            fs::write(&f, format!("bad {i}")).unwrap();
            kept.push(keep_aside(&f, "corrupt").unwrap());
        }
        let left: Vec<_> = kept.iter().filter(|k| k.exists()).collect();
        assert_eq!(left.len(), KEEP_CORRUPT);
        assert_eq!(left, kept[8 - KEEP_CORRUPT..].iter().collect::<Vec<_>>());
        assert_eq!(fs::read(&mine).unwrap(), b"operator's");
    }

    #[test]
    fn a_file_above_the_limit_keeps_only_its_head() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.json");
        let file = File::create(&f).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap(); // sparse: costs no disk
        let kept = keep_aside(&f, "corrupt").unwrap();
        assert!(
            kept.to_string_lossy().ends_with(TRUNCATED_SUFFIX),
            "{kept:?}"
        );
        assert_eq!(fs::metadata(&kept).unwrap().len(), TRUNCATED_HEAD_BYTES);
    }
}
