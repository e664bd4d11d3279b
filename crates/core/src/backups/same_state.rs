//! A verified backup that already holds exactly the live database: a restore then takes no new
//! pre-restore backup (the existing one is what `undo` brings back).
//!
//! "Exactly" means byte for byte: the backup's content (decompressed) equals the live main file
//! except the header fields a copy rewrites without changing any row (see [`COUNTERS`]), and it
//! still hashes to what its manifest records (so a later restore of it verifies). Only the main
//! file is compared, so a live database with frames in its WAL never matches in a plan (which does
//! not checkpoint); under the lock the WAL is checkpointed first.

use std::io::Read;
use std::path::Path;

use crate::backups::record::BackupRecord;
use crate::error::{Error, Result};
use crate::workspace::env::EnvTarget;

/// Header bytes a copy writes differently from its source although every page holds the same:
/// the read/write versions (18–19: WAL or rollback journal), the file change counter (24–27), the
/// schema cookie (40–43), the version-valid-for number (92–95) and the number of the SQLite that
/// last wrote the file (96–99). SQLite's backup API and a snapshot's `journal_mode=DELETE` rewrite
/// them.
const COUNTERS: [std::ops::Range<usize>; 5] = [18..20, 24..28, 40..44, 92..96, 96..100];

/// SQLite's lock-byte page starts at this offset (1 GiB) in every file that reaches it: SQLite never
/// writes it, so two copies of one database may hold different bytes there.
const LOCK_BYTE_PAGE: u64 = 0x4000_0000;

/// For a plan: the newest backup of `target` that holds exactly the live database (`counts`: its
/// row counts, which a candidate's manifest must show), if any. Candidates of another size or other
/// counts are never read.
///
/// `relied_on`: the backup the shown plan relied on, when this is the plan made again under the
/// lock. It is kept without a second byte comparison while its size and counts still match: the
/// comparison that decides is made just before the copy ([`holding_now`]), which takes a new
/// backup if it no longer holds.
pub(crate) fn holding(
    target: &EnvTarget,
    counts: &std::collections::BTreeMap<String, u64>,
    relied_on: Option<&Path>,
) -> Result<Option<BackupRecord>> {
    let wal = crate::storage::db::sidecar(&target.path, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Ok(None);
    }
    if let Some(p) = relied_on {
        if let Some(r) = candidates(target, Some(counts), Some(p))?.pop() {
            return Ok(Some(r));
        }
    }
    find(target, Some(counts), None)
}

/// Under the env's lock, before the change: whether `expected` still holds exactly the database
/// (the WAL checkpointed into the main file first). The caller proves nothing was committed
/// between this comparison and its change (restore: a `Watch` marked before it).
pub(crate) fn holding_now(
    target: &EnvTarget,
    expected: &Path,
    busy_timeout: std::time::Duration,
) -> Result<Option<BackupRecord>> {
    if !crate::backups::snapshot::quiesced(&target.path, busy_timeout) {
        return Ok(None);
    }
    find(target, None, Some(expected))
}

fn find(
    target: &EnvTarget,
    counts: Option<&std::collections::BTreeMap<String, u64>>,
    only: Option<&Path>,
) -> Result<Option<BackupRecord>> {
    let mut candidates = candidates(target, counts, only)?;
    candidates.reverse();
    for r in candidates {
        match same_content(&target.path, &r) {
            Ok(true) => return Ok(Some(r)),
            Ok(false) => {}
            Err(e) => tracing::info!("{} cannot be compared: {e}", r.path.display()),
        }
    }
    Ok(None)
}

/// The env's backups of the live file's size (and `counts`, and path `only`, when given), oldest
/// first; none when the live file is missing.
fn candidates(
    target: &EnvTarget,
    counts: Option<&std::collections::BTreeMap<String, u64>>,
    only: Option<&Path>,
) -> Result<Vec<BackupRecord>> {
    let size = match std::fs::metadata(&target.path) {
        Ok(m) if m.is_file() => m.len(),
        _ => return Ok(vec![]),
    };
    Ok(crate::backups::record::list(target)?
        .into_iter()
        .filter(|r| r.size_bytes == size && r.env == target.name)
        .filter(|r| counts.is_none_or(|c| &r.row_counts == c))
        .filter(|r| only.is_none_or(|p| r.path == p))
        .collect())
}

/// Whether `r`'s file holds what its manifest records and that content is the live file's (read
/// through a kept handle: see [`held_open`](crate::storage::held_open)).
fn same_content(live: &Path, r: &BackupRecord) -> Result<bool> {
    let mut from = crate::storage::held_open::reader(live)?;
    let lock_page = LOCK_BYTE_PAGE..LOCK_BYTE_PAGE + header_page_size(&mut from);
    from.seek_to(0);
    let mut mine = vec![0u8; 1 << 20];
    let mut same = true;
    let mut compare = |at: u64, chunk: &[u8]| -> Result<()> {
        let mine = &mut mine[..chunk.len()];
        same = same
            && from.read_exact(mine).is_ok()
            && equal_but_lock_page(at, mine, chunk, &lock_page);
        match same {
            true => Ok(()),
            // Stops reading at the first difference.
            false => Err(Error::Internal("differs".into())),
        }
    };
    let (stored, content) = match &r.stored {
        Some(_) => match crate::backups::stored::read_back_with(&r.path, &mut compare) {
            Err(_) if !same => return Ok(false),
            read => read?,
        },
        None => {
            let sha = plain_with(&r.path, &mut compare);
            match sha {
                Err(_) if !same => return Ok(false),
                sha => {
                    let sha = sha?;
                    (sha.clone(), sha)
                }
            }
        }
    };
    let at_end = from.read(&mut [0u8; 1]).is_ok_and(|n| n == 0);
    let stored_ok = r.stored.as_ref().is_none_or(|s| s.sha256 == stored);
    Ok(same && at_end && stored_ok && content == r.sha256)
}

/// Whether `a` (the live file, read through a kept handle) is exactly the first `len` bytes of `b` (the database's pages: `b` may have bytes
/// past its last page, which SQLite ignores and a copy drops), the header's [`COUNTERS`] and the
/// lock-byte page aside. Restore proves with it that the live file is, page for page, the staged
/// copy that passed its checks.
pub(crate) fn same_pages(a: &Path, b: &Path, len: u64, page_size: u64) -> Result<bool> {
    same_pages_but(a, b, len, LOCK_BYTE_PAGE..LOCK_BYTE_PAGE + page_size)
}

/// [`same_pages`], `lock_page` aside.
fn same_pages_but(a: &Path, b: &Path, len: u64, lock_page: std::ops::Range<u64>) -> Result<bool> {
    let mut fa = crate::storage::held_open::reader(a)?;
    let len_a = fa.len();
    let mut fb = std::fs::File::open(b).map_err(Error::io("reading", b))?;
    let len_b = fb.metadata().map_err(Error::io("reading", b))?.len();
    if len_a != len || len_b < len {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut at = 0u64;
    while at < len {
        // A chunk never straddles the lock-byte page's edges.
        let n = (len - at).min(x.len() as u64);
        let n = match at {
            at if at < lock_page.start => n.min(lock_page.start - at),
            at if at < lock_page.end => n.min(lock_page.end - at),
            _ => n,
        } as usize;
        fa.read_exact(&mut x[..n])
            .map_err(Error::io("reading", a))?;
        fb.read_exact(&mut y[..n])
            .map_err(Error::io("reading", b))?;
        if !lock_page.contains(&at) && !equal_but_counters(at, &x[..n], &y[..n]) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

/// Reads a plain file, hashing it and handing each chunk to `sink` with its offset.
fn plain_with(path: &Path, sink: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(Error::io("reading", path))?;
    let mut h = crate::storage::hash::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(Error::io("reading", path))?;
        if n == 0 {
            return Ok(h.finish_hex());
        }
        h.update(&buf[..n]);
        sink(at, &buf[..n])?;
        at += n as u64;
    }
}

/// The page size a database header states (bytes 16–17; 1 means 65536), for the lock-byte page's
/// extent; SQLite's default when the header cannot be read (the comparison then fails anyway).
fn header_page_size(f: &mut crate::storage::held_open::At) -> u64 {
    let mut b = [0u8; 2];
    f.seek_to(16);
    let read = f.read_exact(&mut b);
    match (read, u16::from_be_bytes(b)) {
        (Ok(()), 1) => 65536,
        (Ok(()), n) if n >= 512 => u64::from(n),
        _ => 4096,
    }
}

/// [`equal_but_counters`], the bytes of `lock_page` (which SQLite never writes) aside.
fn equal_but_lock_page(at: u64, a: &[u8], b: &[u8], lock_page: &std::ops::Range<u64>) -> bool {
    let end = at + a.len() as u64;
    if a.len() != b.len() || end <= lock_page.start || at >= lock_page.end {
        return equal_but_counters(at, a, b);
    }
    let from = lock_page.start.saturating_sub(at) as usize;
    let to = (lock_page.end.min(end) - at) as usize;
    equal_but_counters(at, &a[..from], &b[..from]) && a[to..] == b[to..]
}

/// `a == b` for the chunk at offset `at`, the header's [`COUNTERS`] aside.
fn equal_but_counters(at: u64, a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if at >= 100 {
        return a == b;
    }
    a.iter().zip(b).enumerate().all(|(i, (x, y))| {
        let off = at as usize + i;
        x == y || COUNTERS.iter().any(|r| r.contains(&off))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_pages_sees_any_byte_but_the_counters() {
        let dir = tempfile::tempdir().unwrap();
        let a: Vec<u8> = (0..(3 << 20) + 77u32).map(|i| (i * 7) as u8).collect();
        let pa = dir.path().join("a");
        let pb = dir.path().join("b");
        std::fs::write(&pa, &a).unwrap();
        let with = |b: &[u8]| {
            std::fs::write(&pb, b).unwrap();
            same_pages(&pa, &pb, a.len() as u64, 4096).unwrap()
        };
        assert!(with(&a));
        for off in [
            0usize,
            17,
            28,
            100,
            4096,
            1 << 20,
            (2 << 20) + 5,
            a.len() - 1,
        ] {
            let mut b = a.clone();
            b[off] ^= 1;
            assert!(!with(&b), "a byte changed at {off}");
        }
        for off in [18usize, 19, 24, 40, 92, 95, 96, 99] {
            let mut b = a.clone();
            b[off] ^= 1;
            assert!(with(&b), "the counter at {off}");
        }
        assert!(!with(&a[..a.len() - 1]), "shorter");
        let mut longer = a.clone();
        longer.extend_from_slice(&[1, 2, 3]);
        assert!(with(&longer), "bytes past the last page do not count");
        std::fs::write(&pb, &a).unwrap();
        let shorter = a.len() as u64 - 1;
        assert!(
            !same_pages(&pb, &pa, shorter, 4096).unwrap(),
            "a longer live file"
        );
    }

    #[test]
    fn same_pages_skips_the_lock_byte_page_only() {
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
        // At 3 MiB instead of 1 GiB, so that the test reads little.
        let (page, lock) = (4096u64, 3u64 << 20);
        let len = lock + 3 * page;
        let write = |p: &Path, flips: &[u64]| {
            use std::io::{Seek, Write};
            let mut f = std::fs::File::create(p).unwrap();
            f.set_len(len).unwrap();
            for at in flips {
                f.seek(std::io::SeekFrom::Start(*at)).unwrap();
                f.write_all(&[7]).unwrap();
            }
        };
        write(&pa, &[]);
        for (flip, same) in [
            (lock, true),
            (lock + page - 1, true),
            (lock - 1, false),
            (lock + page, false),
            (len - 1, false),
        ] {
            write(&pb, &[flip]);
            let got = same_pages_but(&pa, &pb, len, lock..lock + page).unwrap();
            assert_eq!(got, same, "{flip}");
        }
    }

    #[test]
    fn only_the_counters_in_the_header_may_differ() {
        let a: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        for off in [18usize, 19, 24, 27, 40, 43, 92, 95, 96, 99] {
            let mut b = a.clone();
            b[off] ^= 0xff;
            assert!(equal_but_counters(0, &a, &b), "{off}");
        }
        for off in [0usize, 17, 20, 23, 28, 39, 44, 91, 100, 299] {
            let mut b = a.clone();
            b[off] ^= 0xff;
            assert!(!equal_but_counters(0, &a, &b), "{off}");
        }
        let mut b = a.clone();
        b[18] ^= 1;
        assert!(
            !equal_but_counters(4096, &a, &b),
            "past the header every byte counts"
        );
        assert!(!equal_but_counters(0, &a, &a[..299]));
    }
}
