//! The guard around untrusted SQL (the query console, `export --query`): a read-only hardened
//! connection with `query_only`, an authorizer that allows reads only, low limits, and a time limit.
//!
//! Layers, each enough on its own for writes: the file is opened `SQLITE_OPEN_READ_ONLY` (with
//! DEFENSIVE, trusted_schema off, no ATTACH that creates or writes: `storage::db`), `PRAGMA
//! query_only = 1`, the authorizer below, and `sqlite3_stmt_readonly` checked after prepare.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::{Connection, Statement};

use crate::error::{Error, Result};
use crate::progress::Observer;
use crate::safety::session;
use crate::workspace::config::Workspace;

/// The query console's default time limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest string or blob a query may build (SQLite's LENGTH limit).
pub const MAX_VALUE_BYTES: i32 = 1_000_000;
/// Longest SQL text accepted.
pub const MAX_SQL_BYTES: i32 = 100_000;

/// SQLite's limits on an untrusted-SQL connection (SQLite's own advice for untrusted SQL, with room
/// for real queries: a join of our three tables has ~30 columns, a WHERE of 20 terms is fine).
const LIMITS: [(Limit, i32); 10] = [
    (Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES),
    (Limit::SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES),
    (Limit::SQLITE_LIMIT_COLUMN, 100),
    (Limit::SQLITE_LIMIT_EXPR_DEPTH, 100),
    (Limit::SQLITE_LIMIT_COMPOUND_SELECT, 50),
    (Limit::SQLITE_LIMIT_FUNCTION_ARG, 100),
    (Limit::SQLITE_LIMIT_ATTACHED, 0),
    (Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1_000),
    (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, 0),
    (Limit::SQLITE_LIMIT_TRIGGER_DEPTH, 10),
];

/// PRAGMAs that only read, and may take an argument (a table or index name, a row limit).
const PRAGMAS_WITH_ARGUMENT: [&str; 10] = [
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "quick_check",
    "integrity_check",
];

/// PRAGMAs that read a setting; with a value they would set it, so a value is refused.
const PRAGMAS_WITHOUT_VALUE: [&str; 15] = [
    "application_id",
    "user_version",
    "schema_version",
    "data_version",
    "page_count",
    "page_size",
    "freelist_count",
    "encoding",
    "foreign_keys",
    "compile_options",
    "collation_list",
    "function_list",
    "module_list",
    "pragma_list",
    "database_list",
];

/// Functions no query may call: extension loading and the file and tokenizer functions some
/// builds carry.
const DENIED_FUNCTIONS: [&str; 6] = [
    "load_extension",
    "fts3_tokenizer",
    "readfile",
    "writefile",
    "edit",
    "sqlite_dbpage",
];

/// What the authorizer decides for one action: `None` allows it, `Some(what)` refuses it.
pub fn refusal(action: &AuthAction<'_>) -> Option<String> {
    use AuthAction::*;
    let what = match *action {
        Select | Recursive | Read { .. } => return None,
        // SQLite asks for these first when CREATE, DROP or ALTER writes the schema table.
        Insert { table_name } if is_schema_table(table_name) => {
            "CREATE of a table, index, view or trigger".to_string()
        }
        Delete { table_name } if is_schema_table(table_name) => {
            "DROP of a table, index, view or trigger".to_string()
        }
        Update { table_name, .. } if is_schema_table(table_name) => {
            "ALTER of a table (a change to the schema)".to_string()
        }
        Function { function_name } => {
            let name = function_name.to_ascii_lowercase();
            if !DENIED_FUNCTIONS.contains(&name.as_str()) {
                return None;
            }
            format!("the function {function_name}()")
        }
        Pragma {
            pragma_name,
            pragma_value,
        } => {
            let name = pragma_name.to_ascii_lowercase();
            let ok = PRAGMAS_WITH_ARGUMENT.contains(&name.as_str())
                || (PRAGMAS_WITHOUT_VALUE.contains(&name.as_str()) && pragma_value.is_none());
            if ok {
                return None;
            }
            match pragma_value {
                Some(v) => format!("PRAGMA {pragma_name} = {v} (a PRAGMA that changes a setting)"),
                None => format!("PRAGMA {pragma_name} (not on the read-only list)"),
            }
        }
        Insert { table_name } => format!("INSERT into {table_name}"),
        Update {
            table_name,
            column_name,
        } => format!("UPDATE of {table_name}.{column_name}"),
        Delete { table_name } => format!("DELETE from {table_name}"),
        Attach { filename } => format!("ATTACH of {filename:?}"),
        Detach { database_name } => format!("DETACH of {database_name}"),
        Transaction { operation } => format!("a transaction statement ({operation:?})"),
        Savepoint { savepoint_name, .. } => format!("SAVEPOINT {savepoint_name}"),
        CreateTable { table_name } | CreateTempTable { table_name } => {
            format!("CREATE TABLE {table_name}")
        }
        CreateIndex { index_name, .. } | CreateTempIndex { index_name, .. } => {
            format!("CREATE INDEX {index_name}")
        }
        CreateView { view_name } | CreateTempView { view_name } => {
            format!("CREATE VIEW {view_name}")
        }
        CreateTrigger { trigger_name, .. } | CreateTempTrigger { trigger_name, .. } => {
            format!("CREATE TRIGGER {trigger_name}")
        }
        CreateVtable { table_name, .. } => format!("CREATE VIRTUAL TABLE {table_name}"),
        DropTable { table_name } | DropTempTable { table_name } => {
            format!("DROP TABLE {table_name}")
        }
        DropIndex { index_name, .. } | DropTempIndex { index_name, .. } => {
            format!("DROP INDEX {index_name}")
        }
        DropView { view_name } | DropTempView { view_name } => format!("DROP VIEW {view_name}"),
        DropTrigger { trigger_name, .. } | DropTempTrigger { trigger_name, .. } => {
            format!("DROP TRIGGER {trigger_name}")
        }
        DropVtable { table_name, .. } => format!("DROP VIRTUAL TABLE {table_name}"),
        AlterTable { table_name, .. } => format!("ALTER TABLE {table_name}"),
        Reindex { index_name } => format!("REINDEX {index_name}"),
        Analyze { table_name } => format!("ANALYZE {table_name}"),
        ref other => format!("the operation {other:?}"),
    };
    Some(what)
}

/// A refusal named after the statement when the authorizer's first question hides it: ANALYZE
/// first asks to create its statistics table, which reads as a CREATE the user never wrote.
fn by_statement(e: Error, sql: &str) -> Error {
    // The statement's verb: its first word after EXPLAIN [QUERY PLAN].
    let first = crate::storage::sql_tokens::tokens(sql)
        .into_iter()
        .filter(|t| t.kind != crate::storage::sql_tokens::Kind::Comment)
        .map(|t| t.text(sql).to_ascii_uppercase())
        .find(|w| !matches!(w.as_str(), "EXPLAIN" | "QUERY" | "PLAN"));
    match (e, first.as_deref()) {
        (Error::SqlRefused { .. }, Some("ANALYZE")) => Error::SqlRefused {
            what: "ANALYZE (it writes its statistics into the database)".into(),
        },
        (e, _) => e,
    }
}

fn is_schema_table(name: &str) -> bool {
    matches!(
        name,
        "sqlite_master" | "sqlite_temp_master" | "sqlite_schema" | "sqlite_temp_schema"
    )
}

/// A connection guarded for untrusted SQL. Statements come from [`Guarded::prepare`]; their
/// errors are turned into typed ones by [`Guarded::error`].
pub struct Guarded {
    conn: Connection,
    denied: Arc<Mutex<Option<String>>>,
    timed_out: Arc<AtomicBool>,
    /// Set when [`Guarded::watch`] interrupted a statement because the caller cancelled.
    cancelled: AtomicBool,
    /// Set (to the bytes taken) when [`Guarded::watch`] interrupted a statement whose temporary
    /// files had taken half of the free space.
    out_of_room: Mutex<Option<(PathBuf, u64, u64)>>,
    timeout: Option<Duration>,
}

/// How often [`Guarded::watch`] asks the observer whether the caller cancelled.
const CANCEL_POLL: Duration = Duration::from_millis(25);
/// Every how many polls it measures the free space (about 4 times a second).
const ROOM_POLLS: u32 = 10;

/// What SQLite's temporary files (a big sort, grouping or DISTINCT) may take while a query runs:
/// half of the free space where they go, when it started. They are measured themselves — the
/// `etilqs_*` files this process holds open there (unlinked as SQLite opens them, so only its
/// open descriptors show them) — never the disk's free space, which other writers and an export's
/// own output change.
struct Room {
    dir: PathBuf,
    /// Bytes the temporary files may take: half of what was free.
    allowance: u64,
}

impl Room {
    /// `None` when the free space cannot be measured (then only the time limit bounds it).
    fn now() -> Option<Room> {
        let dir = crate::storage::temp::dir();
        let free_at_start = crate::storage::fs::available_space(&dir).ok()?;
        let allowance = test_allowance().unwrap_or(free_at_start / 2);
        Some(Room { dir, allowance })
    }

    /// The dir, the bytes the temporary files take and the allowance, once they are over it.
    fn over(&self) -> Option<(PathBuf, u64, u64)> {
        let taken = temp_file_bytes(&self.dir);
        (taken > self.allowance).then(|| (self.dir.clone(), taken, self.allowance))
    }
}

/// The tests' lower allowance (`PIPELINE_DB_TEST_QUERY_ROOM_BYTES`, failpoints builds only).
fn test_allowance() -> Option<u64> {
    #[cfg(feature = "failpoints")]
    return std::env::var("PIPELINE_DB_TEST_QUERY_ROOM_BYTES")
        .ok()
        .and_then(|v| v.parse().ok());
    #[cfg(not(feature = "failpoints"))]
    None
}

/// Bytes in SQLite's temporary files that this process holds open in `dir` (Linux: its open
/// descriptors; elsewhere none are seen, and the time limit alone bounds a query).
fn temp_file_bytes(dir: &std::path::Path) -> u64 {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    fds.flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| {
                target.parent() == Some(dir)
                    && target
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("etilqs_"))
            })
        })
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .map(|m| m.len())
        .sum()
}

/// Opens `env`'s database for untrusted SQL (header and env-tag checks first; writes nothing,
/// takes no lock). `timeout`: the time limit from now (`None`: none, for exports of a table).
pub fn open(ws: &Workspace, env: &str, timeout: Option<Duration>) -> Result<Guarded> {
    let next = format!("there is nothing to read yet; `pipeline-db migrate {env}` creates it");
    guard(session::open_tagged(ws, env, &next)?, timeout)
}

/// Puts the guard on an open read-only connection.
pub(crate) fn guard(conn: Connection, timeout: Option<Duration>) -> Result<Guarded> {
    conn.pragma_update(None, "query_only", true)
        .map_err(Error::sql("query_only"))?;
    for (limit, value) in LIMITS {
        conn.set_limit(limit, value)
            .map_err(Error::sql("setting SQLite's limits"))?;
    }
    let denied = Arc::new(Mutex::new(None));
    let slot = denied.clone();
    conn.authorizer(Some(move |ctx: AuthContext<'_>| {
        match refusal(&ctx.action) {
            None => Authorization::Allow,
            Some(what) => {
                tracing::debug!(%what, "authorizer refused");
                if let Ok(mut s) = slot.lock() {
                    s.get_or_insert(what);
                }
                Authorization::Deny
            }
        }
    }))
    .map_err(Error::sql("installing the authorizer"))?;
    let timed_out = Arc::new(AtomicBool::new(false));
    if let Some(limit) = timeout {
        let deadline = Instant::now() + limit;
        let flag = timed_out.clone();
        conn.progress_handler(
            1_000,
            Some(move || {
                let over = Instant::now() >= deadline;
                if over {
                    flag.store(true, Ordering::Relaxed);
                }
                over
            }),
        )
        .map_err(Error::sql("installing the time limit"))?;
    }
    Ok(Guarded {
        conn,
        denied,
        timed_out,
        cancelled: AtomicBool::new(false),
        out_of_room: Mutex::new(None),
        timeout,
    })
}

impl Guarded {
    /// Prepares one statement that only reads; anything else is [`Error::SqlRefused`].
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        // Nothing but whitespace, comments and semicolons: no statement at all.
        let statement = crate::storage::sql_tokens::tokens(sql).iter().any(|t| {
            t.kind != crate::storage::sql_tokens::Kind::Comment && &sql[t.start..t.end] != ";"
        });
        if !statement {
            return Err(Error::InvalidInput(
                "no SQL given: write one SELECT (or WITH, EXPLAIN, a read-only PRAGMA)".into(),
            ));
        }
        if sql.len() > MAX_SQL_BYTES as usize {
            return Err(Error::SqlRefused {
                what: format!("SQL of {} bytes (at most {MAX_SQL_BYTES})", sql.len()),
            });
        }
        let stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| by_statement(self.error(e), sql))?;
        if !stmt.readonly() {
            return Err(Error::SqlRefused {
                what: "a statement that changes the database".into(),
            });
        }
        if stmt.column_count() == 0 {
            return Err(Error::SqlRefused {
                what: "a statement that returns no rows".into(),
            });
        }
        Ok(stmt)
    }

    /// The typed error for a failure of a guarded statement: refused, timed out, a limit, a
    /// mistake in the SQL (exit 2), or SQLite's own.
    pub fn error(&self, e: rusqlite::Error) -> Error {
        use rusqlite::ErrorCode::*;
        if let Some(what) = self.denied.lock().ok().and_then(|mut s| s.take()) {
            return Error::SqlRefused { what };
        }
        if matches!(e, rusqlite::Error::MultipleStatement) {
            return Error::SqlRefused {
                what: "more than one statement (run them one at a time)".into(),
            };
        }
        match e.sqlite_error_code() {
            Some(OperationInterrupted) if self.cancelled.load(Ordering::SeqCst) => Error::Cancelled,
            Some(OperationInterrupted) if self.room_taken().is_some() => {
                let (dir, used, allowed) = self.room_taken().unwrap_or_default();
                Error::QueryNoRoom { dir, used, allowed }
            }
            Some(OperationInterrupted) if self.timed_out.load(Ordering::Relaxed) => {
                Error::QueryTimeout {
                    limit_ms: self.timeout.map_or(0, |t| t.as_millis() as u64),
                }
            }
            Some(AuthorizationForStatementDenied) => Error::SqlRefused {
                what: "an operation the read-only console does not allow".into(),
            },
            Some(TooBig) => Error::SqlRefused {
                what: format!("a value longer than {MAX_VALUE_BYTES} bytes"),
            },
            Some(ReadOnly) => Error::SqlRefused {
                what: "a write (the connection is read-only)".into(),
            },
            Some(Unknown) | None => match &e {
                rusqlite::Error::SqlInputError { .. } | rusqlite::Error::SqliteFailure(..) => {
                    Error::InvalidInput(format!("the query failed: {e}"))
                }
                _ => Error::Sqlite {
                    context: "running the query".into(),
                    source: e,
                },
            },
            _ => Error::Sqlite {
                context: "running the query".into(),
                source: e,
            },
        }
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    fn room_taken(&self) -> Option<(PathBuf, u64, u64)> {
        self.out_of_room.lock().ok().and_then(|r| r.clone())
    }

    /// Runs `body` while a second thread asks `obs` every 25 ms whether the caller cancelled;
    /// if so the running statement is interrupted (SQLite's `sqlite3_interrupt`) and its error
    /// becomes [`Error::Cancelled`] through [`Guarded::error`]. The same thread watches the free
    /// space where SQLite writes its temporary files: a query whose temporary files take half of
    /// what was free when it started is interrupted too ([`Error::QueryNoRoom`]) — a bad query
    /// never fills the disk the env's database (and everything else) writes to. The watcher ends
    /// with `body`.
    pub fn watch<T>(&self, obs: &dyn Observer, body: impl FnOnce() -> Result<T>) -> Result<T> {
        let interrupt = self.conn.get_interrupt_handle();
        let cancelled = &self.cancelled;
        let out_of_room = &self.out_of_room;
        // Dropping `done` ends the watcher at once (no poll interval added to a quick query).
        let (done, ended) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|s| {
            s.spawn(move || {
                let room = Room::now();
                let mut polls = 0u32;
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    ended.recv_timeout(CANCEL_POLL)
                {
                    if obs.cancelled() {
                        cancelled.store(true, Ordering::SeqCst);
                        interrupt.interrupt();
                        return;
                    }
                    polls += 1;
                    if !polls.is_multiple_of(ROOM_POLLS) {
                        continue;
                    }
                    if let Some(taken) = room.as_ref().and_then(Room::over) {
                        if let Ok(mut r) = out_of_room.lock() {
                            *r = Some(taken);
                        }
                        interrupt.interrupt();
                        return;
                    }
                }
            });
            let out = body();
            drop(done);
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guarded() -> (tempfile::TempDir, Guarded) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.sqlite3");
        let c = Connection::open(&p).unwrap();
        c.execute_batch("CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x');")
            .unwrap();
        drop(c);
        let ro = crate::storage::db::open(
            &p,
            crate::storage::db::Access::ReadOnly,
            Duration::from_millis(100),
        )
        .unwrap();
        (d, guard(ro, Some(Duration::from_millis(300))).unwrap())
    }

    #[test]
    fn reads_pass_and_writes_of_every_kind_are_refused() {
        let (_d, g) = guarded();
        for ok in [
            "SELECT * FROM t",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT * FROM n",
            "PRAGMA table_info(t)",
            "SELECT * FROM pragma_table_info('t')",
            "PRAGMA user_version",
            "EXPLAIN SELECT 1",
            "SELECT json_object('a', 1), abs(-1), lower('X')",
        ] {
            g.prepare(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, says) in [
            ("INSERT INTO t VALUES (2, 'y')", "INSERT into t"),
            ("UPDATE t SET b = 'z'", "UPDATE of t.b"),
            ("DELETE FROM t", "DELETE from t"),
            ("DROP TABLE t", "DROP of a table"),
            ("CREATE TABLE u(x)", "CREATE"),
            ("CREATE TEMP TABLE u(x)", "CREATE"),
            ("CREATE VIEW v AS SELECT 1", "CREATE"),
            ("ALTER TABLE t ADD COLUMN c", "ALTER"),
            ("ATTACH 'other.db' AS o", "ATTACH"),
            ("DETACH main", "DETACH"),
            ("PRAGMA user_version = 5", "PRAGMA user_version = 5"),
            ("PRAGMA writable_schema = 1", "PRAGMA writable_schema"),
            ("PRAGMA query_only = 0", "PRAGMA query_only"),
            ("SELECT load_extension('x')", "load_extension"),
            ("BEGIN", "transaction"),
            ("SAVEPOINT a", "SAVEPOINT"),
            ("VACUUM", "changes the database"),
            ("VACUUM INTO '/tmp/pdb-guard-test.db'", ""),
            ("SELECT 1; SELECT 2", "more than one statement"),
            ("ANALYZE", "ANALYZE (it writes its statistics"),
            ("/* c */ analyze t", "ANALYZE (it writes its statistics"),
            (
                "EXPLAIN QUERY PLAN ANALYZE",
                "ANALYZE (it writes its statistics",
            ),
            ("REINDEX", ""),
        ] {
            let e = g.prepare(bad).map(|_| ()).unwrap_err();
            assert!(matches!(e, Error::SqlRefused { .. }), "{bad}: {e}");
            assert!(e.to_string().contains(says), "{bad}: {e}");
            assert_eq!(e.exit_code(), crate::exit::REFUSED);
        }
        assert!(!std::path::Path::new("/tmp/pdb-guard-test.db").exists());
    }

    /// An observer that says "cancelled" once `after` has passed.
    struct CancelAfter(Instant, Duration);
    impl Observer for CancelAfter {
        fn cancelled(&self) -> bool {
            self.0.elapsed() >= self.1
        }
    }

    #[test]
    fn a_cancel_interrupts_a_running_statement() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.sqlite3");
        Connection::open(&p)
            .unwrap()
            .execute_batch("CREATE TABLE t(a)")
            .unwrap();
        let ro = crate::storage::db::open(
            &p,
            crate::storage::db::Access::ReadOnly,
            Duration::from_millis(100),
        )
        .unwrap();
        let g = guard(ro, Some(Duration::from_secs(30))).unwrap();
        let started = Instant::now();
        let obs = CancelAfter(started, Duration::from_millis(200));
        let e = g
            .watch(&obs, || {
                let mut s = g.prepare(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
                )?;
                s.query_row([], |r| r.get::<_, i64>(0)).map_err(|e| g.error(e))
            })
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // Not cancelled: the same guard runs to the end, and the watcher stops with the body.
        let n = g
            .watch(&crate::progress::Quiet, || {
                let mut s = g.prepare("SELECT count(*) FROM t")?;
                s.query_row([], |r| r.get::<_, i64>(0))
                    .map_err(|e| g.error(e))
            })
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn a_runaway_query_is_stopped_by_the_time_limit() {
        let (_d, g) = guarded();
        let mut s = g
            .prepare("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n")
            .unwrap();
        let started = Instant::now();
        let e = s.query_row([], |r| r.get::<_, i64>(0)).unwrap_err();
        let e = g.error(e);
        assert!(matches!(e, Error::QueryTimeout { limit_ms: 300 }), "{e}");
        assert!(e.to_string().contains("--timeout-ms"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// Statements from a small grammar of reads and writes of every kind.
    fn statement() -> impl Strategy<Value = String> {
        let table = prop_oneof![
            Just("t"),
            Just("temp.t2"),
            Just("sqlite_master"),
            Just("main.t")
        ];
        let value = prop_oneof![Just("1"), Just("'x'"), Just("NULL"), Just("randomblob(10)")];
        let head = prop_oneof![
            Just(String::new()),
            Just("WITH c(x) AS (SELECT 1) ".to_string()),
            Just("EXPLAIN ".to_string()),
        ];
        let body = (table, value).prop_flat_map(|(t, v)| {
            prop_oneof![
                Just(format!("SELECT * FROM {t}")),
                Just(format!("INSERT INTO {t} VALUES ({v}, {v})")),
                Just(format!("REPLACE INTO {t} VALUES ({v}, {v})")),
                Just(format!("UPDATE {t} SET a = {v}")),
                Just(format!("DELETE FROM {t}")),
                Just(format!("DROP TABLE {t}")),
                Just(format!("CREATE TABLE IF NOT EXISTS {t}(a, b)")),
                Just(format!("CREATE INDEX i ON {t}(a)")),
                Just(format!("ALTER TABLE {t} RENAME TO z")),
                Just(format!("PRAGMA writable_schema = {v}")),
                Just(format!("PRAGMA user_version = {v}")),
                Just(format!("PRAGMA journal_mode = {v}")),
                Just(format!("ATTACH {v} AS a")),
                Just("VACUUM".to_string()),
                Just("VACUUM INTO '/tmp/pdb-guard-prop.db'".to_string()),
                Just("BEGIN IMMEDIATE".to_string()),
                Just("COMMIT".to_string()),
                Just(format!("SELECT load_extension({v})")),
                Just(format!("SELECT {v}; DELETE FROM t")),
                Just("REINDEX".to_string()),
                Just("ANALYZE".to_string()),
            ]
        });
        (head, body).prop_map(|(h, b)| format!("{h}{b}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Whatever the statement, the database file is byte-identical afterwards.
        #[test]
        fn random_sql_never_writes(stmts in proptest::collection::vec(statement(), 1..6)) {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("x.sqlite3");
            let c = Connection::open(&p).unwrap();
            c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 'x');").unwrap();
            drop(c);
            let before = std::fs::read(&p).unwrap();
            let ro = crate::storage::db::open(
                &p,
                crate::storage::db::Access::ReadOnly,
                Duration::from_millis(100),
            )
            .unwrap();
            let g = guard(ro, Some(Duration::from_millis(500))).unwrap();
            for sql in &stmts {
                if let Ok(mut s) = g.prepare(sql) {
                    let n = s.column_count();
                    if let Ok(mut rows) = s.query([]) {
                        while let Ok(Some(r)) = rows.next() {
                            for i in 0..n {
                                let _ = r.get_ref(i);
                            }
                        }
                    }
                }
            }
            drop(g);
            prop_assert_eq!(std::fs::read(&p).unwrap(), before);
            prop_assert!(!std::path::Path::new("/tmp/pdb-guard-prop.db").exists());
        }
    }
}
