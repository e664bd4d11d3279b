//! `schema`: the tables (and views) of an env's database with their columns, indexes and foreign
//! keys, for the desktop's schema view and the query editor's completion. Read-only; pipeline-db's
//! own bookkeeping tables are marked as such.

use rusqlite::Connection;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::safety::session;
use crate::workspace::config::Workspace;

/// Tables pipeline-db keeps for itself (the env tag, the migration history, the job summary the
/// triggers maintain): shown apart from the data tables.
pub const BOOKKEEPING: [&str; 3] = [
    "pipeline_db_meta",
    "refinery_schema_history",
    "job_daily_stats",
];

/// At most this many tables and views are described (a file from elsewhere may hold thousands).
pub const MAX_TABLES: usize = 200;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SchemaView {
    pub env: String,
    pub tables: Vec<TableInfo>,
    /// More than [`MAX_TABLES`] tables and views: only the first (by name) are here.
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TableInfo {
    pub name: String,
    /// `table` or `view`.
    pub kind: String,
    /// One of pipeline-db's own tables ([`BOOKKEEPING`]).
    pub bookkeeping: bool,
    pub columns: Vec<ColumnInfo>,
    pub indexes: Vec<IndexInfo>,
    pub foreign_keys: Vec<ForeignKey>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ColumnInfo {
    pub name: String,
    /// The declared type (`INTEGER`, `TEXT`, …; empty when none was declared).
    pub decl_type: String,
    pub not_null: bool,
    /// Position in the primary key (1-based), 0 when not part of it.
    pub primary_key: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IndexInfo {
    pub name: String,
    pub unique: bool,
    /// The indexed columns (an expression shows as `<expr>`).
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ForeignKey {
    pub from: Vec<String>,
    pub table: String,
    pub to: Vec<String>,
}

/// Describes `env`'s database (header and env-tag checks first; writes nothing, takes no lock).
pub fn describe(ws: &Workspace, env: &str) -> Result<SchemaView> {
    let next = format!("there is no schema to show yet; `pipeline-db migrate {env}` creates it");
    let conn = session::open_tagged(ws, env, &next)?;
    let (tables, truncated) = read_tables(&conn)?;
    Ok(SchemaView {
        env: env.to_string(),
        tables,
        truncated,
    })
}

fn read_tables(conn: &Connection) -> Result<(Vec<TableInfo>, bool)> {
    let ctx = "reading the schema";
    let mut stmt = conn
        .prepare(
            "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name LIMIT ?",
        )
        .map_err(Error::sql(ctx))?;
    let named: Vec<(String, String)> = stmt
        .query_map([MAX_TABLES as i64 + 1], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|r| r.collect())
        .map_err(Error::sql(ctx))?;
    let truncated = named.len() > MAX_TABLES;
    let tables = named
        .into_iter()
        .take(MAX_TABLES)
        .map(|(name, kind)| table(conn, name, kind))
        .collect::<Result<Vec<_>>>()?;
    Ok((tables, truncated))
}

fn table(conn: &Connection, name: String, kind: String) -> Result<TableInfo> {
    let columns = rows(
        conn,
        "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid",
        &name,
        |r| {
            Ok(ColumnInfo {
                name: r.get(0)?,
                decl_type: r.get(1)?,
                not_null: r.get::<_, i64>(2)? != 0,
                primary_key: r.get::<_, i64>(3)?.clamp(0, u32::MAX as i64) as u32,
            })
        },
    )?;
    let index_names = rows(
        conn,
        "SELECT name, \"unique\" FROM pragma_index_list(?1) ORDER BY name",
        &name,
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? != 0)),
    )?;
    let mut indexes = vec![];
    for (index, unique) in index_names {
        let columns = rows(
            conn,
            "SELECT coalesce(name, '<expr>') FROM pragma_index_info(?1) ORDER BY seqno",
            &index,
            |r| r.get(0),
        )?;
        indexes.push(IndexInfo {
            name: index,
            unique,
            columns,
        });
    }
    Ok(TableInfo {
        bookkeeping: BOOKKEEPING.contains(&name.as_str()),
        foreign_keys: foreign_keys(conn, &name)?,
        name,
        kind,
        columns,
        indexes,
    })
}

/// The table's foreign keys, one per constraint (a composite key lists its columns in order).
fn foreign_keys(conn: &Connection, table: &str) -> Result<Vec<ForeignKey>> {
    let parts = rows(
        conn,
        "SELECT id, \"table\", \"from\", coalesce(\"to\", '') FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        table,
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        },
    )?;
    let mut out: Vec<(i64, ForeignKey)> = vec![];
    for (id, to_table, from, to) in parts {
        match out.last_mut() {
            Some((last, fk)) if *last == id => {
                fk.from.push(from);
                fk.to.push(to);
            }
            _ => out.push((
                id,
                ForeignKey {
                    from: vec![from],
                    table: to_table,
                    to: vec![to],
                },
            )),
        }
    }
    Ok(out.into_iter().map(|(_, fk)| fk).collect())
}

fn rows<T>(
    conn: &Connection,
    sql: &str,
    arg: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let ctx = format!("reading the schema of {arg}");
    let mut stmt = conn.prepare(sql).map_err(Error::sql(ctx.clone()))?;
    let out = stmt
        .query_map([arg], f)
        .and_then(|r| r.collect())
        .map_err(Error::sql(ctx))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_columns_indexes_and_foreign_keys_are_read() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE a(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             CREATE TABLE b(x INTEGER, y INTEGER, a_id INTEGER REFERENCES a(id),
                            FOREIGN KEY (x, y) REFERENCES c(p, q));
             CREATE TABLE c(p, q, PRIMARY KEY (p, q)) WITHOUT ROWID;
             CREATE INDEX b_xy ON b(x, y + 1);
             CREATE VIEW v AS SELECT * FROM a;
             CREATE TABLE job_daily_stats(day TEXT);",
        )
        .unwrap();
        let (t, truncated) = read_tables(&c).unwrap();
        assert!(!truncated);
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "job_daily_stats", "v"]);
        let a = &t[0];
        assert_eq!(a.columns[0].name, "id");
        assert_eq!(a.columns[0].primary_key, 1);
        assert!(a.columns[1].not_null && a.columns[1].decl_type == "TEXT");
        assert!(a.indexes.iter().any(|i| i.unique && i.columns == ["name"]));
        let b = &t[1];
        assert_eq!(b.indexes[0].columns, ["x", "<expr>"]);
        assert_eq!(b.foreign_keys.len(), 2);
        assert!(b
            .foreign_keys
            .iter()
            .any(|f| f.table == "c" && f.from == ["x", "y"] && f.to == ["p", "q"]));
        assert!(b
            .foreign_keys
            .iter()
            .any(|f| f.table == "a" && f.from == ["a_id"]));
        assert!(t[3].bookkeeping && !a.bookkeeping);
        assert_eq!(t[4].kind, "view");
    }

    #[test]
    fn a_schema_of_thousands_of_tables_is_cut_at_the_cap() {
        let c = Connection::open_in_memory().unwrap();
        let ddl: String = (0..MAX_TABLES + 5)
            .map(|i| format!("CREATE TABLE t{i:04}(x);"))
            .collect();
        c.execute_batch(&ddl).unwrap();
        let (t, truncated) = read_tables(&c).unwrap();
        assert!(truncated);
        assert_eq!(t.len(), MAX_TABLES);
    }
}
