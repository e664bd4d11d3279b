//! Health checks of a live database: quick_check before a change, integrity and foreign keys after.

use rusqlite::Connection;

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

/// After commit: `integrity_check` and `foreign_key_check` must be clean.
pub(crate) fn verify_after(c: &Connection, target: &EnvTarget) -> Result<()> {
    let mut problems = db::check(c, "integrity_check")?;
    problems.extend(db::foreign_key_problems(c)?);
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
