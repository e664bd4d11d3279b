//! Case 2: disk full — a small tmpfs as the data dir filled while the pre-action backup or the
//! reset itself runs, `PRAGMA max_page_count`, and `ulimit -f` (EFBIG, SIGXFSZ ignored).

use std::io::Write;
use std::path::Path;

use super::*;

const RESET: [&str; 10] = [
    "reset",
    "dev",
    "--force",
    "--with-sample-data",
    "--jobs",
    "3000",
    "--rng-seed",
    "9",
    "--as-of",
    AS_OF,
];

pub fn cases() -> Vec<Case> {
    let template = Shared::new(|| seeded_template(2000));
    let (t1, t2, t3, t4, t5, t6, t7, t8, t9) = (
        template.clone(),
        template.clone(),
        template.clone(),
        template.clone(),
        template.clone(),
        template.clone(),
        template.clone(),
        template.clone(),
        template,
    );
    vec![
        Case::new("full_during_backup", move |r| {
            tmpfs_case(
                r,
                &t1,
                "disk full during the pre-action backup",
                "backup:before_copy",
            )
        }),
        Case::new("full_during_compression", move |r| {
            tmpfs_case(
                r,
                &t5,
                "disk full while the pre-action backup is compressed",
                "backup:mid_compress",
            )
        }),
        Case::new("full_during_reset", move |r| {
            tmpfs_case(
                r,
                &t2,
                "disk full during the reset itself",
                "reset:after_drop",
            )
        }),
        Case::new("max_page_count", move |r| page_count_case(r, t3.get())),
        Case::new("full_during_export", move |r| export_case(r, t6.get())),
        Case::new("writeback_fails_during_export", move |r| {
            writeback_case(r, t7.get())
        }),
        Case::new("ulimit_f", move |r| ulimit_case(r, t4.get())),
        Case::new("no_room_for_the_audit_line", move |r| {
            audit_room_case(r, &t8)
        }),
        Case::new("no_room_to_verify", move |r| verify_room_case(r, &t9)),
        Case::new("full_while_a_new_database_is_built", create_case),
    ]
}

/// Fills the filesystem holding `dir` (leaves a few KiB); returns the ballast file.
fn fill(dir: &Path) -> std::path::PathBuf {
    let ballast = dir.join("ballast.bin");
    let mut f = std::fs::File::create(&ballast).unwrap();
    let block = vec![0xA5u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let small = vec![0u8; 4096];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
    ballast
}

/// The template's fingerprint and the bytes of its files (what a tmpfs must hold of it).
fn fingerprint_and_size(dir: &Path) -> (Fp, u64) {
    let size = files_under(dir)
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    (fingerprint(&db(dir)).unwrap(), size)
}

fn tmpfs_case(r: &mut Report, template: &Shared<tempfile::TempDir>, name: &str, point: &str) {
    if !is_root() {
        r.not_run(name, "needs root to mount a tmpfs");
        return;
    }
    let template = template.get();
    let (old, size) = fingerprint_and_size(template.path());
    let mut t = Tally::default();
    for _ in 0..runs(5) {
        // Room for the preflight (2x the database), not for what comes after the ballast.
        let Some(fs) = Tmpfs::new(size * 3 / 1024 + 512) else {
            r.not_run(name, "mount -t tmpfs failed");
            return;
        };
        copy_tree(template.path(), fs.dir.path());
        let child = cli(fs.dir.path(), &RESET)
            .env("PIPELINE_DB_FAILPOINT", format!("{point}=sleep:1500"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        let ballast = fill(fs.dir.path());
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        std::fs::remove_file(&ballast).unwrap();
        if out.status.success() {
            t.fail("reset succeeded on a full disk");
        } else if !(err.contains("disk full") || err.contains("No space left"))
            || !err.contains(&fs.dir.path().display().to_string())
        {
            t.fail(format!(
                "message does not name the directory and the problem: {err}"
            ));
        }
        if point.starts_with("backup:") {
            let backups: Vec<_> = files_under(&fs.dir.path().join("backups"))
                .into_iter()
                .filter(|p| p.to_string_lossy().contains("pre-reset"))
                .collect();
            if !backups.is_empty() {
                t.fail(format!(
                    "a pre-reset backup appeared although the copy failed: {backups:?}"
                ));
            }
        }
        let zero: Vec<_> = files_under(fs.dir.path())
            .into_iter()
            .filter(|p| {
                std::fs::metadata(p).map(|m| m.len() == 0).unwrap_or(false)
                    && !p.to_string_lossy().ends_with(".lock")
                    && !p.to_string_lossy().ends_with("-wal")
            })
            .collect();
        if !zero.is_empty() {
            t.fail(format!("0-byte leftovers: {zero:?}"));
        }
        judge(&mut t, fs.dir.path(), &old, &old, true);
    }
    r.add(name, t);
}

/// A data dir already full when an action starts: there is no room for its audit line, so the
/// action is refused before it starts (review 27: exports went on, exit 0, their lines cut short
/// by the full disk and then skipped as unreadable) — the database and the log as they were.
fn audit_room_case(r: &mut Report, template: &Shared<tempfile::TempDir>) {
    let name = "no room for the audit line";
    if !is_root() {
        r.not_run(name, "needs root to mount a tmpfs");
        return;
    }
    let template = template.get();
    let (old, size) = fingerprint_and_size(template.path());
    let mut t = Tally::default();
    for args in [
        &["export", "dev", "jobs", "--format", "csv"][..],
        &["config", "set", "busy-timeout", "100"][..],
    ] {
        let Some(fs) = Tmpfs::new(size * 2 / 1024 + 512) else {
            r.not_run(name, "mount -t tmpfs failed");
            return;
        };
        copy_tree(template.path(), fs.dir.path());
        let audit = fs.dir.path().join("audit.jsonl");
        let log_before = std::fs::read(&audit).unwrap_or_default();
        let ballast = fill(fs.dir.path());
        let out = cli(fs.dir.path(), args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&out);
        std::fs::remove_file(&ballast).unwrap();
        if out.status.code() != Some(3) || !err.contains("room for the audit line") {
            t.fail(format!(
                "{args:?} on a full data dir: {:?} {err}",
                out.status.code()
            ));
        }
        if std::fs::read(&audit).unwrap_or_default() != log_before {
            t.fail(format!("{args:?}: the audit log changed"));
        }
        judge(&mut t, fs.dir.path(), &old, &old, false);
    }
    r.add(name, t);
}

/// `backups verify` on a full data dir cannot decompress the backup to check it: it says it did not
/// check it, and the backup's state stays (review 27: a good backup was recorded FAILED, and
/// `check` then said "no verified backup yet").
fn verify_room_case(r: &mut Report, template: &Shared<tempfile::TempDir>) {
    let name = "no room to verify a backup";
    if !is_root() {
        r.not_run(name, "needs root to mount a tmpfs");
        return;
    }
    let template = template.get();
    let (old, size) = fingerprint_and_size(template.path());
    let mut t = Tally::default();
    let Some(fs) = Tmpfs::new(size * 4 / 1024 + 512) else {
        r.not_run(name, "mount -t tmpfs failed");
        return;
    };
    copy_tree(template.path(), fs.dir.path());
    for _ in 0..2 {
        let made = cli(fs.dir.path(), &["backup", "dev"]).output().unwrap();
        if !made.status.success() {
            t.fail(format!("backup: {}", stderr(&made)));
        }
    }
    let backups = |dir: &Path| files_under(&dir.join("backups/dev")).len();
    let before = backups(fs.dir.path());
    let ballast = fill(fs.dir.path());
    let out = cli(fs.dir.path(), &["backups", "verify", "--all"])
        .output()
        .unwrap();
    // Review 28: prune took the backup it could not check for a bad one and deleted the only
    // verified backup of the data.
    let prune = cli(
        fs.dir.path(),
        &["backups", "prune", "dev", "--keep", "1", "--force"],
    )
    .output()
    .unwrap();
    // Review 29: refusing instead left a full disk full; the backups it cannot check are kept
    // (any may be the newest verified one), the others go by the policy.
    let said = String::from_utf8_lossy(&prune.stdout).into_owned();
    if prune.status.code() != Some(0)
        || backups(fs.dir.path()) != before
        || !said.contains("not checked now")
    {
        t.fail(format!(
            "prune on a full disk: {:?} {said}{}; {} of {before} backup files left",
            prune.status.code(),
            stderr(&prune),
            backups(fs.dir.path())
        ));
    }
    std::fs::remove_file(&ballast).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !text.contains("NOT CHECKED") || text.contains("FAILED") {
        t.fail(format!("verify on a full disk: {text}{}", stderr(&out)));
    }
    let list = cli(fs.dir.path(), &["backups", "list", "dev"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    if list.contains("FAILED") || !list.contains("verified") {
        t.fail(format!("the backup's state changed: {list}"));
    }
    judge(&mut t, fs.dir.path(), &old, &old, false);
    r.add(name, t);
}

/// A new database built on a disk that fills while its log is written into it (review 29: the
/// failed checkpoint was silent at close, and the file was placed without its log — malformed):
/// nothing is placed, and the message says the disk is full.
fn create_case(r: &mut Report) {
    let name = "disk full while a new database is built";
    if !is_root() {
        r.not_run(name, "needs root to mount a tmpfs");
        return;
    }
    let mut t = Tally::default();
    let Some(fs) = Tmpfs::new(40 * 1024) else {
        r.not_run(name, "mount -t tmpfs failed");
        return;
    };
    t.runs += 1;
    let out = cli(
        fs.dir.path(),
        &[
            "reset",
            "dev",
            "--force",
            "--with-sample-data",
            "--jobs",
            "60000",
            "--as-of",
            AS_OF,
        ],
    )
    .output()
    .unwrap();
    let err = stderr(&out);
    let dev = fs.dir.path().join("dev.sqlite3");
    if out.status.success() {
        // Room enough after all: then it must be whole.
        let check = cli(fs.dir.path(), &["check", "dev"]).output().unwrap();
        if !check.status.success() {
            t.fail(format!(
                "placed and not whole: {}",
                String::from_utf8_lossy(&check.stdout)
            ));
        }
    } else if dev.exists() || !err.contains("disk full") {
        t.fail(format!("exists: {}; {err}", dev.exists()));
    }
    r.add(name, t);
}

/// `export dev SOURCE --format csv --output DEST` on `data`: its output and its stderr.
fn export_to(data: &Path, source: &[&str], dest: &Path) -> (std::process::Output, String) {
    let mut args = vec!["export", "dev"];
    args.extend_from_slice(source);
    args.extend(["--format", "csv", "--output"]);
    let out = cli(data, &args)
        .arg(dest)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = stderr(&out);
    (out, err)
}

/// An export into a small tmpfs that fills up while it is written (the file is written on a
/// second thread): a clear disk-full error naming the file, nothing at the final name, no temp
/// left behind, the database unchanged.
fn export_case(r: &mut Report, template: &tempfile::TempDir) {
    let name = "disk full while an export is written";
    if !is_root() {
        r.not_run(name, "needs root to mount a tmpfs");
        return;
    }
    let old = fingerprint(&db(template.path())).unwrap();
    let mut t = Tally::default();
    for room_kib in [64, 256, 640] {
        let d = fresh_copy(template.path());
        let Some(fs) = Tmpfs::new(room_kib) else {
            r.not_run(name, "mount -t tmpfs failed");
            return;
        };
        let dest = fs.dir.path().join("jobs.csv");
        let (out, err) = export_to(d.path(), &["jobs"], &dest);
        if out.status.success() {
            t.fail(format!("an export of {room_kib} KiB room succeeded"));
        } else if !(err.contains("disk full") || err.contains("No space left"))
            || !err.contains(&dest.display().to_string())
            || err.contains("panicked")
        {
            t.fail(format!(
                "message does not name the file and the problem: {err}"
            ));
        }
        let left = files_under(fs.dir.path());
        if !left.is_empty() {
            t.fail(format!("files left in the full directory: {left:?}"));
        }
        judge(&mut t, d.path(), &old, &old, false);
    }
    r.add(name, t);
}

/// A disk that takes writes it cannot keep: ext4 in a sparse 256 MiB file on a 16 MiB tmpfs (a
/// thin-provisioned disk or a share over quota behaves alike). The export's writer thread asks for
/// writeback as it goes; the kernel reports the failed writeback there — after which an fsync of
/// the same file would say nothing —, so the export must fail, never leave a file that lost bytes.
fn writeback_case(r: &mut Report, template: &tempfile::TempDir) {
    let name = "writeback fails while an export is written (a thin disk)";
    if !is_root() {
        r.not_run(name, "needs root to mount");
        return;
    }
    let Some(backing) = Tmpfs::new(16 * 1024) else {
        r.not_run(name, "mount -t tmpfs failed");
        return;
    };
    let img = backing.dir.path().join("disk.img");
    let mnt = tempfile::tempdir().unwrap();
    let sh = |args: &[&str]| {
        Command::new(args[0])
            .args(&args[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let (img_s, mnt_s) = (img.to_str().unwrap(), mnt.path().to_str().unwrap());
    let made = sh(&["truncate", "-s", "256M", img_s])
        && sh(&["mkfs.ext4", "-q", "-F", img_s])
        && sh(&["mount", "-o", "loop", img_s, mnt_s]);
    if !made {
        r.not_run(
            name,
            "no loop-mounted ext4 here (truncate, mkfs.ext4, mount -o loop)",
        );
        return;
    }
    let old = fingerprint(&db(template.path())).unwrap();
    let mut t = Tally::default();
    let d = fresh_copy(template.path());
    let dest = mnt.path().join("rows.csv");
    // ≈ 70 MB of rows from a recursive query: far more than the disk can keep.
    let sql = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 600000) \
               SELECT x, printf('%0100d', x) AS pad FROM n";
    let (out, err) = export_to(d.path(), &["--query", sql], &dest);
    if out.status.success() {
        t.fail("the export reported success on a disk that could not keep its bytes");
    } else if err.contains("panicked") || !err.contains(&dest.display().to_string()) {
        t.fail(format!("message does not name the file: {err}"));
    }
    if dest.exists() {
        t.fail(format!("{} exists after a failed export", dest.display()));
    }
    judge(&mut t, d.path(), &old, &old, false);
    let _ = Command::new("umount").arg("-l").arg(mnt.path()).status();
    drop(backing);
    r.add(name, t);
}

fn page_count_case(r: &mut Report, template: &tempfile::TempDir) {
    let old = fingerprint(&db(template.path())).unwrap();
    let pages: i64 = rusqlite::Connection::open(db(template.path()))
        .unwrap()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let mut t = Tally::default();
    for extra in [0, 5, 20] {
        let d = fresh_copy(template.path());
        let out = cli(d.path(), &RESET)
            .env(
                "PIPELINE_DB_TEST_MAX_PAGE_COUNT",
                (pages + extra).to_string(),
            )
            .output()
            .unwrap();
        let err = stderr(&out);
        if out.status.success() || !err.contains("disk full") {
            t.fail(format!(
                "max_page_count: expected a disk-full error, got {:?}: {err}",
                out.status.code()
            ));
        }
        judge(&mut t, d.path(), &old, &old, true);
    }
    r.add("disk full: PRAGMA max_page_count", t);
}

fn ulimit_case(r: &mut Report, template: &tempfile::TempDir) {
    let old = fingerprint(&db(template.path())).unwrap();
    let size_kib = std::fs::metadata(db(template.path())).unwrap().len() / 1024;
    let mut t = Tally::default();
    for limit in [size_kib / 4, size_kib / 2, size_kib - 8] {
        let d = fresh_copy(template.path());
        let script = format!(
            "trap '' XFSZ; ulimit -f {limit}; exec \"$0\" --data-dir \"$1\" {}",
            RESET.join(" ")
        );
        let out = std::process::Command::new("bash")
            .args([
                "-c",
                &script,
                bin().to_str().unwrap(),
                d.path().to_str().unwrap(),
            ])
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = stderr(&out);
        if out.status.success() {
            t.fail(format!("ulimit -f {limit}: reset succeeded"));
        } else if out.status.code().is_none() || err.contains("panicked") {
            t.fail(format!(
                "ulimit -f {limit}: died instead of a clear error: {:?} {err}",
                out.status
            ));
        }
        judge(&mut t, d.path(), &old, &old, true);
    }
    r.add("disk full: ulimit -f (EFBIG)", t);
}
