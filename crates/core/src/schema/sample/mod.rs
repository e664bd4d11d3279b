//! Sample data: realistic users, nf-core pipelines and jobs, deterministic for a seed, idempotent
//! by natural keys, streamed through one prepared statement in bounded memory.

mod catalog;
pub(crate) mod rng;

use std::collections::HashMap;
use std::fmt::Write as _;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::progress::{Observer, Progress};
use crate::schema::stats::Tally;
use crate::storage::time as timefmt;
pub use catalog::DEMO_USERS;
use rng::Rng;

/// How much sample data, from which seed, relative to which moment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SeedOptions {
    pub users: u32,
    pub pipelines: u32,
    pub jobs: u64,
    pub rng_seed: u64,
    /// Jobs spread over the 90 days before this moment (`YYYY-MM-DD[THH:MM:SSZ]`); default: now,
    /// to the hour.
    pub as_of: Option<String>,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            users: 6,
            pipelines: 20,
            jobs: 500,
            rng_seed: 42,
            as_of: None,
        }
    }
}

pub const MAX_USERS: u32 = 100_000;
pub const MAX_PIPELINES: u32 = 10_000;
pub const MAX_JOBS: u64 = 100_000_000;
const SPREAD_DAYS: i64 = 90;

impl SeedOptions {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(m));
        if self.jobs > 0 && (self.users == 0 || self.pipelines == 0) {
            return bad("jobs need at least one user and one pipeline".into());
        }
        if self.users > MAX_USERS || self.pipelines > MAX_PIPELINES || self.jobs > MAX_JOBS {
            return bad(format!(
                "at most {MAX_USERS} users, {MAX_PIPELINES} pipelines and {MAX_JOBS} jobs"
            ));
        }
        self.as_of_epoch().map(|_| ())
    }

    pub fn as_of_epoch(&self) -> Result<i64> {
        // Generated rows reach ~2 years before --as-of; keep them after 1970.
        const EARLIEST: i64 = 157_766_400; // 1975-01-01
        let t = self.as_of_raw()?;
        if t < EARLIEST {
            return Err(Error::InvalidInput(
                "--as-of must be 1975-01-01 or later (generated rows reach two years before it)"
                    .into(),
            ));
        }
        Ok(t)
    }

    fn as_of_raw(&self) -> Result<i64> {
        match &self.as_of {
            None => Ok(timefmt::now_epoch() / 3600 * 3600),
            Some(s) => timefmt::parse(s).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "invalid --as-of \"{}\": use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
                    crate::storage::text::echo(s)
                ))
            }),
        }
    }
}

/// What a seed did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SeedCounts {
    pub users_inserted: u64,
    pub pipelines_inserted: u64,
    pub jobs_inserted: u64,
    /// Rows that already existed (same natural key) and were left as they were.
    pub skipped_existing: u64,
}

/// Inserts the sample data inside the caller's transaction.
pub(crate) fn insert(
    conn: &Connection,
    opts: &SeedOptions,
    obs: &dyn Observer,
) -> Result<SeedCounts> {
    opts.validate()?;
    let as_of = opts.as_of_epoch()?;
    let mut counts = SeedCounts::default();
    let users = insert_users(conn, opts, as_of, &mut counts)?;
    let pipelines = insert_pipelines(conn, opts, as_of, &mut counts)?;
    // The job summary's triggers would cost an upsert per job: off for the bulk insert, the new
    // jobs' groups counted while inserting and added after it, in this same transaction.
    crate::schema::stats::with_triggers_off(conn, |tally| {
        let jobs = Jobs {
            users: &users,
            pipelines: &pipelines,
            as_of,
        };
        insert_jobs(conn, opts, &jobs, obs, &mut counts, tally)
    })?;
    Ok(counts)
}

/// argon2id PHC string, computed once per distinct password per run. The salt is derived from the
/// seed so that the same seed gives the same database.
fn hash_password(password: &str, seed: u64) -> Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt_bytes = [
        rng::mix(seed, password).to_le_bytes(),
        rng::mix(seed ^ 1, password).to_le_bytes(),
    ]
    .concat();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| Error::Internal(format!("encoding a salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

/// Verifies a password against a stored PHC string (used by tests and the docs' demo logins).
pub fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Returns the ids of the seeded users that run jobs (admins and analysts), by role.
fn insert_users(
    conn: &Connection,
    opts: &SeedOptions,
    as_of: i64,
    counts: &mut SeedCounts,
) -> Result<Vec<i64>> {
    let mut rng = Rng::new(rng::mix(opts.rng_seed, "users"));
    let mut hashes: HashMap<&str, String> = HashMap::new();
    let mut stmt = conn
        .prepare(
            "INSERT INTO users (username, email, hashed_password, role, is_active, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )
        .map_err(Error::sql("preparing users insert"))?;
    let mut names = Vec::with_capacity(opts.users as usize);
    for i in 0..opts.users as usize {
        let (username, role, password) = match catalog::DEMO_USERS.get(i) {
            Some(&(u, r, p)) => (u.to_string(), r, p),
            None => {
                let role = match rng.below(10) {
                    0 => "admin",
                    1 | 2 => "viewer",
                    _ => "analyst",
                };
                let name = format!(
                    "{}.{}{}",
                    rng.pick(catalog::FIRST),
                    rng.pick(catalog::LAST),
                    i
                );
                (name, role, catalog::role_password(role))
            }
        };
        if !hashes.contains_key(password) {
            hashes.insert(password, hash_password(password, opts.rng_seed)?);
        }
        let created = as_of - rng.range(120, 400) * 86_400 + rng.range(0, 86_399);
        let updated = created + rng.range(0, 100) * 86_400;
        let active = i < catalog::DEMO_USERS.len() || !rng.chance(100);
        let n = stmt
            .execute(params![
                username,
                format!("{username}@example.org"),
                hashes[password],
                role,
                active as i64,
                timefmt::format(created),
                timefmt::format(updated.min(as_of)),
            ])
            .map_err(Error::sql("inserting users"))?;
        counts.users_inserted += n as u64;
        counts.skipped_existing += 1 - n as u64;
        if role != "viewer" {
            names.push(username);
        }
    }
    ids_by_key(conn, "SELECT id FROM users WHERE username = ?1", &names)
}

fn insert_pipelines(
    conn: &Connection,
    opts: &SeedOptions,
    as_of: i64,
    counts: &mut SeedCounts,
) -> Result<Vec<PipelineRef>> {
    let mut rng = Rng::new(rng::mix(opts.rng_seed, "pipelines"));
    let mut stmt = conn
        .prepare(
            "INSERT INTO pipelines (name, description, repository_url, revision, config, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )
        .map_err(Error::sql("preparing pipelines insert"))?;
    let mut refs = Vec::new();
    for i in 0..opts.pipelines as usize {
        let cat = catalog::PIPELINES.len();
        let (short, desc, rev, minutes, extra) = catalog::PIPELINES[i % cat];
        let name = match i / cat {
            0 => format!("nf-core/{short}"),
            k => format!("nf-core/{short}-fork{k}"),
        };
        let config = format!(
            r#"{{"profile":"{}","max_cpus":{},"max_memory":"{}.GB","max_time":"{}.h","params":{{{extra}}}}}"#,
            rng.pick(catalog::PROFILES),
            [8, 16, 32, 64][rng.below(4) as usize],
            [64, 128, 256, 512][rng.below(4) as usize],
            [24, 48, 72][rng.below(3) as usize],
        );
        let created = as_of - rng.range(100, 700) * 86_400;
        let n = stmt
            .execute(params![
                name,
                desc,
                format!("https://github.com/nf-core/{short}"),
                rev,
                config,
                timefmt::format(created),
                timefmt::format(created + rng.range(0, 90) * 86_400),
            ])
            .map_err(Error::sql("inserting pipelines"))?;
        counts.pipelines_inserted += n as u64;
        counts.skipped_existing += 1 - n as u64;
        refs.push(PipelineRef {
            id: 0,
            short,
            upper: short.to_uppercase().replace('-', "_"),
            minutes,
            extra,
        });
        let id = ids_by_key(conn, "SELECT id FROM pipelines WHERE name = ?1", &[name])?;
        refs.last_mut().expect("just pushed").id = id[0];
    }
    Ok(refs)
}

struct PipelineRef {
    id: i64,
    short: &'static str,
    upper: String,
    minutes: u32,
    extra: &'static str,
}

fn ids_by_key(conn: &Connection, sql: &str, keys: &[String]) -> Result<Vec<i64>> {
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(Error::sql("looking up ids"))?;
    keys.iter()
        .map(|k| {
            stmt.query_row([k], |r| r.get(0)).map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Error::Refused(format!(
                    "the sample data's `{k}` is gone (renamed or deleted): seed adds jobs to the sample users and pipelines; `pipeline-db reset ENV --with-sample-data` brings them back (after a verified backup); nothing was changed"
                )),
                e => Error::sql(format!("looking up {k}"))(e),
            })
        })
        .collect()
}

/// Reused buffers for one job row: no allocation per row on the hot path.
#[derive(Default)]
struct JobRow {
    session: String,
    run_name: String,
    params: String,
    output_dir: String,
    error: String,
    user: i64,
    pipeline: i64,
    status: &'static str,
    created: i64,
    started: Option<i64>,
    completed: Option<i64>,
}

/// Rows per INSERT statement. One multi-row statement costs the per-statement work (bind, step,
/// reset, cursor setup, and the ephemeral table SQLite builds for the `status IN (…)` CHECK) once
/// per batch instead of once per row; 64 × 11 parameters stays far below SQLite's limit.
const BATCH: usize = 64;
const JOB_COLUMNS: usize = 11;

fn jobs_insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO jobs (session_id, run_name, user_id, pipeline_id, status, params, output_dir,
                           error_message, created_at, started_at, completed_at) VALUES ",
    );
    for r in 0..rows {
        let b = r * JOB_COLUMNS;
        let _ = write!(
            sql,
            "{}(?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{})",
            if r == 0 { "" } else { ", " },
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8,
            b + 9,
            b + 10,
            b + 11
        );
    }
    sql.push_str(" ON CONFLICT (session_id) DO NOTHING");
    sql
}

/// Binds `rows` to a statement of `rows.len()` rows and runs it; returns the rows inserted.
fn insert_batch(stmt: &mut rusqlite::Statement<'_>, rows: &[JobRow]) -> Result<u64> {
    let sql = Error::sql("inserting jobs");
    let mut ts = [0u8; 20];
    for (r, row) in rows.iter().enumerate() {
        let b = r * JOB_COLUMNS;
        let mut bind = |k: usize, v: &dyn rusqlite::ToSql| stmt.raw_bind_parameter(b + k, v);
        bind(1, &row.session)
            .and_then(|()| bind(2, &row.run_name))
            .and_then(|()| bind(3, &row.user))
            .and_then(|()| bind(4, &row.pipeline))
            .and_then(|()| bind(5, &row.status))
            .and_then(|()| bind(6, &row.params))
            .and_then(|()| bind(7, &row.started.map(|_| row.output_dir.as_str())))
            .and_then(|()| bind(8, &(row.status == "failed").then_some(row.error.as_str())))
            .and_then(|()| bind(9, &timefmt::format_into(row.created, &mut ts)))
            .and_then(|()| bind(10, &row.started.map(|t| timefmt::format_into(t, &mut ts))))
            .and_then(|()| bind(11, &row.completed.map(|t| timefmt::format_into(t, &mut ts))))
            .map_err(Error::sql("binding a job row"))?;
    }
    stmt.raw_execute().map(|n| n as u64).map_err(sql)
}

/// What jobs are made of: the seeded users and pipelines, and the moment they lead up to.
struct Jobs<'a> {
    users: &'a [i64],
    pipelines: &'a [PipelineRef],
    as_of: i64,
}

fn insert_jobs(
    conn: &Connection,
    opts: &SeedOptions,
    jobs: &Jobs<'_>,
    obs: &dyn Observer,
    counts: &mut SeedCounts,
    tally: &mut Tally,
) -> Result<()> {
    let (users, pipelines, as_of) = (jobs.users, jobs.pipelines, jobs.as_of);
    if opts.jobs == 0 {
        return Ok(());
    }
    let mut rng = Rng::new(rng::mix(opts.rng_seed, "jobs"));
    let session_prefix = rng::mix(opts.rng_seed, "session");
    let mut full = conn
        .prepare(&jobs_insert_sql(BATCH))
        .map_err(Error::sql("preparing jobs insert"))?;
    let span = SPREAD_DAYS * 86_400;
    let start = as_of - span;
    let mut rows: Vec<JobRow> = (0..BATCH).map(|_| JobRow::default()).collect();
    let mut filled = 0;
    let step = (opts.jobs / 200).clamp(1, 10_000);
    for i in 0..opts.jobs {
        // Creation times increase with i (ids follow time, as on the platform), with jitter.
        let slot = span as f64 / opts.jobs as f64;
        let created = start + (i as f64 * slot) as i64 + rng.below(slot.max(1.0) as u64) as i64;
        let user = users[(rng.below(users.len() as u64 * 4) as usize)
            .min(rng.below(users.len() as u64) as usize)];
        // Popular pipelines run more often: the smaller of two draws.
        let p = &pipelines[(rng.below(pipelines.len() as u64) as usize)
            .min(rng.below(pipelines.len() as u64) as usize)];
        let job = plan_job(&mut rng, created, as_of, p.minutes);
        let row = &mut rows[filled];
        fill_row(row, &mut rng, session_prefix, i, p, &job);
        (row.user, row.pipeline, row.status) = (user, p.id, job.status);
        (row.created, row.started, row.completed) = (created, job.started, job.completed);
        filled += 1;
        let done = i + 1;
        if filled < BATCH && done < opts.jobs {
            continue;
        }
        let n = if filled == BATCH {
            insert_batch(&mut full, &rows)?
        } else {
            let mut tail = conn
                .prepare(&jobs_insert_sql(filled))
                .map_err(Error::sql("preparing jobs insert"))?;
            insert_batch(&mut tail, &rows[..filled])?
        };
        counts.jobs_inserted += n;
        counts.skipped_existing += filled as u64 - n;
        if n == filled as u64 {
            for r in &rows[..filled] {
                tally.add(r.created, r.pipeline, r.status);
            }
        } else {
            tally.lose_track();
        }
        let crossed = done / step != (done - filled as u64) / step;
        filled = 0;
        if crossed || done == opts.jobs {
            obs.progress(&Progress {
                stage: "seeding jobs",
                done,
                total: opts.jobs,
            });
            crate::storage::failpoint::hit("seed:batch")?;
            if obs.cancelled() {
                return Err(Error::Cancelled);
            }
        }
    }
    Ok(())
}

struct JobTimes {
    status: &'static str,
    started: Option<i64>,
    completed: Option<i64>,
}

/// A believable status for the job's age, with timestamps that match it.
fn plan_job(rng: &mut Rng, created: i64, as_of: i64, minutes: u32) -> JobTimes {
    let age_h = (as_of - created) / 3600;
    let queue = rng.range(5, 1800);
    let run = (minutes as i64 * 60) * rng.range(50, 180) / 100;
    let roll = rng.below(1000);
    let status = if age_h < 48 {
        match roll {
            0..=199 => "pending",
            200..=549 => "running",
            550..=899 => "completed",
            _ => "failed",
        }
    } else {
        match roll {
            0..=839 => "completed",
            _ => "failed",
        }
    };
    let started = created + queue;
    match status {
        "pending" => JobTimes {
            status,
            started: None,
            completed: None,
        },
        "running" if started <= as_of => JobTimes {
            status,
            started: Some(started),
            completed: None,
        },
        "running" => JobTimes {
            status: "pending",
            started: None,
            completed: None,
        },
        "failed" if rng.chance(150) => {
            // Failed before it started (bad samplesheet, image pull): no start, no output.
            JobTimes {
                status,
                started: None,
                completed: Some(created + queue),
            }
        }
        _ => {
            let end = if status == "failed" {
                started + run * rng.range(5, 90) / 100
            } else {
                started + run
            };
            if end > as_of {
                JobTimes {
                    status: "running",
                    started: Some(started.min(as_of)),
                    completed: None,
                }
            } else {
                JobTimes {
                    status,
                    started: Some(started),
                    completed: Some(end),
                }
            }
        }
    }
}

fn fill_row(row: &mut JobRow, rng: &mut Rng, prefix: u64, i: u64, p: &PipelineRef, job: &JobTimes) {
    row.session.clear();
    // A UUID (version 8, "custom"): seed-derived prefix, then the job's index. Stable across runs
    // of the same seed, so re-seeding skips existing jobs; increasing with i, so inserts append.
    let _ = write!(
        row.session,
        "{:08x}-{:04x}-8{:03x}-{:04x}-{:012x}",
        prefix >> 32,
        (prefix >> 16) & 0xffff,
        prefix & 0xfff,
        0x8000 | ((i >> 48) & 0x3fff),
        i & 0xffff_ffff_ffff
    );
    row.run_name.clear();
    let _ = write!(
        row.run_name,
        "{}_{}",
        rng.pick(catalog::ADJECTIVES),
        rng.pick(catalog::SCIENTISTS)
    );
    let project = rng.pick(catalog::PROJECTS);
    let batch = rng.range(1, 60);
    row.output_dir.clear();
    let _ = write!(
        row.output_dir,
        "/data/results/{project}/{}/{}",
        p.short, row.run_name
    );
    row.params.clear();
    let _ = write!(
        row.params,
        r#"{{"input":"s3://lab-data/{project}/samplesheet_batch{batch:02}.csv","outdir":"{}","genome":"{}","profile":"{}","max_cpus":{},{}}}"#,
        row.output_dir,
        rng.pick(catalog::GENOMES),
        rng.pick(catalog::PROFILES),
        [4, 8, 16, 32][rng.below(4) as usize],
        p.extra
    );
    if job.status == "failed" {
        row.error.clear();
        let template = rng.pick(catalog::ERRORS);
        let sample = format!("SAMPLE_{}", rng.range(1, 96));
        row.error
            .push_str(&template.replace("{P}", &p.upper).replace("{S}", &sample));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_password_hashes_verify() {
        let h = hash_password("admin-demo-pass", 42).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("admin-demo-pass", &h));
        assert!(!verify_password("wrong", &h));
        assert_eq!(
            h,
            hash_password("admin-demo-pass", 42).unwrap(),
            "deterministic per seed"
        );
    }

    #[test]
    fn job_times_match_status() {
        let mut rng = Rng::new(7);
        let as_of = 1_800_000_000;
        for k in 0..20_000 {
            let created = as_of - (k % 2000) * 3600;
            let j = plan_job(&mut rng, created, as_of, 240);
            match j.status {
                "pending" => assert!(j.started.is_none() && j.completed.is_none()),
                "running" => assert!(j.started.is_some() && j.completed.is_none()),
                "completed" => assert!(j.started.is_some() && j.completed.is_some()),
                "failed" => assert!(j.completed.is_some()),
                s => panic!("{s}"),
            }
            if let Some(s) = j.started {
                assert!(s >= created && s <= as_of);
            }
            if let Some(c) = j.completed {
                assert!(c >= j.started.unwrap_or(created) && c <= as_of);
            }
        }
    }
}
