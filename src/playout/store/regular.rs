//! Files are what they claim: every file the daemon opens in its data directory goes through
//! [`open_regular`], which refuses FIFOs, sockets, devices, directories and symbolic links without
//! blocking on them or following them.
//!
//! Why: opening a FIFO for reading waits for a writer, forever; a symbolic link sends our writes (and
//! our backups) to wherever it points. Either can be put in `data/` by a script or a mistake, and a
//! playout daemon must neither hang nor write outside its directory because of it.

use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// What a directory entry is, as `symlink_metadata` (or `fstat`) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    Device,
    Other,
}

impl FileKind {
    /// The kind of `meta`; from `symlink_metadata` a link is [`FileKind::Symlink`], never its target.
    pub fn of(meta: &Metadata) -> FileKind {
        let t = meta.file_type();
        if t.is_file() {
            return FileKind::Regular;
        }
        if t.is_dir() {
            return FileKind::Directory;
        }
        if t.is_symlink() {
            return FileKind::Symlink;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if t.is_fifo() {
                return FileKind::Fifo;
            }
            if t.is_socket() {
                return FileKind::Socket;
            }
            if t.is_block_device() || t.is_char_device() {
                return FileKind::Device;
            }
        }
        FileKind::Other
    }

    /// The words for operators: "a FIFO", "a symbolic link", …
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::Device => "a device",
            FileKind::Other => "not a regular file",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Something that is not a regular file sits where the daemon expected one. It was not opened (or,
/// if it was swapped in between the check and the open, closed again without any read or write).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{} is {kind}, not a regular file: refused (not opened, not followed)", path.display())]
pub struct NotRegular {
    pub path: PathBuf,
    pub kind: FileKind,
}

/// Why [`open_regular`] gave no file.
#[derive(Debug, Error)]
pub enum OpenError {
    #[error(transparent)]
    NotRegular(NotRegular),
    #[error(transparent)]
    Io(io::Error),
}

impl From<OpenError> for io::Error {
    /// For the callers that speak `io::Error` (the as-run log): the message still names the path
    /// and what is there, and [`not_regular`] finds the typed error again.
    fn from(e: OpenError) -> io::Error {
        match e {
            OpenError::NotRegular(n) => io::Error::new(io::ErrorKind::InvalidInput, n),
            OpenError::Io(e) => e,
        }
    }
}

/// The [`NotRegular`] inside an `io::Error` made from an [`OpenError`].
pub fn not_regular(e: &io::Error) -> Option<&NotRegular> {
    e.get_ref()?.downcast_ref::<NotRegular>()
}

/// What is at `path` without following a link: `Ok(None)` when nothing is.
pub fn kind_at(path: &Path) -> io::Result<Option<FileKind>> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(FileKind::of(&meta))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `Err` when something other than a regular file is at `path`; nothing there is fine.
pub fn check_regular(path: &Path) -> Result<(), OpenError> {
    match kind_at(path).map_err(OpenError::Io)? {
        Some(kind) if kind != FileKind::Regular => Err(OpenError::NotRegular(NotRegular {
            path: path.to_owned(),
            kind,
        })),
        _ => Ok(()),
    }
}

/// Opens `path` with `options` only if it is a regular file (or absent and `options` create it).
///
/// 1. `symlink_metadata` first: anything else is refused before any `open`;
/// 2. the open adds `O_NOFOLLOW` (a link swapped in after the check fails with `ELOOP` instead of
///    being followed, also for `create`) and `O_NONBLOCK` (a FIFO swapped in opens at once instead
///    of waiting for a writer);
/// 3. `fstat` of the opened file must say regular file, else it is closed unread;
/// 4. `O_NONBLOCK` is cleared again, so reads and writes behave as usual (it means nothing for a
///    regular file on Linux, but other systems and file systems need not agree).
pub fn open_regular(path: &Path, options: &OpenOptions) -> Result<File, OpenError> {
    let refuse = |kind| {
        OpenError::NotRegular(NotRegular {
            path: path.to_owned(),
            kind,
        })
    };
    check_regular(path)?;
    let mut options = options.clone();
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        // The flag bits are small positive numbers: the cast keeps them as they are.
        options.custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        // Something was swapped in between the check and the open: name what it is now.
        Err(e) => {
            return Err(match kind_at(path) {
                Ok(Some(kind)) if kind != FileKind::Regular => refuse(kind),
                _ => OpenError::Io(e),
            });
        }
    };
    let kind = FileKind::of(&file.metadata().map_err(OpenError::Io)?);
    if kind != FileKind::Regular {
        return Err(refuse(kind));
    }
    #[cfg(unix)]
    {
        use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
        let flags = fcntl_getfl(&file).map_err(|e| OpenError::Io(e.into()))?;
        fcntl_setfl(&file, flags - OFlags::NONBLOCK).map_err(|e| OpenError::Io(e.into()))?;
    }
    Ok(file)
}

/// Opens a directory for `fsync`, refusing anything else without blocking (`O_DIRECTORY`): a FIFO
/// swapped in for `playlists/` must not hang the writer either. A link to a directory is followed:
/// placing `data/` or `playlists/` on another disk by a symbolic link is an operator's choice.
pub fn open_dir(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags((OFlags::DIRECTORY | OFlags::NONBLOCK).bits() as i32);
    }
    options.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    fn read_only() -> OpenOptions {
        let mut o = OpenOptions::new();
        o.read(true);
        o
    }

    fn mkfifo(path: &Path) {
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            path,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .expect("mkfifo");
    }

    #[test]
    fn regular_files_open_and_behave_normally() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        let mut append = OpenOptions::new();
        append.append(true).create(true);
        open_regular(&path, &append)
            .unwrap()
            .write_all(b"one\n")
            .unwrap();
        open_regular(&path, &append)
            .unwrap()
            .write_all(b"two\n")
            .unwrap();
        let mut text = String::new();
        let mut file = open_regular(&path, &read_only()).unwrap();
        file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "one\ntwo\n");
        let flags = rustix::fs::fcntl_getfl(&file).unwrap();
        assert!(!flags.contains(rustix::fs::OFlags::NONBLOCK));
    }

    #[test]
    fn fifos_links_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.json");
        mkfifo(&fifo);
        let target = dir.path().join("target");
        fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let sub = dir.path().join("dir.json");
        fs::create_dir(&sub).unwrap();

        // On a thread, so a regression fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        let paths = [fifo, link, dangling.clone(), sub];
        std::thread::spawn(move || {
            let mut create = OpenOptions::new();
            create.append(true).create(true);
            let got: Vec<_> = paths
                .iter()
                .map(|p| match open_regular(p, &create) {
                    Err(OpenError::NotRegular(n)) => Some(n.kind),
                    _ => None,
                })
                .collect();
            let _ = tx.send(got);
        });
        let got = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("no open blocks");
        assert_eq!(
            got,
            [
                Some(FileKind::Fifo),
                Some(FileKind::Symlink),
                Some(FileKind::Symlink),
                Some(FileKind::Directory)
            ]
        );
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        assert!(
            !dir.path().join("nowhere").exists(),
            "a dangling link is not created through"
        );
        let e = io::Error::from(open_regular(&dangling, &read_only()).unwrap_err());
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert_eq!(not_regular(&e).map(|n| n.kind), Some(FileKind::Symlink));
    }

    #[test]
    fn open_dir_refuses_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("playlists");
        mkfifo(&fifo);
        assert!(open_dir(&fifo).is_err());
        assert!(open_dir(dir.path()).is_ok());
    }
}
