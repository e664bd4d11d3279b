//! Helpers shared by the end-to-end tests: a private data dir per test, the real binary, and a
//! fingerprint of a database's contents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sha2::{Digest, Sha256};

/// A private data dir and the `pipeline-db` binary pointed at it.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self, env: &str) -> PathBuf {
        self.data().join(format!("{env}.sqlite3"))
    }

    /// `pipeline-db` with `--data-dir` set, no stdin, a short busy timeout, logs quiet.
    pub fn cmd(&self) -> Command {
        let mut c = command(self.data());
        c.env("RUST_LOG", "warn");
        c.write_stdin(Vec::<u8>::new());
        c
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().expect("run");
        assert!(
            out.status.success(),
            "{args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a command; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd().args(args).output().expect("run");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// dev reset with a small, fixed sample.
    pub fn seeded(&self, env: &str) {
        self.ok(&[
            "reset",
            env,
            "--force",
            "--with-sample-data",
            "--jobs",
            "300",
            "--as-of",
            "2026-06-01",
        ]);
    }
}

/// The `pipeline-db` binary built for this test run.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pipeline-db")
}

/// `pipeline-db --data-dir DIR`, blind to the caller's `PIPELINE_DB_HOME`, `PIPELINE_DB_CONFIG`
/// and `PIPELINE_DB_FAILPOINT`.
pub fn command(data: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("--data-dir").arg(data);
    c.env_remove("PIPELINE_DB_HOME")
        .env_remove("PIPELINE_DB_CONFIG")
        .env_remove("PIPELINE_DB_FAILPOINT");
    c
}

/// Per-table row counts and a hash of each table's rows in rowid order.
pub type Fingerprint = BTreeMap<String, (u64, String)>;

pub fn fingerprint(path: &Path) -> Fingerprint {
    let plain = content(path).expect("a backup's content");
    let c = rusqlite::Connection::open_with_flags(
        &plain.path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open");
    fingerprint_conn(&c)
}

/// Whether a file name names a backup (plain `.sqlite3` or compressed `.sqlite3.zst`).
pub fn is_backup_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".sqlite3") || name.ends_with(".sqlite3.zst"))
}

/// A backup's SQLite content as a file SQLite can open: the file itself, or the decompressed copy
/// of a `.sqlite3.zst` in a temp file (removed on drop). The tests' own zstd reader, independent
/// of core's.
pub struct Content {
    pub path: std::path::PathBuf,
    _tmp: Option<tempfile::TempPath>,
}

pub fn content(path: &Path) -> std::io::Result<Content> {
    if !path.to_string_lossy().ends_with(".zst") {
        return Ok(Content {
            path: path.to_path_buf(),
            _tmp: None,
        });
    }
    let bytes = zstd::stream::decode_all(std::fs::File::open(path)?)?;
    let mut tmp = tempfile::NamedTempFile::new()?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    let tmp = tmp.into_temp_path();
    Ok(Content {
        path: tmp.to_path_buf(),
        _tmp: Some(tmp),
    })
}

pub fn fingerprint_conn(c: &rusqlite::Connection) -> Fingerprint {
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        // WITHOUT ROWID tables (job_daily_stats) scan in primary key order.
        let order = match c.prepare(&format!("SELECT rowid FROM \"{t}\" LIMIT 0")) {
            Ok(_) => " ORDER BY rowid",
            Err(_) => "",
        };
        let mut stmt = c.prepare(&format!("SELECT * FROM \"{t}\"{order}")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        let mut h = Sha256::new();
        let mut count = 0u64;
        while let Some(r) = rows.next().unwrap() {
            count += 1;
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i).unwrap();
                h.update(format!("{v:?}\u{1f}").as_bytes());
            }
            h.update(b"\x1e");
        }
        out.insert(t, (count, hex::encode(h.finalize())));
    }
    out
}

/// The data tables only (what sample-data determinism is about).
pub fn data_fingerprint(path: &Path) -> Fingerprint {
    let mut f = fingerprint(path);
    f.retain(|k, _| ["users", "pipelines", "jobs"].contains(&k.as_str()));
    f
}

/// Files in a directory tree, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                }
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

pub fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// `pipeline-db --data-dir DIR ARGS` started with `vars` set, no stdin and its output piped.
pub fn spawn_piped(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> std::process::Child {
    std::process::Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .env_remove("PIPELINE_DB_HOME")
        .env_remove("PIPELINE_DB_CONFIG")
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A running `pipeline-db` stopped at a sleeping failpoint: the child, the rest of its stderr, and
/// what it printed up to the failpoint.
pub fn at_failpoint(
    dir: &Path,
    failpoint: &str,
    args: &[&str],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
    String,
) {
    use std::io::BufRead;
    let mut child = spawn_piped(dir, args, &[("PIPELINE_DB_FAILPOINT", failpoint)]);
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("failpoint hit") {
            break;
        }
        line.clear();
    }
    assert!(seen.contains("failpoint hit"), "{seen}");
    (child, err, seen)
}

/// Waits for the child; returns its exit code and the rest of its stderr.
pub fn finish(
    child: std::process::Child,
    err: std::io::BufReader<std::process::ChildStderr>,
) -> (Option<i32>, String) {
    let (code, _, rest) = finish_with_stdout(child, err);
    (code, rest)
}

/// [`finish`], with the child's stdout.
pub fn finish_with_stdout(
    mut child: std::process::Child,
    mut err: std::io::BufReader<std::process::ChildStderr>,
) -> (Option<i32>, String, String) {
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    (child.wait().unwrap().code(), out, rest)
}
