//! How a backup is stored: plain SQLite (`.sqlite3`) or zstd-compressed (`.sqlite3.zst`). The
//! compressed form is made from a snapshot that passed its checks and is read back before it is
//! kept: it must decompress to exactly that snapshot (its content sha256).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::progress::{Observer, Progress};
use crate::storage::{fs, hash::Sha256};

/// The suffix a compressed backup adds to its `.sqlite3` name.
pub const ZSTD_SUFFIX: &str = ".zst";

/// zstd level: 1 is the fastest of the standard levels and already ~6× on our databases.
const LEVEL: i32 = 1;

/// The stored file of a compressed backup (in its manifest; `None` for a plain one).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Stored {
    /// `zstd`.
    pub format: String,
    /// Size of the stored (compressed) file.
    pub bytes: u64,
    /// sha256 of the stored (compressed) file.
    pub sha256: String,
}

/// Whether `path` names a compressed backup.
pub fn is_compressed(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(&format!(".sqlite3{ZSTD_SUFFIX}")))
}

/// `x.sqlite3` → `x.sqlite3.zst`.
pub fn compressed_name(plain: &Path) -> PathBuf {
    let mut n = plain.as_os_str().to_owned();
    n.push(ZSTD_SUFFIX);
    PathBuf::from(n)
}

/// Compresses the verified snapshot `plain` (whose content sha256 is `content_sha`) into the new
/// file `out` (multi-threaded zstd), fsyncs it, then reads it back: the stored bytes must hash as
/// written and decompress to exactly `content_sha`. `out` is removed on any failure.
pub(crate) fn compress(
    plain: &Path,
    out: &Path,
    content_sha: &str,
    obs: &dyn Observer,
) -> Result<Stored> {
    let result = write_compressed(plain, out, obs).and_then(|(bytes, sha)| {
        let (stored, content) = read_back(out)?;
        if stored != sha || content != content_sha {
            return Err(Error::BackupVerify {
                path: out.to_path_buf(),
                detail: format!(
                    "the compressed copy does not read back as written (stored sha256 {stored} vs {sha}, content {content} vs {content_sha})"
                ),
            });
        }
        Ok(Stored {
            format: "zstd".into(),
            bytes,
            sha256: sha,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(out);
    }
    result
}

fn write_compressed(plain: &Path, out: &Path, obs: &dyn Observer) -> Result<(u64, String)> {
    let full = |e: std::io::Error| {
        crate::storage::db::promote_disk_full(out, Error::io("compressing into", out)(e))
    };
    let mut from = File::open(plain).map_err(Error::io("reading", plain))?;
    let total = from.metadata().map_err(Error::io("reading", plain))?.len();
    let file = fs::create_new(out)?;
    let mut enc = zstd::stream::Encoder::new(Hashing::new(file), LEVEL).map_err(full)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    enc.multithread(threads).map_err(full)?;
    enc.include_checksum(true).map_err(full)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = from.read(&mut buf).map_err(Error::io("reading", plain))?;
        if n == 0 {
            break;
        }
        enc.write_all(&buf[..n]).map_err(full)?;
        done += n as u64;
        obs.bytes(&Progress {
            stage: "compressing",
            done,
            total,
        });
        if obs.cancelled() {
            return Err(Error::Cancelled);
        }
        crate::storage::failpoint::hit("backup:mid_compress")?;
    }
    let hashing = enc.finish().map_err(full)?;
    let (file, bytes, sha) = hashing.finish();
    crate::storage::timing::step("backup: fsync compressed", || {
        file.sync_all().map_err(Error::io("fsync", out))
    })?;
    Ok((bytes, sha))
}

/// The sha256 of a compressed file's stored bytes and of the content it decompresses to.
pub(crate) fn read_back(path: &Path) -> Result<(String, String)> {
    let file = File::open(path).map_err(Error::io("reading", path))?;
    let mut stored = HashingReader {
        inner: file,
        h: Sha256::new(),
    };
    let content = decode_hashed(path, &mut stored, &mut |_| Ok(()))?;
    // Whatever follows the frame is read too, so the stored sha256 covers the whole file.
    std::io::copy(&mut stored, &mut std::io::sink()).map_err(Error::io("reading", path))?;
    Ok((stored.h.finish_hex(), content))
}

/// Decompresses `path` into the new file `out` (created here), returning the content's sha256
/// computed on the way: one read gives the plain copy and its hash.
pub(crate) fn decompress_hashed(path: &Path, out: &Path, progress: &dyn Fn(u64)) -> Result<String> {
    let file = File::open(path).map_err(Error::io("reading", path))?;
    let mut to = fs::create_new(out)?;
    let mut done = 0u64;
    let sha = decode_hashed(path, file, &mut |chunk| {
        to.write_all(chunk).map_err(|e| {
            crate::storage::db::promote_disk_full(out, Error::io("writing", out)(e))
        })?;
        done += chunk.len() as u64;
        progress(done);
        Ok(())
    })?;
    to.sync_all().map_err(Error::io("fsync", out))?;
    Ok(sha)
}

/// Decodes the zstd stream read from `from` (the file at `path`), handing each chunk of content
/// to `sink`; returns the content's sha256. A stream that does not decode is a failed
/// verification of `path`.
fn decode_hashed(
    path: &Path,
    from: impl Read,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<String> {
    let mut dec = zstd::stream::Decoder::new(from).map_err(Error::io("reading", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = dec.read(&mut buf).map_err(|e| Error::BackupVerify {
            path: path.to_path_buf(),
            detail: format!("its zstd stream does not decompress: {e}"),
        })?;
        if n == 0 {
            return Ok(h.finish_hex());
        }
        h.update(&buf[..n]);
        sink(&buf[..n])?;
    }
}

/// A plain SQLite file of a backup, to open with SQLite: the backup itself, or a private
/// decompressed copy beside it (a temp name the next start cleans up; removed on drop).
pub(crate) struct Plain {
    pub path: PathBuf,
    /// The content's sha256, when it was computed while decompressing.
    pub sha256: Option<String>,
    temp: bool,
}

impl Drop for Plain {
    fn drop(&mut self) {
        if self.temp {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The backup at `path` as a plain SQLite file (see [`Plain`]).
pub(crate) fn plain(path: &Path) -> Result<Plain> {
    if !is_compressed(path) {
        return Ok(Plain {
            path: path.to_path_buf(),
            sha256: None,
            temp: false,
        });
    }
    let tmp = fs::temp_beside(path);
    let mut p = Plain {
        path: tmp.clone(),
        sha256: None,
        temp: true,
    };
    p.sha256 = Some(decompress_hashed(path, &tmp, &|_| {})?);
    Ok(p)
}

/// A writer that hashes and counts what it passes on.
struct Hashing<W: Write> {
    inner: W,
    h: Sha256,
    n: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            h: Sha256::new(),
            n: 0,
        }
    }
    fn finish(self) -> (W, u64, String) {
        (self.inner, self.n, self.h.finish_hex())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.h.update(&buf[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what it reads.
struct HashingReader<R: Read> {
    inner: R,
    h: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Any bytes compress and read back to exactly themselves; the stored sha256 is the file's.
        #[test]
        fn compress_then_read_back_and_decompress_is_the_identity(data in prop::collection::vec(any::<u8>(), 0..200_000)) {
            let d = tempfile::tempdir().unwrap();
            let (plain, z, back) = (d.path().join("a"), d.path().join("a.zst"), d.path().join("b"));
            std::fs::write(&plain, &data).unwrap();
            let sha = crate::storage::hash::sha256_hex(&data);
            let stored = compress(&plain, &z, &sha, &crate::Quiet).unwrap();
            prop_assert_eq!(stored.bytes, std::fs::metadata(&z).unwrap().len());
            prop_assert_eq!(&stored.sha256, &crate::storage::hash::file(&z).unwrap());
            prop_assert_eq!(decompress_hashed(&z, &back, &|_| {}).unwrap(), sha);
            prop_assert_eq!(std::fs::read(&back).unwrap(), data);
        }
    }

    #[test]
    fn a_damaged_stream_or_a_wrong_content_hash_is_refused_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let (plain, z) = (d.path().join("a"), d.path().join("a.zst"));
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 13) as u8).collect();
        std::fs::write(&plain, &data).unwrap();
        let e = compress(&plain, &z, "0".repeat(64).as_str(), &crate::Quiet).unwrap_err();
        assert!(e.to_string().contains("does not read back"), "{e}");
        assert!(!z.exists());
        let sha = crate::storage::hash::sha256_hex(&data);
        compress(&plain, &z, &sha, &crate::Quiet).unwrap();
        let mut bytes = std::fs::read(&z).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&z, &bytes).unwrap();
        assert!(read_back(&z).is_err() || read_back(&z).unwrap().1 != sha);
        assert!(decompress_hashed(&z, &d.path().join("b"), &|_| {}).map_or(true, |s| s != sha));
    }
}
