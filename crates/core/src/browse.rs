//! Read-only views for the desktop's data browser and charts: keyset-paged listings (never
//! OFFSET), one job's detail, migration state, and chart aggregates. Opens files read-only after
//! the header and env-tag checks; writes nothing, takes no lock.

use rusqlite::types::Value;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::safety::session;
use crate::schema::migrations::{self, DriftReport, MigrationInfo};
use crate::schema::{stats, tag};
use crate::workspace::config::Workspace;

/// Upper bound of one page.
pub const MAX_PAGE: u32 = 500;
pub const JOB_STATUSES: [&str; 4] = ["pending", "running", "completed", "failed"];

/// Filters of the jobs listing; dates are `YYYY-MM-DD[THH:MM:SSZ]`, `to` is exclusive.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct JobFilter {
    pub status: Option<String>,
    pub pipeline_id: Option<i64>,
    pub user_id: Option<i64>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// Where the next page of jobs starts: the last row seen.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JobCursor {
    pub created_at: String,
    pub id: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Page<T, C> {
    pub rows: Vec<T>,
    /// `None` on the last page.
    pub next: Option<C>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JobRow {
    pub id: i64,
    pub run_name: String,
    pub status: String,
    pub pipeline_id: i64,
    pub pipeline: String,
    pub user_id: i64,
    pub username: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct JobDetail {
    pub row: JobRow,
    pub session_id: String,
    /// `params`, pretty-printed.
    pub params_pretty: String,
    pub output_dir: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub role: String,
    pub is_active: bool,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PipelineRow {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub repository_url: Option<String>,
    pub revision: Option<String>,
    pub created_at: String,
}

/// Opens `env` read-only after the header and tag checks; a missing file is an actionable error.
fn open(ws: &Workspace, env: &str) -> Result<Connection> {
    let target = ws.env(env)?;
    let conn = session::inspect(ws, &target)?.ok_or_else(|| {
        Error::InvalidInput(format!(
            "{} does not exist yet: migrate {env} or reset it with sample data first",
            target.path.display()
        ))
    })?;
    tag::require_identity(&conn, &target)?;
    Ok(conn)
}

/// One env opened read-only once, for callers that ask many questions in a row (the benchmark
/// times the queries alone). The connection never leaves core.
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// Opens `env` after the header and env-tag checks; refuses a file that does not exist yet.
    pub fn open(ws: &Workspace, env: &str) -> Result<Reader> {
        Ok(Reader {
            conn: open(ws, env)?,
        })
    }

    /// [`jobs`] on this reader.
    pub fn jobs(
        &self,
        filter: &JobFilter,
        order: Order,
        after: Option<&JobCursor>,
        limit: u32,
    ) -> Result<Page<JobRow, JobCursor>> {
        filter.validate()?;
        jobs_page(&self.conn, filter, order, after, limit)
    }

    /// Jobs per status, as on the charts page.
    pub fn status_counts(&self) -> Result<Vec<Count>> {
        status_counts(&self.conn)
    }

    /// Jobs per day created at or after `since`.
    pub fn jobs_per_day(&self, since: &str) -> Result<Vec<DayCount>> {
        jobs_per_day(&self.conn, since)
    }

    /// Success rate per pipeline for jobs created at or after `since`.
    pub fn success_per_pipeline(&self, since: &str) -> Result<Vec<PipelineRate>> {
        success_per_pipeline(&self.conn, since)
    }
}

fn check_date(d: &Option<String>, what: &str) -> Result<()> {
    let ok = |s: &str| {
        (10..=20).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b"-:TZ".contains(&b))
    };
    match d {
        Some(s) if !ok(s) => Err(Error::InvalidInput(format!(
            "invalid {what} date \"{}\": use YYYY-MM-DD",
            crate::storage::text::echo(s)
        ))),
        _ => Ok(()),
    }
}

impl JobFilter {
    fn validate(&self) -> Result<()> {
        if let Some(s) = &self.status {
            if !JOB_STATUSES.contains(&s.as_str()) {
                return Err(Error::InvalidInput(format!(
                    "unknown job status \"{}\"; one of: {}",
                    crate::storage::text::echo(s),
                    JOB_STATUSES.join(", ")
                )));
            }
        }
        check_date(&self.from, "from")?;
        check_date(&self.to, "to")
    }

    /// `SELECT` of every column of the jobs this filter selects, newest first (the data browser's
    /// order), and the `count(*)` of them: for an export through the untrusted-SQL guard, which
    /// allows no bound parameters, so the validated values are written into the text as literals.
    pub fn export_sql(&self) -> Result<(String, String)> {
        self.validate()?;
        let (clause, vals) = self.clause(None, Order::NewestFirst);
        let mut vals = vals.iter();
        let clause: String = clause
            .split('?')
            .enumerate()
            .map(|(i, part)| match i {
                0 => part.to_string(),
                _ => format!("{}{part}", vals.next().map_or(String::new(), sql_literal)),
            })
            .collect();
        Ok((
            format!("SELECT j.* FROM jobs j {clause} ORDER BY j.created_at DESC, j.id DESC"),
            format!("SELECT count(*) FROM jobs j {clause}"),
        ))
    }

    /// The filter in words, for the audit log ("status = failed, pipeline 3"; "all jobs").
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(s) = &self.status {
            parts.push(format!("status {s}"));
        }
        if let Some(p) = self.pipeline_id {
            parts.push(format!("pipeline {p}"));
        }
        if let Some(u) = self.user_id {
            parts.push(format!("user {u}"));
        }
        if let Some(f) = &self.from {
            parts.push(format!("from {f}"));
        }
        if let Some(t) = &self.to {
            parts.push(format!("before {t}"));
        }
        match parts.is_empty() {
            true => "all jobs".into(),
            false => format!("jobs with {}", parts.join(", ")),
        }
    }

    /// The WHERE clause (only the filters that are set, so SQLite can pick an index) and its values.
    fn clause(&self, after: Option<&JobCursor>, order: Order) -> (String, Vec<Value>) {
        let mut parts = vec![];
        let mut vals = vec![];
        let mut push = |sql: &str, v: Vec<Value>| {
            parts.push(sql.to_string());
            vals.extend(v);
        };
        if let Some(s) = &self.status {
            push("j.status = ?", vec![Value::Text(s.clone())]);
        }
        if let Some(p) = self.pipeline_id {
            push("j.pipeline_id = ?", vec![Value::Integer(p)]);
        }
        if let Some(u) = self.user_id {
            push("j.user_id = ?", vec![Value::Integer(u)]);
        }
        if let Some(f) = &self.from {
            push("j.created_at >= ?", vec![Value::Text(f.clone())]);
        }
        if let Some(t) = &self.to {
            push("j.created_at < ?", vec![Value::Text(t.clone())]);
        }
        if let Some(c) = after {
            let op = match order {
                Order::NewestFirst => "<",
                Order::OldestFirst => ">",
            };
            push(
                &format!("(j.created_at, j.id) {op} (?, ?)"),
                vec![Value::Text(c.created_at.clone()), Value::Integer(c.id)],
            );
        }
        let sql = if parts.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", parts.join(" AND "))
        };
        (sql, vals)
    }
}

/// A value as an SQL literal (text quoted, quotes doubled).
fn sql_literal(v: &Value) -> String {
    match v {
        Value::Integer(i) => i.to_string(),
        Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
        _ => "NULL".into(),
    }
}

const JOB_COLUMNS: &str = "j.id, j.run_name, j.status, j.pipeline_id, p.name, j.user_id, \
     u.username, j.created_at, j.started_at, j.completed_at";

fn job_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        run_name: r.get(1)?,
        status: r.get(2)?,
        pipeline_id: r.get(3)?,
        pipeline: r.get(4)?,
        user_id: r.get(5)?,
        username: r.get(6)?,
        created_at: r.get(7)?,
        started_at: r.get(8)?,
        completed_at: r.get(9)?,
    })
}

/// One page of jobs, ordered by (created_at, id), starting after `after`.
pub fn jobs(
    ws: &Workspace,
    env: &str,
    filter: &JobFilter,
    order: Order,
    after: Option<&JobCursor>,
    limit: u32,
) -> Result<Page<JobRow, JobCursor>> {
    filter.validate()?;
    jobs_page(&open(ws, env)?, filter, order, after, limit)
}

/// [`jobs`] on an open connection.
pub(crate) fn jobs_page(
    conn: &Connection,
    filter: &JobFilter,
    order: Order,
    after: Option<&JobCursor>,
    limit: u32,
) -> Result<Page<JobRow, JobCursor>> {
    filter.validate()?;
    let limit = limit.clamp(1, MAX_PAGE);
    let (clause, mut vals) = filter.clause(after, order);
    let dir = match order {
        Order::NewestFirst => "DESC",
        Order::OldestFirst => "ASC",
    };
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id \
         JOIN users u ON u.id = j.user_id {clause} \
         ORDER BY j.created_at {dir}, j.id {dir} LIMIT ?"
    );
    vals.push(Value::Integer(limit as i64 + 1));
    let mut rows = query(conn, &sql, vals, job_row, "listing jobs")?;
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|r| JobCursor {
            created_at: r.created_at.clone(),
            id: r.id,
        })
    } else {
        None
    };
    Ok(Page { rows, next })
}

fn query<T>(
    conn: &Connection,
    sql: &str,
    vals: Vec<Value>,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    what: &str,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(sql).map_err(Error::sql(what))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(vals), f)
        .and_then(|r| r.collect::<rusqlite::Result<Vec<T>>>())
        .map_err(Error::sql(what))?;
    Ok(rows)
}

/// One job with its parameters pretty-printed; `None` if there is no such job.
pub fn job(ws: &Workspace, env: &str, id: i64) -> Result<Option<JobDetail>> {
    let conn = open(ws, env)?;
    let sql = format!(
        "SELECT {JOB_COLUMNS}, j.session_id, j.params, j.output_dir, j.error_message \
         FROM jobs j JOIN pipelines p ON p.id = j.pipeline_id JOIN users u ON u.id = j.user_id \
         WHERE j.id = ?"
    );
    let mut found = query(
        &conn,
        &sql,
        vec![Value::Integer(id)],
        |r| {
            let params: String = r.get(11)?;
            let pretty = serde_json::from_str::<serde_json::Value>(&params)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or(params);
            Ok(JobDetail {
                row: job_row(r)?,
                session_id: r.get(10)?,
                params_pretty: pretty,
                output_dir: r.get(12)?,
                error_message: r.get(13)?,
            })
        },
        "reading a job",
    )?;
    Ok(found.pop())
}

/// One page of users by id.
pub fn users(
    ws: &Workspace,
    env: &str,
    after_id: Option<i64>,
    limit: u32,
) -> Result<Page<UserRow, i64>> {
    let conn = open(ws, env)?;
    let limit = limit.clamp(1, MAX_PAGE);
    let sql = "SELECT id, username, email, role, is_active, created_at FROM users \
               WHERE id > ? ORDER BY id LIMIT ?";
    let vals = vec![
        Value::Integer(after_id.unwrap_or(i64::MIN)),
        Value::Integer(limit as i64 + 1),
    ];
    let rows = query(
        &conn,
        sql,
        vals,
        |r| {
            Ok(UserRow {
                id: r.get(0)?,
                username: r.get(1)?,
                email: r.get(2)?,
                role: r.get(3)?,
                is_active: r.get::<_, i64>(4)? != 0,
                created_at: r.get(5)?,
            })
        },
        "listing users",
    )?;
    Ok(paged(rows, limit, |u| u.id))
}

/// One page of pipelines by id.
pub fn pipelines(
    ws: &Workspace,
    env: &str,
    after_id: Option<i64>,
    limit: u32,
) -> Result<Page<PipelineRow, i64>> {
    let conn = open(ws, env)?;
    let limit = limit.clamp(1, MAX_PAGE);
    let sql = "SELECT id, name, description, repository_url, revision, created_at FROM pipelines \
               WHERE id > ? ORDER BY id LIMIT ?";
    let vals = vec![
        Value::Integer(after_id.unwrap_or(i64::MIN)),
        Value::Integer(limit as i64 + 1),
    ];
    let rows = query(
        &conn,
        sql,
        vals,
        |r| {
            Ok(PipelineRow {
                id: r.get(0)?,
                name: r.get(1)?,
                description: r.get(2)?,
                repository_url: r.get(3)?,
                revision: r.get(4)?,
                created_at: r.get(5)?,
            })
        },
        "listing pipelines",
    )?;
    Ok(paged(rows, limit, |p| p.id))
}

fn paged<T>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> i64) -> Page<T, i64> {
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(key)
    } else {
        None
    };
    Page { rows, next }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Count {
    pub key: String,
    pub n: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DayCount {
    pub day: String,
    pub status: String,
    pub n: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PipelineRate {
    pub pipeline: String,
    pub completed: u64,
    pub failed: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BackupPoint {
    pub created_at: String,
    pub size_bytes: u64,
    pub reason: String,
}

/// Everything the charts page draws, for jobs created since `days` days before now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Charts {
    pub since: String,
    pub status_counts: Vec<Count>,
    pub per_day: Vec<DayCount>,
    pub per_pipeline: Vec<PipelineRate>,
    pub backups: Vec<BackupPoint>,
}

pub fn charts(ws: &Workspace, env: &str, days: u32) -> Result<Charts> {
    let conn = open(ws, env)?;
    let since = crate::storage::time::format(
        crate::storage::time::now_epoch() - i64::from(days.min(3660)) * 86_400,
    );
    let status_counts = status_counts(&conn)?;
    let per_day = jobs_per_day(&conn, &since)?;
    let per_pipeline = success_per_pipeline(&conn, &since)?;
    let backups = crate::backups::record::list(&ws.env(env)?)?
        .into_iter()
        .map(|b| BackupPoint {
            created_at: b.created_at,
            size_bytes: b.size_bytes,
            reason: b.reason.as_str().into(),
        })
        .collect();
    Ok(Charts {
        since,
        status_counts,
        per_day,
        per_pipeline,
        backups,
    })
}

/// Where the summary table can answer for jobs created at or after `since`: every day after
/// `since`'s own day (`day > first_day`) comes from `job_daily_stats`; `since`'s day, which may
/// start mid-day, is counted from `jobs` in `[since, first_day + "U")` (created_at's 11th
/// character is always `T`). `None`: no summary table (schema before V2) or a `since` shorter than
/// a day, so the caller recounts from `jobs`.
struct SinceSplit {
    first_day: String,
    first_day_end: String,
}

fn since_split(conn: &Connection, since: &str) -> Result<Option<SinceSplit>> {
    if since.len() < 10 || !since.is_ascii() || !stats::present(conn)? {
        return Ok(None);
    }
    let first_day = since[..10].to_string();
    Ok(Some(SinceSplit {
        first_day_end: format!("{first_day}U"),
        first_day,
    }))
}

/// Jobs per status (the charts' distribution), from the summary table when the schema has it.
/// The summary's few thousand rows are summed here, not by a GROUP BY: SQLite's sorter costs
/// several times the scan.
pub(crate) fn status_counts(conn: &Connection) -> Result<Vec<Count>> {
    use std::collections::BTreeMap;
    if !stats::present(conn)? {
        return status_counts_from_jobs(conn);
    }
    let rows: Vec<(String, u64)> = query(
        conn,
        &format!("SELECT status, jobs FROM {}", stats::TABLE),
        vec![],
        |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
        "counting jobs by status",
    )?;
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for (status, n) in rows {
        *by_status.entry(status).or_default() += n;
    }
    Ok(by_status
        .into_iter()
        .map(|(key, n)| Count { key, n })
        .collect())
}

/// [`status_counts`] recounted from `jobs` (schemas before V2; the tests' oracle).
pub(crate) fn status_counts_from_jobs(conn: &Connection) -> Result<Vec<Count>> {
    query(
        conn,
        "SELECT status, count(*) FROM jobs GROUP BY status ORDER BY status",
        vec![],
        |r| {
            Ok(Count {
                key: r.get(0)?,
                n: r.get::<_, i64>(1)? as u64,
            })
        },
        "counting jobs by status",
    )
}

/// Jobs per day and status, created at or after `since`: whole days from the summary table,
/// `since`'s own day from `jobs` (see [`SinceSplit`]).
pub(crate) fn jobs_per_day(conn: &Connection, since: &str) -> Result<Vec<DayCount>> {
    use std::collections::BTreeMap;
    let Some(split) = since_split(conn, since)? else {
        return jobs_per_day_from_jobs(conn, since);
    };
    let what = "counting jobs per day";
    let rows: Vec<(String, String, u64)> = query(
        conn,
        &format!(
            "SELECT day, status, jobs FROM {} WHERE day > ?",
            stats::TABLE
        ),
        vec![Value::Text(split.first_day.clone())],
        |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)),
        what,
    )?;
    let mut per_day: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (day, status, n) in rows {
        *per_day.entry((day, status)).or_default() += n;
    }
    // One short range of the (status, created_at) index per status: no table lookups.
    for s in JOB_STATUSES {
        let n: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM jobs WHERE status = ? AND created_at >= ? AND created_at < ?",
            )
            .and_then(|mut st| {
                st.query_row(rusqlite::params![s, since, split.first_day_end], |r| {
                    r.get(0)
                })
            })
            .map_err(Error::sql(what))?;
        if n > 0 {
            per_day.insert((split.first_day.clone(), s.to_string()), n as u64);
        }
    }
    Ok(per_day
        .into_iter()
        .map(|((day, status), n)| DayCount { day, status, n })
        .collect())
}

/// [`jobs_per_day`] recounted from `jobs` (schemas before V2; the tests' oracle).
pub(crate) fn jobs_per_day_from_jobs(conn: &Connection, since: &str) -> Result<Vec<DayCount>> {
    let mut per_day = vec![];
    // One range scan of the (status, created_at) index per status: no table lookups.
    for s in JOB_STATUSES {
        per_day.extend(query(
            conn,
            "SELECT substr(created_at, 1, 10) AS d, count(*) FROM jobs \
             WHERE status = ? AND created_at >= ? GROUP BY d ORDER BY d",
            vec![Value::Text(s.into()), Value::Text(since.into())],
            |r| {
                Ok(DayCount {
                    day: r.get(0)?,
                    status: s.into(),
                    n: r.get::<_, i64>(1)? as u64,
                })
            },
            "counting jobs per day",
        )?);
    }
    per_day.sort_by(|a, b| (&a.day, &a.status).cmp(&(&b.day, &b.status)));
    Ok(per_day)
}

/// Completed / failed / total jobs per pipeline, created at or after `since`: whole days from the
/// summary table, `since`'s own day from `jobs` (see [`SinceSplit`]).
pub(crate) fn success_per_pipeline(conn: &Connection, since: &str) -> Result<Vec<PipelineRate>> {
    use std::collections::BTreeMap;
    let Some(split) = since_split(conn, since)? else {
        return success_per_pipeline_from_jobs(conn, since);
    };
    // Whole days: the summary's rows (kind 0). `since`'s day: totals per pipeline from covering
    // ranges of `jobs_pipeline_created`, one per pipeline (kind 1; jobs reference pipelines by a
    // foreign key), and the rarer statuses from `jobs_status_created` (kind 2); completed = total
    // - the others, as in the recount.
    let sql = format!(
        "SELECT 0, pipeline_id, status, jobs FROM {} WHERE day > ?1 \
         UNION ALL \
         SELECT 1, pipeline_id, '', count(*) FROM jobs \
         WHERE pipeline_id IN (SELECT id FROM pipelines) \
           AND created_at >= ?2 AND created_at < ?3 GROUP BY 2 \
         UNION ALL \
         SELECT 2, pipeline_id, status, count(*) FROM jobs \
         WHERE status IN ('failed', 'pending', 'running') \
           AND created_at >= ?2 AND created_at < ?3 GROUP BY 2, 3",
        stats::TABLE
    );
    let vals = vec![
        Value::Text(split.first_day),
        Value::Text(since.into()),
        Value::Text(split.first_day_end),
    ];
    let rows: Vec<(i64, i64, String, u64)> = query(
        conn,
        &sql,
        vals,
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? as u64)),
        "success rate per pipeline",
    )?;
    // (total, failed, pending + running) per pipeline
    let mut by_id: BTreeMap<i64, (u64, u64, u64)> = BTreeMap::new();
    for (kind, id, status, n) in rows {
        let e = by_id.entry(id).or_default();
        if kind < 2 {
            e.0 += n;
        }
        match status.as_str() {
            "failed" => e.1 += n,
            "pending" | "running" => e.2 += n,
            _ => {}
        }
    }
    let names = pipeline_names(conn)?;
    let mut out: Vec<PipelineRate> = by_id
        .into_iter()
        .map(|(id, (total, failed, unfinished))| PipelineRate {
            pipeline: names.get(&id).cloned().unwrap_or_else(|| format!("#{id}")),
            completed: total.saturating_sub(failed + unfinished),
            failed,
            total,
        })
        .collect();
    out.sort_by(|a, b| a.pipeline.cmp(&b.pipeline));
    Ok(out)
}

fn pipeline_names(conn: &Connection) -> Result<std::collections::BTreeMap<i64, String>> {
    Ok(query(
        conn,
        "SELECT id, name FROM pipelines",
        vec![],
        |r| Ok((r.get(0)?, r.get(1)?)),
        "listing pipelines",
    )?
    .into_iter()
    .collect())
}

/// [`success_per_pipeline`] recounted from `jobs` (schemas before V2; the tests' oracle), without
/// a table lookup per completed job: totals from a covering scan of `jobs_pipeline_created`
/// (`+created_at` keeps the planner off `jobs_created`), the rarer statuses from
/// `jobs_status_created`, completed = total - the others (2.4 s -> 0.5 s on 1M jobs).
pub(crate) fn success_per_pipeline_from_jobs(
    conn: &Connection,
    since: &str,
) -> Result<Vec<PipelineRate>> {
    use std::collections::BTreeMap;
    let count_by = |sql: &str, vals: Vec<Value>| -> Result<BTreeMap<i64, u64>> {
        let rows = query(
            conn,
            sql,
            vals,
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
            "success rate per pipeline",
        )?;
        Ok(rows.into_iter().collect())
    };
    let since_v = || Value::Text(since.to_string());
    let totals = count_by(
        "SELECT pipeline_id, count(*) FROM jobs WHERE +created_at >= ? GROUP BY pipeline_id",
        vec![since_v()],
    )?;
    let mut other: BTreeMap<&str, BTreeMap<i64, u64>> = BTreeMap::new();
    for s in ["failed", "pending", "running"] {
        let sql = "SELECT pipeline_id, count(*) FROM jobs \
                   WHERE status = ? AND created_at >= ? GROUP BY pipeline_id";
        other.insert(s, count_by(sql, vec![Value::Text(s.into()), since_v()])?);
    }
    let names = pipeline_names(conn)?;
    let n = |s: &str, id: &i64| other[s].get(id).copied().unwrap_or(0);
    let mut out: Vec<PipelineRate> = totals
        .iter()
        .map(|(id, total)| PipelineRate {
            pipeline: names.get(id).cloned().unwrap_or_else(|| format!("#{id}")),
            completed: total.saturating_sub(n("failed", id) + n("pending", id) + n("running", id)),
            failed: n("failed", id),
            total: *total,
        })
        .collect();
    out.sort_by(|a, b| a.pipeline.cmp(&b.pipeline));
    Ok(out)
}

/// Migrations (applied / pending / divergent) and schema drift of an env.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MigrationsView {
    pub migrations: Vec<MigrationInfo>,
    pub drift: Option<DriftReport>,
}

pub fn migrations(ws: &Workspace, env: &str) -> Result<MigrationsView> {
    let target = ws.env(env)?;
    match session::inspect(ws, &target)? {
        None => Ok(MigrationsView {
            migrations: migrations::list(None)?,
            drift: None,
        }),
        Some(c) => {
            tag::require_identity(&c, &target)?;
            Ok(MigrationsView {
                migrations: migrations::list(Some(&c))?,
                drift: Some(migrations::drift(&c)?),
            })
        }
    }
}
