//! Imports on real files in temp dirs: exported tables import back unchanged with the job summary
//! exactly right (triggers off during the insert, the groups added at the end), into an env that
//! already has jobs too; a file with bad rows is a plan that lists them and cannot run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::*;
use crate::schema::stats;
use crate::storage::db::{self, Access};
use crate::verbs::migrate::{self, MigrateRequest};
use crate::verbs::seed::{self, SeedOptions, SeedRequest};
use crate::workbench::export::{self, ExportRequest, Source};
use crate::workbench::format::Format;
use crate::{Confirmed, Quiet};

fn ws() -> (tempfile::TempDir, Workspace) {
    let d = tempfile::tempdir().unwrap();
    let ws = Workspace::at(d.path().join("data")).unwrap();
    (d, ws)
}

fn seed_env(ws: &Workspace, env: &str, jobs: u64, as_of: &str) {
    let req = SeedRequest {
        env: env.into(),
        options: SeedOptions {
            users: 3,
            pipelines: 4,
            jobs,
            as_of: Some(as_of.into()),
            ..Default::default()
        },
    };
    let plan = seed::plan(ws, &req).unwrap();
    seed::execute(ws, &plan, &Confirmed::forced(), &Quiet).unwrap();
}

fn migrate_env(ws: &Workspace, env: &str) {
    let plan = migrate::plan(ws, &MigrateRequest { env: env.into() }).unwrap();
    migrate::execute(ws, &plan, &Confirmed::forced(), &Quiet).unwrap();
}

fn export_table(ws: &Workspace, env: &str, table: &str, dir: &Path) -> PathBuf {
    let req = ExportRequest {
        env: env.into(),
        source: Source::Table(table.into()),
        format: Format::Csv,
        output: Some(dir.join(format!("{env}-{table}.csv"))),
        timeout: None,
        escape_formulas: false,
    };
    export::run(ws, &req, Box::new(std::io::sink()), Quiet)
        .unwrap()
        .path
        .unwrap()
}

fn request(env: &str, table: &str, file: &Path) -> ImportRequest {
    ImportRequest {
        env: env.into(),
        table: table.into(),
        file: file.to_path_buf(),
        format: None,
    }
}

fn import(ws: &Workspace, env: &str, table: &str, file: &Path) -> Result<ImportOutcome> {
    let plan = plan(ws, &request(env, table, file))?;
    execute(ws, &plan, &Confirmed::forced(), &Quiet)
}

fn open(ws: &Workspace, env: &str) -> Connection {
    let path = ws.env(env).unwrap().path;
    db::open(&path, Access::ReadOnly, Duration::from_secs(5)).unwrap()
}

fn rows(c: &Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = c.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                r.get::<_, rusqlite::types::Value>(i)
                    .map(|v| format!("{v:?}"))
            })
            .collect()
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

fn assert_summary_in_step(c: &Connection) {
    assert_eq!(stats::summary(c).unwrap(), stats::recount(c).unwrap());
    assert!(stats::differences(c).unwrap().is_empty());
}

#[test]
fn exported_tables_import_back_unchanged_with_the_job_summary_exact() {
    let (d, ws) = ws();
    seed_env(&ws, "dev", 400, "2026-06-15T10:00:00Z");
    migrate_env(&ws, "test");
    for t in TABLES {
        let f = export_table(&ws, "dev", t, d.path());
        let out = import(&ws, "test", t, &f).unwrap();
        assert!(out.plan.importable && out.plan.bad_row_count == 0);
    }
    let (dev, test) = (open(&ws, "dev"), open(&ws, "test"));
    for t in TABLES {
        let sql = format!("SELECT * FROM {t} ORDER BY id");
        assert_eq!(rows(&dev, &sql), rows(&test, &sql), "{t}");
    }
    assert_summary_in_step(&test);
    assert_eq!(
        stats::summary(&test).unwrap(),
        stats::summary(&dev).unwrap()
    );
    // The triggers are back, byte for byte.
    let triggers = "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' ORDER BY name";
    assert_eq!(rows(&dev, triggers), rows(&test, triggers));
    assert_eq!(rows(&test, triggers).len(), 3);
}

#[test]
fn jobs_imported_beside_existing_ones_join_their_groups_exactly() {
    let (d, ws) = ws();
    seed_env(&ws, "dev", 300, "2026-06-15T10:00:00Z");
    seed_env(&ws, "test", 200, "2026-06-15T10:00:00Z");
    let c = open(&ws, "test");
    let max: i64 = c
        .query_row("SELECT max(id) FROM jobs", [], |r| r.get(0))
        .unwrap();
    drop(c);
    // dev's jobs as pending ones with new session ids and no ids; every third without created_at and
    // status (the schema's defaults: now, pending), so the inserted columns change row to row.
    let dev = open(&ws, "dev");
    let mut stmt = dev
        .prepare("SELECT run_name, user_id, pipeline_id, created_at FROM jobs")
        .unwrap();
    let jobs: Vec<(String, i64, i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(jobs.len(), 300);
    let mut lines = String::new();
    for (i, (run, user, pipeline, created)) in jobs.iter().enumerate() {
        let mut o = serde_json::json!({
            "session_id": format!("{i:08}-aaaa-4aaa-8aaa-aaaaaaaaaaaa"),
            "run_name": run, "user_id": user, "pipeline_id": pipeline,
        });
        if i % 3 != 0 {
            o["status"] = "pending".into();
            o["created_at"] = created.clone().into();
        }
        lines += &format!("{o}\n");
    }
    let f = d.path().join("new-jobs.ndjson");
    std::fs::write(&f, lines).unwrap();
    let out = import(&ws, "test", "jobs", &f).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.inserted, jobs.len() as u64);
    assert!(out.backup.is_some(), "the env held data: backed up first");
    let c = open(&ws, "test");
    assert_summary_in_step(&c);
    let added: i64 = c
        .query_row("SELECT count(*) FROM jobs WHERE id > ?1", [max], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(added, jobs.len() as i64);
}

const USERS: &str = "username,email,hashed_password,role\n";

#[test]
fn a_file_with_bad_rows_is_a_plan_that_lists_them_and_cannot_run() {
    let (d, ws) = ws();
    migrate_env(&ws, "dev");
    let mut csv = String::from(USERS);
    for i in 0..50 {
        let role = if i % 2 == 0 { "analyst" } else { "boss" };
        csv += &format!("u{i},u{i}@example.org,$argon2id$x,{role}\n");
    }
    csv += "u0,again@example.org,$argon2id$x,viewer\n";
    csv += "short,row\n";
    let f = d.path().join("users.csv");
    std::fs::write(&f, &csv).unwrap();
    let p = plan(&ws, &request("dev", "users", &f)).unwrap();
    assert!(!p.importable);
    assert_eq!(
        p.rows, 25,
        "the 25 analysts: the others are bad or a duplicate"
    );
    assert_eq!(p.bad_row_count, 26, "25 CHECKs and one short row");
    assert_eq!(p.bad_rows.len(), LISTED);
    let first = &p.bad_rows[0];
    assert_eq!((first.line, first.column.as_str()), (3, "role"));
    assert!(first.rule.contains("CHECK"), "{first:?}");
    assert_eq!((p.duplicate_count, p.duplicates[0].line), (1, 52));
    assert_eq!(
        p.bad_rows.last().unwrap().line,
        41,
        "the first 20, in line order"
    );
    let refusal = p.refusal().unwrap().to_string();
    for says in [
        "26 rows break a rule",
        "line 3",
        "and 21 more",
        "1 duplicate keys",
    ] {
        assert!(refusal.contains(says), "{says:?} in {refusal}");
    }
    let before = rows(&open(&ws, "dev"), "SELECT count(*) FROM users");
    let err = execute(&ws, &p, &Confirmed::forced(), &Quiet).unwrap_err();
    assert!(matches!(err, Error::BadInput { .. }), "{err}");
    assert_eq!(
        rows(&open(&ws, "dev"), "SELECT count(*) FROM users"),
        before
    );
}

#[test]
fn a_file_that_cannot_be_read_on_ends_the_list_with_its_line() {
    let (d, ws) = ws();
    migrate_env(&ws, "dev");
    let f = d.path().join("users.csv");
    std::fs::write(
        &f,
        format!("{USERS}ann,ann@example.org,$argon2id$x,analyst\n\"open,x,y,z\n"),
    )
    .unwrap();
    let p = plan(&ws, &request("dev", "users", &f)).unwrap();
    assert_eq!((p.rows, p.bad_row_count), (1, 1));
    let last = &p.bad_rows[0];
    assert_eq!((last.line, last.column.as_str()), (3, "(file)"));
    assert!(last.rule.contains("never ends"), "{last:?}");
}
