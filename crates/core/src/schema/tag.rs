//! The environment identity stored inside each database: `pipeline_db_meta` and `PRAGMA application_id`.

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::storage::db;
use crate::workspace::env::EnvTarget;

/// `PRAGMA application_id` of every database pipeline-db creates ("PDB1").
pub const APPLICATION_ID: i32 = 0x5044_4231;
pub const META_TABLE: &str = "pipeline_db_meta";
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) const CREATE_META: &str = "CREATE TABLE IF NOT EXISTS pipeline_db_meta (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    env            TEXT    NOT NULL CHECK (length(env) BETWEEN 1 AND 32),
    created_at     TEXT    NOT NULL,
    tool_version   TEXT    NOT NULL,
    sample_data    INTEGER NOT NULL DEFAULT 0 CHECK (sample_data IN (0, 1)),
    last_action    TEXT,
    last_action_at TEXT
) STRICT";

/// The tag as stored in a database.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Tag {
    pub env: String,
    pub created_at: String,
    pub tool_version: String,
    pub sample_data: bool,
    pub last_action: Option<String>,
    pub last_action_at: Option<String>,
}

/// Who a database says it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Identity {
    /// No schema objects at all: safe to take over.
    Empty,
    Tagged(Tag),
    /// Holds objects but no tag.
    Untagged,
}

pub(crate) fn read_tag(conn: &Connection) -> Result<Option<Tag>> {
    let has_table: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [META_TABLE],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )
        .map_err(Error::sql("reading the env tag"))?;
    if !has_table {
        return Ok(None);
    }
    conn.query_row(
        "SELECT env, created_at, tool_version, sample_data, last_action, last_action_at
         FROM pipeline_db_meta WHERE id = 1",
        [],
        |r| {
            // Whatever the file holds, as printable text: never a driver error, never a
            // terminal escape.
            let text = |i| r.get_ref(i).map(crate::storage::text::value);
            let opt = |i| text(i).map(|s| Some(s).filter(|s| !s.is_empty()));
            Ok(Tag {
                env: text(0)?,
                created_at: text(1)?,
                tool_version: text(2)?,
                sample_data: text(3)? == "1",
                last_action: opt(4)?,
                last_action_at: opt(5)?,
            })
        },
    )
    .optional()
    .map_err(Error::sql("reading the env tag"))
}

pub(crate) fn application_id(conn: &Connection) -> Result<i32> {
    conn.query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(Error::sql("reading application_id"))
}

pub(crate) fn identity(conn: &Connection) -> Result<Identity> {
    if let Some(tag) = read_tag(conn)? {
        return Ok(Identity::Tagged(tag));
    }
    if db::schema_object_count(conn)? == 0 {
        return Ok(Identity::Empty);
    }
    Ok(Identity::Untagged)
}

/// The rule every changing verb applies: the file must be empty or tagged with `target`'s env.
pub(crate) fn require_identity(conn: &Connection, target: &EnvTarget) -> Result<Identity> {
    let app = application_id(conn)?;
    if app != 0 && app != APPLICATION_ID {
        return Err(Error::ForeignApplication {
            path: target.path.clone(),
            found: app,
        });
    }
    let id = identity(conn)?;
    match &id {
        Identity::Tagged(t) if t.env != target.name => Err(Error::TagMismatch {
            path: target.path.clone(),
            tagged: t.env.clone(),
            requested: target.name.clone(),
        }),
        Identity::Untagged => Err(Error::Untagged {
            path: target.path.clone(),
            requested: target.name.clone(),
        }),
        _ => Ok(id),
    }
}

/// Writes the tag (inside the caller's transaction). Keeps `created_at` of an existing tag. Public
/// only for tests that craft files from elsewhere: adapters have no connection to pass.
pub fn write_tag(
    conn: &Connection,
    env: &str,
    sample_data: Option<bool>,
    action: &str,
) -> Result<()> {
    let now = crate::now_rfc3339();
    conn.execute_batch(CREATE_META)
        .map_err(Error::sql("creating the env tag table"))?;
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(Error::sql("setting application_id"))?;
    conn.execute(
        "INSERT INTO pipeline_db_meta (id, env, created_at, tool_version, sample_data, last_action, last_action_at)
         VALUES (1, ?1, ?2, ?3, coalesce(?4, 0), ?5, ?2)
         ON CONFLICT (id) DO UPDATE SET env = excluded.env, tool_version = excluded.tool_version,
             sample_data = coalesce(?4, sample_data), last_action = excluded.last_action,
             last_action_at = excluded.last_action_at",
        rusqlite::params![env, now, TOOL_VERSION, sample_data, action],
    )
    .map_err(Error::sql("writing the env tag"))?;
    Ok(())
}
