//! Content fingerprints of a database: per-table row count and a hash of its rows in rowid order.

use std::collections::BTreeMap;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::storage::db;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TablePrint {
    pub rows: u64,
    /// sha256 (hex, first 16 bytes) of every row's values, rows in rowid (or key) order.
    pub hash: String,
}

/// What a database holds, table by table. Equal fingerprints = same rows in every table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Fingerprint {
    pub tables: BTreeMap<String, TablePrint>,
}

/// Fingerprints every user table, in the connection's current transaction (or snapshot).
pub(crate) fn of(conn: &Connection) -> Result<Fingerprint> {
    let mut tables = BTreeMap::new();
    for t in db::table_names(conn)? {
        tables.insert(t.clone(), table(conn, &t)?);
    }
    Ok(Fingerprint { tables })
}

/// Fingerprints in one read transaction of its own (the connection must be in autocommit).
pub(crate) fn of_snapshot(conn: &Connection) -> Result<Fingerprint> {
    conn.execute_batch("BEGIN")
        .map_err(Error::sql("starting a read transaction"))?;
    let fp = of(conn);
    let _ = conn.execute_batch("ROLLBACK");
    fp
}

fn table(conn: &Connection, name: &str) -> Result<TablePrint> {
    let q = db::quote_ident(name);
    let ctx = || format!("fingerprinting {name}");
    // WITHOUT ROWID tables have no rowid: their primary key order is the natural order.
    let sql = match conn.prepare(&format!("SELECT rowid FROM {q} LIMIT 0")) {
        Ok(_) => format!("SELECT * FROM {q} ORDER BY rowid"),
        Err(_) => format!("SELECT * FROM {q}"),
    };
    let mut stmt = conn.prepare(&sql).map_err(Error::sql(ctx()))?;
    let ncol = stmt.column_count();
    let mut rows = stmt.query([]).map_err(Error::sql(ctx()))?;
    let mut h = crate::storage::hash::Sha256::new();
    let mut n = 0u64;
    while let Some(r) = rows.next().map_err(Error::sql(ctx()))? {
        n += 1;
        for i in 0..ncol {
            hash_value(&mut h, r.get_ref(i).map_err(Error::sql(ctx()))?);
        }
        h.update(b"\n");
    }
    Ok(TablePrint {
        rows: n,
        hash: hex::encode(&h.finish()[..16]),
    })
}

fn hash_value(h: &mut crate::storage::hash::Sha256, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => h.update(b"N"),
        ValueRef::Integer(i) => {
            h.update(b"I");
            h.update(i.to_le_bytes());
        }
        ValueRef::Real(f) => {
            h.update(b"R");
            h.update(f.to_le_bytes());
        }
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            h.update(if matches!(v, ValueRef::Text(_)) {
                b"T"
            } else {
                b"B"
            });
            h.update((t.len() as u64).to_le_bytes());
            h.update(t);
        }
    }
}

/// Human lines saying how `now` differs from `then` ("jobs: 500 rows → 512 rows, contents changed").
pub fn differences(then: &Fingerprint, now: &Fingerprint) -> Vec<String> {
    let mut out = vec![];
    for (name, t) in &now.tables {
        match then.tables.get(name) {
            None => out.push(format!("table {name} ({} rows) is new", t.rows)),
            Some(p) if p.rows != t.rows => {
                out.push(format!("{name}: {} rows then, {} rows now", p.rows, t.rows))
            }
            Some(p) if p.hash != t.hash => {
                out.push(format!("{name}: same {} rows, contents changed", t.rows))
            }
            _ => {}
        }
    }
    for (name, p) in &then.tables {
        if !now.tables.contains_key(name) {
            out.push(format!("table {name} ({} rows) was dropped", p.rows));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_inserts_and_drops_change_the_fingerprint() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE a (x); INSERT INTO a VALUES (1), ('1'), (NULL);")
            .unwrap();
        let f0 = of(&c).unwrap();
        assert_eq!(f0, of(&c).unwrap());
        assert_eq!(f0.tables["a"].rows, 3);
        c.execute_batch("UPDATE a SET x = 2 WHERE x = 1").unwrap();
        let f1 = of(&c).unwrap();
        assert_ne!(f0, f1);
        assert_eq!(
            differences(&f0, &f1),
            vec!["a: same 3 rows, contents changed"]
        );
        c.execute_batch("CREATE TABLE b (y PRIMARY KEY) WITHOUT ROWID; INSERT INTO b VALUES (1)")
            .unwrap();
        let f2 = of(&c).unwrap();
        assert_eq!(differences(&f1, &f2), vec!["table b (1 rows) is new"]);
    }
}
