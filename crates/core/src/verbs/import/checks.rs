//! The rules an imported row must meet, and the inserts: natural keys looked up in the env and
//! in the earlier lines of the file (kept in a private temporary SQLite file, so memory does not
//! grow with the rows), foreign keys looked up in the env, and the schema's own constraints
//! checked on an in-memory copy of the schema before anything is written.

use std::collections::HashSet;
use std::path::Path;

use rusqlite::types::Value;
use rusqlite::Connection;

use super::rows::{show, Row, Table};
use super::RowIssue;
use crate::error::{Error, Result};
use crate::schema::migrations;
use crate::storage::db;

/// The natural keys of each table (besides `id`); `true`: compared case-insensitively.
fn natural_keys(table: &str) -> &'static [(&'static str, bool)] {
    match table {
        "users" => &[("username", true), ("email", true)],
        "pipelines" => &[("name", false)],
        "jobs" => &[("session_id", false)],
        _ => &[],
    }
}

/// Foreign keys of each table: (column, referenced table).
fn references(table: &str) -> &'static [(&'static str, &'static str)] {
    match table {
        "jobs" => &[("user_id", "users"), ("pipeline_id", "pipelines")],
        _ => &[],
    }
}

/// `id` and the natural keys of `table`, with their column index.
fn key_columns(table: &Table) -> Vec<(&'static str, bool, Option<usize>)> {
    std::iter::once(("id", false))
        .chain(natural_keys(&table.name).iter().copied())
        .map(|(c, nocase)| (c, nocase, table.index(c)))
        .collect()
}

/// Keys seen earlier in the file, one table per key column in a private temporary SQLite file
/// (journal off: it is scratch, deleted when closed; a few MiB of cache): memory stays the same
/// whatever the number of rows, and keys that come in order (an export's) are appended. Beside
/// them, the ids SQLite will give the rows that give none, and their lines.
pub(super) struct SeenKeys {
    c: Connection,
    sql: Vec<String>,
}

const ASSIGN: &str = "INSERT OR IGNORE INTO assigned (id, line) VALUES (?1, ?2)";
const ASSIGNED_TO: &str = "SELECT line FROM assigned WHERE id = ?1";

impl SeenKeys {
    pub fn new(table: &Table) -> Result<SeenKeys> {
        let what = || Error::sql("making the scratch file of keys");
        let c = Connection::open("").map_err(what())?;
        c.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4096;",
        )
        .map_err(what())?;
        let mut sql = vec![];
        for (i, (_, nocase, _)) in key_columns(table).into_iter().enumerate() {
            let collate = if nocase { " COLLATE NOCASE" } else { "" };
            c.execute_batch(&format!(
                "CREATE TABLE k{i} (v PRIMARY KEY{collate}) WITHOUT ROWID"
            ))
            .map_err(what())?;
            sql.push(format!("INSERT OR IGNORE INTO k{i} (v) VALUES (?1)"));
        }
        c.execute_batch("CREATE TABLE assigned (id INTEGER PRIMARY KEY, line INTEGER NOT NULL)")
            .map_err(what())?;
        c.execute_batch("BEGIN").map_err(what())?;
        Ok(SeenKeys { c, sql })
    }

    /// Remembers key `k`'s value; false: an earlier line had it.
    fn insert(&self, k: usize, v: &Value) -> Result<bool> {
        let what = || Error::sql("remembering a key");
        let mut stmt = self.c.prepare_cached(&self.sql[k]).map_err(what())?;
        Ok(stmt.execute([v]).map_err(what())? == 1)
    }

    /// Remembers that SQLite will give the row of `line` the id `id`.
    fn assign(&self, id: i64, line: u64) -> Result<()> {
        let what = || Error::sql("remembering an id");
        let mut stmt = self.c.prepare_cached(ASSIGN).map_err(what())?;
        stmt.execute(rusqlite::params![id, line as i64])
            .map_err(what())?;
        Ok(())
    }

    /// The line of the row without an id that SQLite will give `id`, if any.
    fn assigned_to(&self, id: i64) -> Result<Option<u64>> {
        use rusqlite::OptionalExtension;
        let what = || Error::sql("looking up an id");
        let mut stmt = self.c.prepare_cached(ASSIGNED_TO).map_err(what())?;
        let line: Option<i64> = stmt
            .query_row([id], |r| r.get(0))
            .optional()
            .map_err(what())?;
        Ok(line.map(|l| l as u64))
    }
}

/// Look-ups in the env: natural keys (skipped when the env's table is empty) and the rows that
/// foreign keys refer to (the ids found are remembered).
pub(super) struct Lookups<'c> {
    c: &'c Connection,
    keys: Vec<(&'static str, Option<usize>, String)>,
    refs: Vec<(&'static str, &'static str, Option<usize>, String)>,
    env_has_rows: bool,
    table: String,
    known: HashSet<(&'static str, i64)>,
    /// The `id` column, and the largest id so far: the env's, then every id given or assigned
    /// in the file, in its order (`None`: not read from the env yet).
    id: Option<usize>,
    /// `None` until read from the table; then the largest id so far (`None`: no row yet).
    largest_id: Option<Option<i64>>,
    /// The first id SQLite will give an id-less row of the file: no smaller id needs looking up.
    first_assigned: Option<i64>,
}

impl<'c> Lookups<'c> {
    pub fn new(c: &'c Connection, table: &Table, env_has_rows: bool) -> Lookups<'c> {
        let exists = |t: &str, col: &str, nocase: bool| {
            let collate = if nocase { " COLLATE NOCASE" } else { "" };
            format!(
                "SELECT 1 FROM {} WHERE {} = ?1{collate} LIMIT 1",
                db::quote_ident(t),
                db::quote_ident(col)
            )
        };
        let keys = key_columns(table)
            .into_iter()
            .map(|(col, nocase, i)| (col, i, exists(&table.name, col, nocase)))
            .collect();
        let refs = references(&table.name)
            .iter()
            .map(|&(col, parent)| (col, parent, table.index(col), exists(parent, "id", false)))
            .collect();
        Lookups {
            c,
            keys,
            refs,
            env_has_rows,
            table: table.name.clone(),
            known: HashSet::new(),
            id: table.index("id"),
            largest_id: None,
            first_assigned: None,
        }
    }

    /// Follows the ids SQLite gives: a row without an id (or with a NULL one) gets the largest id
    /// in the table at its insert + 1 (our tables' `INTEGER PRIMARY KEY` has no AUTOINCREMENT), and
    /// rows are inserted in the file's order. A row giving the id an earlier id-less row will get
    /// is refused here, as the insert would refuse it.
    fn assigned_ids(&mut self, row: &Row, seen: &SeenKeys) -> Result<Option<RowIssue>> {
        // An empty table gives an id-less row 1; else the largest id + 1 (which may be negative).
        let largest: Option<i64> = match self.largest_id {
            Some(n) => n,
            None => {
                let sql = format!("SELECT max(id) FROM {}", db::quote_ident(&self.table));
                self.c
                    .query_row(&sql, [], |r| r.get(0))
                    .map_err(Error::sql("reading the largest id"))?
            }
        };
        let issue = |value: String, rule: String| RowIssue {
            line: row.line,
            column: "id".into(),
            value,
            rule,
        };
        match row.get(self.id) {
            Some(Value::Integer(id)) => {
                self.largest_id = Some(Some(largest.map_or(*id, |l| l.max(*id))));
                if self.first_assigned.is_none_or(|first| *id < first) {
                    return Ok(None);
                }
                Ok(seen.assigned_to(*id)?.map(|line| {
                    issue(
                        id.to_string(),
                        format!(
                            "line {line} gives no id, so SQLite gives it {id} (the largest id before it + 1), the id of this row too; give line {line} an id, or this row another"
                        ),
                    )
                }))
            }
            _ => match largest.map_or(Some(1), |l| l.checked_add(1)) {
                Some(next) => {
                    seen.assign(next, row.line)?;
                    self.largest_id = Some(Some(next));
                    self.first_assigned.get_or_insert(next);
                    Ok(None)
                }
                // SQLite then picks an unused id at random: what it will be cannot be said.
                None => {
                    self.largest_id = Some(largest);
                    Ok(Some(issue(
                        "NULL".into(),
                        format!(
                            "an id is needed: the largest possible id ({}) is taken by then (in {} or an earlier line of the file), so SQLite would pick one at random",
                            i64::MAX,
                            self.table
                        ),
                    )))
                }
            },
        }
    }

    fn exists(&self, sql: &str, v: &Value) -> Result<bool> {
        let mut stmt = self
            .c
            .prepare_cached(sql)
            .map_err(Error::sql("looking up a key"))?;
        stmt.exists([v]).map_err(Error::sql("looking up a key"))
    }

    /// The row's keys that the env or an earlier line of the file already has.
    pub fn duplicates(&mut self, row: &Row, seen: &SeenKeys) -> Result<Vec<RowIssue>> {
        let mut out: Vec<RowIssue> = self.assigned_ids(row, seen)?.into_iter().collect();
        for (k, (col, i, sql)) in self.keys.iter().enumerate() {
            let Some(v) = row.get(*i).filter(|v| **v != Value::Null) else {
                continue;
            };
            let issue = |rule: String| RowIssue {
                line: row.line,
                column: col.to_string(),
                value: show(v),
                rule,
            };
            let in_env = self.env_has_rows && self.exists(sql, v)?;
            // Remembered either way, so that a later line with it is named too.
            let new_in_file = seen.insert(k, v)?;
            if in_env {
                out.push(issue(format!(
                    "{} already has a row with this {col}",
                    self.table
                )));
            } else if !new_in_file {
                out.push(issue(format!("an earlier line of the file has this {col}")));
            }
        }
        Ok(out)
    }

    /// The row's references to rows the env does not have.
    pub fn missing_references(&mut self, row: &Row) -> Result<Vec<RowIssue>> {
        let mut out = vec![];
        for (col, parent, i, sql) in &self.refs {
            let Some(Value::Integer(id)) = row.get(*i) else {
                continue;
            };
            if self.known.contains(&(*parent, *id)) {
                continue;
            }
            if self.exists(sql, &Value::Integer(*id))? {
                self.known.insert((parent, *id));
            } else {
                out.push(RowIssue {
                    line: row.line,
                    column: col.to_string(),
                    value: id.to_string(),
                    rule: format!("no row of {parent} has id {id} (foreign key)"),
                });
            }
        }
        Ok(out)
    }
}

/// Rows per multi-row INSERT (as the seed does): the per-statement work — bind, step, reset, and
/// the ephemeral table SQLite builds for `status IN (…)` CHECKs on every execution — is paid once
/// per batch instead of once per row.
pub(super) const ROWS_PER_INSERT: usize = 64;

/// `INSERT INTO table (the row's columns) VALUES (…)[, (…) …]`, its text made again only when the
/// columns or the number of rows change (a CSV file gives the same columns on every row).
pub(super) struct Inserter {
    columns: Vec<usize>,
    rows: usize,
    sql: String,
}

impl Inserter {
    pub fn new() -> Inserter {
        Inserter {
            columns: vec![usize::MAX],
            rows: 0,
            sql: String::new(),
        }
    }

    fn sql(&mut self, table: &Table, row: &Row, rows: usize) -> &str {
        let same = row
            .values
            .iter()
            .map(|(i, _)| *i)
            .eq(self.columns.iter().copied());
        if !same || rows != self.rows {
            self.columns = row.values.iter().map(|(i, _)| *i).collect();
            self.rows = rows;
            let cols: Vec<String> = self
                .columns
                .iter()
                .map(|&i| db::quote_ident(&table.columns[i].0))
                .collect();
            let one = format!("({})", vec!["?"; cols.len()].join(", "));
            self.sql = format!(
                "INSERT INTO {} ({}) VALUES {}",
                db::quote_ident(&table.name),
                cols.join(", "),
                vec![one; rows].join(", ")
            );
        }
        &self.sql
    }

    /// Inserts one row (the columns it gives; the others take their defaults).
    pub fn insert(
        &mut self,
        c: &Connection,
        table: &Table,
        row: &Row,
    ) -> std::result::Result<(), Refused> {
        self.run(c, table, std::slice::from_ref(row))
            .map_err(|e| match is_constraint(&e) {
                true => Refused::Row(issue_of(table, row, &e)),
                false => Refused::Database(e),
            })
    }

    /// Inserts `rows` — which all give the same columns ([`same_columns`]) — in one statement.
    /// When SQLite refuses it for a constraint (the statement then leaves nothing behind), they
    /// are inserted one by one, so the refusal names the first row that breaks a rule. Any other
    /// error (disk full, I/O — which may have ended the transaction) is the database's, as it is.
    pub fn insert_many(
        &mut self,
        c: &Connection,
        table: &Table,
        rows: &[Row],
    ) -> std::result::Result<(), Refused> {
        match self.run(c, table, rows) {
            Ok(()) => Ok(()),
            Err(e) if is_constraint(&e) && rows.len() > 1 => {
                rows.iter().try_for_each(|row| self.insert(c, table, row))
            }
            Err(e) if is_constraint(&e) => Err(Refused::Row(issue_of(table, &rows[0], &e))),
            Err(e) => Err(Refused::Database(e)),
        }
    }

    fn run(&mut self, c: &Connection, table: &Table, rows: &[Row]) -> rusqlite::Result<()> {
        let Some(first) = rows.first() else {
            return Ok(());
        };
        let sql = self.sql(table, first, rows.len());
        let params =
            rusqlite::params_from_iter(rows.iter().flat_map(|r| r.values.iter().map(|(_, v)| v)));
        c.prepare_cached(sql)
            .and_then(|mut stmt| stmt.execute(params))
            .map(|_| ())
    }
}

/// Why rows were not inserted: one of them breaks a rule of the schema, or the database failed
/// (a full disk, an I/O error), which says nothing about the file.
#[derive(Debug)]
pub(super) enum Refused {
    Row(RowIssue),
    Database(rusqlite::Error),
}

/// Whether two rows give the same columns, in the same order (one statement can insert both).
pub(super) fn same_columns(a: &Row, b: &Row) -> bool {
    a.values
        .iter()
        .map(|(i, _)| *i)
        .eq(b.values.iter().map(|(i, _)| *i))
}

/// A constraint failure (a statement that leaves nothing behind); any other error (disk full, I/O)
/// may have ended the whole transaction and is reported as it is.
fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

/// The column a constraint failure is about, from SQLite's message.
fn issue_of(table: &Table, row: &Row, e: &rusqlite::Error) -> RowIssue {
    let msg = match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        other => other.to_string(),
    };
    let mentioned: Vec<usize> = (0..table.columns.len())
        .filter(|&i| {
            let name = &table.columns[i].0;
            msg.match_indices(name.as_str()).any(|(at, _)| {
                let before = msg[..at].chars().last();
                let after = msg[at + name.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                !word(before) && !word(after)
            })
        })
        .collect();
    let column = if mentioned.is_empty() {
        "(row)".to_string()
    } else {
        mentioned
            .iter()
            .map(|&i| table.columns[i].0.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let value = mentioned
        .first()
        .and_then(|&i| row.get(Some(i)))
        .map(show)
        .unwrap_or_else(|| "-".into());
    RowIssue {
        line: row.line,
        column,
        value,
        rule: msg,
    }
}

/// Rows checked against the in-memory schema between two rollbacks (bounded memory): 1,000, or
/// fewer when they hold 16 MiB (1,000 rows of 1 MiB held 1 GB).
const VALIDATE_BATCH: usize = 1_000;
const VALIDATE_BYTES: usize = 16 << 20;

/// The schema's own constraints, checked on an in-memory database built from the embedded
/// migrations: rows are inserted and rolled back in batches. Uniqueness is checked against the env
/// and the file, not here.
pub(super) struct Validator {
    c: Connection,
    insert: Inserter,
    batch: usize,
    batch_bytes: usize,
}

impl Validator {
    pub fn new(table: &str) -> Result<Validator> {
        let c = Connection::open_in_memory().map_err(Error::sql("opening the validator"))?;
        c.pragma_update(None, "foreign_keys", false)
            .map_err(Error::sql("validator"))?;
        migrations::apply_pending(&c, Path::new(":memory:"), "validator")?;
        // Its own summary triggers and indexes would only slow it down (the inline UNIQUE ones
        // cannot be dropped: see `check`).
        let drop: Vec<String> = c
            .prepare(
                "SELECT type, name FROM sqlite_schema WHERE tbl_name = ?1 AND sql IS NOT NULL \
                 AND type IN ('index', 'trigger')",
            )
            .and_then(|mut s| {
                s.query_map([table], |r| {
                    Ok(format!(
                        "DROP {} {}",
                        r.get::<_, String>(0)?.to_uppercase(),
                        db::quote_ident(&r.get::<_, String>(1)?)
                    ))
                })?
                .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(Error::sql("validator"))?;
        for sql in drop {
            c.execute_batch(&sql).map_err(Error::sql("validator"))?;
        }
        c.execute_batch("BEGIN").map_err(Error::sql("validator"))?;
        Ok(Validator {
            c,
            insert: Inserter::new(),
            batch: 0,
            batch_bytes: 0,
        })
    }

    /// `rows` (which give the same columns) against the schema's constraints: one multi-row
    /// insert, and only when it is refused, each row on its own to tell which break a rule.
    pub fn check_many(&mut self, table: &Table, rows: &[Row]) -> Result<Vec<RowIssue>> {
        if rows.len() > 1 {
            match self.insert.run(&self.c, table, rows) {
                Ok(()) => {
                    let bytes = rows.iter().map(Row::bytes).sum();
                    return self.count(rows.len(), bytes).map(|()| vec![]);
                }
                Err(e) if is_constraint(&e) => {}
                Err(e) => return Err(Error::sql("validator")(e)),
            }
        }
        let mut issues = vec![];
        for row in rows {
            issues.extend(self.check(table, row)?);
        }
        Ok(issues)
    }

    /// Rolls the in-memory copy back every [`VALIDATE_BATCH`] rows or [`VALIDATE_BYTES`].
    fn count(&mut self, rows: usize, bytes: usize) -> Result<()> {
        self.batch += rows;
        self.batch_bytes += bytes;
        if self.batch >= VALIDATE_BATCH || self.batch_bytes >= VALIDATE_BYTES {
            self.batch = 0;
            self.batch_bytes = 0;
            self.c
                .execute_batch("ROLLBACK; BEGIN")
                .map_err(Error::sql("validator"))?;
        }
        Ok(())
    }

    /// The row against the schema's constraints. SQLite checks NOT NULL and CHECK before
    /// uniqueness, so a row refused only as a repeat (of an earlier row of its batch, or of an id
    /// this copy gave a row without one) has passed them: that is not the validator's business.
    pub fn check(&mut self, table: &Table, row: &Row) -> Result<Option<RowIssue>> {
        use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
        let issue = match self.insert.run(&self.c, table, std::slice::from_ref(row)) {
            Ok(_) => None,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.extended_code,
                    SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                None
            }
            Err(e) => Some(issue_of(table, row, &e)),
        };
        self.count(1, row.bytes())?;
        Ok(issue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Table {
        let c = Connection::open_in_memory().unwrap();
        migrations::apply_pending(&c, Path::new(":memory:"), "t").unwrap();
        Table::read(&c, "users").unwrap()
    }

    #[test]
    fn seen_keys_remember_what_they_saw_case_insensitively_where_the_schema_does() {
        let t = users();
        let k = SeenKeys::new(&t).unwrap();
        let (id, username) = (0, 1);
        assert!(k.insert(username, &Value::Text("Ann".into())).unwrap());
        assert!(!k.insert(username, &Value::Text("ANN".into())).unwrap());
        assert!(k.insert(id, &Value::Integer(1)).unwrap());
        assert!(!k.insert(id, &Value::Integer(1)).unwrap());
        assert!(k.insert(id, &Value::Text("1".into())).unwrap());
    }

    fn user_row(t: &Table, line: u64, name: &str, role: &str) -> Row {
        Row {
            line,
            values: vec![
                (t.index("username").unwrap(), Value::Text(name.into())),
                (
                    t.index("email").unwrap(),
                    Value::Text(format!("{name}@example.org")),
                ),
                (
                    t.index("hashed_password").unwrap(),
                    Value::Text("$argon2id$x".into()),
                ),
                (t.index("role").unwrap(), Value::Text(role.into())),
            ],
        }
    }

    /// Many rows in one statement; a refused statement leaves nothing behind and the refusal
    /// names the first row that breaks a rule (a CHECK, or a key repeated inside the run).
    #[test]
    fn a_multi_row_insert_names_the_row_it_was_refused_for() {
        let t = users();
        let c = Connection::open_in_memory().unwrap();
        migrations::apply_pending(&c, Path::new(":memory:"), "t").unwrap();
        let count = |c: &Connection| -> i64 {
            c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))
                .unwrap()
        };
        let mut ins = Inserter::new();
        let good: Vec<Row> = (0..ROWS_PER_INSERT as u64)
            .map(|i| user_row(&t, i + 2, &format!("u{i}"), "viewer"))
            .collect();
        ins.insert_many(&c, &t, &good).unwrap();
        assert_eq!(count(&c), ROWS_PER_INSERT as i64);

        c.execute_batch("BEGIN").unwrap();
        let mut bad: Vec<Row> = (0..10)
            .map(|i| user_row(&t, i + 100, &format!("v{i}"), "viewer"))
            .collect();
        bad[6] = user_row(&t, 106, "v6", "boss");
        bad[8] = user_row(&t, 108, "v8", "boss");
        let Err(Refused::Row(issue)) = ins.insert_many(&c, &t, &bad) else {
            panic!("a row refused")
        };
        assert_eq!((issue.line, issue.column.as_str()), (106, "role"));
        assert!(issue.rule.contains("CHECK"), "{issue:?}");
        c.execute_batch("ROLLBACK").unwrap();
        assert_eq!(count(&c), ROWS_PER_INSERT as i64, "rolled back whole");

        let mut repeat: Vec<Row> = (0..5)
            .map(|i| user_row(&t, i + 200, &format!("w{i}"), "admin"))
            .collect();
        repeat[3] = user_row(&t, 203, "w1", "admin");
        let Err(Refused::Row(issue)) = ins.insert_many(&c, &t, &repeat) else {
            panic!("a row refused")
        };
        assert_eq!(issue.line, 203, "{issue:?}");
        assert!(issue.rule.contains("UNIQUE"), "{issue:?}");
        assert!(same_columns(&repeat[0], &repeat[1]));
    }

    #[test]
    fn the_validator_names_the_column_and_rule_a_row_breaks() {
        let t = users();
        let mut v = Validator::new("users").unwrap();
        let row = |line, role: &str| Row {
            line,
            values: vec![
                (
                    t.index("username").unwrap(),
                    Value::Text(format!("u{line}")),
                ),
                (
                    t.index("email").unwrap(),
                    Value::Text(format!("u{line}@example.org")),
                ),
                (
                    t.index("hashed_password").unwrap(),
                    Value::Text("$argon2id$x".into()),
                ),
                (t.index("role").unwrap(), Value::Text(role.into())),
            ],
        };
        for line in 2..2 + VALIDATE_BATCH as u64 + 5 {
            assert_eq!(v.check(&t, &row(line, "viewer")).unwrap(), None);
        }
        let bad = v.check(&t, &row(9999, "boss")).unwrap().unwrap();
        assert_eq!((bad.line, bad.column.as_str()), (9999, "role"));
        assert!(bad.rule.contains("CHECK"), "{bad:?}");
    }
}
