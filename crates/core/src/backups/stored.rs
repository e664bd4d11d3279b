//! How a backup is stored: plain SQLite (`.sqlite3`) or zstd-compressed (`.sqlite3.zst`). The
//! compressed form is made from a snapshot that passed its checks and is read back before it is
//! kept: it must decompress to exactly that snapshot (its content sha256).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::progress::{Observer, Progress};
use crate::storage::flush_behind::FlushBehind;
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

/// What one compressing pass wrote.
#[derive(Debug)]
pub(crate) struct Pass {
    /// Bytes of SQLite content read (the plain snapshot's size).
    pub size: u64,
    /// sha256 of that content.
    pub content_sha: String,
    pub stored: Stored,
}

/// One read of `from` gives the compressed file `out` (multi-threaded zstd, written on a second
/// thread that starts the writeback early, fsynced); the content's sha256 is computed on the way.
/// `mark_rollback`: `from` is a live WAL database's quiesced main file (read through a kept handle,
/// see [`held_open`](crate::storage::held_open)), and the content's header bytes 18–19 say
/// "rollback journal" (the copy is then a self-contained database). `out` is removed on failure.
pub(crate) fn copy_compressing(
    from: &Path,
    out: &Path,
    mark_rollback: bool,
    obs: &dyn Observer,
) -> Result<Pass> {
    let pass = compressing_pass(from, out, mark_rollback, obs);
    if pass.is_err() {
        let _ = std::fs::remove_file(out);
    }
    pass
}

fn compressing_pass(
    from_path: &Path,
    out: &Path,
    mark_rollback: bool,
    obs: &dyn Observer,
) -> Result<Pass> {
    let full = |at: &Path, e: std::io::Error| {
        crate::storage::db::promote_disk_full(at, Error::io("writing", at)(e))
    };
    let (mut from, total) = crate::storage::held_open::reader_if(from_path, mark_rollback)?;
    let mut enc = encoder(out)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = fill(&mut from, &mut buf).map_err(Error::io("reading", from_path))?;
        if n == 0 {
            break;
        }
        if done == 0 && mark_rollback && n >= 100 {
            buf[18..20].copy_from_slice(&[1, 1]);
        }
        h.update(&buf[..n]);
        enc.write_all(&buf[..n]).map_err(|e| full(out, e))?;
        done += n as u64;
        crate::progress::bytes_or_cancel(obs, "copying", done, total)?;
        crate::storage::failpoint::hit("backup:mid_compress")?;
    }
    crate::storage::failpoint::hit("backup:mid_copy")?;
    let (writer, bytes, sha) = enc.finish().map_err(|e| full(out, e))?.finish();
    let file = writer.finish().map_err(|e| full(out, e))?;
    crate::storage::timing::step("backup: fsync compressed", || {
        file.sync_all().map_err(Error::io("fsync", out))
    })?;
    Ok(Pass {
        size: done,
        content_sha: h.finish_hex(),
        stored: Stored {
            format: "zstd".into(),
            bytes,
            sha256: sha,
        },
    })
}

/// A multi-threaded zstd encoder into the new file `out`, hashing the stored bytes.
fn encoder(out: &Path) -> Result<zstd::stream::Encoder<'static, Hashing<FlushBehind>>> {
    let full = |e: std::io::Error| {
        crate::storage::db::promote_disk_full(out, Error::io("compressing into", out)(e))
    };
    let file = fs::create_new(out)?;
    let mut enc =
        zstd::stream::Encoder::new(Hashing::new(FlushBehind::new(file).map_err(full)?), LEVEL)
            .map_err(full)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    enc.multithread(threads).map_err(full)?;
    enc.include_checksum(true).map_err(full)?;
    Ok(enc)
}

/// Reads until `buf` is full or the file ends: every chunk but the last is whole (the header
/// mark above needs the first 100 bytes in the first chunk).
fn fill(from: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match from.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The file a read-back compares the content with, byte for byte: the pages SQLite's checks ran on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Against<'a> {
    pub path: &'a Path,
    /// The content is a copy of `path` marked as a rollback-journal database (header bytes 18–19,
    /// see [`copy_compressing`]): those two bytes are compared as marked.
    pub marked: bool,
}

/// Reads the compressed file of a pass back: its stored bytes must hash as written, and it must
/// decompress to the content hashed on the way and, byte for byte, to `against` (the file
/// SQLite's checks ran on). Progress is reported as `verifying`.
pub(crate) fn check_pass(
    out: &Path,
    against: Option<Against<'_>>,
    pass: &Pass,
    obs: &dyn Observer,
) -> Result<()> {
    let (stored, content) = read_back_against(out, against, pass.size, obs)?;
    if stored != pass.stored.sha256 || content != pass.content_sha {
        return Err(Error::BackupVerify {
            path: out.to_path_buf(),
            detail: format!(
                "the compressed copy does not read back as written (stored sha256 {stored} vs {}, content {content} vs {})",
                pass.stored.sha256, pass.content_sha
            ),
        });
    }
    Ok(())
}

/// The sha256 of a compressed file's stored bytes and of the content it decompresses to, handing
/// each chunk of content to `sink` with its offset.
pub(crate) fn read_back_with(
    path: &Path,
    sink: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<(String, String)> {
    let file = File::open(path).map_err(Error::io("reading", path))?;
    let mut stored = HashingReader {
        inner: file,
        h: Sha256::new(),
    };
    let mut at = 0u64;
    let content = decode_hashed(path, &mut stored, &mut |chunk| {
        sink(at, chunk)?;
        at += chunk.len() as u64;
        Ok(())
    })?;
    // Whatever follows the frame is read too, so the stored sha256 covers the whole file.
    std::io::copy(&mut stored, &mut std::io::sink()).map_err(Error::io("reading", path))?;
    Ok((stored.h.finish_hex(), content))
}

/// [`read_back_with`], also comparing the content with `against` byte for byte (which must end
/// where the content ends); `total`: the content's size, for progress.
fn read_back_against(
    path: &Path,
    reference: Option<Against<'_>>,
    total: u64,
    obs: &dyn Observer,
) -> Result<(String, String)> {
    let marked = reference.is_some_and(|r| r.marked) && total >= 100;
    let mut against = reference
        .map(|r| crate::storage::held_open::reader_if(r.path, r.marked).map(|(f, _)| (f, r.path)))
        .transpose()?;
    let differs = || Error::BackupVerify {
        path: path.to_path_buf(),
        detail: "it does not decompress to the snapshot that passed its checks".into(),
    };
    // The reference ending early is a difference; failing to read it is an I/O error of its own.
    let read_error = |e: std::io::Error, at: &Path| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => differs(),
        _ => Error::io("reading", at)(e),
    };
    let mut theirs = vec![0u8; 1 << 20];
    let read = read_back_with(path, &mut |at, chunk| {
        if let Some((f, p)) = against.as_mut() {
            let mine = &mut theirs[..chunk.len()];
            f.read_exact(mine).map_err(|e| read_error(e, p))?;
            if marked {
                mark_rollback_within(mine, at);
            }
            if mine != chunk {
                return Err(differs());
            }
        }
        let done = at + chunk.len() as u64;
        obs.bytes(&Progress {
            stage: "verifying",
            done,
            total: total.max(done),
        });
        Ok(())
    })?;
    if let Some((f, p)) = against.as_mut() {
        if f.read(&mut theirs[..1]).map_err(|e| read_error(e, p))? != 0 {
            return Err(differs());
        }
    }
    Ok(read)
}

/// Header bytes 18–19 as a rollback-journal database has them, where they fall in `chunk` (read at
/// offset `at` of the file).
fn mark_rollback_within(chunk: &mut [u8], at: u64) {
    for (i, b) in chunk.iter_mut().enumerate() {
        match at + i as u64 {
            18 | 19 => *b = 1,
            20.. => break,
            _ => {}
        }
    }
}

/// Decompresses `path` into the new file `out` (created here), returning the content's sha256
/// computed on the way: one read gives the plain copy and its hash.
pub(crate) fn decompress_hashed(path: &Path, out: &Path, progress: &dyn Fn(u64)) -> Result<String> {
    let file = File::open(path).map_err(Error::io("reading", path))?;
    // A stream may decompress to far more than its size (a few KiB to gigabytes): what it writes
    // is bounded by the free space, less a reserve, checked before the first byte.
    let dir = out.parent().unwrap_or(Path::new("."));
    let available = fs::available_space(dir)?;
    // What it may write: the free space less a reserve (64 MiB, or a tenth of a small disk's).
    let reserve = DECOMPRESS_RESERVE.min(available / 10);
    let limit = available - reserve;
    let mut to = fs::create_new(out)?;
    let mut done = 0u64;
    let sha = decode_hashed(path, file, &mut |chunk| {
        if done + chunk.len() as u64 > limit {
            return Err(Error::NoSpace {
                dir: dir.to_path_buf(),
                needed: done + chunk.len() as u64 + reserve,
                available,
                what: format!(
                    "decompressing {}: it was stopped there, the partial copy removed",
                    path.display()
                ),
            });
        }
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

/// Free space a decompression leaves on its disk (a tenth of it on a disk with less than 640 MiB free).
const DECOMPRESS_RESERVE: u64 = 64 << 20;

/// Whether the file starts with a zstd frame whose header says it ends with a checksum of its
/// content (ours do; a stream from elsewhere may not, or may start with a skippable frame).
pub(crate) fn has_frame_checksum(path: &Path) -> bool {
    let mut head = [0u8; 5];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head));
    read.is_ok() && head[..4] == [0x28, 0xB5, 0x2F, 0xFD] && head[4] & 0b100 != 0
}

/// Decodes the zstd stream read from `from` (the file at `path`), handing each chunk of content
/// to `sink`; returns the content's sha256, computed on a second thread meanwhile. A stream that
/// does not decode is a failed verification of `path`.
fn decode_hashed(
    path: &Path,
    from: impl Read,
    sink: &mut dyn FnMut(&[u8]) -> Result<()>,
) -> Result<String> {
    let mut dec = zstd::stream::Decoder::new(from).map_err(Error::io("reading", path))?;
    let mut h = crate::storage::hash::Behind::new()?;
    loop {
        let mut buf = h.buffer(1 << 20);
        let n = dec.read(&mut buf).map_err(|e| Error::BackupVerify {
            path: path.to_path_buf(),
            detail: format!("its zstd stream does not decompress: {e}"),
        })?;
        if n == 0 {
            return h.finish();
        }
        sink(&buf[..n])?;
        h.hash(buf, n)?;
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
/// A compressed one is decompressed into `scratch` (a directory of the data dir's: never beside a
/// file from elsewhere).
pub(crate) fn plain(path: &Path, scratch: &Path) -> Result<Plain> {
    if !is_compressed(path) {
        return Ok(Plain {
            path: path.to_path_buf(),
            sha256: None,
            temp: false,
        });
    }
    std::fs::create_dir_all(scratch).map_err(Error::io("creating", scratch))?;
    let tmp = fs::temp_beside(&scratch.join("source.sqlite3"));
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
        /// Any bytes go through one pass into a plain copy and a compressed file that reads back
        /// to exactly them; the stored sha256 is the file's.
        #[test]
        fn a_compressing_pass_then_read_back_and_decompress_is_the_identity(data in prop::collection::vec(any::<u8>(), 0..3_000_000)) {
            let d = tempfile::tempdir().unwrap();
            let (src, copy, z, back) = (d.path().join("a"), d.path().join("c"), d.path().join("a.zst"), d.path().join("b"));
            std::fs::write(&src, &data).unwrap();
            let pass = copy_compressing(&src, &z, false, &crate::Quiet).unwrap();
            std::fs::write(&copy, &data).unwrap();
            let sha = crate::storage::hash::sha256_hex(&data);
            prop_assert_eq!(&pass.content_sha, &sha);
            prop_assert_eq!(pass.size, data.len() as u64);
            prop_assert_eq!(pass.stored.bytes, std::fs::metadata(&z).unwrap().len());
            prop_assert_eq!(&pass.stored.sha256, &crate::storage::hash::file(&z).unwrap());
            check_pass(&z, plain(&copy), &pass, &crate::Quiet).unwrap();
            check_pass(&z, None, &pass, &crate::Quiet).unwrap();
            prop_assert_eq!(decompress_hashed(&z, &back, &|_| {}).unwrap(), sha);
            prop_assert_eq!(std::fs::read(&back).unwrap(), data);
        }
    }

    fn plain(p: &Path) -> Option<Against<'_>> {
        Some(Against {
            path: p,
            marked: false,
        })
    }

    #[test]
    fn a_read_back_against_the_unmarked_source_compares_its_header_as_marked() {
        let d = tempfile::tempdir().unwrap();
        let (src, z) = (d.path().join("a"), d.path().join("a.zst"));
        let mut data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 7) as u8).collect();
        data[18..20].copy_from_slice(&[2, 2]);
        std::fs::write(&src, &data).unwrap();
        let pass = copy_compressing(&src, &z, true, &crate::Quiet).unwrap();
        let source = Some(Against {
            path: &src,
            marked: true,
        });
        check_pass(&z, source, &pass, &crate::Quiet).unwrap();
        // Unmarked, the header differs; and a byte changed in the source after the copy is seen.
        assert!(check_pass(&z, plain(&src), &pass, &crate::Quiet).is_err());
        data[1_500_000] ^= 1;
        std::fs::write(&src, &data).unwrap();
        let e = check_pass(&z, source, &pass, &crate::Quiet).unwrap_err();
        assert!(
            e.to_string()
                .contains("does not decompress to the snapshot"),
            "{e}"
        );
        let mut chunk = [9u8; 8];
        mark_rollback_within(&mut chunk, 15);
        assert_eq!(chunk, [9, 9, 9, 1, 1, 9, 9, 9]);
        let mut chunk = [9u8; 4];
        mark_rollback_within(&mut chunk, 19);
        assert_eq!(chunk, [1, 9, 9, 9]);
    }

    #[test]
    fn a_damaged_stream_a_changed_plain_copy_or_a_wrong_hash_fails_the_read_back() {
        let d = tempfile::tempdir().unwrap();
        let (src, copy, z) = (
            d.path().join("a"),
            d.path().join("c"),
            d.path().join("a.zst"),
        );
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 13) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let pass = copy_compressing(&src, &z, true, &crate::Quiet).unwrap();
        // The copy of a WAL database's main file is marked as a rollback-journal database.
        let mut marked = data.clone();
        marked[18..20].copy_from_slice(&[1, 1]);
        std::fs::write(&copy, &marked).unwrap();
        assert_eq!(pass.content_sha, crate::storage::hash::sha256_hex(&marked));
        check_pass(&z, plain(&copy), &pass, &crate::Quiet).unwrap();

        let wrong = Pass {
            content_sha: "0".repeat(64),
            stored: pass.stored.clone(),
            ..pass
        };
        let e = check_pass(&z, plain(&copy), &wrong, &crate::Quiet).unwrap_err();
        assert!(e.to_string().contains("does not read back"), "{e}");
        let e = check_pass(&z, None, &wrong, &crate::Quiet).unwrap_err();
        assert!(e.to_string().contains("does not read back"), "{e}");
        let pass = Pass {
            content_sha: crate::storage::hash::sha256_hex(&marked),
            ..wrong
        };

        let mut changed = marked.clone();
        changed[2_500_000] ^= 1;
        std::fs::write(&copy, &changed).unwrap();
        let e = check_pass(&z, plain(&copy), &pass, &crate::Quiet).unwrap_err();
        assert!(
            e.to_string()
                .contains("does not decompress to the snapshot"),
            "{e}"
        );
        std::fs::write(&copy, &marked[..marked.len() - 1]).unwrap();
        assert!(
            check_pass(&z, plain(&copy), &pass, &crate::Quiet).is_err(),
            "shorter"
        );
        let mut longer = marked.clone();
        longer.push(0);
        std::fs::write(&copy, &longer).unwrap();
        assert!(
            check_pass(&z, plain(&copy), &pass, &crate::Quiet).is_err(),
            "longer"
        );
        std::fs::write(&copy, &marked).unwrap();

        let mut bytes = std::fs::read(&z).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&z, &bytes).unwrap();
        assert!(check_pass(&z, plain(&copy), &pass, &crate::Quiet).is_err());
        assert!(check_pass(&z, None, &pass, &crate::Quiet).is_err());
        let back = read_back_against(&z, None, 0, &crate::Quiet);
        assert!(back.is_err() || back.unwrap().1 != pass.content_sha);
        let back = d.path().join("b");
        assert!(decompress_hashed(&z, &back, &|_| {}).map_or(true, |s| s != pass.content_sha));
    }

    #[test]
    fn a_failed_pass_leaves_no_compressed_file() {
        let d = tempfile::tempdir().unwrap();
        let z = d.path().join("a.zst");
        // A directory opens but cannot be read: the pass fails after it created `z`.
        let e = copy_compressing(d.path(), &z, false, &crate::Quiet).unwrap_err();
        assert!(e.to_string().contains("reading"), "{e}");
        assert!(!z.exists());
    }
}
