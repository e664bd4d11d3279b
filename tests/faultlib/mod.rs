//! Shared machinery of the fault suite: the cases' registry, run counts, fixtures, the state
//! check, the report table.

pub mod consistency;
pub mod corrupt;
pub mod disk;
pub mod elsewhere;
pub mod fiu;
pub mod kill9;
pub mod lock;
pub mod migrations;
#[cfg(target_os = "linux")]
pub mod perm;
pub mod restore;
pub mod targets;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub const AS_OF: &str = "2026-06-01";

// ---------- run counts ----------

/// The environment variable that scales every case's run count.
pub const RUNS_VAR: &str = "PIPELINE_DB_FAULT_RUNS";
/// Its default: the kill -9 cases' run count, the largest, and what CI runs.
pub const DEFAULT_RUNS: u32 = 50;

/// `PIPELINE_DB_FAULT_RUNS` (default 50), checked once: a positive whole number.
pub fn fault_runs() -> Result<u32, String> {
    static RUNS: OnceLock<Result<u32, String>> = OnceLock::new();
    RUNS.get_or_init(|| match std::env::var(RUNS_VAR) {
        Err(_) => Ok(DEFAULT_RUNS),
        Ok(v) => match v.trim().parse::<u32>() {
            Ok(n) if (1..=100_000).contains(&n) => Ok(n),
            _ => Err(format!(
                "{RUNS_VAR}={v:?}: expected a whole number from 1 to 100000 (default {DEFAULT_RUNS})"
            )),
        },
    })
    .clone()
}

/// How many times to run a case that runs `default` times at the default scale: in proportion to
/// `PIPELINE_DB_FAULT_RUNS`, rounded up, at least 1. At 50 (the default) this is exactly `default`.
pub fn runs(default: u32) -> u32 {
    let n = fault_runs().unwrap_or_else(|e| panic!("{e}"));
    (u64::from(default) * u64::from(n))
        .div_ceil(u64::from(DEFAULT_RUNS))
        .max(1) as u32
}

// ---------- cases and fixtures ----------

/// One separately runnable case of a group: `name` (e.g. `during_reset`) becomes the trial
/// `group::name`. `run` records exactly one row (or a reason it could not run) in the report.
pub struct Case {
    pub name: &'static str,
    pub run: Box<dyn FnOnce(&mut Report) + Send>,
}

impl Case {
    pub fn new(name: &'static str, run: impl FnOnce(&mut Report) + Send + 'static) -> Case {
        Case {
            name,
            run: Box::new(run),
        }
    }
}

/// A fixture shared by the cases of a group (a seeded template, OLD and NEW): built by the first
/// case that needs it, so a filtered run builds only what it uses; dropped (temp dirs removed)
/// with the last case holding it.
pub struct Shared<T> {
    cell: OnceLock<T>,
    init: Box<dyn Fn() -> T + Send + Sync>,
}

impl<T> Shared<T> {
    pub fn new(init: impl Fn() -> T + Send + Sync + 'static) -> Arc<Shared<T>> {
        Arc::new(Shared {
            cell: OnceLock::new(),
            init: Box::new(init),
        })
    }

    pub fn get(&self) -> &T {
        self.cell.get_or_init(|| (self.init)())
    }
}

// ---------- the report ----------

/// Result counts of one case.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub runs: u32,
    pub old: u32,
    pub new: u32,
    pub mixed: u32,
    pub lost_rows: u64,
    pub problems: Vec<String>,
}

impl Tally {
    pub fn fail(&mut self, msg: impl Into<String>) {
        self.mixed += 1;
        let m = msg.into();
        if self.problems.len() < 5 {
            self.problems.push(m);
        }
    }

    pub fn bad(&self) -> bool {
        self.mixed > 0 || self.lost_rows > 0
    }
}

/// A row of the final table.
#[derive(Debug, Clone)]
pub enum Row {
    Ran(String, Tally),
    NotRun(String, String),
    /// The case stopped on a panic (a setup step failed) before it could count anything.
    Broke(String, String),
}

/// Every row so far, in the order the cases ran; the table printed at the end.
static TABLE: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// Where a case records its outcome: the rows it adds go to its trial's verdict and the final table.
#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
}

impl Report {
    pub fn add(&mut self, case: &str, t: Tally) {
        self.rows.push(Row::Ran(case.to_string(), t));
    }

    pub fn not_run(&mut self, case: &str, why: &str) {
        self.rows.push(Row::NotRun(case.into(), why.into()));
    }

    /// Prints the case's line and hands its rows to the final table. `inline`: one trial at a time
    /// in libtest's pretty format, whose `test NAME ... ` prefix this line then completes (the
    /// verdict follows it); otherwise the line stands alone with its own verdict.
    pub fn conclude(
        self,
        inline: bool,
    ) -> Result<libtest_mimic::Completion, libtest_mimic::Failed> {
        let mut failures = vec![];
        let mut not_run = vec![];
        let mut out = std::io::stdout().lock();
        for row in &self.rows {
            match row {
                Row::Ran(case, t) => {
                    let status = if t.bad() { "FAIL" } else { "ok" };
                    let line = format!(
                        "{case:<44} runs {:>3}  old {:>3}  new {:>3}  mixed {}  lost {}",
                        t.runs, t.old, t.new, t.mixed, t.lost_rows
                    );
                    if inline && self.rows.len() == 1 {
                        let _ = write!(out, "{line}  ");
                    } else {
                        let _ = writeln!(out, "{status:4} {line}");
                        for p in &t.problems {
                            let _ = writeln!(out, "       - {p}");
                        }
                    }
                    if t.bad() {
                        failures.push(format!(
                            "{case}: mixed {}, lost {}{}",
                            t.mixed,
                            t.lost_rows,
                            t.problems
                                .iter()
                                .map(|p| format!("\n  - {p}"))
                                .collect::<String>()
                        ));
                    }
                }
                Row::NotRun(case, why) => {
                    if !inline {
                        let _ = writeln!(out, "SKIP {case:<44} {why}");
                    }
                    not_run.push(why.clone());
                }
                Row::Broke(..) => {}
            }
        }
        let _ = out.flush();
        drop(out);
        let ran = self.rows.iter().any(|r| matches!(r, Row::Ran(..)));
        TABLE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(self.rows);
        if !failures.is_empty() {
            Err(failures.join("\n").into())
        } else if !not_run.is_empty() {
            // Never "passed": a case that could not run is reported as ignored, with the reason.
            Ok(libtest_mimic::Completion::ignored_with(format!(
                "not run: {}",
                not_run.join("; ")
            )))
        } else if !ran {
            Err("the case recorded no result".into())
        } else {
            Ok(libtest_mimic::Completion::Completed)
        }
    }

    /// A case that panicked: a row in the table, the trial fails.
    pub fn broke(case: &str, msg: &str) {
        TABLE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Row::Broke(case.into(), msg.into()));
    }

    /// Prints the table of every case that ran (or could not); returns whether any lost or mixed
    /// data. Prints nothing when no case was selected.
    pub fn print_table() -> bool {
        let rows = TABLE.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if rows.is_empty() {
            return false;
        }
        println!("| case | runs | old | new | mixed | lost rows |\n|---|---:|---:|---:|---:|---:|");
        for row in &rows {
            if let Row::Ran(c, t) = row {
                println!(
                    "| {c} | {} | {} | {} | {} | {} |",
                    t.runs, t.old, t.new, t.mixed, t.lost_rows
                );
            }
        }
        for row in &rows {
            match row {
                Row::NotRun(c, why) => println!("| {c} | not run: {why} | | | | |"),
                Row::Broke(c, msg) => {
                    println!("| {c} | broke: {} | | | | |", msg.replace(['\n', '|'], " "))
                }
                Row::Ran(..) => {}
            }
        }
        let ran = rows.iter().filter(|r| matches!(r, Row::Ran(..))).count();
        let bad = rows
            .iter()
            .filter(|r| matches!(r, Row::Ran(_, t) if t.bad()))
            .count();
        let broke = rows.iter().filter(|r| matches!(r, Row::Broke(..))).count();
        if bad > 0 {
            println!("\n{bad} cases lost or mixed data ({broke} broke before counting)");
        } else if ran == 0 {
            println!("\nno case ran");
        } else if broke > 0 {
            println!(
                "\n{ran} cases: mixed = 0, lost = 0; {broke} broke before counting (see above)"
            );
        } else {
            println!("\nall {ran} cases: mixed = 0, lost = 0");
        }
        bad > 0
    }
}

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("pipeline-db")
}

pub fn is_root() -> bool {
    // SAFETY: geteuid never fails.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// The CLI pointed at `data`, no stdin, quiet logs, the given failpoint.
pub fn cli(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("--data-dir").arg(data).args(args);
    c.env_remove("PIPELINE_DB_HOME")
        .env_remove("PIPELINE_DB_CONFIG")
        .env_remove("PIPELINE_DB_FAILPOINT");
    c.env("RUST_LOG", "error").stdin(Stdio::null());
    c
}

/// The release binary (built by `make test` before the suite), for the long-running cases.
pub fn release_cli(data: &Path, args: &[&str]) -> Command {
    let release = bin()
        .parent()
        .and_then(|p| p.parent())
        .map(|t| t.join("release/pipeline-db"))
        .unwrap();
    assert!(
        release.exists(),
        "{} is missing: run `cargo build --release -p pipeline-db-cli` first",
        release.display()
    );
    let mut c = cli(data, args);
    let mut r = Command::new(release);
    r.args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => r.env(k, v),
            None => r.env_remove(k),
        };
    }
    r.stdin(Stdio::null());
    let _ = c.stdin(Stdio::null());
    r
}

pub fn run(data: &Path, args: &[&str]) -> Output {
    cli(data, args).output().expect("spawn pipeline-db")
}

pub fn must(data: &Path, args: &[&str]) {
    let o = run(data, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn db(data: &Path) -> PathBuf {
    data.join("dev.sqlite3")
}

/// What a database holds, for OLD/NEW comparison: every table's rows in rowid order, except the
/// tag's timestamps and the migration history's apply times (they differ run to run by design).
pub type Fp = BTreeMap<String, (u64, String)>;

pub fn fingerprint(path: &Path) -> Result<Fp, String> {
    // A compressed backup is fingerprinted through its decompressed content.
    let plain = pipeline_db_e2e::content(path).map_err(|e| e.to_string())?;
    let c = rusqlite::Connection::open_with_flags(
        &plain.path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
    )
    .map_err(|e| e.to_string())?;
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for t in tables {
        let sql = match t.as_str() {
            "pipeline_db_meta" => "SELECT env, sample_data FROM pipeline_db_meta".to_string(),
            "refinery_schema_history" => {
                "SELECT version, name, checksum FROM refinery_schema_history ORDER BY version"
                    .into()
            }
            // WITHOUT ROWID tables (job_daily_stats) scan in primary key order.
            _ if c
                .prepare(&format!("SELECT rowid FROM \"{t}\" LIMIT 0"))
                .is_err() =>
            {
                format!("SELECT * FROM \"{t}\"")
            }
            _ => format!("SELECT * FROM \"{t}\" ORDER BY rowid"),
        };
        let mut stmt = c.prepare(&sql).map_err(|e| e.to_string())?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
        let mut h = Sha256::new();
        let mut count = 0;
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            count += 1;
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i).map_err(|e| e.to_string())?;
                h.update(format!("{v:?}\u{1f}").as_bytes());
            }
        }
        out.insert(t, (count, hex::encode(h.finalize())));
    }
    Ok(out)
}

pub fn total_rows(fp: &Fp) -> u64 {
    fp.iter()
        .filter(|(k, _)| k.as_str() != "pipeline_db_meta")
        .map(|(_, v)| v.0)
        .sum()
}

pub fn integrity_ok(path: &Path) -> bool {
    rusqlite::Connection::open(path)
        .and_then(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)))
        .map(|s| s == "ok")
        .unwrap_or(false)
}

pub fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name();
        if name.to_string_lossy().ends_with(".lock") {
            continue;
        }
        if p.is_dir() {
            copy_tree(&p, &dst.join(&name));
        } else {
            std::fs::copy(&p, dst.join(&name)).unwrap();
        }
    }
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A data dir with dev seeded (fixed seed and date), made once and copied for each run.
pub fn seeded_template(jobs: u64) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    must(
        t.path(),
        &["seed", "dev", "--jobs", &jobs.to_string(), "--as-of", AS_OF],
    );
    t
}

/// Everything a fresh process must find after a fault. Returns `Some(true)` for NEW, `Some(false)`
/// for OLD; records a problem and returns None otherwise. `destructive`: OLD must then survive in a
/// verified backup if the database is NEW.
pub fn judge(t: &mut Tally, data: &Path, old: &Fp, new: &Fp, destructive: bool) -> Option<bool> {
    t.runs += 1;
    // The next start: status must work and cleans leftovers of the killed process.
    let st = run(data, &["status", "dev", "--json"]);
    if !st.status.success() {
        t.fail(format!(
            "status after the fault failed: {}",
            String::from_utf8_lossy(&st.stderr)
        ));
        return None;
    }
    let leftovers: Vec<_> = files_under(data)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".pdb-tmp-"))
        .collect();
    if !leftovers.is_empty() {
        t.fail(format!(
            "temp files left after the next start: {leftovers:?}"
        ));
    }
    let backups_ok = check_backups(t, data);
    let fp = match fingerprint(&db(data)) {
        Ok(fp) => fp,
        Err(e) => {
            t.fail(format!("database unreadable: {e}"));
            t.lost_rows += total_rows(old);
            return None;
        }
    };
    if !integrity_ok(&db(data)) {
        t.fail("integrity_check failed");
    }
    let state = if &fp == old {
        t.old += 1;
        Some(false)
    } else if &fp == new {
        t.new += 1;
        Some(true)
    } else {
        t.fail(format!(
            "database is neither OLD nor NEW: {:?}",
            fp.iter().map(|(k, v)| (k, v.0)).collect::<Vec<_>>()
        ));
        None
    };
    if destructive && state != Some(false) && old != new {
        let saved = backups_ok
            .iter()
            .any(|b| fingerprint(b).map(|f| &f == old).unwrap_or(false));
        if !saved {
            t.lost_rows += total_rows(old);
            t.fail("OLD is neither in the database nor in a verified backup");
        }
    }
    state
}

/// Every backup under its final name must be complete: header, quick_check, and the manifest's
/// sha256 when the manifest exists. Returns the verified ones.
pub fn check_backups(t: &mut Tally, data: &Path) -> Vec<PathBuf> {
    let mut ok = vec![];
    for p in files_under(&data.join("backups")) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !pipeline_db_e2e::is_backup_name(&name) {
            continue;
        }
        let Ok(plain) = pipeline_db_e2e::content(&p) else {
            t.fail(format!("backup {name} does not decompress"));
            continue;
        };
        let bytes = std::fs::read(&plain.path).unwrap_or_default();
        if !bytes.starts_with(b"SQLite format 3\0") {
            t.fail(format!(
                "incomplete backup under a final name: {name} ({} bytes)",
                bytes.len()
            ));
            continue;
        }
        let manifest = p.with_file_name(format!("{name}.json"));
        if let Ok(m) = std::fs::read_to_string(&manifest) {
            let v: serde_json::Value = serde_json::from_str(&m).unwrap_or_default();
            if v["sha256"].as_str() != Some(&hex::encode(Sha256::digest(&bytes))) {
                t.fail(format!(
                    "backup {name} does not match its manifest's sha256"
                ));
                continue;
            }
        }
        let qc = rusqlite::Connection::open_with_flags(
            &plain.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .and_then(|c| c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)));
        if qc.as_deref() != Ok("ok") {
            t.fail(format!("backup {name} fails quick_check: {qc:?}"));
            continue;
        }
        ok.push(p);
    }
    ok
}

/// A run's data dir: a copy of the template.
pub fn fresh_copy(template: &Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_tree(template, d.path());
    d
}

/// Runs `args` on a copy of `template` to completion and returns NEW.
pub fn new_state(template: &Path, args: &[&str]) -> (Fp, Duration) {
    let d = fresh_copy(template);
    let t = std::time::Instant::now();
    must(d.path(), args);
    (fingerprint(&db(d.path())).unwrap(), t.elapsed())
}

/// A small deterministic generator for delays.
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A tmpfs of `size_kib` mounted at a new temp dir (root only); unmounted on drop.
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn new(size_kib: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_kib}k"), "tmpfs"])
            .arg(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
