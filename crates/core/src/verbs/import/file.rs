//! The import file, opened once for each read of it (the plan's, and the import's under the lock):
//! opening never waits (`O_NONBLOCK`: a FIFO put in its place opens at once, then is refused),
//! never follows a symlink put in place of the path the plan resolved (`O_NOFOLLOW`), and what was
//! opened must be a regular file (`fstat`). Every byte is hashed as it is read, so the sha256 a
//! plan reports is that of the bytes it analysed, and the import checks, before its COMMIT, that
//! the bytes it inserted are those.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::INPUT;
use crate::error::{Error, Result};
use crate::storage::{hash, os};

/// What says, without reading it, that the file is still the one planned: its device and file
/// number, size and modification time. The sha256 of what is read stays the proof.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    device_and_number: (u64, u64),
    size: u64,
    modified: Option<SystemTime>,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        Identity {
            device_and_number: os::identity_of(meta),
            size: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

/// The import file, open.
pub(super) struct Opened {
    file: File,
    path: PathBuf,
    pub identity: Identity,
}

/// Opens `path` (resolved by the plan) for reading: a FIFO, device or directory is refused as at
/// the plan, and so is a symlink now in the resolved path's place.
pub(super) fn open(path: &Path) -> Result<Opened> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    let opened = os::reading_untrusted(&mut opts, path, true).and_then(|()| opts.open(path));
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::InvalidInput(format!(
                "cannot read {INPUT} {}: {e}; nothing was imported",
                path.display()
            )))
        }
        Err(e) if os::is_symlink_refusal(&e) => {
            return Err(Error::Refused(format!(
                "{} is a symbolic link now (the plan read the file it pointed to); refusing to follow it, nothing was imported. Plan the import again",
                path.display()
            )))
        }
        Err(e) => return Err(Error::io("opening", path)(e)),
    };
    let meta = file.metadata().map_err(Error::io("reading", path))?;
    if !meta.is_file() {
        return Err(crate::backups::names::not_a_regular_input(
            path,
            INPUT,
            &meta.file_type(),
        ));
    }
    Ok(Opened {
        identity: Identity::of(&meta),
        file,
        path: path.to_path_buf(),
    })
}

impl Opened {
    /// The file as a reader that hashes (on a second thread) every byte it reads.
    pub fn hashed(self) -> Result<Hashed> {
        Ok(Hashed {
            file: self.file,
            path: self.path,
            hash: hash::Behind::new()?,
            bytes: 0,
        })
    }
}

/// A reader of the import file that hashes what it reads.
pub(super) struct Hashed {
    file: File,
    path: PathBuf,
    hash: hash::Behind,
    bytes: u64,
}

/// The whole file as read: [`Hashed::finish`] reads what is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Whole {
    pub bytes: u64,
    pub sha256: String,
}

impl std::io::Read for Hashed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            let mut copy = self.hash.buffer(n);
            copy[..n].copy_from_slice(&buf[..n]);
            self.hash
                .hash(copy, n)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            self.bytes += n as u64;
        }
        Ok(n)
    }
}

impl Hashed {
    /// Reads what is left (after rows that were not needed, or a line that could not be read)
    /// and returns the size and sha256 of every byte read.
    pub fn finish(mut self) -> Result<Whole> {
        std::io::copy(&mut self, &mut std::io::sink()).map_err(Error::io("reading", &self.path))?;
        Ok(Whole {
            bytes: self.bytes,
            sha256: self.hash.finish()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn what_is_read_is_what_is_hashed_however_much_the_reader_used() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &bytes).unwrap();
        let mut r = open(&p).unwrap().hashed().unwrap();
        let mut head = [0u8; 1000];
        r.read_exact(&mut head).unwrap();
        let read = r.finish().unwrap();
        assert_eq!(read.bytes, bytes.len() as u64);
        assert_eq!(read.sha256, crate::storage::hash::file(&p).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_opens_without_waiting_and_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.csv");
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open(&p).err().expect("refused");
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("a FIFO (named pipe)"), "{e}");
        let link = d.path().join("link.csv");
        std::fs::write(d.path().join("real.csv"), "x").unwrap();
        std::os::unix::fs::symlink(d.path().join("real.csv"), &link).unwrap();
        let e = open(&link).err().expect("refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }
}
