//! The references: what SQLite and the OS do on their own, measured in the same run.
//! Seeding: one `INSERT … SELECT` from a recursive CTE in the same bundled SQLite, on the same
//! schema and indexes (the embedded migrations), rows of the same shape and size as ours. Since V2
//! the schema includes the job summary's triggers, which fire for every row here; our seed drops
//! them for its bulk insert and adds the groups it counted (`core::stats::with_triggers_off`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rusqlite::Connection;

/// Rows of the same shape as our seed: ~14-char run names, ~225-byte JSON params, ~50-byte output
/// dirs, 16 % failures with a ~100-byte error, timestamps spread over 90 days, valid for every CHECK.
const JOBS_SQL: &str = r#"
INSERT INTO jobs (session_id, run_name, user_id, pipeline_id, status, params, output_dir,
                  error_message, created_at, started_at, completed_at)
WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?1 - 1),
g AS (
  SELECT i,
         ?2 + i * ?3 / ?1 AS t,
         (i * 2654435761) % 1000 AS roll,
         5 + (i * 40503) % 1800 AS q,
         600 + (i * 69069) % 14400 AS run,
         printf('project-%02d', (i * 7919) % 12) AS project,
         printf('%s_%s',
                CASE (i * 131) % 6 WHEN 0 THEN 'furious' WHEN 1 THEN 'stupefied' WHEN 2 THEN 'brave'
                                  WHEN 3 THEN 'jolly' WHEN 4 THEN 'serene' ELSE 'elated' END,
                CASE (i * 137) % 6 WHEN 0 THEN 'colden' WHEN 1 THEN 'lamarr' WHEN 2 THEN 'curie'
                                  WHEN 3 THEN 'franklin' WHEN 4 THEN 'hopper' ELSE 'noether' END)
           AS rn
  FROM c)
SELECT printf('%08x-%04x-8%03x-%04x-%012x', 1087278362, 2276, 723, 32768, i),
       rn,
       1 + (i * 31) % 6,
       1 + (i * 17) % 20,
       CASE WHEN roll < 840 THEN 'completed' ELSE 'failed' END,
       printf('{"input":"s3://lab-data/%s/samplesheet_batch%02d.csv","outdir":"/data/results/%s/rnaseq/%s","genome":"GRCh38","profile":"docker,awsbatch","max_cpus":%d,"aligner":"star_salmon","pseudo_aligner":"salmon"}',
              project, 1 + i % 60, project, rn, 4 << (i % 4)),
       printf('/data/results/%s/rnaseq/%s', project, rn),
       CASE WHEN roll >= 840 THEN printf('Process `NFCORE_RNASEQ:ALIGN_STAR (SAMPLE_%d)` terminated with an error exit status (137): out of memory', 1 + i % 96) END,
       strftime('%Y-%m-%dT%H:%M:%SZ', t, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%SZ', t + q, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%SZ', t + q + run, 'unixepoch')
FROM g
"#;

const USERS_SQL: &str = r#"
INSERT INTO users (username, email, hashed_password, role, created_at, updated_at)
SELECT 'user' || value, 'user' || value || '@example.org',
       '$argon2id$v=19$m=19456,t=2,p=1$wh+kCmdxq+0v5Dr2rSTOeA$2nCOqrzdRyfpSeFjjBH7HKS/qYwB9Ugc9PjXuH4N/DM',
       'analyst', '2025-11-06T04:22:41Z', '2025-12-08T04:22:41Z'
FROM generate_series(1, 6);
INSERT INTO pipelines (name, description, repository_url, revision, config, created_at, updated_at)
SELECT 'nf-core/p' || value, 'A pipeline', 'https://github.com/nf-core/p' || value, '3.14.0',
       '{"profile":"singularity","max_cpus":8}', '2025-05-03T00:00:00Z', '2025-07-11T00:00:00Z'
FROM generate_series(1, 20);
"#;

/// Opens a new file as our tool does (WAL, foreign keys on) and applies the embedded migrations.
fn create_schema(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for m in pipeline_db_core::schema::migrations::embedded() {
        conn.execute_batch(m.sql().unwrap_or_default())
            .with_context(|| format!("applying {}", m.name()))?;
    }
    Ok(conn)
}

/// Commits, closes (checkpointing the WAL into the file) and fsyncs: durable, like ours.
fn finish(conn: Connection, path: &Path) -> Result<()> {
    conn.execute_batch("COMMIT")?;
    conn.close().map_err(|(_, e)| e)?;
    std::fs::File::open(path)?.sync_all()?;
    Ok(())
}

/// Seeds `jobs` rows into a new file at `path`, from creation to the durable close.
pub fn seed(path: &Path, jobs: u64) -> Result<Duration> {
    let started = Instant::now();
    let conn = create_schema(path)?;
    // generate_series is not in every build: fall back to a CTE for the 26 reference rows.
    if conn.execute_batch(USERS_SQL).is_err() {
        conn.execute_batch(&USERS_SQL.replace(
            "generate_series(1, 6)",
            "(WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 6) SELECT value FROM s)",
        ).replace(
            "generate_series(1, 20)",
            "(WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 20) SELECT value FROM s)",
        ))?;
    }
    let span = 90 * 86_400_i64;
    let start = pipeline_db_core::storage::time::now_epoch() - span - 86_400;
    let n = conn
        .execute(JOBS_SQL, rusqlite::params![jobs as i64, start, span])
        .context("reference INSERT … SELECT")?;
    anyhow::ensure!(n as u64 == jobs, "reference inserted {n} rows, not {jobs}");
    finish(conn, path)?;
    Ok(started.elapsed())
}

/// Creating an empty database with our schema (the "rebuild" half of a reset's reference).
pub fn empty_schema(path: &Path) -> Result<Duration> {
    let started = Instant::now();
    let conn = create_schema(path)?;
    finish(conn, path)?;
    Ok(started.elapsed())
}

/// `cp SRC DST` then `sync DST` (coreutils fsyncs the named file), as two processes.
pub fn cp_fsync(src: &Path, dst: &Path) -> Result<Duration> {
    let _ = std::fs::remove_file(dst);
    let started = Instant::now();
    let ok = Command::new("cp").arg(src).arg(dst).status()?.success()
        && Command::new("sync").arg(dst).status()?.success();
    anyhow::ensure!(ok, "cp/sync of {} failed", src.display());
    let t = started.elapsed();
    std::fs::remove_file(dst)?;
    Ok(t)
}

/// The `sqlite3` command running `select count(*)` on each table, or `None` if it is missing.
pub fn sqlite3_counts(db: &Path) -> Result<Option<Command>> {
    if crate::proc::first_line("sqlite3", &["-version"]).is_none() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%'",
    )?;
    let sql: String = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|t| t.map(|t| format!("SELECT count(*) FROM \"{t}\";")))
        .collect::<rusqlite::Result<Vec<_>>>()?
        .join(" ");
    let mut cmd = Command::new("sqlite3");
    cmd.arg("-readonly").arg(db).arg(sql);
    Ok(Some(cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference must insert rows that pass every CHECK and foreign key of our schema, of the
    /// same shape as ours (otherwise the comparison would flatter one side).
    #[test]
    fn reference_rows_satisfy_the_schema_and_look_like_ours() {
        let dir = std::env::temp_dir().join(format!("pdb-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ref.sqlite3");
        seed(&path, 2000).unwrap();
        let c = Connection::open(&path).unwrap();
        let fk: i64 = c
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0);
        let (n, failed, params): (i64, i64, f64) = c
            .query_row(
                "SELECT count(*), sum(status = 'failed'), avg(length(params)) FROM jobs",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(n, 2000);
        assert!((200..400).contains(&failed), "{failed} failures");
        assert!((200.0..260.0).contains(&params), "params {params} bytes");
        drop(c);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
