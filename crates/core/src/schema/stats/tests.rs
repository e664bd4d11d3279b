//! The job summary table (V2) equals a recount of the jobs — after a seed, a re-seed, random
//! inserts / status transitions / day and pipeline changes / deletes, a reset, a V1 database
//! migrated with its data, a restored V1 backup migrated — and the charts read from it give exactly
//! what the old GROUP BY queries over `jobs` (kept as `*_from_jobs`, the oracle) give.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::browse;
use crate::schema::stats;
use crate::storage::db::{self, Access};
use crate::verbs::seed::SeedOptions;
use crate::verbs::{check, repair};
use crate::{Confirmed, Quiet, Workspace};
use proptest::prelude::*;
use rusqlite::Connection;

fn opts(jobs: u64) -> SeedOptions {
    SeedOptions {
        users: 3,
        pipelines: 4,
        jobs,
        as_of: Some("2026-06-15T10:00:00Z".into()),
        ..Default::default()
    }
}

fn seeded(jobs: u64) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::at(dir.path()).unwrap();
    seed_dev(&ws, &opts(jobs));
    (dir, ws)
}

/// `seed dev` with `opts`, confirmed, through the plan → execute path every adapter uses.
fn seed_dev(ws: &Workspace, opts: &SeedOptions) -> crate::verbs::seed::SeedOutcome {
    let req = crate::verbs::seed::SeedRequest {
        env: "dev".into(),
        options: opts.clone(),
    };
    let plan = crate::verbs::seed::plan(ws, &req).unwrap();
    crate::verbs::seed::execute(ws, &plan, &Confirmed::forced(), &Quiet).unwrap()
}

fn dev_path(ws: &Workspace) -> PathBuf {
    ws.env("dev").unwrap().path
}

fn open(path: &Path) -> Connection {
    db::open(path, Access::ReadWrite, Duration::from_secs(5)).unwrap()
}

/// Summary == recount, and every chart query == its oracle for `since` values that start
/// mid-day, at midnight, before all data, after all data, and too short to split.
fn assert_in_step(c: &Connection) {
    assert!(stats::present(c).unwrap());
    assert_eq!(stats::summary(c).unwrap(), stats::recount(c).unwrap());
    assert!(stats::differences(c).unwrap().is_empty());
    assert_eq!(
        browse::status_counts(c).unwrap(),
        browse::status_counts_from_jobs(c).unwrap()
    );
    let mut sinces: Vec<String> = [
        "2000-01-01T00:00:00Z",
        "2026-03-17T13:47:12Z",
        "2026-05-01",
        "2026-06-15T09:59:59Z",
        "2030-01-01T00:00:00Z",
        "2026",
    ]
    .map(String::from)
    .to_vec();
    // and the exact created_at of some jobs (the boundary is inclusive)
    let mut stmt = c
        .prepare("SELECT created_at FROM jobs ORDER BY id LIMIT 3")
        .unwrap();
    sinces.extend(
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap),
    );
    for since in &sinces {
        assert_eq!(
            browse::jobs_per_day(c, since).unwrap(),
            browse::jobs_per_day_from_jobs(c, since).unwrap(),
            "jobs per day since {since}"
        );
        assert_eq!(
            browse::success_per_pipeline(c, since).unwrap(),
            browse::success_per_pipeline_from_jobs(c, since).unwrap(),
            "success per pipeline since {since}"
        );
    }
}

#[test]
fn summary_equals_recount_after_seed_and_reseed() {
    let (_d, ws) = seeded(700);
    let c = open(&dev_path(&ws));
    assert_in_step(&c);
    let n: u64 = stats::summary(&c).unwrap().iter().map(|g| g.jobs).sum();
    assert_eq!(n, 700);
    drop(c);
    // Same seed, more jobs: the first 700 are skipped, the summary counts only the 300 new ones
    // (the incomplete-tally path: a recount of the new ids).
    let out = seed_dev(&ws, &opts(1000));
    assert_eq!(out.counts.jobs_inserted, 300);
    let c = open(&dev_path(&ws));
    assert_in_step(&c);
    // Another seed (a different rng seed: all new jobs, the tally path) on top.
    let other = SeedOptions {
        rng_seed: 7,
        ..opts(250)
    };
    seed_dev(&ws, &other);
    assert_in_step(&c);
    assert_eq!(
        stats::summary(&c)
            .unwrap()
            .iter()
            .map(|g| g.jobs)
            .sum::<u64>(),
        1250
    );
}

#[test]
fn the_seed_puts_back_the_migrations_triggers_exactly() {
    let (_d, ws) = seeded(50);
    let c = open(&dev_path(&ws));
    let trig: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        trig,
        [
            "job_daily_stats_delete",
            "job_daily_stats_insert",
            "job_daily_stats_update"
        ]
    );
    let drift = crate::schema::migrations::drift(&c).unwrap();
    assert!(!drift.has_drift(), "{drift:?}");
    // and they work: a job inserted after the seed is counted
    c.execute_batch(
        "INSERT INTO jobs (session_id, run_name, user_id, pipeline_id, status, created_at)
         SELECT '00000000-0000-8000-8000-00000000abcd', 'late_job', min(u.id), min(p.id),
                'pending', '2026-06-15T09:00:00Z' FROM users u, pipelines p",
    )
    .unwrap();
    assert_in_step(&c);
}

#[test]
fn reset_with_sample_data_keeps_the_summary_in_step() {
    let (_d, ws) = seeded(30);
    use crate::verbs::reset;
    let req = reset::ResetRequest {
        env: "dev".into(),
        sample_data: Some(opts(400)),
        keep_evidence: false,
    };
    let p = reset::plan(&ws, &req).unwrap();
    reset::execute(&ws, &p, &Confirmed::forced(), &Quiet).unwrap();
    let c = open(&dev_path(&ws));
    assert_in_step(&c);
    assert_eq!(
        stats::summary(&c)
            .unwrap()
            .iter()
            .map(|g| g.jobs)
            .sum::<u64>(),
        400
    );
}

/// Turns a migrated database back into exactly V1 (V2 only adds objects): its jobs stay.
fn downgrade_to_v1(path: &Path) {
    let c = open(path);
    c.execute_batch(
        "BEGIN;
         DROP TRIGGER job_daily_stats_insert; DROP TRIGGER job_daily_stats_delete;
         DROP TRIGGER job_daily_stats_update; DROP TABLE job_daily_stats;
         DELETE FROM refinery_schema_history WHERE version = 2;
         COMMIT;",
    )
    .unwrap();
    assert_eq!(
        crate::schema::migrations::schema_version(&c).unwrap(),
        Some(1)
    );
    assert!(!crate::schema::migrations::drift(&c).unwrap().has_drift());
}

#[test]
fn migrating_a_v1_database_backfills_the_summary() {
    let (_d, ws) = seeded(600);
    let path = dev_path(&ws);
    downgrade_to_v1(&path);
    {
        // The charts still work before the migration (recounted from jobs).
        let c = open(&path);
        assert!(!stats::present(&c).unwrap());
        let counts = browse::status_counts(&c).unwrap();
        assert_eq!(counts.iter().map(|s| s.n).sum::<u64>(), 600);
        assert_eq!(
            browse::jobs_per_day(&c, "2026-05-01").unwrap(),
            browse::jobs_per_day_from_jobs(&c, "2026-05-01").unwrap()
        );
    }
    let out = migrate_dev(&ws).unwrap();
    assert_eq!(out.schema_version, Some(2));
    let c = open(&path);
    assert_in_step(&c);
    assert_eq!(
        stats::summary(&c)
            .unwrap()
            .iter()
            .map(|g| g.jobs)
            .sum::<u64>(),
        600
    );
}

#[test]
fn a_restored_v1_backup_migrates_with_its_jobs_counted() {
    let (_d, ws) = seeded(300);
    let path = dev_path(&ws);
    downgrade_to_v1(&path);
    let b = crate::verbs::backup::run(&ws, "dev", &Default::default()).unwrap();
    // The live database moves on (V2, other data), then the V1 backup comes back.
    migrate_dev(&ws).unwrap();
    let more = SeedOptions {
        rng_seed: 9,
        ..opts(100)
    };
    seed_dev(&ws, &more);
    use crate::verbs::restore::{self, RestoreRequest};
    let req = RestoreRequest {
        env: "dev".into(),
        backup: b.backup.path.to_str().unwrap().into(),
    };
    let r = restore::execute(
        &ws,
        &restore::plan(&ws, &req).unwrap(),
        &Confirmed::forced(),
        &Quiet,
    )
    .unwrap();
    assert!(r.plan.migrate_after, "{:?}", r.plan.notes);
    {
        let c = open(&path);
        assert!(!stats::present(&c).unwrap());
    }
    migrate_dev(&ws).unwrap();
    let c = open(&path);
    assert_in_step(&c);
    assert_eq!(
        stats::summary(&c)
            .unwrap()
            .iter()
            .map(|g| g.jobs)
            .sum::<u64>(),
        300
    );
}

#[test]
fn check_reports_a_drifted_summary_and_repair_rebuilds_it() {
    let (_d, ws) = seeded(200);
    let path = dev_path(&ws);
    let report = check::run(&ws, "dev").unwrap();
    let f = report
        .findings
        .iter()
        .find(|f| f.check == "job_summary")
        .unwrap();
    assert!(f.ok, "{f:?}");
    {
        // A writer that bypasses the triggers (REPLACE without recursive_triggers deletes the old
        // row silently) and one that edits the summary by hand.
        let c = open(&path);
        c.execute_batch(
            "INSERT OR REPLACE INTO jobs (id, session_id, run_name, user_id, pipeline_id, status,
                                          created_at)
             SELECT id, session_id, run_name, user_id, pipeline_id, 'pending', '2026-06-15T09:30:00Z'
             FROM jobs WHERE status = 'completed' ORDER BY id LIMIT 1;
             UPDATE job_daily_stats SET jobs = jobs + 5
             WHERE day = (SELECT max(day) FROM job_daily_stats);",
        )
        .unwrap();
        let diffs = stats::differences(&c).unwrap();
        assert!(diffs.len() >= 2, "{diffs:?}");
    }
    let report = check::run(&ws, "dev").unwrap();
    assert_eq!(report.exit_code(), 1);
    let f = report
        .findings
        .iter()
        .find(|f| f.check == "job_summary")
        .unwrap();
    assert!(!f.ok && f.detail.contains("differs"), "{f:?}");
    assert!(
        report
            .advice
            .iter()
            .any(|a| a.contains("migrations repair dev")),
        "{:?}",
        report.advice
    );
    let p = repair::plan(&ws, "dev").unwrap();
    assert!(p.summary_differences >= 2 && p.fixes.is_empty() && p.backup.is_some());
    let out = repair::execute(&ws, &p, &Confirmed::forced()).unwrap();
    assert!(out.backup.is_some());
    assert_in_step(&open(&path));
    assert_eq!(check::run(&ws, "dev").unwrap().exit_code(), 0);
    assert_eq!(repair::plan(&ws, "dev").unwrap().summary_differences, 0);
}

// ---- random operation sequences ----

#[derive(Debug, Clone)]
enum Op {
    Insert {
        pipeline: usize,
        status: usize,
        minutes: i64,
    },
    Delete(usize),
    SetStatus(usize, usize),
    /// Moves created_at by this many minutes (often across midnight).
    MoveCreated(usize, i64),
    SetPipeline(usize, usize),
    /// An UPDATE of the watched columns that changes nothing.
    Touch(usize),
    /// Deletes a pipeline if no job uses it (the summary's foreign key must allow it).
    DropUnusedPipeline(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..6usize, 0..4usize, -3000i64..3000).prop_map(|(pipeline, status, minutes)| Op::Insert { pipeline, status, minutes }),
        2 => any::<usize>().prop_map(Op::Delete),
        3 => (any::<usize>(), 0..4usize).prop_map(|(j, s)| Op::SetStatus(j, s)),
        2 => (any::<usize>(), -2000i64..2000).prop_map(|(j, m)| Op::MoveCreated(j, m)),
        2 => (any::<usize>(), 0..6usize).prop_map(|(j, p)| Op::SetPipeline(j, p)),
        1 => any::<usize>().prop_map(Op::Touch),
        1 => (0..6usize).prop_map(Op::DropUnusedPipeline),
    ]
}

const STATUSES: [&str; 4] = ["pending", "running", "completed", "failed"];

/// The columns a job in `status` created at `created` must have to pass every CHECK.
const SET_STATE: &str = "UPDATE jobs SET status = ?2, created_at = ?3,
    started_at = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?3 END,
    completed_at = CASE WHEN ?2 IN ('completed', 'failed') THEN ?3 END,
    output_dir = NULL,
    error_message = CASE WHEN ?2 = 'failed' THEN 'exit status 1' END
    WHERE id = ?1";

fn nth_id(c: &Connection, table: &str, k: usize) -> Option<i64> {
    let n: i64 = c
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap();
    (n > 0).then(|| {
        c.query_row(
            &format!("SELECT id FROM {table} ORDER BY id LIMIT 1 OFFSET ?1"),
            [(k % n as usize) as i64],
            |r| r.get(0),
        )
        .unwrap()
    })
}

fn ts(epoch: i64) -> String {
    crate::storage::time::format(epoch)
}

fn apply(c: &Connection, op: &Op, serial: &mut u64) {
    let base = crate::storage::time::parse("2026-06-10T12:00:00Z").unwrap();
    let pipeline = |k: usize| nth_id(c, "pipelines", k);
    match *op {
        Op::Insert {
            pipeline: p,
            status,
            minutes,
        } => {
            let Some(p) = pipeline(p) else { return };
            *serial += 1;
            c.execute(
                "INSERT INTO jobs (session_id, run_name, user_id, pipeline_id, status, created_at)
                 VALUES (printf('00000000-0000-8000-8000-%012x', ?1), 'prop_job',
                         (SELECT min(id) FROM users), ?2, 'pending', ?3)",
                rusqlite::params![*serial as i64, p, ts(base + minutes * 60)],
            )
            .unwrap();
            let id = c.last_insert_rowid();
            let created: String = c
                .query_row("SELECT created_at FROM jobs WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .unwrap();
            c.execute(SET_STATE, rusqlite::params![id, STATUSES[status], created])
                .unwrap();
        }
        Op::Delete(k) => {
            if let Some(id) = nth_id(c, "jobs", k) {
                c.execute("DELETE FROM jobs WHERE id = ?1", [id]).unwrap();
            }
        }
        Op::SetStatus(k, s) => {
            if let Some(id) = nth_id(c, "jobs", k) {
                let created: String = c
                    .query_row("SELECT created_at FROM jobs WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .unwrap();
                c.execute(SET_STATE, rusqlite::params![id, STATUSES[s], created])
                    .unwrap();
            }
        }
        Op::MoveCreated(k, minutes) => {
            if let Some(id) = nth_id(c, "jobs", k) {
                let (status, created): (String, String) = c
                    .query_row(
                        "SELECT status, created_at FROM jobs WHERE id = ?1",
                        [id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .unwrap();
                let t = crate::storage::time::parse(&created).unwrap() + minutes * 60;
                c.execute(SET_STATE, rusqlite::params![id, status, ts(t)])
                    .unwrap();
            }
        }
        Op::SetPipeline(k, p) => {
            if let (Some(id), Some(p)) = (nth_id(c, "jobs", k), pipeline(p)) {
                c.execute(
                    "UPDATE jobs SET pipeline_id = ?2 WHERE id = ?1",
                    rusqlite::params![id, p],
                )
                .unwrap();
            }
        }
        Op::Touch(k) => {
            if let Some(id) = nth_id(c, "jobs", k) {
                c.execute(
                    "UPDATE jobs SET status = status, created_at = created_at,
                     pipeline_id = pipeline_id WHERE id = ?1",
                    [id],
                )
                .unwrap();
            }
        }
        Op::DropUnusedPipeline(p) => {
            if let Some(p) = pipeline(p) {
                c.execute(
                    "DELETE FROM pipelines WHERE id = ?1
                     AND NOT EXISTS (SELECT 1 FROM jobs WHERE pipeline_id = ?1)",
                    [p],
                )
                .unwrap();
            }
        }
    }
}

/// A seeded database with one pipeline that no job uses (for `DropUnusedPipeline`).
fn template() -> (tempfile::TempDir, PathBuf) {
    let (d, ws) = seeded(40);
    let path = dev_path(&ws);
    open(&path)
        .execute_batch(
            "INSERT INTO pipelines (name) VALUES ('nf-core/unused');
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
    (d, path)
}

#[test]
fn the_summary_follows_random_writes() {
    use proptest::test_runner::{Config, TestRunner};
    let (_t, path) = template();
    let mut runner = TestRunner::new(Config {
        cases: 48,
        ..Config::default()
    });
    let ops = proptest::collection::vec(op(), 1..40);
    runner
        .run(&ops, |ops| {
            let dir = tempfile::tempdir().unwrap();
            let copy = dir.path().join("dev.sqlite3");
            std::fs::copy(&path, &copy).unwrap();
            let c = open(&copy);
            let mut serial = 0;
            // half the cases in one transaction, half in autocommit
            let tx = ops.len() % 2 == 0;
            if tx {
                c.execute_batch("BEGIN").unwrap();
            }
            for op in &ops {
                apply(&c, op, &mut serial);
            }
            if tx {
                c.execute_batch("COMMIT").unwrap();
            }
            prop_assert!(db::foreign_key_problems(&c).unwrap().is_empty());
            prop_assert_eq!(stats::summary(&c).unwrap(), stats::recount(&c).unwrap());
            assert_in_step(&c);
            Ok(())
        })
        .unwrap();
}

fn migrate_dev(ws: &Workspace) -> crate::Result<crate::verbs::migrate::MigrateOutcome> {
    use crate::verbs::migrate::{execute, plan, MigrateRequest};
    let p = plan(ws, &MigrateRequest { env: "dev".into() })?;
    execute(ws, &p, &Confirmed::forced(), &Quiet)
}
