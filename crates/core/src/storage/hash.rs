//! SHA-256 of backups, staged copies and content fingerprints (ring's assembly implementation,
//! about twice the portable one here), buffered so that many tiny updates cost like one big one.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use crate::error::{Error, Result};

const BUF: usize = 64 * 1024;

/// A streaming SHA-256; the digest depends only on the bytes, never on how they were split.
pub struct Sha256 {
    ctx: ring::digest::Context,
    buf: Vec<u8>,
}

impl Default for Sha256 {
    fn default() -> Self {
        Sha256 {
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            buf: Vec::with_capacity(BUF),
        }
    }
}

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256::default()
    }

    pub fn update(&mut self, data: impl AsRef<[u8]>) {
        let data = data.as_ref();
        if self.buf.len() + data.len() > BUF {
            self.ctx.update(&self.buf);
            self.buf.clear();
            if data.len() >= BUF {
                self.ctx.update(data);
                return;
            }
        }
        self.buf.extend_from_slice(data);
    }

    pub fn finish(mut self) -> [u8; 32] {
        self.ctx.update(&self.buf);
        let mut out = [0u8; 32];
        out.copy_from_slice(self.ctx.finish().as_ref());
        out
    }

    pub fn finish_hex(self) -> String {
        hex::encode(self.finish())
    }
}

/// A SHA-256 computed on a second thread: the caller fills buffers and hands them over
/// ([`Behind::hash`]), the thread hashes them in order and hands them back for reuse
/// ([`Behind::buffer`]), so the caller's own work (reading, compressing, comparing) overlaps
/// the hashing.
pub struct Behind {
    to_hash: Option<std::sync::mpsc::SyncSender<(Vec<u8>, usize)>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    worker: Option<std::thread::JoinHandle<String>>,
}

/// Buffers in flight between the caller and the hashing thread.
const IN_FLIGHT: usize = 4;

impl Behind {
    pub fn new() -> Result<Behind> {
        let (to_hash, hash_these) = std::sync::mpsc::sync_channel::<(Vec<u8>, usize)>(IN_FLIGHT);
        let (give_back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
        let worker = std::thread::Builder::new()
            .name("sha256".into())
            .spawn(move || {
                let mut h = Sha256::new();
                for (buf, n) in hash_these {
                    h.update(&buf[..n]);
                    let _ = give_back.try_send(buf);
                }
                h.finish_hex()
            })
            .map_err(|e| Error::Internal(format!("starting the sha256 thread: {e}")))?;
        Ok(Behind {
            to_hash: Some(to_hash),
            spare,
            worker: Some(worker),
        })
    }

    /// A buffer of `len` bytes to fill: one the thread is done with, or a new one.
    pub fn buffer(&self, len: usize) -> Vec<u8> {
        let mut b = self.spare.try_recv().unwrap_or_default();
        b.resize(len, 0);
        b
    }

    /// Hands the first `n` bytes of `buf` to the hashing thread (after everything handed before).
    pub fn hash(&mut self, buf: Vec<u8>, n: usize) -> Result<()> {
        let sent = self.to_hash.as_ref().map(|tx| tx.send((buf, n)));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(Error::Internal("the sha256 thread stopped".into())),
        }
    }

    /// The hex SHA-256 of every byte handed over.
    pub fn finish(mut self) -> Result<String> {
        self.to_hash = None;
        self.worker
            .take()
            .map(|w| w.join())
            .and_then(|r| r.ok())
            .ok_or_else(|| Error::Internal("the sha256 thread panicked".into()))
    }
}

impl Drop for Behind {
    fn drop(&mut self) {
        self.to_hash = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The hex SHA-256 of a file, streamed.
pub fn file(path: &Path) -> Result<String> {
    file_with_progress(path, &|_| {})
}

/// [`file`] of a live database's file, read through a kept handle (see
/// [`held_open`](super::held_open)).
pub fn live_file(path: &Path) -> Result<String> {
    stream(
        super::held_open::reader(path)?,
        None::<&mut File>,
        path,
        &|_| {},
    )
}

/// [`file`], calling `progress` with the bytes read so far after each megabyte.
pub fn file_with_progress(path: &Path, progress: &dyn Fn(u64)) -> Result<String> {
    let f = File::open(path).map_err(Error::io("reading", path))?;
    stream(f, None::<&mut File>, path, progress)
}

/// Copies `from` into `to` (already created by the caller) and fsyncs it, hashing the bytes as
/// they are written: one read of the source gives both the copy and its SHA-256.
pub(crate) fn copy_hashed(
    from: &Path,
    to: &mut File,
    to_path: &Path,
    progress: &dyn Fn(u64),
) -> Result<String> {
    let f = File::open(from).map_err(Error::io("reading", from))?;
    let sha = stream(f, Some(&mut *to), to_path, progress)?;
    to.sync_all().map_err(Error::io("fsync", to_path))?;
    Ok(sha)
}

fn stream(
    mut from: impl Read,
    mut to: Option<&mut File>,
    path: &Path,
    progress: &dyn Fn(u64),
) -> Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading", path)(e)),
        };
        if let Some(to) = to.as_deref_mut() {
            to.write_all(&buf[..n])
                .map_err(Error::io("writing", path))?;
        }
        h.update(&buf[..n]);
        done += n as u64;
        progress(done);
    }
    Ok(h.finish_hex())
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finish_hex()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Hashed on the second thread in any split, with buffers reused and partly filled, the
        /// digest is the one of the bytes in order.
        #[test]
        fn hashing_behind_is_hashing_in_order(
            pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..5000), 0..20),
            room in 1usize..6000,
        ) {
            let mut behind = Behind::new().unwrap();
            let mut whole = Sha256::new();
            for p in &pieces {
                let mut buf = behind.buffer(room.max(p.len()));
                buf[..p.len()].copy_from_slice(p);
                behind.hash(buf, p.len()).unwrap();
                whole.update(p);
            }
            prop_assert_eq!(behind.finish().unwrap(), whole.finish_hex());
        }
    }

    #[test]
    fn known_vectors() {
        let mut h = Sha256::new();
        h.update(b"abc");
        assert_eq!(
            h.finish_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Sha256::new().finish_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn copy_hashed_copies_and_hashes_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&a, &data).unwrap();
        let mut to = File::create(&b).unwrap();
        let sha = copy_hashed(&a, &mut to, &b, &|_| {}).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), data);
        assert_eq!(sha, file(&a).unwrap());
        let mut one = Sha256::new();
        one.update(&data);
        assert_eq!(sha, one.finish_hex());
    }

    proptest! {
        #[test]
        fn splitting_never_changes_the_digest(
            data in proptest::collection::vec(any::<u8>(), 0..300_000),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
        ) {
            let mut whole = Sha256::new();
            whole.update(&data);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
            cuts.sort_unstable();
            let mut parts = Sha256::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                parts.update(&data[at..c]);
                at = c;
            }
            prop_assert_eq!(whole.finish_hex(), parts.finish_hex());
        }
    }
}
