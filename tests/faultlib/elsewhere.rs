//! Group `elsewhere` (issue 11, the trust boundary): files this process did not make are untrusted
//! until verified.
//!
//! * One case per crafted file of the catalogue (`elsewhere::<class>`): a real backup of a seeded
//!   dev (its manifest deleted: a file "from elsewhere"), edited one way each — triggers and views
//!   of another tool (also hidden under `sqlite_` names), infinite views in place of our tables,
//!   columns, types and indexes changed, CHECK and foreign-key violations, page sizes, auto_vacuum,
//!   journal modes, a WAL or a hot journal beside it, a foreign application_id, a tampered tag or
//!   history, a newer schema, and files that are not ours at all. For each: `restore dev FILE
//!   --force` must either refuse (with the class's exit code) and leave dev exactly unchanged, or
//!   accept and leave dev sound (`integrity_check` through a read-write connection,
//!   `foreign_key_check`, `check dev` exit 0, our schema exactly, the file's rows, tagged dev);
//!   `env add`, `check` and `backups verify` never change the file; nothing panics or hangs (60 s
//!   per command).
//! * `elsewhere::live_foreign_objects`: a *live* dev with a trigger or view from elsewhere (or our
//!   table replaced by an infinite view) is refused by every changing verb (exit 3), unchanged,
//!   and no verb hangs.
//! * `elsewhere::mutants`: mutation fuzzing of the backup (bit flips, header bytes, schema text,
//!   b-tree page headers, truncation, zeroed and duplicated pages), `runs(300)` mutants from a
//!   fixed seed (`make fuzz`: 10,000). Each is restored into dev (then `backups verify` and `check`
//!   of the mutant itself); refused-and-unchanged counts as old, accepted-and-sound as new;
//!   accepted-but-corrupt, said-unchanged-but-changed, refused-but-changed, a changed input file, a
//!   panic or a hang count as mixed and fail the case. Every bad mutant is saved under
//!   `target/elsewhere-mutants/` with its recipe.
//!
//! An accepted file with an older schema (only migrations pending) must migrate to a sound dev.
//! Findings that break no promise (`backups verify` ok for a file restore refuses, TEXT that is
//! not UTF-8) are printed as notes.

use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::*;

/// Longest any one command may take before it counts as a hang (and is killed).
const TIMEOUT: Duration = Duration::from_secs(60);
/// The mutation fuzzer's fixed seed (`PIPELINE_DB_FUZZ_SEED` overrides it, to explore further).
const FUZZ_SEED: u64 = 0x5eed_e15e_0011;

pub fn cases() -> Vec<Case> {
    let base = Shared::new(Base::new);
    let mut out = vec![];
    for class in catalogue() {
        let b = base.clone();
        out.push(Case::new(class.name, move |r| {
            run_class(r, b.get(), &class)
        }));
    }
    let b = base.clone();
    out.push(Case::new("live_foreign_objects", move |r| {
        live_foreign_objects(r, b.get())
    }));
    out.push(Case::new("mutants", move |r| mutants(r, base.get())));
    out
}

// ---------- the fixture ----------

/// A data dir whose dev differs from `source`, a backup of a seeded dev with no manifest beside it.
pub struct Base {
    /// The data dir each run copies: dev seeded with sample data, then seeded further.
    template: tempfile::TempDir,
    _src_dir: tempfile::TempDir,
    /// The backup "from elsewhere" (its manifest deleted).
    source: PathBuf,
    /// Our schema, as a fresh dev has it (the one a restored dev must have).
    schema: Vec<SchemaRow>,
    /// dev's content before any restore.
    live: Fp,
}

impl Base {
    fn new() -> Base {
        let template = tempfile::tempdir().unwrap();
        let t = template.path();
        must(
            t,
            &[
                "reset",
                "dev",
                "--force",
                "--with-sample-data",
                "--jobs",
                "300",
                "--as-of",
                AS_OF,
            ],
        );
        let src_dir = tempfile::tempdir().unwrap();
        let source = src_dir.path().join("base.sqlite3");
        must(t, &["backup", "dev", "--output", source.to_str().unwrap()]);
        let manifest = pipeline_db_core::backups::record::manifest_path(&source);
        std::fs::remove_file(&manifest)
            .unwrap_or_else(|e| panic!("removing {}: {e}", manifest.display()));
        // The backup is also in dev's backup dir; only the copy outside it is "from elsewhere".
        must(
            t,
            &[
                "seed",
                "dev",
                "--jobs",
                "40",
                "--rng-seed",
                "11",
                "--as-of",
                AS_OF,
            ],
        );
        let live = fingerprint(&db(t)).unwrap();
        assert_ne!(
            rows_of(&db(t)).unwrap(),
            content_of(&source).unwrap(),
            "the live dev must differ from the backup"
        );
        let schema = schema_of(&db(t)).unwrap();
        Base {
            template,
            _src_dir: src_dir,
            source,
            schema,
            live,
        }
    }
}

// ---------- running the CLI with a time limit ----------

/// One command's outcome.
struct Ran {
    args: Vec<String>,
    /// `None`: killed by a signal (or by us, after the timeout).
    code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    hung: bool,
}

impl Ran {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// Exit 101, a signal, or a Rust panic message (even one a thread caught and turned into an
    /// error).
    fn panicked(&self) -> bool {
        !self.hung
            && (self.code == Some(101)
                || self.signal.is_some()
                || self.stderr.contains("panicked at"))
    }

    fn how(&self) -> String {
        match (self.hung, self.code, self.signal) {
            (true, ..) => format!("hung (killed after {} s)", TIMEOUT.as_secs()),
            (_, Some(c), _) => format!("exit {c}"),
            (_, None, Some(s)) => format!("killed by signal {s}"),
            _ => "no status".into(),
        }
    }

    /// `pipeline-db ARGS: exit N: first line of stderr`.
    fn line(&self) -> String {
        let err = self.stderr.trim();
        let err: String = err.chars().take(700).collect();
        format!(
            "`{}` {}: {}",
            self.args.join(" "),
            self.how(),
            err.escape_debug()
        )
    }

    /// A panic or hang, as a problem line (None if neither).
    fn crash(&self) -> Option<String> {
        if self.hung {
            Some(format!("HANG {}", self.line()))
        } else if self.panicked() {
            Some(format!("PANIC {}", self.line()))
        } else {
            None
        }
    }
}

fn timed(data: &Path, args: &[&str]) -> Ran {
    timed_cmd(cli(data, args), args)
}

fn timed_cmd(mut c: Command, args: &[&str]) -> Ran {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = c.spawn().expect("spawn pipeline-db");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = vec![];
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = vec![];
        let _ = err.read_to_end(&mut v);
        v
    });
    let mut hung = false;
    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            hung = true;
            break child.wait().ok();
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    };
    Ran {
        args: args.iter().map(|s| s.to_string()).collect(),
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        stdout: String::from_utf8_lossy(&o.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&e.join().unwrap_or_default()).into_owned(),
        hung,
    }
}

// ---------- what a file and a database hold ----------

/// `(type, name, tbl_name, sql with whitespace collapsed)` of every schema object but `sqlite_stat*`.
type SchemaRow = (String, String, String, String);

fn schema_of(path: &Path) -> Result<Vec<SchemaRow>, String> {
    let c = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let mut s = c
        .prepare(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema
             WHERE name NOT LIKE 'sqlite\\_stat%' ESCAPE '\\' ORDER BY type, name",
        )
        .map_err(|e| e.to_string())?;
    let rows = s
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, String>(3)?
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<SchemaRow>>>())
        .map_err(|e| e.to_string())?;
    Ok(rows)
}

/// The rows a file holds (tag aside), read from a scratch copy (with its sidecars) so that the
/// file itself is never opened read-write.
fn content_of(file: &Path) -> Result<Rows, String> {
    let d = tempfile::tempdir().map_err(|e| e.to_string())?;
    let copy = d.path().join("copy.sqlite3");
    std::fs::copy(file, &copy).map_err(|e| e.to_string())?;
    for s in ["-wal", "-journal"] {
        if let Ok(b) = std::fs::read(sidecar(file, s)) {
            std::fs::write(sidecar(&copy, s), b).map_err(|e| e.to_string())?;
        }
    }
    rows_of(&copy)
}

/// Every table's rows but the tag's, hashed from SQLite's raw values (TEXT need not be UTF-8),
/// and how many TEXT values are not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rows {
    tables: Fp,
    not_utf8: u64,
}

fn rows_of(path: &Path) -> Result<Rows, String> {
    use rusqlite::types::ValueRef;
    let c =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| e.to_string())?;
    let tables: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             AND name <> 'pipeline_db_meta' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| e.to_string())?;
    let mut out = Rows {
        tables: Fp::new(),
        not_utf8: 0,
    };
    for t in tables {
        let q = format!("\"{}\"", t.replace('"', "\"\""));
        let sql = match c.prepare(&format!("SELECT rowid FROM {q} LIMIT 0")) {
            Ok(_) => format!("SELECT * FROM {q} ORDER BY rowid"),
            // WITHOUT ROWID tables scan in primary key order.
            Err(_) => format!("SELECT * FROM {q}"),
        };
        let mut stmt = c.prepare(&sql).map_err(|e| e.to_string())?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
        let mut h = Sha256::new();
        let mut count = 0;
        while let Some(r) = rows.next().map_err(|e| e.to_string())? {
            count += 1;
            for i in 0..n {
                match r.get_ref(i).map_err(|e| e.to_string())? {
                    ValueRef::Null => h.update(b"N"),
                    ValueRef::Integer(v) => h.update(format!("I{v}")),
                    ValueRef::Real(v) => h.update(format!("R{v:?}")),
                    ValueRef::Text(b) => {
                        if std::str::from_utf8(b).is_err() {
                            out.not_utf8 += 1;
                        }
                        h.update(format!("T{}:", b.len()));
                        h.update(b);
                    }
                    ValueRef::Blob(b) => {
                        h.update(format!("B{}:", b.len()));
                        h.update(b);
                    }
                }
                h.update(b"\x1f");
            }
        }
        out.tables.insert(t, (count, hex::encode(h.finalize())));
    }
    Ok(out)
}

fn sidecar(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The bytes of a file and of the sidecars that carry content (`-wal`, `-journal`).
type FileState = Vec<(&'static str, Option<Vec<u8>>)>;

fn file_state(f: &Path) -> FileState {
    ["", "-wal", "-journal"]
        .into_iter()
        .map(|s| (s, std::fs::read(sidecar(f, s)).ok()))
        .collect()
}

/// How `now` differs from `before` (None if not at all). A sidecar that appears empty is no
/// change of content (a read-only open of a WAL file may leave one).
fn file_changed(before: &FileState, now: &FileState) -> Option<String> {
    let mut out = vec![];
    for ((s, b), (_, n)) in before.iter().zip(now) {
        let name = if s.is_empty() { "the file" } else { s };
        match (b, n) {
            (Some(b), Some(n)) if b != n => out.push(format!(
                "{name} changed ({} -> {} bytes{})",
                b.len(),
                n.len(),
                b.iter()
                    .zip(n.iter())
                    .position(|(x, y)| x != y)
                    .map(|i| format!(", first difference at byte {i}"))
                    .unwrap_or_default()
            )),
            (Some(_), None) => out.push(format!("{name} was removed")),
            (None, Some(n)) if !n.is_empty() => {
                out.push(format!("{name} appeared ({} bytes)", n.len()))
            }
            _ => {}
        }
    }
    (!out.is_empty()).then(|| out.join("; "))
}

/// `PRAGMA integrity_check` (every row) and `foreign_key_check` through a read-write connection
/// (SQLite skips CHECK constraints on a read-only one).
fn sound_rw(path: &Path) -> Result<(), String> {
    let c =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| format!("opening read-write: {e}"))?;
    let rows: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| format!("integrity_check: {e}"))?;
    if rows != ["ok"] {
        return Err(format!(
            "integrity_check: {}",
            rows.into_iter().take(3).collect::<Vec<_>>().join("; ")
        ));
    }
    let fk: i64 = c
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .map_err(|e| format!("foreign_key_check: {e}"))?;
    if fk != 0 {
        return Err(format!("foreign_key_check: {fk} rows"));
    }
    Ok(())
}

fn tag_env(path: &Path) -> Option<String> {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT env FROM pipeline_db_meta", [], |r| r.get(0)))
        .ok()
}

/// After an accepted restore into `data`'s dev: every way dev can be unsound, as problem lines.
/// `want`: the rows of the file that was restored (None if they could not be read). A file with
/// an older schema (migrations pending, and `check` finds nothing else) must then migrate to a
/// sound dev with our schema.
fn unsound_after_accept(base: &Base, data: &Path, want: Option<&Rows>) -> Vec<String> {
    let live = db(data);
    let mut out = vec![];
    if let Err(e) = sound_rw(&live) {
        out.push(format!("dev after the restore: {e}"));
    }
    match (rows_of(&live), want) {
        (Ok(now), Some(want)) if &now == want => {}
        (Ok(now), Some(want)) => {
            let diff: Vec<_> = now
                .tables
                .iter()
                .filter(|(k, v)| want.tables.get(*k) != Some(v))
                .map(|(k, v)| format!("{k} ({} rows)", v.0))
                .collect();
            out.push(format!(
                "dev does not hold the file's rows after the restore: {} differ",
                diff.join(", ")
            ));
        }
        (Ok(_), None) => out.push("restored a file whose rows cannot be read back from it".into()),
        (Err(e), _) => out.push(format!("dev unreadable after the restore: {e}")),
    }
    if tag_env(&live).as_deref() != Some("dev") {
        out.push(format!(
            "dev is tagged {:?} after the restore",
            tag_env(&live)
        ));
    }
    let check = timed(data, &["check", "dev", "--json"]);
    if let Some(c) = check.crash() {
        out.push(c);
        return out;
    }
    if !check.ok() {
        // Tables and indexes of the user's own beside ours are no failure: `check` names them
        // and passes, as the verbs work beside them and a restore brings them back.
        let failing = failing_findings(&check.stdout);
        if failing.len() == 1 && failing[0].0 == "migrations" {
            // An older schema: what `migrate` makes of it must be sound.
            let m = timed(data, &["migrate", "dev", "--force"]);
            if let Some(c) = m.crash() {
                out.push(c);
                return out;
            }
            if !m.ok() {
                out.push(format!(
                    "migrating the restored older schema failed: {}",
                    m.line()
                ));
            }
            if let Err(e) = sound_rw(&live) {
                out.push(format!("dev after migrating the restored file: {e}"));
            }
            let again = timed(data, &["check", "dev", "--json"]);
            if let Some(c) = again.crash() {
                out.push(c);
            } else if !again.ok() {
                out.push(format!(
                    "`check dev` after restoring and migrating: {}: {:?}",
                    again.how(),
                    failing_findings(&again.stdout)
                ));
            }
        } else {
            out.push(format!(
                "`check dev` after the restore: {}: {:?}",
                check.how(),
                failing
            ));
        }
    }
    match schema_of(&live) {
        Ok(s) if s == base.schema => {}
        Ok(s) => {
            let inert = |r: &&SchemaRow| matches!(r.0.as_str(), "table" | "index");
            let extra: Vec<_> = s.iter().filter(|r| !base.schema.contains(r)).collect();
            let missing: Vec<_> = base.schema.iter().filter(|r| !s.contains(r)).collect();
            if missing.is_empty() && extra.iter().all(inert) {
                return out;
            }
            out.push(format!(
                "dev's schema is not ours after the restore: extra {extra:?}; missing {missing:?}"
            ));
        }
        Err(e) => out.push(format!("dev's schema unreadable after the restore: {e}")),
    }
    out
}

/// The failed findings of `check --json` output: (check, detail).
fn failing_findings(json: &str) -> Vec<(String, String)> {
    let v: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(_) => {
            return vec![(
                "unparsable check output".into(),
                json.chars().take(300).collect(),
            )]
        }
    };
    v["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| f["ok"] == false)
                .map(|f| {
                    (
                        f["check"].as_str().unwrap_or("?").to_string(),
                        f["detail"]
                            .as_str()
                            .unwrap_or("")
                            .chars()
                            .take(300)
                            .collect(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every problem of a case, also beyond the five a Tally keeps (printed with the case's line).
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn fail(&mut self, t: &mut Tally, msg: String) {
        t.fail(msg.clone());
        self.0.push(msg);
    }

    fn print(&self) {
        for p in &self.0 {
            println!("    ! {p}");
        }
    }
}

// ---------- the catalogue ----------

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A sound file of ours: restored, and dev is sound afterwards.
    Accept,
    /// Refused with one of these exit codes, dev exactly unchanged.
    Refuse(&'static [i32]),
    /// Either, each judged by its own rule (the promise does not decide).
    Either,
}

/// How a class's file is made from the source backup.
#[derive(Clone, Copy)]
enum Make {
    /// A copy of the backup, edited with this SQL through a plain SQLite connection.
    Sql(&'static str),
    /// Written by a function (from the backup's path, to the file's path).
    With(fn(&Path, &Path)),
}

#[derive(Clone, Copy)]
struct Class {
    name: &'static str,
    title: &'static str,
    expect: Expect,
    make: Make,
}

const SCHEMA: &[i32] = &[3];
const UNSOUND: &[i32] = &[1, 3, 5];
const NOT_SQLITE: &[i32] = &[1, 5];

const INFINITE: &str = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r)";

fn catalogue() -> Vec<Class> {
    use Expect::*;
    use Make::*;
    let c = |name, title, expect, make| Class {
        name,
        title,
        expect,
        make,
    };
    vec![
        c("pristine", "the backup itself (control)", Accept, Sql("")),
        c(
            "trigger_on_jobs",
            "extra trigger AFTER INSERT ON jobs",
            Refuse(SCHEMA),
            Sql("CREATE TRIGGER evil AFTER INSERT ON jobs BEGIN UPDATE users SET role = 'admin'; END;"),
        ),
        c(
            "trigger_on_meta_admin",
            "extra trigger AFTER UPDATE ON pipeline_db_meta: every user admin",
            Refuse(SCHEMA),
            Sql("CREATE TRIGGER evil AFTER UPDATE ON pipeline_db_meta BEGIN UPDATE users SET role = 'admin'; DELETE FROM job_daily_stats; END;"),
        ),
        c(
            "trigger_hidden_sqlite_name",
            "trigger on pipeline_db_meta named sqlite_* (writable_schema): every user admin",
            Refuse(SCHEMA),
            With(hidden_trigger),
        ),
        c(
            "trigger_body_changed",
            "our trigger job_daily_stats_insert with another body",
            Refuse(SCHEMA),
            Sql("DROP TRIGGER job_daily_stats_insert; CREATE TRIGGER job_daily_stats_insert AFTER INSERT ON jobs BEGIN UPDATE users SET role = 'admin'; END;"),
        ),
        c("view_extra", "extra view", Refuse(SCHEMA), Sql("CREATE VIEW v AS SELECT 1;")),
        c(
            "view_hidden_sqlite_name",
            "infinite view named sqlite_* (writable_schema)",
            Refuse(SCHEMA),
            With(hidden_view),
        ),
        c(
            "jobs_infinite_view",
            "jobs replaced by a view over an infinite recursive CTE",
            Refuse(SCHEMA),
            Sql("PRAGMA foreign_keys=OFF; DROP TRIGGER job_daily_stats_insert; DROP TRIGGER job_daily_stats_delete; DROP TRIGGER job_daily_stats_update; DROP TABLE jobs; CREATE VIEW jobs AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT i AS id, 'x' AS session_id, 'x' AS run_name, 1 AS user_id, 1 AS pipeline_id, 'pending' AS status, '{}' AS params, NULL AS output_dir, NULL AS error_message, '2026-01-01T00:00:00Z' AS created_at, NULL AS started_at, NULL AS completed_at FROM r;"),
        ),
        c(
            "history_infinite_view",
            "refinery_schema_history replaced by an infinite view",
            Refuse(SCHEMA),
            With(history_view),
        ),
        c(
            "meta_infinite_view",
            "pipeline_db_meta replaced by an infinite view",
            Refuse(SCHEMA),
            With(meta_view),
        ),
        c(
            "meta_redefined",
            "pipeline_db_meta recreated with another definition (extra column, no CHECKs)",
            Refuse(UNSOUND),
            Sql("CREATE TABLE m2 AS SELECT * FROM pipeline_db_meta; DROP TABLE pipeline_db_meta; CREATE TABLE pipeline_db_meta (id INTEGER PRIMARY KEY, env TEXT, created_at TEXT, tool_version TEXT, sample_data INTEGER, last_action TEXT, last_action_at TEXT, backdoor TEXT DEFAULT 'x'); INSERT INTO pipeline_db_meta (id, env, created_at, tool_version, sample_data, last_action, last_action_at) SELECT * FROM m2; DROP TABLE m2;"),
        ),
        c(
            "history_redefined",
            "refinery_schema_history recreated with an extra column",
            Refuse(UNSOUND),
            Sql("ALTER TABLE refinery_schema_history ADD COLUMN note TEXT DEFAULT 'x';"),
        ),
        c(
            "extra_table",
            "extra table (inert: the verbs work beside it, so a restore brings it back)",
            Accept,
            Sql("CREATE TABLE notes (x); INSERT INTO notes VALUES (1);"),
        ),
        c(
            "column_extra",
            "extra column users.notes",
            Refuse(SCHEMA),
            Sql("ALTER TABLE users ADD COLUMN notes TEXT;"),
        ),
        c(
            "column_missing",
            "column pipelines.description dropped",
            Refuse(SCHEMA),
            Sql("ALTER TABLE pipelines DROP COLUMN description;"),
        ),
        c(
            "column_renamed",
            "column pipelines.description renamed",
            Refuse(SCHEMA),
            Sql("ALTER TABLE pipelines RENAME COLUMN description TO summary;"),
        ),
        c(
            "column_type",
            "column pipelines.description TEXT -> ANY (writable_schema)",
            Refuse(SCHEMA),
            With(column_type),
        ),
        c(
            "index_dropped",
            "index jobs_created dropped",
            Refuse(SCHEMA),
            Sql("DROP INDEX jobs_created;"),
        ),
        c(
            "index_edited",
            "index jobs_created's definition edited (writable_schema)",
            Refuse(SCHEMA),
            With(index_edited),
        ),
        c(
            "check_violation",
            "a CHECK violation (ignore_check_constraints): users.role = 'root'",
            Refuse(UNSOUND),
            Sql("PRAGMA ignore_check_constraints=ON; UPDATE users SET role = 'root' WHERE id = (SELECT min(id) FROM users);"),
        ),
        c(
            "fk_violation",
            "a foreign-key violation: a job of a user that does not exist",
            Refuse(UNSOUND),
            Sql("PRAGMA foreign_keys=OFF; UPDATE jobs SET user_id = 999999 WHERE id = (SELECT min(id) FROM jobs);"),
        ),
        c(
            "auto_vacuum_full",
            "auto_vacuum=FULL (VACUUM after)",
            Accept,
            Sql("PRAGMA journal_mode=DELETE; PRAGMA auto_vacuum=FULL; VACUUM;"),
        ),
        c(
            "page_size_512",
            "page size 512 (VACUUM after)",
            Accept,
            Sql("PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;"),
        ),
        c(
            "page_size_65536",
            "page size 65536 (VACUUM after)",
            Accept,
            Sql("PRAGMA journal_mode=DELETE; PRAGMA page_size=65536; VACUUM;"),
        ),
        c(
            "journal_mode_delete",
            "rollback journal mode",
            Accept,
            Sql("PRAGMA journal_mode=DELETE;"),
        ),
        c(
            "journal_mode_wal",
            "WAL mode, no -wal beside it",
            Accept,
            Sql("PRAGMA journal_mode=WAL;"),
        ),
        c(
            "wal_with_commits",
            "WAL mode with a -wal beside it holding commits",
            Refuse(&[1, 3]),
            With(wal_with_commits),
        ),
        c(
            "hot_journal",
            "a hot rollback journal beside it (a writer crashed mid-transaction)",
            Refuse(&[1, 3]),
            With(hot_journal),
        ),
        c(
            "foreign_application_id",
            "application_id of another application",
            Refuse(&[1, 3]),
            Sql("PRAGMA application_id = 305419896;"),
        ),
        c(
            "meta_other_env",
            "tag says prod",
            Accept,
            Sql("UPDATE pipeline_db_meta SET env = 'prod';"),
        ),
        c(
            "meta_garbage",
            "tag with garbage values and a second row (ignore_check_constraints)",
            Either,
            Sql("PRAGMA ignore_check_constraints=ON; UPDATE pipeline_db_meta SET env = '', created_at = 'yesterday', tool_version = '-1', sample_data = 7, last_action = '; DROP TABLE users; --', last_action_at = 'never'; INSERT INTO pipeline_db_meta VALUES (2, 'prod', 'x', 'y', 0, NULL, NULL);"),
        ),
        c(
            "meta_control_chars",
            "control characters (ESC, BEL, CR, NUL) in the tag's tool_version and last_action",
            Either,
            Sql("UPDATE pipeline_db_meta SET tool_version = char(27) || '[2J' || char(27) || '[31m9.9.9' || char(7) || char(13) || char(10) || 'forged', last_action = 'x' || char(0) || char(8) || char(27) || ']0;title' || char(7);"),
        ),
        c(
            "history_checksum",
            "V1's history checksum tampered",
            Refuse(SCHEMA),
            Sql("UPDATE refinery_schema_history SET checksum = '123' WHERE version = 1;"),
        ),
        c(
            "history_missing_v2",
            "V2's history row deleted (its objects remain)",
            Refuse(SCHEMA),
            Sql("DELETE FROM refinery_schema_history WHERE version = 2;"),
        ),
        c(
            "newer_schema_v99",
            "a history row for V99 (a newer schema)",
            Refuse(SCHEMA),
            Sql("INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (99, 'future', '2030-01-01T00:00:00Z', '1');"),
        ),
        c(
            "text_not_utf8",
            "a TEXT value that is not UTF-8 (jobs.run_name)",
            Either,
            Sql("UPDATE jobs SET run_name = CAST(x'41ff42c328' AS TEXT) WHERE id = (SELECT min(id) FROM jobs);"),
        ),
        c(
            "sqlite_stat1",
            "ANALYZE statistics (sqlite_stat1, sqlite_stat4)",
            Either,
            Sql("ANALYZE;"),
        ),
        c("text_file", "a text file", Refuse(NOT_SQLITE), With(text_file)),
        c("empty_file", "an empty file", Refuse(NOT_SQLITE), With(empty_file)),
        c(
            "truncated",
            "the backup truncated to half",
            Refuse(NOT_SQLITE),
            With(truncated),
        ),
        c(
            "no_tables",
            "a valid SQLite database with no tables",
            Either,
            With(no_tables),
        ),
        c(
            "other_app",
            "a database of another application (table secrets)",
            Refuse(SCHEMA),
            With(other_app),
        ),
    ]
}

fn copy_edit(src: &Path, f: &Path, sql: &str) {
    std::fs::copy(src, f).unwrap();
    if !sql.is_empty() {
        let c = rusqlite::Connection::open(f).unwrap();
        c.execute_batch(sql)
            .unwrap_or_else(|e| panic!("recipe {sql}: {e}"));
    }
}

/// Rewrites schema rows with `PRAGMA writable_schema`; each statement must change a row.
fn writable_schema(f: &Path, stmts: &[&str]) {
    let c = rusqlite::Connection::open(f).unwrap();
    c.execute_batch("PRAGMA writable_schema = ON").unwrap();
    for s in stmts {
        let n = c
            .execute(s, [])
            .unwrap_or_else(|e| panic!("recipe {s}: {e}"));
        assert_eq!(n, 1, "recipe {s} changed {n} rows");
    }
    c.execute_batch("PRAGMA writable_schema = OFF").unwrap();
}

fn hidden_trigger(src: &Path, f: &Path) {
    std::fs::copy(src, f).unwrap();
    writable_schema(
        f,
        &["INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES ('trigger', 'sqlite_evil', 'pipeline_db_meta', 0, 'CREATE TRIGGER sqlite_evil AFTER UPDATE ON pipeline_db_meta BEGIN UPDATE users SET role = ''admin''; END')"],
    );
    // The recipe works: in a scratch copy, a tag update makes every user admin.
    let d = tempfile::tempdir().unwrap();
    let probe = d.path().join("probe.sqlite3");
    std::fs::copy(f, &probe).unwrap();
    let c = rusqlite::Connection::open(&probe).unwrap();
    c.execute_batch("UPDATE pipeline_db_meta SET last_action = 'probe'")
        .unwrap();
    let not_admin: i64 = c
        .query_row(
            "SELECT count(*) FROM users WHERE role <> 'admin'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        not_admin, 0,
        "the hidden trigger does not fire: recipe broken"
    );
}

fn hidden_view(src: &Path, f: &Path) {
    std::fs::copy(src, f).unwrap();
    writable_schema(
        f,
        &[&format!("INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES ('view', 'sqlite_forever', 'sqlite_forever', 0, 'CREATE VIEW sqlite_forever AS {INFINITE} SELECT i FROM r')")],
    );
}

fn history_view(src: &Path, f: &Path) {
    copy_edit(
        src,
        f,
        &format!(
            "DROP TABLE refinery_schema_history; CREATE VIEW refinery_schema_history (version, name, applied_on, checksum) AS {INFINITE} SELECT i, 'x', 'y', 'z' FROM r;"
        ),
    );
}

fn meta_view(src: &Path, f: &Path) {
    copy_edit(
        src,
        f,
        &format!(
            "DROP TABLE pipeline_db_meta; CREATE VIEW pipeline_db_meta (id, env, created_at, tool_version, sample_data, last_action, last_action_at) AS {INFINITE} SELECT 1, 'dev', 'x', 'y', 0, NULL, NULL FROM r;"
        ),
    );
}

fn column_type(src: &Path, f: &Path) {
    std::fs::copy(src, f).unwrap();
    writable_schema(
        f,
        &["UPDATE sqlite_schema SET sql = replace(sql, 'description    TEXT,', 'description    ANY,') WHERE name = 'pipelines' AND sql LIKE '%description    TEXT,%'"],
    );
}

fn index_edited(src: &Path, f: &Path) {
    std::fs::copy(src, f).unwrap();
    writable_schema(
        f,
        &["UPDATE sqlite_schema SET sql = 'CREATE INDEX jobs_created ON jobs (run_name)' WHERE name = 'jobs_created'"],
    );
}

fn wal_with_commits(src: &Path, f: &Path) {
    let d = tempfile::tempdir().unwrap();
    let w = d.path().join("w.sqlite3");
    std::fs::copy(src, &w).unwrap();
    let c = rusqlite::Connection::open(&w).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    c.execute_batch(
        "PRAGMA wal_autocheckpoint = 0;
         INSERT INTO users (username, email, hashed_password, role) VALUES ('walrus', 'walrus@x.org', '$argon2id$x', 'admin');
         UPDATE pipelines SET description = 'only in the wal';",
    )
    .unwrap();
    // Copied while the writer holds it open: the commits are only in the -wal.
    std::fs::copy(&w, f).unwrap();
    std::fs::copy(sidecar(&w, "-wal"), sidecar(f, "-wal")).unwrap();
    drop(c);
    assert!(std::fs::metadata(sidecar(f, "-wal")).unwrap().len() > 0);
}

fn hot_journal(src: &Path, f: &Path) {
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("h.sqlite3");
    std::fs::copy(src, &h).unwrap();
    let c = rusqlite::Connection::open(&h).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = DELETE; PRAGMA cache_size = 2; PRAGMA cache_spill = ON;
         BEGIN;
         UPDATE jobs SET run_name = substr(run_name || '-crashed', 1, 80), params = '{\"crashed\": true}';",
    )
    .unwrap();
    // Copied mid-transaction: the journal holds the original pages, the file some new ones.
    std::fs::copy(&h, f).unwrap();
    std::fs::copy(sidecar(&h, "-journal"), sidecar(f, "-journal")).unwrap();
    c.execute_batch("ROLLBACK").unwrap();
    drop(c);
    assert!(std::fs::metadata(sidecar(f, "-journal")).unwrap().len() > 512);
}

fn text_file(_: &Path, f: &Path) {
    std::fs::write(
        f,
        "this is not a database, only text\n".repeat(300).as_bytes(),
    )
    .unwrap();
}

fn empty_file(_: &Path, f: &Path) {
    std::fs::write(f, b"").unwrap();
}

fn truncated(src: &Path, f: &Path) {
    let b = std::fs::read(src).unwrap();
    std::fs::write(f, &b[..b.len() / 2]).unwrap();
}

fn no_tables(_: &Path, f: &Path) {
    let c = rusqlite::Connection::open(f).unwrap();
    c.execute_batch("PRAGMA journal_mode = DELETE; CREATE TABLE t (x); DROP TABLE t;")
        .unwrap();
}

fn other_app(_: &Path, f: &Path) {
    let c = rusqlite::Connection::open(f).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = DELETE;
         CREATE TABLE secrets (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value BLOB);
         INSERT INTO secrets (name, value) VALUES ('api-key', x'DEADBEEF'), ('root', 'hunter2');",
    )
    .unwrap();
}

/// One class: make the file, then restore, `env add`, `check`, `backups verify`.
fn run_class(r: &mut Report, base: &Base, class: &Class) {
    let mut t = Tally::default();
    let mut p = Problems::default();
    let d = fresh_copy(base.template.path());
    let dir = d.path().join("elsewhere");
    std::fs::create_dir(&dir).unwrap();
    let f = dir.join(format!("{}.sqlite3", class.name));
    match class.make {
        Make::Sql(sql) => copy_edit(&base.source, &f, sql),
        Make::With(make) => make(&base.source, &f),
    }
    let fs = f.to_str().unwrap();
    let input = file_state(&f);
    let want = content_of(&f).ok();
    let old_schema = schema_of(&db(d.path())).unwrap();
    let mut notes = vec![];

    // restore
    t.runs += 1;
    let restore = timed(d.path(), &["restore", "dev", fs, "--force"]);
    let changed = fingerprint(&db(d.path()))
        .map(|fp| fp != base.live)
        .unwrap_or(true)
        || schema_of(&db(d.path())).ok() != Some(old_schema.clone());
    let accepted = restore.ok();
    if let Some(c) = restore.crash() {
        p.fail(&mut t, c);
    } else if accepted {
        t.new += 1;
        if matches!(class.expect, Expect::Refuse(_)) {
            p.fail(
                &mut t,
                format!("ACCEPTED a file that must be refused: {}", restore.line()),
            );
        }
        for u in unsound_after_accept(base, d.path(), want.as_ref()) {
            p.fail(&mut t, format!("ACCEPTED-BUT-UNSOUND: {u}"));
        }
    } else {
        if changed {
            let said = restore.stderr.contains("nothing was changed");
            p.fail(
                &mut t,
                format!(
                    "{}: dev changed by a refused restore: {}",
                    if said {
                        "SAID-UNCHANGED-BUT-CHANGED"
                    } else {
                        "REFUSED-BUT-CHANGED"
                    },
                    restore.line()
                ),
            );
            if let Err(e) = sound_rw(&db(d.path())) {
                p.fail(&mut t, format!("dev after the refused restore: {e}"));
            }
        } else {
            t.old += 1;
        }
        match class.expect {
            Expect::Accept => p.fail(&mut t, format!("REFUSED a sound file: {}", restore.line())),
            Expect::Refuse(codes) if !codes.contains(&restore.code.unwrap_or(-1)) => p.fail(
                &mut t,
                format!(
                    "refused with the wrong exit code (expected {codes:?}): {}",
                    restore.line()
                ),
            ),
            _ => {}
        }
    }
    if let Some(c) = file_changed(&input, &file_state(&f)) {
        p.fail(&mut t, format!("restore changed its input: {c}"));
    }
    notes.push(format!("restore: {}", restore.line()));
    if accepted && want.as_ref().is_some_and(|w| w.not_utf8 > 0) {
        notes.push(
            "NOTE restored TEXT that is not UTF-8 (integrity_check and `check` pass it)".into(),
        );
    }

    // backups verify FILE
    t.runs += 1;
    let verify = timed(d.path(), &["backups", "verify", fs]);
    if let Some(c) = verify.crash() {
        p.fail(&mut t, c);
    }
    if let Some(c) = file_changed(&input, &file_state(&f)) {
        p.fail(&mut t, format!("`backups verify` changed the file: {c}"));
    }
    notes.push(format!("verify: {}", verify.how()));
    if !verify.hung && verify.ok() != accepted {
        notes.push(format!(
            "NOTE `backups verify` says {} but restore {}",
            if verify.ok() { "ok" } else { "failed" },
            if accepted { "accepted" } else { "refused" }
        ));
    }

    // env add demoN FILE: reads only
    t.runs += 1;
    let demo = format!(
        "demo{}",
        catalogue()
            .iter()
            .position(|c| c.name == class.name)
            .unwrap_or(0)
    );
    let add = timed(d.path(), &["env", "add", &demo, fs]);
    if let Some(c) = add.crash() {
        p.fail(&mut t, c);
    }
    if let Some(c) = file_changed(&input, &file_state(&f)) {
        p.fail(&mut t, format!("`env add` changed the file: {c}"));
    }
    notes.push(format!("env add: {}", add.line()));

    // check: through the added env, else through a config that points dev at the file
    t.runs += 1;
    let scratch = tempfile::tempdir().unwrap();
    let check = if add.ok() {
        timed(d.path(), &["check", &demo])
    } else {
        std::fs::write(
            scratch.path().join("pipeline-db.toml"),
            format!("[envs.dev]\npath = \"{}\"\n", f.display()),
        )
        .unwrap();
        timed(scratch.path(), &["check", "dev"])
    };
    if let Some(c) = check.crash() {
        p.fail(&mut t, c);
    }
    if let Some(c) = file_changed(&input, &file_state(&f)) {
        p.fail(&mut t, format!("`check` changed the file: {c}"));
    }
    notes.push(format!("check: {}", check.how()));
    for ran in [&restore, &verify, &add, &check] {
        if ran.stderr.contains('\u{1b}') || ran.stdout.contains('\u{1b}') {
            notes.push(format!(
                "NOTE `{}` printed a raw ESC from the file",
                ran.args.join(" ")
            ));
        }
    }
    println!();
    println!(
        "  {} — {} (expected {:?}): {}",
        class.name,
        class.title,
        class.expect,
        notes.join(" | ")
    );
    p.print();
    r.add(&format!("elsewhere {}", class.name), t);
}

// ---------- a live dev with objects from elsewhere ----------

fn live_foreign_objects(r: &mut Report, base: &Base) {
    let jobs_view = format!(
        "PRAGMA foreign_keys=OFF; DROP TRIGGER job_daily_stats_insert; DROP TRIGGER job_daily_stats_delete; DROP TRIGGER job_daily_stats_update; DROP TABLE jobs; CREATE VIEW jobs AS {INFINITE} SELECT i AS id, 'x' AS session_id, 'x' AS run_name, 1 AS user_id, 1 AS pipeline_id, 'pending' AS status, '{{}}' AS params, NULL AS output_dir, NULL AS error_message, '2026-01-01T00:00:00Z' AS created_at, NULL AS started_at, NULL AS completed_at FROM r;"
    );
    let objects: [(&str, String); 7] = [
        (
            "trigger on jobs",
            "CREATE TRIGGER evil AFTER INSERT ON jobs BEGIN UPDATE users SET role = 'admin'; END;"
                .into(),
        ),
        (
            "trigger on pipeline_db_meta (every user admin)",
            "CREATE TRIGGER evil AFTER UPDATE ON pipeline_db_meta BEGIN UPDATE users SET role = 'admin'; END;".into(),
        ),
        (
            "infinite view",
            format!("CREATE VIEW forever AS {INFINITE} SELECT i FROM r;"),
        ),
        ("hidden sqlite_evil trigger on pipeline_db_meta (every user admin)", String::new()),
        ("jobs as an infinite view", jobs_view),
        (
            "history as an infinite view",
            format!("DROP TABLE refinery_schema_history; CREATE VIEW refinery_schema_history (version, name, applied_on, checksum) AS {INFINITE} SELECT i, 'x', 'y', 'z' FROM r;"),
        ),
        (
            "pipeline_db_meta as an infinite view",
            format!("DROP TABLE pipeline_db_meta; CREATE VIEW pipeline_db_meta (id, env, created_at, tool_version, sample_data, last_action, last_action_at) AS {INFINITE} SELECT 1, 'dev', 'x', 'y', 0, NULL, NULL FROM r;"),
        ),
    ];
    // Changing verbs must refuse (exit 3); the others must not change dev (any exit).
    let verbs: [(&[&str], bool); 8] = [
        (&["seed", "dev", "--jobs", "10", "--rng-seed", "3"], true),
        (&["migrate", "dev", "--force"], true),
        (&["env", "set", "dev", "--force"], true),
        (&["migrations", "repair", "dev", "--force"], true),
        (&["backup", "dev"], false),
        (&["status", "dev"], false),
        (&["check", "dev"], false),
        (&["log", "--env", "dev"], false),
    ];
    let mut t = Tally::default();
    let mut p = Problems::default();
    let mut lines = vec![];
    for (what, sql) in &objects {
        let mut codes = vec![];
        for (v, changing) in verbs {
            let d = fresh_copy(base.template.path());
            if sql.is_empty() {
                hidden_trigger_live(&db(d.path()));
            } else {
                rusqlite::Connection::open(db(d.path()))
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            let before = fingerprint(&db(d.path())).unwrap();
            let schema = schema_of(&db(d.path())).unwrap();
            t.runs += 1;
            let ran = timed(d.path(), v);
            codes.push(format!("{} {}", v[0], ran.how()));
            let now = fingerprint(&db(d.path())).ok();
            let changed = now.as_ref() != Some(&before)
                || schema_of(&db(d.path())).ok().as_ref() != Some(&schema);
            let admins = if changed {
                all_admin(&db(d.path()))
            } else {
                false
            };
            let fired = if admins {
                " (and every user is now admin)"
            } else {
                ""
            };
            if let Some(c) = ran.crash() {
                p.fail(&mut t, format!("{what}: {c}"));
            } else if changing && ran.code != Some(3) {
                p.fail(
                    &mut t,
                    format!("{what}: expected a refusal (exit 3){fired}: {}", ran.line()),
                );
            } else if changed {
                p.fail(
                    &mut t,
                    format!("{what}: dev changed{fired}: {}", ran.line()),
                );
            } else {
                t.old += 1;
            }
        }
        lines.push(format!("  {what}: {}", codes.join(", ")));
    }
    println!();
    for l in lines {
        println!("{l}");
    }
    p.print();
    r.add("elsewhere live dev with foreign objects", t);
}

fn all_admin(live: &Path) -> bool {
    rusqlite::Connection::open_with_flags(live, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.query_row(
                "SELECT count(*) = 0 FROM users WHERE role <> 'admin'",
                [],
                |r| r.get(0),
            )
        })
        .unwrap_or(false)
}

fn hidden_trigger_live(live: &Path) {
    writable_schema(
        live,
        &["INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES ('trigger', 'sqlite_evil', 'pipeline_db_meta', 0, 'CREATE TRIGGER sqlite_evil AFTER UPDATE ON pipeline_db_meta BEGIN UPDATE users SET role = ''admin''; END')"],
    );
}

// ---------- mutation fuzzing ----------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    BitFlips,
    HeaderByte,
    /// A byte of the schema's SQL text (within 400 bytes after a `CREATE `: sqlite_schema).
    SchemaText,
    PageHeader,
    Truncate,
    ZeroPage,
    DupPage,
}

const KINDS: [Kind; 7] = [
    Kind::BitFlips,
    Kind::HeaderByte,
    Kind::SchemaText,
    Kind::PageHeader,
    Kind::Truncate,
    Kind::ZeroPage,
    Kind::DupPage,
];

/// Mutant `i` of `good` (a pure function of the seed and `i`): its bytes and its recipe.
fn mutant(good: &[u8], seed: u64, i: u64) -> (Kind, Vec<u8>, String) {
    let mut rng = Lcg(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.next(2);
    let page = match u16::from_be_bytes([good[16], good[17]]) {
        1 => 65536,
        p => p as usize,
    };
    let pages = good.len().div_ceil(page);
    let len = good.len() as u64;
    let kind = KINDS[(i % KINDS.len() as u64) as usize];
    let mut b = good.to_vec();
    let recipe = match kind {
        Kind::BitFlips => {
            let n = 1 + rng.next(4);
            let flips: Vec<(usize, u8)> = (0..n)
                .map(|_| (rng.next(len) as usize, 1u8 << rng.next(8)))
                .collect();
            for (at, bit) in &flips {
                b[*at] ^= bit;
            }
            format!(
                "flip bits {}",
                flips
                    .iter()
                    .map(|(a, m)| format!("byte {a} ^= {m:#04x}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Kind::HeaderByte => {
            let at = rng.next(100) as usize;
            let x = 1 + rng.next(255) as u8;
            b[at] ^= x;
            format!("header byte {at} ^= {x:#04x}")
        }
        Kind::SchemaText => {
            let creates: Vec<usize> = good
                .windows(7)
                .enumerate()
                .filter(|(_, w)| w == b"CREATE ")
                .map(|(i, _)| i)
                .collect();
            let from = creates[rng.next(creates.len() as u64) as usize];
            let at = (from + rng.next(400) as usize).min(b.len() - 1);
            let x = 1 + rng.next(255) as u8;
            b[at] ^= x;
            format!(
                "schema text byte {at} ({} bytes after a CREATE) ^= {x:#04x}",
                at - from
            )
        }
        Kind::PageHeader => {
            let p = rng.next(pages as u64) as usize;
            let at = p * page + if p == 0 { 100 } else { 0 } + rng.next(12) as usize;
            let x = 1 + rng.next(255) as u8;
            if at < b.len() {
                b[at] ^= x;
            }
            format!("page {} b-tree header byte {at} ^= {x:#04x}", p + 1)
        }
        Kind::Truncate => {
            let at = if rng.next(2) == 0 {
                rng.next(pages as u64) as usize * page
            } else {
                rng.next(len) as usize
            };
            b.truncate(at);
            format!("truncate to {at} bytes")
        }
        Kind::ZeroPage => {
            let p = rng.next(pages as u64) as usize;
            let end = ((p + 1) * page).min(b.len());
            b[p * page..end].fill(0);
            format!("zero page {}", p + 1)
        }
        Kind::DupPage => {
            let from = rng.next(pages as u64) as usize;
            let mut to = rng.next(pages as u64) as usize;
            if to == from {
                to = (to + 1) % pages;
            }
            let src: Vec<u8> = b[from * page..((from + 1) * page).min(good.len())].to_vec();
            let end = (to * page + src.len()).min(b.len());
            b[to * page..end].copy_from_slice(&src[..end - to * page]);
            format!("copy page {} over page {}", from + 1, to + 1)
        }
    };
    (kind, b, recipe)
}

/// The outcome classes of a mutant, in table order.
const OUTCOMES: [&str; 8] = [
    "refused-and-unchanged",
    "accepted-and-sound",
    "accepted-but-corrupt",
    "said-unchanged-but-changed",
    "refused-but-changed",
    "input-changed",
    "panics",
    "hangs",
];

fn mutants(r: &mut Report, base: &Base) {
    let seed = std::env::var("PIPELINE_DB_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(FUZZ_SEED);
    let good = std::fs::read(&base.source).unwrap();
    let n = runs(300);
    let saved = bin()
        .parent()
        .and_then(|p| p.parent())
        .map(|t| t.join("elsewhere-mutants"))
        .unwrap();
    let _ = std::fs::remove_dir_all(&saved);
    let mut t = Tally::default();
    let mut counts: BTreeMap<Kind, [u32; 8]> = KINDS.iter().map(|k| (*k, [0; 8])).collect();
    // Observations that break no promise: `backups verify` ok where restore refused, and the
    // reverse; accepted files whose TEXT is not UTF-8.
    let (mut verify_ok_restore_refused, mut verify_failed_restore_accepted) = (0u32, 0u32);
    let mut not_utf8 = 0u32;
    let mut exit_codes: BTreeMap<String, u32> = BTreeMap::new();
    let mut bad_lines = vec![];
    let mut d = fresh_copy(base.template.path());
    // `check` of the mutant itself, through a config that points dev at it.
    let scratch = tempfile::tempdir().unwrap();
    let started = Instant::now();
    for i in 0..u64::from(n) {
        let (kind, bytes, recipe) = mutant(&good, seed, i);
        let dir = d.path().join("elsewhere");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("mutant.sqlite3");
        std::fs::write(&f, &bytes).unwrap();
        let fs = f.to_str().unwrap().to_string();
        t.runs += 1;
        let restore = timed(d.path(), &["restore", "dev", &fs, "--force"]);
        *exit_codes.entry(restore.how()).or_default() += 1;
        let mut problems: Vec<(usize, String)> = vec![];
        let mut dirty = false;
        if restore.hung {
            problems.push((7, restore.line()));
            dirty = true;
        } else if restore.panicked() {
            problems.push((6, restore.line()));
            dirty = true;
        } else if restore.ok() {
            dirty = true;
            let want = content_of(&f).ok();
            if want.as_ref().is_some_and(|w| w.not_utf8 > 0) {
                not_utf8 += 1;
            }
            let unsound = unsound_after_accept(base, d.path(), want.as_ref());
            if unsound.is_empty() {
                t.new += 1;
                counts.get_mut(&kind).unwrap()[1] += 1;
            } else {
                problems.push((2, format!("{}: {}", restore.line(), unsound.join("; "))));
            }
        } else {
            let same = fingerprint(&db(d.path())).ok().as_ref() == Some(&base.live)
                && schema_of(&db(d.path())).ok().as_ref() == Some(&base.schema);
            if same {
                t.old += 1;
                counts.get_mut(&kind).unwrap()[0] += 1;
            } else {
                dirty = true;
                let which = if restore.stderr.contains("nothing was changed") {
                    3
                } else {
                    4
                };
                let sound = sound_rw(&db(d.path()))
                    .err()
                    .map(|e| format!("; dev now: {e}"))
                    .unwrap_or_default();
                problems.push((which, format!("{}{sound}", restore.line())));
            }
        }
        if std::fs::read(&f).ok().as_deref() != Some(&bytes[..]) {
            problems.push((5, format!("restore changed its input: {}", restore.line())));
        }
        let verify = timed(d.path(), &["backups", "verify", &fs]);
        if let Some(c) = verify.crash() {
            problems.push((if verify.hung { 7 } else { 6 }, c));
        } else if !restore.hung && !restore.panicked() {
            match (verify.ok(), restore.ok()) {
                (true, false) => verify_ok_restore_refused += 1,
                (false, true) => verify_failed_restore_accepted += 1,
                _ => {}
            }
        }
        if std::fs::read(&f).ok().as_deref() != Some(&bytes[..]) {
            problems.push((
                5,
                format!("`backups verify` changed its input: {}", verify.line()),
            ));
        }
        std::fs::write(
            scratch.path().join("pipeline-db.toml"),
            format!("[envs.dev]\npath = \"{}\"\n", f.display()),
        )
        .unwrap();
        let check = timed(scratch.path(), &["check", "dev"]);
        if let Some(c) = check.crash() {
            problems.push((if check.hung { 7 } else { 6 }, c));
        }
        if std::fs::read(&f).ok().as_deref() != Some(&bytes[..]) {
            problems.push((5, format!("`check` changed its input: {}", check.line())));
        }
        for (outcome, line) in &problems {
            counts.get_mut(&kind).unwrap()[*outcome] += 1;
            let msg = format!(
                "{} mutant #{i} (seed {seed:#x}, {kind:?}: {recipe}): {line}",
                OUTCOMES[*outcome].to_uppercase()
            );
            t.fail(msg.clone());
            bad_lines.push(msg);
            let _ = std::fs::create_dir_all(&saved);
            let _ = std::fs::write(saved.join(format!("mutant-{i}.sqlite3")), &bytes);
            let _ = std::fs::write(
                saved.join(format!("mutant-{i}.txt")),
                format!("{}\n", bad_lines.last().unwrap()),
            );
        }
        if dirty {
            d = fresh_copy(base.template.path());
        }
    }
    let took = started.elapsed();
    println!();
    println!(
        "  {n} mutants of a {}-byte backup (no manifest), seed {seed:#x}, in {:.0} s",
        good.len(),
        took.as_secs_f64()
    );
    println!("  | kind | {} |", OUTCOMES.join(" | "));
    println!("  |---|{}", "---:|".repeat(OUTCOMES.len()));
    let mut total = [0u32; 8];
    for (k, c) in &counts {
        println!(
            "  | {k:?} | {} |",
            c.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        );
        for (a, b) in total.iter_mut().zip(c) {
            *a += b;
        }
    }
    println!(
        "  | all | {} |",
        total
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!(
        "  restore: {}",
        exit_codes
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  notes (no promise broken): `backups verify` ok but restore refused {verify_ok_restore_refused}, \
         verify failed but restore accepted {verify_failed_restore_accepted}; accepted with TEXT that is not UTF-8 {not_utf8}"
    );
    for l in bad_lines.iter().take(20) {
        println!("    ! {l}");
    }
    if !bad_lines.is_empty() {
        println!("  bad mutants saved in {}", saved.display());
    }
    r.add(
        &format!(
            "elsewhere mutants (bad: corrupt {} / said-unchanged {} / changed {} / input {} / panic {} / hang {})",
            total[2], total[3], total[4], total[5], total[6], total[7]
        ),
        t,
    );
}
