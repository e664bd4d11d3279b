//! The job summary table `job_daily_stats` (migration V2): jobs per (day, pipeline, status), kept
//! by triggers on `jobs`. Here: whether a database has it, the recount from `jobs` it must equal,
//! the drift check `check` runs, the rebuild, and the seed's bulk path (triggers off, one
//! aggregate, triggers back, in the caller's transaction).

use std::collections::HashMap;

use rusqlite::Connection;
use serde::Serialize;

use crate::error::{Error, Result};

pub const TABLE: &str = "job_daily_stats";

/// The statuses the schema allows (its CHECK).
const STATUSES: [&str; 4] = ["pending", "running", "completed", "failed"];

/// The recount the table must equal: the same expression the migration's backfill and triggers use.
pub const RECOUNT_SQL: &str = "SELECT substr(created_at, 1, 10) AS day, pipeline_id, status, \
     count(*) AS jobs FROM jobs GROUP BY 1, 2, 3";

/// One summary row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Group {
    pub day: String,
    pub pipeline_id: i64,
    pub status: String,
    pub jobs: u64,
}

/// Whether the database has the summary table (migrated to V2 or later).
pub(crate) fn present(conn: &Connection) -> Result<bool> {
    conn.prepare_cached("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1")
        .and_then(|mut s| s.query_row([TABLE], |r| r.get::<_, i64>(0)))
        .map(|n| n > 0)
        .map_err(Error::sql("looking for the job summary table"))
}

#[cfg(test)]
fn groups(conn: &Connection, sql: &str, what: &str) -> Result<Vec<Group>> {
    let mut stmt = conn.prepare(sql).map_err(Error::sql(what.to_string()))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Group {
                day: r.get(0)?,
                pipeline_id: r.get(1)?,
                status: r.get(2)?,
                jobs: r.get::<_, i64>(3)? as u64,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(Error::sql(what.to_string()))?;
    Ok(rows)
}

/// The summary table's rows, in key order.
#[cfg(test)]
pub(crate) fn summary(conn: &Connection) -> Result<Vec<Group>> {
    let sql = format!("SELECT day, pipeline_id, status, jobs FROM {TABLE} ORDER BY 1, 2, 3");
    groups(conn, &sql, "reading the job summary")
}

/// The groups recounted from `jobs`, in key order.
#[cfg(test)]
pub(crate) fn recount(conn: &Connection) -> Result<Vec<Group>> {
    groups(
        conn,
        &format!("{RECOUNT_SQL} ORDER BY 1, 2, 3"),
        "recounting jobs",
    )
}

/// A group whose summary count differs from the recount (`None` = no row).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Difference {
    pub day: String,
    pub pipeline_id: i64,
    pub status: String,
    pub summary: Option<u64>,
    pub recount: Option<u64>,
}

/// Every group where the summary table and a recount of `jobs` disagree (empty = in step).
/// One pass over `jobs`; read-only.
pub(crate) fn differences(conn: &Connection) -> Result<Vec<Difference>> {
    let sql = format!(
        "WITH r AS ({RECOUNT_SQL})
         SELECT day, pipeline_id, status, s.jobs, r.jobs
         FROM r FULL JOIN {TABLE} s USING (day, pipeline_id, status)
         WHERE r.jobs IS NOT s.jobs ORDER BY 1, 2, 3"
    );
    let what = "comparing the job summary with the jobs";
    let mut stmt = conn.prepare(&sql).map_err(Error::sql(what))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Difference {
                day: r.get(0)?,
                pipeline_id: r.get(1)?,
                status: r.get(2)?,
                summary: r.get::<_, Option<i64>>(3)?.map(|n| n as u64),
                recount: r.get::<_, Option<i64>>(4)?.map(|n| n as u64),
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(Error::sql(what))?;
    Ok(rows)
}

/// Replaces the summary with a recount of `jobs`, inside the caller's transaction.
pub(crate) fn rebuild(conn: &Connection) -> Result<()> {
    conn.execute_batch(&format!(
        "DELETE FROM {TABLE}; INSERT INTO {TABLE} (day, pipeline_id, status, jobs) {RECOUNT_SQL};"
    ))
    .map_err(Error::sql("rebuilding the job summary"))
}

/// The summary's triggers as the database holds them (`name`, `CREATE TRIGGER …`), so that a bulk
/// insert can drop them and put back exactly the migration's DDL.
fn triggers(conn: &Connection) -> Result<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'jobs' \
             AND name LIKE ?1 || '\\_%' ESCAPE '\\' ORDER BY name",
        )
        .map_err(Error::sql("reading the job summary triggers"))?;
    let rows = stmt
        .query_map([TABLE], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(Error::sql("reading the job summary triggers"))?;
    Ok(rows)
}

/// Jobs per group, counted by a bulk insert as it goes, so that no aggregate over the new rows is
/// needed. A batch that skipped rows (existing natural keys) makes it incomplete: then the new
/// jobs are recounted by id instead.
#[derive(Debug)]
pub(crate) struct Tally {
    /// (UTC day number, pipeline id, status) -> jobs
    groups: HashMap<(i64, i64, &'static str), u64>,
    /// day as stored -> (pipeline id, status) -> jobs
    stored: HashMap<String, HashMap<(i64, &'static str), u64>>,
    complete: bool,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            groups: HashMap::new(),
            stored: HashMap::new(),
            complete: true,
        }
    }
}

impl Tally {
    /// One inserted job created at `created` (Unix seconds).
    pub(crate) fn add(&mut self, created: i64, pipeline_id: i64, status: &'static str) {
        *self
            .groups
            .entry((created.div_euclid(86_400), pipeline_id, status))
            .or_default() += 1;
    }

    /// One inserted job as SQLite stored it (`created_at` text, `status`): what an import's
    /// `RETURNING` gives. Its day is the first 10 characters of `created_at`, exactly as the
    /// triggers take it (the schema's CHECK lets through dates no calendar has).
    pub(crate) fn add_stored(
        &mut self,
        created_at: &str,
        pipeline_id: i64,
        status: &str,
    ) -> Result<()> {
        let status = STATUSES
            .into_iter()
            .find(|s| *s == status)
            .ok_or_else(|| Error::Internal(format!("a job stored with status {status:?}")))?;
        let day = match created_at.char_indices().nth(10) {
            Some((i, _)) => &created_at[..i],
            None => created_at,
        };
        match self.stored.get_mut(day) {
            Some(groups) => *groups.entry((pipeline_id, status)).or_default() += 1,
            None => {
                let groups = HashMap::from([((pipeline_id, status), 1)]);
                self.stored.insert(day.to_string(), groups);
            }
        }
        Ok(())
    }

    /// Some rows were not inserted and we do not know which.
    pub(crate) fn lose_track(&mut self) {
        self.complete = false;
    }

    fn flush(&self, conn: &Connection) -> Result<()> {
        let what = "adding the new jobs to the job summary";
        let mut stmt = conn
            .prepare(&format!(
                "INSERT INTO {TABLE} (day, pipeline_id, status, jobs) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (day, pipeline_id, status) DO UPDATE SET jobs = jobs + excluded.jobs"
            ))
            .map_err(Error::sql(what))?;
        for (&(day, pipeline, status), &n) in &self.groups {
            let day = crate::storage::time::format(day * 86_400);
            stmt.execute(rusqlite::params![&day[..10], pipeline, status, n as i64])
                .map_err(Error::sql(what))?;
        }
        for (day, groups) in &self.stored {
            for (&(pipeline, status), &n) in groups {
                stmt.execute(rusqlite::params![day, pipeline, status, n as i64])
                    .map_err(Error::sql(what))?;
            }
        }
        Ok(())
    }
}

/// Runs `insert` (a bulk insert of new jobs only, all with ids above every existing one's) with
/// the summary's triggers dropped, then adds the new jobs' groups — from `insert`'s [`Tally`], or
/// by one aggregate over the new ids if the tally is incomplete — and recreates the triggers from
/// the DDL the database held (the migration's, byte for byte). Must run inside the caller's
/// transaction: a failure or a crash rolls the drop back with everything else. Without the table
/// (an older schema) it just runs `insert`.
pub(crate) fn with_triggers_off<T>(
    conn: &Connection,
    insert: impl FnOnce(&mut Tally) -> Result<T>,
) -> Result<T> {
    let mut tally = Tally::default();
    if !present(conn)? {
        return insert(&mut tally);
    }
    debug_assert!(
        !conn.is_autocommit(),
        "with_triggers_off needs a transaction"
    );
    let saved = triggers(conn)?;
    let max_id: i64 = conn
        .query_row("SELECT coalesce(max(id), 0) FROM jobs", [], |r| r.get(0))
        .map_err(Error::sql("reading the last job id"))?;
    let sql = || Error::sql("switching the job summary triggers");
    for (name, _) in &saved {
        conn.execute_batch(&format!(
            "DROP TRIGGER {}",
            crate::storage::db::quote_ident(name)
        ))
        .map_err(sql())?;
    }
    let out = insert(&mut tally)?;
    if tally.complete {
        tally.flush(conn)?;
    } else {
        conn.execute(
            &format!(
                "INSERT INTO {TABLE} (day, pipeline_id, status, jobs) \
                 SELECT substr(created_at, 1, 10), pipeline_id, status, count(*) FROM jobs \
                 WHERE id > ?1 GROUP BY 1, 2, 3 \
                 ON CONFLICT (day, pipeline_id, status) DO UPDATE SET jobs = jobs + excluded.jobs"
            ),
            [max_id],
        )
        .map_err(Error::sql("adding the new jobs to the job summary"))?;
    }
    for (_, ddl) in &saved {
        conn.execute_batch(ddl).map_err(sql())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
