//! Health checks of a live database: quick_check before a change, integrity and foreign keys after.

use rusqlite::Connection;

use crate::schema::migrations::DriftItem;

use crate::error::{Error, Result};
use crate::storage::db;
use crate::workspace::env::EnvTarget;

/// An SQLite "malformed"/"not a database" error while reading becomes our `Corrupt` (exit 5).
pub(crate) fn corrupt_if_malformed(e: Error, target: &EnvTarget) -> Error {
    match e {
        Error::Sqlite { source, .. }
            if matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ) =>
        {
            Error::Corrupt {
                path: target.path.clone(),
                env: target.name.clone(),
                detail: source.to_string(),
            }
        }
        e => e,
    }
}

/// Refuses a corrupt database, pointing to restore.
pub(crate) fn require_healthy(conn: &Connection, target: &EnvTarget) -> Result<()> {
    let problems = db::check(conn, "quick_check").map_err(|e| corrupt_if_malformed(e, target))?;
    if !problems.is_empty() {
        let detail = problems
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::Corrupt {
            path: target.path.clone(),
            env: target.name.clone(),
            detail,
        });
    }
    Ok(())
}

/// After commit: `pragma` (`integrity_check` or `quick_check`) and `foreign_key_check` must be
/// clean — both read in one read transaction, so they check one state of the file.
pub(crate) fn verify_after(c: &Connection, target: &EnvTarget, pragma: &str) -> Result<()> {
    c.execute_batch("BEGIN")
        .map_err(Error::sql("starting a read transaction"))?;
    let problems = db::check(c, pragma).and_then(|mut p| {
        p.extend(db::foreign_key_problems(c)?);
        Ok(p)
    });
    let _ = c.execute_batch("COMMIT");
    let problems = problems?;
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Corrupt {
        path: target.path.clone(),
        env: target.name.clone(),
        detail: format!(
            "after the change: {}",
            problems.into_iter().take(3).collect::<Vec<_>>().join("; ")
        ),
    })
}

/// A check after the commit failed: the change is in the database whatever the check says, so the
/// error says so and names the pre-action backup, if any (the audit line records it: undo
/// restores it, and retention keeps it as undo's target).
pub(crate) fn committed_but(
    e: Error,
    verb: crate::verb::Verb,
    target: &EnvTarget,
    backup: Option<&std::path::Path>,
) -> Error {
    let detail = match e {
        Error::Corrupt { detail, .. } => detail,
        e => e.to_string(),
    };
    Error::CommittedCheckFailed {
        verb,
        env: target.name.clone(),
        path: target.path.clone(),
        detail,
        backup: backup.map(std::path::Path::to_path_buf),
    }
}

/// Refuses a database whose schema is not what the embedded migrations produce at its version
/// (a trigger or view added, an object of ours dropped or changed by another program): a change
/// must never run a trigger or read a view it did not create.
/// `checksums_may_differ`: a migration recorded with another checksum is tolerated (`migrations
/// repair`, which checks such a difference itself); every other history difference counts.
pub(crate) fn require_our_schema(
    conn: &Connection,
    target: &EnvTarget,
    checksums_may_differ: bool,
) -> Result<()> {
    let tolerated = |d: &DriftItem| checksums_may_differ && d.is_changed_checksum();
    let Some(drift) = foreign_objects_but(conn, target, tolerated)? else {
        return Ok(());
    };
    Err(Error::Refused(format!(
        "{drift}; {}. `pipeline-db migrations check {env}` lists the differences; `pipeline-db reset {env}` rebuilds it after a verified backup",
        crate::error::UNCHANGED,
        env = target.name
    )))
}

/// What in the live schema no change may run beside, in words (`None`: nothing). Inert additions
/// (a table or an index of the user's own, e.g. a legacy database adopted with `env add`) stay;
/// anything that runs (a trigger, a view) or that changes or removes an object of ours counts.
/// Reads `sqlite_schema` only.
pub(crate) fn foreign_objects(conn: &Connection, target: &EnvTarget) -> Result<Option<String>> {
    foreign_objects_but(conn, target, |_| false)
}

/// [`foreign_objects`], leaving out the differences `tolerated` accepts.
fn foreign_objects_but(
    conn: &Connection,
    target: &EnvTarget,
    tolerated: impl Fn(&DriftItem) -> bool,
) -> Result<Option<String>> {
    let drift = crate::schema::migrations::drift(conn)?;
    let harmful: Vec<String> = drift
        .differences
        .iter()
        .filter(|d| !d.is_inert() && !tolerated(d))
        .take(5)
        .map(|d| d.shown())
        .collect();
    if harmful.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "the schema of {} is not what the migrations produce at V{} ({})",
        target.path.display(),
        drift.compared_with_version,
        harmful.join("; ")
    )))
}

/// Whether `e` (from opening or checking a file) says the file is damaged: not a database, or one
/// that fails its checks (exit 5). Such a file is never opened for a change: restore and reset keep
/// a byte-identical evidence copy of it, then replace it.
pub(crate) fn is_damaged(e: &Error) -> bool {
    e.exit_code() == crate::error::exit::NOT_A_DATABASE
}
