//! Schema migrations: the embedded refinery migrations, history, pending/divergent state, drift, new files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use refinery_core::traits::sync::{Migrate, Query, Transaction};
use refinery_core::Migration;
use rusqlite::Connection;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::schema::tag::META_TABLE;
use crate::storage::db;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

pub const HISTORY_TABLE: &str = "refinery_schema_history";

/// The migrations compiled into this binary, in version order.
pub fn embedded() -> Vec<Migration> {
    let mut m = embedded::migrations::runner().get_migrations().clone();
    m.sort();
    m
}

/// Newest embedded version.
pub fn latest_version() -> i64 {
    embedded().last().map(|m| m.version() as i64).unwrap_or(0)
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum MigrationState {
    Applied,
    Pending,
    /// Applied, but the recorded name or checksum differs from the embedded file.
    Divergent,
    /// Applied in the database, unknown to this binary (newer tool, or a deleted file).
    Missing,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MigrationInfo {
    pub version: i64,
    pub name: String,
    pub state: MigrationState,
    /// Checksum of the embedded file (refinery's SipHash-1-3 of name, version, SQL).
    pub checksum: Option<String>,
    /// Checksum recorded in the database when it was applied.
    pub applied_checksum: Option<String>,
    pub applied_on: Option<String>,
}

/// One row of `refinery_schema_history`, read without trusting its contents.
#[derive(Debug, Clone)]
struct HistoryRow {
    version: i64,
    name: String,
    applied_on: String,
    checksum: String,
}

fn has_history(conn: &Connection) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [HISTORY_TABLE],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )
    .map_err(Error::sql("reading migration history"))
}

fn history(conn: &Connection) -> Result<Vec<HistoryRow>> {
    if !has_history(conn)? {
        return Ok(vec![]);
    }
    let mut stmt = conn
        .prepare(
            "SELECT version, name, applied_on, CAST(checksum AS TEXT) FROM refinery_schema_history ORDER BY version",
        )
        .map_err(Error::sql("reading migration history"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(HistoryRow {
                version: r.get(0)?,
                name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                applied_on: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                checksum: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(Error::sql("reading migration history"))?;
    Ok(rows)
}

/// Applied / pending / divergent / missing, for every embedded and every recorded migration.
/// Without a connection every embedded migration is pending.
pub(crate) fn list(conn: Option<&Connection>) -> Result<Vec<MigrationInfo>> {
    let applied = match conn {
        Some(c) => history(c)?,
        None => vec![],
    };
    let mut out: BTreeMap<i64, MigrationInfo> = BTreeMap::new();
    for m in embedded() {
        out.insert(
            m.version() as i64,
            MigrationInfo {
                version: m.version() as i64,
                name: m.name().to_string(),
                state: MigrationState::Pending,
                checksum: Some(m.checksum().to_string()),
                applied_checksum: None,
                applied_on: None,
            },
        );
    }
    for h in applied {
        let info = out.entry(h.version).or_insert_with(|| MigrationInfo {
            version: h.version,
            // A name read from the file, shown in messages: its control characters escaped.
            name: crate::storage::text::printable(&h.name),
            state: MigrationState::Missing,
            checksum: None,
            applied_checksum: None,
            applied_on: None,
        });
        if info.state == MigrationState::Pending {
            let same = info.name == h.name && info.checksum.as_deref() == Some(h.checksum.as_str());
            info.state = if same {
                MigrationState::Applied
            } else {
                MigrationState::Divergent
            };
        }
        info.applied_checksum = Some(h.checksum);
        info.applied_on = Some(h.applied_on);
    }
    Ok(out.into_values().collect())
}

/// Highest applied version, if any.
pub(crate) fn schema_version(conn: &Connection) -> Result<Option<i64>> {
    Ok(history(conn)?.last().map(|h| h.version))
}

/// The pending migrations, or a refusal if the history diverges from the embedded files.
/// Called at plan time, before any backup or DDL.
pub(crate) fn pending_or_refuse(
    conn: &Connection,
    path: &Path,
    env: &str,
) -> Result<Vec<MigrationInfo>> {
    let all = list(Some(conn))?;
    let bad: Vec<String> = all
        .iter()
        .filter(|m| matches!(m.state, MigrationState::Divergent | MigrationState::Missing))
        .map(|m| match m.state {
            MigrationState::Divergent => format!(
                "V{} `{}` was applied with checksum {} but the embedded file has {}",
                m.version,
                m.name,
                m.applied_checksum.as_deref().unwrap_or("?"),
                m.checksum.as_deref().unwrap_or("?")
            ),
            _ => format!(
                "V{} `{}` is applied but unknown to this pipeline-db",
                m.version, m.name
            ),
        })
        .collect();
    if let Some(newest) = all
        .iter()
        .filter(|m| m.state == MigrationState::Missing)
        .map(|m| m.version)
        .max()
    {
        if newest > latest_version() {
            return Err(Error::NewerSchema {
                path: path.to_path_buf(),
                found: newest,
                known: latest_version(),
            });
        }
    }
    // Migrations apply in order: one pending below an applied one is a gap no run of ours
    // leaves (a history edited by hand), and applying it now would run it on a later schema.
    let newest_applied = all
        .iter()
        .filter(|m| m.state == MigrationState::Applied)
        .map(|m| m.version)
        .max();
    let mut bad = bad;
    bad.extend(
        all.iter()
            .filter(|m| m.state == MigrationState::Pending)
            .filter(|m| newest_applied.is_some_and(|n| m.version < n))
            .map(|m| {
                format!(
                    "V{} `{}` is not recorded while a later migration is (a gap in the history)",
                    m.version, m.name
                )
            }),
    );
    if !bad.is_empty() {
        return Err(Error::Divergent {
            path: path.to_path_buf(),
            env: env.to_string(),
            detail: bad.join("; "),
        });
    }
    Ok(all
        .into_iter()
        .filter(|m| m.state == MigrationState::Pending)
        .collect())
}

/// refinery's checksum of a migration file `V<n>__<name>.sql` holding `sql`.
pub fn checksum_of(file_stem: &str, sql: &str) -> Result<String> {
    Migration::unapplied(file_stem, sql)
        .map(|m| m.checksum().to_string())
        .map_err(|e| Error::InvalidInput(format!("migration {file_stem}: {e}")))
}

/// Checksums of `m`'s SQL as it might have been saved by another editor: CRLF line endings, a
/// UTF-8 BOM, trailing whitespace stripped or added at the end of the file, trailing whitespace
/// on lines stripped, or (an editor having stripped it since) present on one line. A checksum
/// cannot be reversed, so whitespace on several lines that the file no longer has is not found.
pub(crate) fn whitespace_variant_checksums(m: &Migration) -> Result<Vec<String>> {
    let stem = format!("V{}__{}", m.version(), m.name());
    let base = m.sql().unwrap_or_default();
    let lines: Vec<&str> = base.split('\n').collect();
    let stripped: String = lines
        .iter()
        .map(|l| l.trim_end_matches([' ', '\t']))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = std::collections::BTreeSet::new();
    for body in [base.to_string(), stripped] {
        let trimmed = body.trim_end().to_string();
        for suffix in ["", "\n", "\n\n", " ", " \n", "\n ", "\t\n"] {
            let ending = format!("{trimmed}{suffix}");
            for crlf in [false, true] {
                let text = if crlf {
                    ending.replace('\n', "\r\n")
                } else {
                    ending.clone()
                };
                for bom in ["", "\u{feff}"] {
                    out.insert(checksum_of(&stem, &format!("{bom}{text}"))?);
                }
            }
        }
    }
    // One line with trailing blanks the file no longer has (bounded work on huge files).
    if base.len().saturating_mul(lines.len()) <= 64 << 20 {
        for i in 0..lines.len() {
            for pad in [" ", "  ", "   ", "    ", "\t"] {
                let mut v = lines.clone();
                let padded = format!("{}{pad}", v[i]);
                v[i] = &padded;
                out.insert(checksum_of(&stem, &v.join("\n"))?);
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Runs refinery's statements inside the caller's open transaction (no BEGIN/COMMIT of its own),
/// so that a migration, its history row and whatever else the verb does commit together.
struct InTx<'c>(&'c Connection);

impl Transaction for InTx<'_> {
    type Error = rusqlite::Error;
    fn execute<'a, T: Iterator<Item = &'a str>>(&mut self, queries: T) -> rusqlite::Result<usize> {
        let mut n = 0;
        for q in queries {
            self.0.execute_batch(q)?;
            n += 1;
        }
        Ok(n)
    }
}

impl Query<Vec<Migration>> for InTx<'_> {
    fn query(&mut self, query: &str) -> rusqlite::Result<Vec<Migration>> {
        let mut stmt = self.0.prepare(query)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let applied_on: String = r.get(2)?;
            let applied_on = time::OffsetDateTime::parse(
                &applied_on,
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            // A tampered checksum that is not a number can never match: record it as 0.
            let checksum: String = r.get::<_, rusqlite::types::Value>(3).map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                _ => String::new(),
            })?;
            out.push(Migration::applied(
                r.get(0)?,
                r.get(1)?,
                applied_on,
                checksum.parse().unwrap_or(0),
            ));
        }
        Ok(out)
    }
}

impl Migrate for InTx<'_> {}

/// Applies every pending embedded migration inside the caller's transaction, grouped, aborting on
/// divergent or missing history. Returns the versions applied.
pub(crate) fn apply_pending(
    conn: &Connection,
    path: &Path,
    env: &str,
) -> Result<Vec<MigrationInfo>> {
    let pending = pending_or_refuse(conn, path, env)?;
    let runner = embedded::migrations::runner()
        .set_grouped(true)
        .set_abort_divergent(true)
        .set_abort_missing(true);
    runner
        .run(&mut InTx(conn))
        .map_err(|e| refinery_error(e, path, env))?;
    Ok(pending)
}

fn refinery_error(e: refinery_core::Error, path: &Path, env: &str) -> Error {
    use refinery_core::error::Kind;
    match e.kind() {
        Kind::DivergentVersion(..) | Kind::MissingVersion(..) | Kind::RepeatedVersion(..) => {
            Error::Divergent {
                path: path.to_path_buf(),
                env: env.to_string(),
                detail: e.to_string(),
            }
        }
        Kind::Connection(msg, source) => match source.downcast_ref::<rusqlite::Error>() {
            Some(s) => crate::storage::db::classify(
                path,
                clone_sqlite_err(s),
                format!("applying migrations ({msg})"),
            ),
            None => Error::Refused(format!("applying migrations to {}: {e}", path.display())),
        },
        _ => Error::Refused(format!("applying migrations to {}: {e}", path.display())),
    }
}

fn clone_sqlite_err(e: &rusqlite::Error) -> rusqlite::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, msg) => {
            rusqlite::Error::SqliteFailure(*code, msg.clone())
        }
        other => rusqlite::Error::InvalidParameterName(other.to_string()),
    }
}

/// A schema row: its normalised SQL (or "(automatic index)" for the index SQLite makes for a
/// UNIQUE or PRIMARY KEY constraint) and the table it is recorded for.
type SchemaRow = (String, String);

/// Schema objects that the migrations own (everything but SQLite's and our bookkeeping tables).
/// Text is read as bytes (a file from elsewhere may hold any): bytes that are not UTF-8 show as
/// U+FFFD and so differ from what the migrations make.
fn schema_objects(conn: &Connection) -> Result<BTreeMap<(String, String), SchemaRow>> {
    let mut stmt = conn
        .prepare(
            // Every row but SQLite's own statistics and autoincrement counters: an object named
            // `sqlite_…` through writable_schema, or of an unknown type, is compared like any
            // other; automatic indexes are compared by name and table.
            "SELECT type, name, coalesce(sql, ''), tbl_name FROM sqlite_schema
             WHERE NOT (type = 'table' AND name IN
                        ('sqlite_sequence', 'sqlite_stat1', 'sqlite_stat2', 'sqlite_stat3', 'sqlite_stat4'))",
        )
        .map_err(Error::sql("reading sqlite_schema"))?;
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<String> {
        Ok(match r.get_ref(i)? {
            rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            other => format!("{other:?}"),
        })
    };
    let rows = stmt
        .query_map([], |r| {
            let sql = normalize_sql(&text(r, 2)?);
            let sql = if sql.is_empty() {
                "(automatic index)".to_string()
            } else {
                sql
            };
            Ok(((text(r, 0)?, text(r, 1)?), (sql, text(r, 3)?)))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<BTreeMap<_, _>>>())
        .map_err(Error::sql("reading sqlite_schema"))?;
    Ok(rows)
}

/// Whitespace as SQLite reads it: runs of it between tokens (and inside comments) are one space;
/// inside a string or a quoted name every character counts (a no-break space is no whitespace).
fn normalize_sql(sql: &str) -> String {
    crate::storage::sql_tokens::collapse_whitespace(sql)
}

impl DriftItem {
    /// `extra table `name``, for messages: a name read from the file with its control characters
    /// (a newline would print as a line of its own) escaped.
    pub fn shown(&self) -> String {
        let name = crate::storage::text::printable(&self.name);
        format!("{} {} `{name}`", self.change, self.object_type)
    }

    /// An addition that never runs and changes nothing of ours — a table or an index of the
    /// user's own (e.g. a legacy database adopted with `env add`): verbs work beside it, and a
    /// restore brings it back. Anything that runs (a trigger, a view), or that changes or removes
    /// an object of ours, is not.
    pub fn is_inert(&self) -> bool {
        self.change == "extra" && matches!(self.object_type.as_str(), "table" | "index")
    }

    /// A migration recorded with another checksum than the embedded file's.
    pub fn is_changed_checksum(&self) -> bool {
        self.change == "changed" && self.object_type == "migration"
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DriftItem {
    /// `missing` (migrations create it, the database lacks it), `extra`, or `changed`.
    pub change: &'static str,
    pub object_type: String,
    pub name: String,
    pub expected_sql: Option<String>,
    pub actual_sql: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DriftReport {
    /// The version the live schema was compared against (its applied version).
    pub compared_with_version: i64,
    pub differences: Vec<DriftItem>,
}

impl DriftReport {
    pub fn has_drift(&self) -> bool {
        !self.differences.is_empty()
    }

    /// Whether `d` is a difference a backup, a restore and `check` accept: an inert addition
    /// ([`DriftItem::is_inert`]) beside a schema with our migration history. A file without that
    /// history is compared with nothing, so every table of it would look like an addition.
    pub fn tolerates(&self, d: &DriftItem) -> bool {
        self.compared_with_version >= 1 && d.is_inert()
    }

    /// The differences split into (tolerated, the rest), in their order.
    pub fn split_tolerated(&self) -> (Vec<&DriftItem>, Vec<&DriftItem>) {
        self.differences.iter().partition(|d| self.tolerates(d))
    }
}

/// Compares the live schema with what the embedded migrations, up to the applied version,
/// produce in an in-memory database.
pub(crate) fn drift(conn: &Connection) -> Result<DriftReport> {
    // A history this pipeline-db cannot vouch for (a version it does not know, one applied with
    // another checksum, a gap) is drift itself; the schema is compared with what the migrations
    // it knows produce, up to the recorded version.
    let history = history_drift(conn)?;
    let version = schema_version(conn)?.unwrap_or(0).min(latest_version());
    let mem = Connection::open_in_memory().map_err(Error::sql("opening in-memory database"))?;
    mem.execute_batch("BEGIN")
        .map_err(Error::sql("in-memory schema"))?;
    if version > 0 {
        embedded::migrations::runner()
            .set_grouped(true)
            .set_target(refinery_core::Target::Version(version as i32))
            .run(&mut InTx(&mem))
            .map_err(|e| refinery_error(e, Path::new(":memory:"), "memory"))?;
    }
    let actual = schema_objects(conn)?;
    // The env tag's table is ours too, created by the tag, not a migration.
    if actual.contains_key(&("table".to_string(), META_TABLE.to_string())) {
        mem.execute_batch(crate::schema::tag::CREATE_META)
            .map_err(Error::sql("in-memory schema"))?;
    }
    let expected = schema_objects(&mem)?;
    let shown = |(sql, table): &SchemaRow| format!("{sql} (on {table})");
    let mut differences = history;
    for (key, e) in &expected {
        match actual.get(key) {
            None => differences.push(item("missing", key, Some(&e.0), None)),
            Some(a) if a.0 != e.0 => differences.push(item("changed", key, Some(&e.0), Some(&a.0))),
            Some(a) if a.1 != e.1 => {
                differences.push(item("changed", key, Some(&shown(e)), Some(&shown(a))))
            }
            _ => {}
        }
    }
    for (key, a) in &actual {
        if !expected.contains_key(key) {
            differences.push(item("extra", key, None, Some(&a.0)));
        }
    }
    Ok(DriftReport {
        compared_with_version: version,
        differences,
    })
}

/// The migration history's differences from the embedded migrations, as drift of object type
/// `migration`: `extra` (applied but unknown here, e.g. newer than this pipeline-db), `changed`
/// (applied with another checksum), `missing` (not recorded while a later one is: a gap).
fn history_drift(conn: &Connection) -> Result<Vec<DriftItem>> {
    let all = list(Some(conn))?;
    let newest_applied = all
        .iter()
        .filter(|m| m.state != MigrationState::Pending)
        .map(|m| m.version)
        .max();
    let key = |m: &MigrationInfo| {
        (
            "migration".to_string(),
            format!("V{} {}", m.version, m.name),
        )
    };
    Ok(all
        .iter()
        .filter_map(|m| {
            let (embedded, applied) = (m.checksum.as_ref(), m.applied_checksum.as_ref());
            match m.state {
                MigrationState::Missing => Some(item("extra", &key(m), None, applied)),
                MigrationState::Divergent => Some(item("changed", &key(m), embedded, applied)),
                MigrationState::Pending if newest_applied.is_some_and(|n| m.version < n) => {
                    Some(item("missing", &key(m), embedded, None))
                }
                _ => None,
            }
        })
        .collect())
}

fn item(
    change: &'static str,
    key: &(String, String),
    e: Option<&String>,
    a: Option<&String>,
) -> DriftItem {
    DriftItem {
        change,
        object_type: key.0.clone(),
        name: key.1.clone(),
        expected_sql: e.cloned(),
        actual_sql: a.cloned(),
    }
}

/// Turns a free-form migration name into `snake_case`, or says why it cannot.
pub fn snake_migration_name(name: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::InvalidInput(format!(
            "invalid migration name {:?}: {why}",
            name.escape_debug().to_string()
        ))
    };
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut out = String::new();
    for c in trimmed.chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            ' ' | '-' | '_' => {
                if !out.ends_with('_') {
                    out.push('_')
                }
            }
            _ => return Err(bad("use letters, digits, spaces, `-` or `_` only")),
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() || !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(bad("it must start with a letter"));
    }
    if out.len() > 64 {
        return Err(bad("it is longer than 64 characters"));
    }
    Ok(out)
}

/// Creates `V<n>__<snake_name>.sql` in `dir` (next free version), with a header. Never overwrites.
pub fn new_migration(dir: &Path, name: &str) -> Result<PathBuf> {
    let snake = snake_migration_name(name)?;
    let rd = std::fs::read_dir(dir).map_err(Error::io("reading migrations dir", dir))?;
    let mut max = 0i64;
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if let Some(v) = n
            .strip_prefix('V')
            .and_then(|r| r.split("__").next())
            .and_then(|v| v.parse::<i64>().ok())
        {
            max = max.max(v);
        }
    }
    let version = max + 1;
    let path = dir.join(format!("V{version}__{snake}.sql"));
    let header = format!(
        "-- V{version}__{snake}: {}\n-- Created {} by pipeline-db {}.\n-- Applied in one transaction with its history row. Keep this file LF-only and never edit it\n-- once applied anywhere: its checksum is recorded. Write a new migration instead.\n\n",
        name.trim(),
        crate::now_rfc3339(),
        crate::schema::tag::TOOL_VERSION
    );
    let mut f = crate::storage::fs::create_new(&path)?;
    std::io::Write::write_all(&mut f, header.as_bytes()).map_err(Error::io("writing", &path))?;
    f.sync_all().map_err(Error::io("fsync", &path))?;
    Ok(path)
}

/// `migrations list [ENV]`: every migration, and (with an env) its state in that env's file.
pub fn list_for(ws: &crate::Workspace, env: Option<&str>) -> Result<Vec<MigrationInfo>> {
    let conn = match env {
        Some(e) => open_read_only(ws, e)?,
        None => None,
    };
    list(conn.as_ref())
}

/// `migrations check ENV`: the env's schema compared with what the migrations produce.
pub fn drift_for(ws: &crate::Workspace, env: &str) -> Result<DriftReport> {
    let t = ws.env(env)?;
    let conn = open_read_only(ws, env)?.ok_or_else(|| crate::Error::Missing {
        path: t.path.clone(),
        next: format!("run `pipeline-db migrate {env}`"),
    })?;
    drift(&conn)
}

fn open_read_only(ws: &crate::Workspace, env: &str) -> Result<Option<Connection>> {
    let t = ws.env(env)?;
    match db::check_header(&t.path)? {
        db::FileState::Missing => Ok(None),
        db::FileState::Database => {
            db::open(&t.path, db::Access::ReadOnly, ws.busy_timeout()).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_lf_only_and_numbered_from_one() {
        let m = embedded();
        assert!(!m.is_empty());
        assert_eq!(m[0].version(), 1);
        for mig in &m {
            assert!(
                !mig.sql().unwrap().contains('\r'),
                "V{} contains CR",
                mig.version()
            );
        }
    }

    #[test]
    fn crlf_changes_the_checksum() {
        let m = &embedded()[0];
        let sql = m.sql().unwrap();
        let crlf = Migration::unapplied(
            &format!("V{}__{}", m.version(), m.name()),
            &sql.replace('\n', "\r\n"),
        )
        .unwrap();
        assert_ne!(crlf.checksum(), m.checksum());
    }

    #[test]
    fn snake_names() {
        assert_eq!(
            snake_migration_name("Add job tags").unwrap(),
            "add_job_tags"
        );
        assert_eq!(snake_migration_name("add-index--x").unwrap(), "add_index_x");
        for bad in [
            "",
            "  ",
            "../x",
            "a/b",
            "x;drop",
            "1abc",
            "é",
            &"a".repeat(65),
        ] {
            assert!(snake_migration_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fresh_schema_has_no_drift_and_extra_objects_are_drift() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("BEGIN").unwrap();
        apply_pending(&c, Path::new("x"), "dev").unwrap();
        c.execute_batch("COMMIT").unwrap();
        assert!(!drift(&c).unwrap().has_drift());
        c.execute_batch("CREATE INDEX extra_idx ON jobs (output_dir); DROP INDEX jobs_created;")
            .unwrap();
        let d = drift(&c).unwrap();
        let kinds: Vec<_> = d
            .differences
            .iter()
            .map(|i| (i.change, i.name.as_str()))
            .collect();
        assert!(
            kinds.contains(&("extra", "extra_idx")) && kinds.contains(&("missing", "jobs_created")),
            "{kinds:?}"
        );
    }

    /// Whitespace is what SQLite reads as whitespace: a no-break space inside a CHECK's pattern
    /// (which SQLite reads as a character of the pattern) is a changed table; more spaces between
    /// tokens or inside a comment are the same table.
    #[test]
    fn only_sqlites_whitespace_is_collapsed_when_schemas_are_compared() {
        let schema = |edit: &dyn Fn(&str) -> String| {
            let c = Connection::open_in_memory().unwrap();
            c.execute_batch("BEGIN").unwrap();
            apply_pending(&c, Path::new("x"), "dev").unwrap();
            c.execute_batch("COMMIT").unwrap();
            let sql: String = c
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE name = 'users'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(sql.contains("'*[ ]*'") && sql.contains("\n"), "{sql}");
            c.execute_batch("PRAGMA writable_schema = ON").unwrap();
            c.execute(
                "UPDATE sqlite_schema SET sql = ?1 WHERE name = 'users'",
                [edit(&sql)],
            )
            .unwrap();
            drift(&c).unwrap()
        };
        let nbsp = schema(&|sql| sql.replace("'*[ ]*'", "'*[\u{a0}]*'"));
        assert_eq!(nbsp.differences.len(), 1, "{nbsp:?}");
        assert_eq!(nbsp.differences[0].name, "users");
        let spaced = schema(&|sql| sql.replace("\n", " \t\n  ").replace("-- ", "--   "));
        assert!(!spaced.has_drift(), "{spaced:?}");
    }

    #[test]
    fn tampered_checksum_is_divergent() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("BEGIN").unwrap();
        apply_pending(&c, Path::new("x"), "dev").unwrap();
        c.execute_batch(
            "COMMIT; UPDATE refinery_schema_history SET checksum = '123' WHERE version = 1",
        )
        .unwrap();
        let e = pending_or_refuse(&c, Path::new("x"), "dev").unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("V1"), "{e}");
        c.execute_batch("UPDATE refinery_schema_history SET checksum = 'garbage'")
            .unwrap();
        assert_eq!(
            pending_or_refuse(&c, Path::new("x"), "dev")
                .unwrap_err()
                .exit_code(),
            3
        );
    }
}
