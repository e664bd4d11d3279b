//! The one error type of the core: every failure says what happened and what to do next.

use std::path::PathBuf;

/// Process exit codes shared by every adapter (documented in the README).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const REFUSED: u8 = 3;
    pub const BUSY: u8 = 4;
    pub const NOT_A_DATABASE: u8 = 5;
    pub const CANCELLED: u8 = 130;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown environment `{name}`; valid environments: {}", valid.join(", "))]
    UnknownEnv { name: String, valid: Vec<String> },

    #[error("invalid environment name `{name}`: {why}; valid environments: {}", valid.join(", "))]
    InvalidEnvName {
        name: String,
        why: &'static str,
        valid: Vec<String>,
    },

    #[error("{0}")]
    InvalidInput(String),

    #[error("config {}: {message}", path.display())]
    Config { path: PathBuf, message: String },

    #[error("{} is not a SQLite database ({reason}); nothing was changed. Check the path, or restore a backup with `pipeline-db restore`", path.display())]
    NotADatabase { path: PathBuf, reason: String },

    #[error("{} is corrupt ({detail}); nothing was changed. Restore a backup (`pipeline-db backups list {env}`, then `pipeline-db restore {env} <backup>`), or rebuild it with `pipeline-db reset {env} --keep-evidence`, which keeps the damaged file as a byte-identical evidence copy first", path.display())]
    Corrupt {
        path: PathBuf,
        env: String,
        detail: String,
    },

    #[error("{} is tagged `{tagged}`, not `{requested}`; refusing to touch it. Run `pipeline-db env set {requested}` if that file really belongs to {requested}", path.display())]
    TagMismatch {
        path: PathBuf,
        tagged: String,
        requested: String,
    },

    #[error("{} holds data but carries no pipeline-db environment tag; refusing to touch it. Run `pipeline-db env set {requested}` if it belongs to {requested}", path.display())]
    Untagged { path: PathBuf, requested: String },

    #[error("{} belongs to another application (application_id {found:#x}); refusing to touch it", path.display())]
    ForeignApplication { path: PathBuf, found: i32 },

    #[error("{0}")]
    Refused(String),

    #[error("{} is in use by another pipeline-db process (pid {pid}); waited {waited_ms} ms. Try again when it has finished", path.display())]
    Busy {
        path: PathBuf,
        pid: String,
        waited_ms: u64,
    },

    #[error("{} is locked by another connection (a write transaction is open); waited {waited_ms} ms. Close the other program or try again", path.display())]
    DbLocked { path: PathBuf, waited_ms: u64 },

    /// A damaged database is replaced only by removing it: not while another program has it
    /// open, whose next writes would go into the removed file and be lost.
    #[error("{} is damaged and is replaced by removing it, but another program has it open ({by}): what that program writes next would go into the removed file and be lost. The damaged file was left as it is; {UNCHANGED}. Close that program and try again", path.display())]
    OpenElsewhere { path: PathBuf, by: String },

    #[error("not enough free space in {}: {} needed ({what}), {} available; nothing was changed. Free some space or prune backups (`pipeline-db backups prune`)", dir.display(), crate::storage::text::bytes(*needed), crate::storage::text::bytes(*available))]
    NoSpace {
        dir: PathBuf,
        needed: u64,
        available: u64,
        what: String,
    },

    #[error("disk full in {} ({available} bytes free): {detail}. Nothing was changed; free some space on that disk (`pipeline-db backups prune` helps when the backups are on it)", dir.display())]
    DiskFull {
        dir: PathBuf,
        available: u64,
        detail: String,
    },

    #[error("{} is read-only ({what}); nothing was changed. Fix the permissions and try again", path.display())]
    ReadOnly { path: PathBuf, what: String },

    #[error("{} has a hot rollback journal beside it ({}-journal): a program crashed in the middle of a write, and the file is not consistent until that write is rolled back. pipeline-db opens databases read-only first and never rolls back another program's journal; nothing was changed. Close the program that uses it, or open it once with `sqlite3 {} \"PRAGMA quick_check\"` (which rolls the write back), then try again", path.display(), path.display(), path.display())]
    HotJournal { path: PathBuf },

    #[error("{context}: stopped — reading took longer than the time limit for inspecting a file ({limit:?} for this one: 60 s plus 1 s per 10 MiB of its size). A query this slow means the file is not one pipeline-db made as it is; `pipeline-db check ENV` reports what differs")]
    TooSlow {
        context: String,
        limit: std::time::Duration,
    },

    #[error("migration history of {} does not match the embedded migrations: {detail}. Nothing was changed; restore a backup or run `pipeline-db migrations list {env}` to see which version differs", path.display())]
    Divergent {
        path: PathBuf,
        env: String,
        detail: String,
    },

    #[error("{} has schema version {found}, newer than this pipeline-db knows ({known}); upgrade pipeline-db", path.display())]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{context}: {source}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },

    #[error("{} failed verification: {detail}; nothing was changed (a backup being taken is not kept)", path.display())]
    BackupVerify { path: PathBuf, detail: String },

    #[error(
        "{verb} of {env} failed at step `{step}`: {}",
        step_message(source, state)
    )]
    Step {
        verb: crate::verb::Verb,
        env: String,
        step: &'static str,
        state: &'static str,
        #[source]
        source: Box<Error>,
    },

    /// A check that failed; the message says what the database holds (the ritual's step says
    /// whether anything was changed).
    #[error("{0}")]
    CheckFailed(String),

    /// A step-by-step action (deleting backups) that stopped part-way; the message lists what
    /// was done before it stopped and what was left.
    #[error("{0}")]
    PartlyDone(String),

    /// Cancelled at a prompt, or by the user while a change ran (core then rolled it back).
    #[error("cancelled; {UNCHANGED}")]
    Cancelled,

    /// Cancelled while reading (a query, an export) where SQLite could not stop at once: the
    /// reading thread was left to end by itself (`left` says how).
    #[error("cancelled; {left}; {UNCHANGED}")]
    CancelledLeftFinishing { left: String },

    #[error("{}", put_back_message(*verb, env, cause, backup, put_back_failed.as_deref()))]
    PutBack {
        verb: crate::verb::Verb,
        env: String,
        cause: Box<Error>,
        /// The verified pre-action backup the previous content came back from.
        backup: PathBuf,
        /// Why copying it back failed (`None`: the database holds its previous content again).
        put_back_failed: Option<String>,
    },

    /// A change that failed (and was rolled back) after its pre-action backup was made: the
    /// database is as it was, and the backup — a new file in the backup dir — is named.
    #[error("{}", backup_kept_message(source, backup))]
    BackupKept { source: Box<Error>, backup: PathBuf },

    /// The change was committed; the checks after it found problems. Never "nothing was changed".
    #[error("{}", committed_check_failed_message(*verb, env, path, detail, backup.as_deref()))]
    CommittedCheckFailed {
        verb: crate::verb::Verb,
        env: String,
        path: PathBuf,
        detail: String,
        /// The verified pre-action backup, if the action took one (undo's target).
        backup: Option<PathBuf>,
    },

    #[error("{} failed verification ({detail}); {UNCHANGED}. Choose another backup (`pipeline-db backups list`)", path.display())]
    SourceUnsound { path: PathBuf, detail: String },

    #[error("{} is not a database this pipeline-db made: its schema differs from what the migrations produce ({}); {UNCHANGED}. Choose another backup, or inspect it with sqlite3", path.display(), differences.join("; "))]
    ForeignSchema {
        path: PathBuf,
        differences: Vec<String>,
    },

    #[error("what the plan for {env} promised changed since the plan was shown ({what}): the database, or a file the plan read, was changed meanwhile; {UNCHANGED}. Review the new plan and try again")]
    Stale { env: String, what: String },

    #[error("{} does not exist; {next}", path.display())]
    Missing { path: PathBuf, next: String },

    /// A bug of ours; where it happened is not known here, so it claims nothing about the data.
    #[error("internal error ({0}). Please report it; `pipeline-db status` and `pipeline-db log` show what the database holds and what was done")]
    Internal(String),

    /// Untrusted SQL (the query console, `export --query`) asked for something that is not a read.
    #[error("refused: {what}. Queries only read: one SELECT (WITH, EXPLAIN and read-only PRAGMAs such as table_info also work); {UNCHANGED}")]
    SqlRefused { what: String },

    /// A query's temporary files (a big sort, grouping or DISTINCT) took more than it may.
    #[error("the query was stopped: its temporary files in {} (a big sort, grouping or DISTINCT) had grown to {}, more than the {} a query may take there (half of what was free when it started); {UNCHANGED}. Narrow it (WHERE, LIMIT), or free some space", dir.display(), crate::storage::text::bytes(*used), crate::storage::text::bytes(*allowed))]
    QueryNoRoom {
        dir: PathBuf,
        used: u64,
        allowed: u64,
    },

    /// A query's rows, held in memory for the console, passed what it may hold.
    #[error("the query was stopped: its first {rows} rows already hold {}, more than the {} the query console keeps in memory; {UNCHANGED}. Narrow it (WHERE, LIMIT, fewer or smaller columns), or export it — `pipeline-db export ENV --query SQL --output FILE` streams rows to a file", crate::storage::text::bytes(*held), crate::storage::text::bytes(*limit))]
    QueryTooBig { rows: u64, held: u64, limit: u64 },

    /// A query passed its time limit inside one row, where SQLite does not look at the limit.
    #[error("the query passed its time limit of {limit_ms} ms inside one row, where SQLite cannot stop it (a LIKE, instr or replace over long text costs seconds per call); {left}; {UNCHANGED}. Narrow it (WHERE, LIMIT, shorter text or patterns)")]
    QueryRunaway { limit_ms: u64, left: String },

    /// A query ran past its time limit and was interrupted.
    #[error("the query was stopped after its time limit of {limit_ms} ms; {UNCHANGED}. Narrow it (WHERE, LIMIT) or give it more time with --timeout-ms MS")]
    QueryTimeout { limit_ms: u64 },

    /// A file to import breaks a rule; the whole file is refused.
    #[error("{} refused, nothing was imported: {detail}. Fix the file and try again", path.display())]
    BadInput { path: PathBuf, detail: String },

    /// The saved-queries file of an env cannot be read as one (it is left as it is).
    #[error("saved queries {} cannot be read ({detail}); it was left as it is and nothing was saved. Fix it, or move it aside to start a new list", path.display())]
    SavedQueries { path: PathBuf, detail: String },
}

/// Why a put-back is not done when another program wrote after the copy (it would erase that).
pub(crate) const WRITTEN_SINCE: &str = "another program wrote to it after the copy (or checkpointed its log), and copying the previous content back would erase its writes";

/// A step's error and the state it leaves, the state said once (the error may say it already).
fn step_message(source: &Error, state: &str) -> String {
    let source = source.to_string();
    match source.to_lowercase().contains(&state.to_lowercase()) {
        true => source,
        false => format!("{source}; {state}"),
    }
}

fn put_back_message(
    verb: crate::verb::Verb,
    env: &str,
    cause: &Error,
    backup: &std::path::Path,
    failed: Option<&str>,
) -> String {
    // The cause happened after the database was written: its own "nothing was changed" (said
    // where it is raised, e.g. by a check) does not hold here.
    let unsaid = |s: &str| s.replace(&format!("; {UNCHANGED}"), "");
    let cause = unsaid(&cause.to_string());
    // Nor does the put-back's own error's (a full disk says it, e.g.).
    let failed = failed.map(unsaid);
    match failed.as_deref() {
        Some(WRITTEN_SINCE) => format!(
            "{verb} of {env} failed its check after the database was written ({cause}), and its previous content was not put back ({WRITTEN_SINCE}); {env} holds what the {verb} wrote and what that program wrote since, not checked. Run `pipeline-db check {env}`; its verified pre-{verb} backup is {} (restoring it would erase those writes)",
            backup.display()
        ),
        None => format!(
            "{verb} of {env} failed after the database was written ({cause}); its previous content was copied back from the verified pre-{verb} backup {} and checked (quick_check, row counts): {env} holds what it held before",
            backup.display()
        ),
        Some(why) => format!(
            "{verb} of {env} failed after the database was written ({cause}), and its previous content was not put back ({why}); {env} may not hold what it held before. Its verified pre-{verb} backup is {}: run `pipeline-db restore {env} {}`",
            backup.display(),
            backup.display()
        ),
    }
}

impl Error {
    /// The verified backup an action took before it failed, when the database was touched.
    pub fn backup_taken(&self) -> Option<&std::path::Path> {
        match self {
            Error::PutBack { backup, .. } => Some(backup),
            Error::CommittedCheckFailed { backup, .. } => backup.as_deref(),
            Error::BackupKept { backup, .. } => Some(backup),
            Error::Step { source, .. } => source.backup_taken(),
            _ => None,
        }
    }
}

/// The one phrase for "nothing was changed", used only where that was verified.
pub const UNCHANGED: &str = "nothing was changed";

impl Error {
    /// The exit code an adapter should use for this error.
    pub fn exit_code(&self) -> u8 {
        use Error::*;
        match self {
            UnknownEnv { .. }
            | InvalidEnvName { .. }
            | InvalidInput(_)
            | Config { .. }
            | Missing { .. } => exit::USAGE,
            Stale { .. } | ForeignSchema { .. } => exit::REFUSED,
            SqlRefused { .. }
            | QueryTimeout { .. }
            | QueryNoRoom { .. }
            | QueryTooBig { .. }
            | QueryRunaway { .. }
            | BadInput { .. } => exit::REFUSED,
            PutBack { .. } => exit::FAILED,
            SourceUnsound { .. } => exit::FAILED,
            Internal(_) | SavedQueries { .. } => exit::FAILED,
            NotADatabase { .. } | Corrupt { .. } | CommittedCheckFailed { .. } => {
                exit::NOT_A_DATABASE
            }
            TagMismatch { .. }
            | Untagged { .. }
            | ForeignApplication { .. }
            | Refused(_)
            | NoSpace { .. }
            | ReadOnly { .. }
            | HotJournal { .. }
            | TooSlow { .. }
            | Divergent { .. }
            | NewerSchema { .. } => exit::REFUSED,
            Busy { .. } | DbLocked { .. } | OpenElsewhere { .. } => exit::BUSY,
            Sqlite { source, .. } => sqlite_exit_code(source),
            Step { source, .. } | BackupKept { source, .. } => source.exit_code(),
            Cancelled | CancelledLeftFinishing { .. } => exit::CANCELLED,
            Io { .. } | BackupVerify { .. } | DiskFull { .. } | CheckFailed(_) | PartlyDone(_) => {
                exit::FAILED
            }
        }
    }

    /// A short machine-readable kind, for JSON output and the desktop.
    pub fn kind(&self) -> &'static str {
        use Error::*;
        match self {
            UnknownEnv { .. } | InvalidEnvName { .. } => "invalid_env",
            InvalidInput(_) => "invalid_input",
            Config { .. } => "config",
            NotADatabase { .. } => "not_a_database",
            Corrupt { .. } => "corrupt",
            TagMismatch { .. } => "tag_mismatch",
            Untagged { .. } => "untagged",
            ForeignApplication { .. } => "foreign_application",
            Refused(_) => "refused",
            Busy { .. } | DbLocked { .. } | OpenElsewhere { .. } => "busy",
            NoSpace { .. } | DiskFull { .. } | QueryNoRoom { .. } => "no_space",
            ReadOnly { .. } => "read_only",
            HotJournal { .. } => "hot_journal",
            TooSlow { .. } => "too_slow",
            Divergent { .. } => "divergent",
            NewerSchema { .. } => "newer_schema",
            Io { .. } => "io",
            Sqlite { .. } => "sqlite",
            BackupVerify { .. } => "backup_verify",
            Step { source, .. } | BackupKept { source, .. } => source.kind(),
            CheckFailed(_) => "check_failed",
            PartlyDone(_) => "partly_done",
            Cancelled | CancelledLeftFinishing { .. } => "cancelled",
            Stale { .. } => "stale_plan",
            PutBack { .. } => "put_back",
            CommittedCheckFailed { .. } => "committed_check_failed",
            SourceUnsound { .. } => "backup_verify",
            ForeignSchema { .. } => "foreign_schema",
            Missing { .. } => "missing",
            Internal(_) => "internal",
            SqlRefused { .. } => "sql_refused",
            QueryTimeout { .. } | QueryRunaway { .. } => "query_timeout",
            QueryTooBig { .. } => "query_too_big",
            BadInput { .. } => "bad_input",
            SavedQueries { .. } => "saved_queries",
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    pub(crate) fn sql(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Error {
        let context = context.into();
        move |source| match limit_hit(&source) {
            Some(limit) => Error::TooSlow { context, limit },
            None => Error::Sqlite { context, source },
        }
    }
}

fn sqlite_exit_code(e: &rusqlite::Error) -> u8 {
    use rusqlite::ErrorCode::*;
    match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => exit::BUSY,
        Some(NotADatabase | DatabaseCorrupt) => exit::NOT_A_DATABASE,
        Some(ReadOnly) => exit::REFUSED,
        _ => exit::FAILED,
    }
}

/// Extension for attaching "which step failed" to a result.
pub(crate) trait StepExt<T> {
    fn step(
        self,
        verb: crate::verb::Verb,
        env: &str,
        step: &'static str,
        state: &'static str,
    ) -> Result<T>;
}

impl<T> StepExt<T> for Result<T> {
    fn step(
        self,
        verb: crate::verb::Verb,
        env: &str,
        step: &'static str,
        state: &'static str,
    ) -> Result<T> {
        self.map_err(|e| match e {
            // Refusals, busy errors, a user's cancel and a refused source already say what
            // happened and what the database holds; keep them.
            e @ (Error::Busy { .. }
            | Error::DbLocked { .. }
            | Error::OpenElsewhere { .. }
            | Error::Refused(_)
            | Error::Cancelled
            | Error::Stale { .. }
            | Error::SourceUnsound { .. }
            | Error::ForeignSchema { .. }
            | Error::BackupVerify { .. }
            | Error::BadInput { .. }
            | Error::CommittedCheckFailed { .. }
            | Error::BackupKept { .. }
            | Error::Step { .. }) => e,
            e => Error::Step {
                verb,
                env: env.to_string(),
                step,
                state,
                source: Box::new(e),
            },
        })
    }
}

thread_local! {
    /// The limit of the last read-only connection that stopped a query on this thread.
    static LIMIT_HIT: std::cell::Cell<Option<std::time::Duration>> = const { std::cell::Cell::new(None) };
}

/// Called by a read-only connection's progress handler as it stops a query past `limit`.
pub(crate) fn note_limit_hit(limit: std::time::Duration) {
    LIMIT_HIT.with(|c| c.set(Some(limit)));
}

/// `Some(limit)` when `e` is the interruption of a read-only connection's query by its limit.
pub(crate) fn limit_hit(e: &rusqlite::Error) -> Option<std::time::Duration> {
    if e.sqlite_error_code() != Some(rusqlite::ErrorCode::OperationInterrupted) {
        return None;
    }
    LIMIT_HIT.with(|c| c.take())
}

/// What a committed change whose checks after failed left, and what to do next.
fn committed_check_failed_message(
    verb: crate::verb::Verb,
    env: &str,
    path: &std::path::Path,
    detail: &str,
    backup: Option<&std::path::Path>,
) -> String {
    let next = match backup {
        Some(b) => format!(
            "The verified pre-{verb} backup {} holds what was there before: `pipeline-db undo {env}` restores it; `pipeline-db check {env}` names the problems",
            b.display()
        ),
        None => format!("`pipeline-db check {env}` names the problems"),
    };
    format!(
        "{verb} of {env} was committed, but the check after it found problems in {} ({detail}): the database holds the change (another program may also have written to it meanwhile). {next}",
        path.display()
    )
}

impl Error {
    /// `self`, from a change that failed after the pre-action backup `backup` was made: says the
    /// database was not changed (it was rolled back) and names the backup, which stays.
    pub(crate) fn backup_kept(self, backup: &std::path::Path) -> Error {
        match self {
            e @ (Error::BackupKept { .. }
            | Error::PutBack { .. }
            | Error::CommittedCheckFailed { .. }) => e,
            e => Error::BackupKept {
                source: Box::new(e),
                backup: backup.to_path_buf(),
            },
        }
    }

    /// Whether this is (or wraps) a cancel by the user.
    pub fn is_cancel(&self) -> bool {
        match self {
            Error::Cancelled | Error::CancelledLeftFinishing { .. } => true,
            Error::Step { source, .. } | Error::BackupKept { source, .. } => source.is_cancel(),
            _ => false,
        }
    }
}

/// The source's message without its own "nothing was changed" (the data dir holds a new backup),
/// then what is true: pipeline-db did not change the database, and the backup stays.
fn backup_kept_message(source: &Error, backup: &std::path::Path) -> String {
    let mut said = source.to_string();
    for (from, to) in [
        (format!("; {UNCHANGED}"), ""),
        (format!(", {UNCHANGED}"), ""),
        ("Nothing was changed; ".to_string(), ""),
        ("Nothing was changed. ".to_string(), ""),
        (UNCHANGED.to_string(), "pipeline-db changed nothing"),
    ] {
        said = said.replace(&from, to);
    }
    format!(
        "{said}; pipeline-db did not change the database (it was rolled back); the backup {} stays (it holds the database as it was before this action)",
        backup.display()
    )
}
