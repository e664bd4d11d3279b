//! The CHECK clauses found are exactly the declared ones, the rowid ranges cover every row once,
//! and the full check finds what SQLite's own `quick_check` finds, row for row.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;
use rusqlite::Connection;

use super::*;
use crate::storage::db::{self, Access};
use crate::{Confirmed, Quiet, Workspace};

fn seeded(jobs: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::at(dir.path()).unwrap();
    let req = crate::verbs::seed::SeedRequest {
        env: "dev".into(),
        options: crate::verbs::seed::SeedOptions {
            users: 4,
            pipelines: 3,
            jobs,
            as_of: Some("2026-06-15T10:00:00Z".into()),
            ..Default::default()
        },
    };
    let plan = crate::verbs::seed::plan(&ws, &req).unwrap();
    crate::verbs::seed::execute(&ws, &plan, &Confirmed::forced(), &Quiet).unwrap();
    let path = ws.env("dev").unwrap().path;
    (dir, path)
}

fn ours(path: &Path) -> Vec<String> {
    let c = db::open(path, Access::ReadWrite, Duration::from_secs(5)).unwrap();
    let open = || db::open(path, Access::ReadOnly, Duration::from_secs(5));
    full_check(&c, "quick_check", &open).unwrap()
}

/// SQLite's own `quick_check` with CHECK constraints (a writable connection evaluates them).
fn sqlites(path: &Path) -> Vec<String> {
    let c = db::open(path, Access::ReadWrite, Duration::from_secs(5)).unwrap();
    db::check(&c, "quick_check").unwrap()
}

/// Problems per kind: CHECK failures per table (ours name the row: that is dropped), the rest
/// as they are.
fn tally(problems: &[String]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for p in problems {
        let key = p.split(" (row ").next().unwrap_or(p).to_string();
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

fn write_unchecked(path: &Path, sql: &str) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(&format!(
        "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF; {sql}"
    ))
    .unwrap();
}

#[test]
fn every_check_of_our_schema_is_found() {
    let (_dir, path) = seeded(5);
    let c = Connection::open(&path).unwrap();
    let all = tables(&c).unwrap();
    assert!(all.len() >= 5, "{all:?}");
    let mut total = 0;
    for (table, create) in all {
        let found = check_clauses(&create).unwrap();
        // Our schema writes `CHECK` in capitals and nowhere else (comments included).
        assert_eq!(
            found.len(),
            create.matches("CHECK").count(),
            "{table}: {found:?}"
        );
        for clause in &found {
            // Each is an expression SQLite evaluates over the table.
            let q = db::quote_ident(&table);
            c.query_row(
                &format!("SELECT count(*) FROM {q} WHERE ({clause}\n)"),
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
        }
        total += found.len();
    }
    assert!(total >= 30, "{total} CHECKs");
}

#[test]
fn a_clean_file_passes_and_each_broken_row_is_named() {
    let (_dir, path) = seeded(200);
    assert_eq!(ours(&path), Vec::<String>::new());
    write_unchecked(
        &path,
        "UPDATE jobs SET status = 'weird' WHERE id = 7;
         UPDATE jobs SET params = '[1]' WHERE id = 150;
         UPDATE users SET role = 'root' WHERE id = 2;",
    );
    assert_eq!(
        ours(&path),
        vec![
            // The summary trigger counted the job under its new status.
            "CHECK constraint failed in job_daily_stats",
            "CHECK constraint failed in jobs (row 7)",
            "CHECK constraint failed in jobs (row 150)",
            "CHECK constraint failed in users (row 2)",
        ]
    );
    assert_eq!(tally(&ours(&path)), tally(&sqlites(&path)));
}

/// Rows spread over many ranges (rowids from `i64::MIN` to `i64::MAX`, more rows than one scan
/// takes), broken at the extremes and at range bounds: each range's failures are found, and
/// every row is in exactly one range.
#[test]
fn ranges_cover_every_rowid_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite3");
    let c = Connection::open(&path).unwrap();
    c.execute_batch(&format!(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER CHECK (a > 0));
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {})
         INSERT INTO t SELECT i * 1000, 1 FROM n;
         INSERT INTO t VALUES ({}, 1), ({}, 1);",
        ROWS_PER_SCAN * 2 + 17,
        i64::MIN,
        i64::MAX
    ))
    .unwrap();
    let q = db::quote_ident("t");
    let ranges = rowid_ranges(&c, &q, "rowid").unwrap();
    assert!(ranges.len() >= 3, "{ranges:?}");
    let mut covered = 0;
    for r in &ranges {
        let n: i64 = c
            .query_row(&format!("SELECT count(*) FROM t WHERE {r}1"), [], |r| {
                r.get(0)
            })
            .unwrap();
        covered += n;
    }
    let all: i64 = c
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(covered, all);
    // Break the first, the last, and the first row of every range.
    let mut broken = vec![i64::MIN, i64::MAX];
    for r in ranges.iter().skip(1) {
        let first: i64 = c
            .query_row(&format!("SELECT min(id) FROM t WHERE {r}1"), [], |r| {
                r.get(0)
            })
            .unwrap();
        broken.push(first);
    }
    for id in &broken {
        write_unchecked(&path, &format!("UPDATE t SET a = 0 WHERE id = {id}"));
    }
    let found = ours(&path);
    broken.sort();
    broken.dedup();
    let named: Vec<i64> = found
        .iter()
        .map(|p| {
            p.trim_end_matches(')')
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(named, broken, "{found:?}");
    assert_eq!(tally(&found), tally(&sqlites(&path)));
}

/// A file of one table `t` made by `sql`, one row breaking its CHECK written past it: both SQLite's
/// own `quick_check` and ours find it.
fn both_find_the_broken_row(sql: &str, break_it: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.sqlite3");
    Connection::open(&path).unwrap().execute_batch(sql).unwrap();
    assert_eq!(ours(&path), Vec::<String>::new(), "{sql}");
    write_unchecked(&path, break_it);
    let sqlite = sqlites(&path);
    assert!(
        sqlite
            .iter()
            .any(|p| p.starts_with("CHECK constraint failed")),
        "{sqlite:?}"
    );
    let found = ours(&path);
    assert_eq!(tally(&found), tally(&sqlite), "{sql}");
}

/// What the review of this module found: the rows are read, not an index that covers the CHECK's
/// columns (`quick_check` does not compare indexes with rows); a column named `rowid` does not
/// hide rows from the ranges; SQLite's own tables are checked too; a Tcl variable in a DEFAULT
/// does not hide the CHECK after it.
#[test]
fn rows_are_read_whatever_the_schema_hides_them_behind() {
    both_find_the_broken_row(
        // Wide rows: reading the index alone is what the planner prefers.
        "CREATE TABLE t(id INTEGER PRIMARY KEY, a INT CHECK (a > 0), pad TEXT);
         CREATE INDEX i ON t(a);
         INSERT INTO t(a, pad) VALUES (1, zeroblob(500)), (2, zeroblob(500)), (3, zeroblob(500));",
        // The row breaks the CHECK; the index still holds the old, good value.
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = 'CREATE INDEX i ON t(id)' WHERE name = 'i';
         PRAGMA writable_schema = RESET;
         UPDATE t SET a = -1 WHERE id = 2;
         PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = 'CREATE INDEX i ON t(a)' WHERE name = 'i';
         PRAGMA writable_schema = RESET;",
    );
    both_find_the_broken_row(
        &format!(
            "CREATE TABLE t(rowid INT, a INT CHECK (a > 0));
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {})
             INSERT INTO t SELECT i, 1 FROM n;
             INSERT INTO t VALUES (NULL, 5);",
            ROWS_PER_SCAN + 1
        ),
        "UPDATE t SET a = 0 WHERE rowid IS NULL",
    );
    both_find_the_broken_row(
        // SQLite refuses such a DEFAULT in CREATE TABLE, but reads it in a file's schema.
        "CREATE TABLE t(a INT, b INT CHECK (b > 0)); INSERT INTO t(b) VALUES (1);
         PRAGMA writable_schema = ON;
         UPDATE sqlite_schema
         SET sql = 'CREATE TABLE t(a INT DEFAULT ($v(((()), b INT CHECK (b > 0))' WHERE name = 't';",
        "UPDATE t SET b = 0",
    );
    both_find_the_broken_row(
        "CREATE TABLE t(a INT); INSERT INTO t VALUES (1); ANALYZE;
         PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = 'CREATE TABLE sqlite_stat1(tbl,idx,stat CHECK (stat IS NOT NULL))'
         WHERE name = 'sqlite_stat1';",
        "INSERT INTO sqlite_stat1 VALUES ('t', NULL, NULL)",
    );
}

#[test]
fn text_not_read_as_sqlite_reads_it_is_an_error_not_a_constraint_left_out() {
    for bad in [
        "CREATE TABLE t(a CHECK (a > 0)",
        "CREATE TABLE t(a) CHECK (a > 0)",
        "CREATE TABLE t(a INT CHECK a > 0)",
        "CREATE TABLE t(a INT DEFAULT (CHECK (1)))",
        "CREATE TABLE t(a)) (",
    ] {
        assert!(check_clauses(bad).is_err(), "{bad}");
    }
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("x > 0".to_string()),
        Just("length(\"odd ) name\") < 5".to_string()),
        Just("y IN ('a', 'b)', 'c''(')".to_string()),
        Just("[we(ird] IS NULL".to_string()),
        Just("`q``(` = 1".to_string()),
        Just("x /* ) CHECK ( */ < 9".to_string()),
        Just("x -- ) CHECK (\n < 10".to_string()),
        Just("coalesce(x, (1 + (2))) <> 3".to_string()),
        Just("check_x = 'CHECK (1)'".to_string()),
    ]
}

proptest! {
    /// Clauses written between columns, decoys (strings, names and comments holding `CHECK (`,
    /// a column named like the keyword) around them: exactly the clauses come back, as written.
    #[test]
    fn the_clauses_written_are_the_clauses_found(
        clauses in prop::collection::vec(prop::collection::vec(atom(), 1..3), 0..6),
        spacing in prop::sample::select(vec![" ", "\n  ", " /* c */ ", " -- CHECK (x)\n "]),
    ) {
        let exprs: Vec<String> = clauses.iter().map(|c| c.join(" AND ")).collect();
        let mut sql = String::from("CREATE TABLE \"t (CHECK\" (\n  x INTEGER");
        for (i, e) in exprs.iter().enumerate() {
            match i % 3 {
                0 => sql.push_str(&format!("{spacing}CHECK{spacing}({e})")),
                1 => sql.push_str(&format!(",\n  c{i} TEXT DEFAULT ('CHECK (0)') cHeCk ({e})")),
                _ => sql.push_str(&format!(",\n  CONSTRAINT \"k(\" CHECK ({e})")),
            }
        }
        sql.push_str(",\n  check_x TEXT, y TEXT, [we(ird] TEXT, \"odd ) name\" TEXT, `q``(` INT\n) STRICT");
        prop_assert_eq!(check_clauses(&sql), Ok(exprs));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random edits past the CHECK constraints of a seeded file: ours reports the
    /// same failures per table as SQLite's `quick_check` with CHECKs on (ours names at most
    /// three rows per scan; these tables are one scan each).
    #[test]
    fn the_full_check_finds_what_sqlites_finds(
        edits in prop::collection::vec(
            (
                prop::sample::select(vec![
                    ("jobs", "status", "'weird'"),
                    ("jobs", "status", "'completed'"),
                    ("jobs", "params", "'not json'"),
                    ("jobs", "started_at", "NULL"),
                    ("jobs", "completed_at", "'2001-01-01T00:00:00Z'"),
                    ("jobs", "error_message", "'boom'"),
                    ("jobs", "run_name", "''"),
                    ("users", "email", "'no-at-' || id"),
                    ("users", "is_active", "2"),
                    ("pipelines", "config", "'[]'"),
                    ("pipelines", "name", "'ok-name-' || id"),
                ]),
                1..40i64,
            ),
            0..6,
        ),
    ) {
        let (_dir, path) = seeded(40);
        for ((table, column, value), id) in &edits {
            let id = if *table == "jobs" { *id } else { 1 + id % 3 };
            write_unchecked(&path, &format!("UPDATE {table} SET {column} = {value} WHERE id = {id}"));
        }
        let sqlite = tally(&sqlites(&path));
        let ours = tally(&ours(&path));
        let capped: BTreeMap<String, usize> = sqlite
            .iter()
            .map(|(k, n)| (k.clone(), if k.starts_with("CHECK") { (*n).min(NAMED_PER_SCAN) } else { *n }))
            .collect();
        prop_assert_eq!(ours, capped);
    }
}
