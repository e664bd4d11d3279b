//! Cases 7 and 8: backups under load (a writer inserting rows in pairs, three readers, 20 backups;
//! WAL and rollback journals) always hold an even count; a WAL holding un-checkpointed commits of
//! an open writer is included in the backup.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::*;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("backups_under_load_wal", |r| under_load(r, "wal")),
        Case::new("backups_under_load_delete", |r| under_load(r, "delete")),
        Case::new("uncheckpointed_wal", uncheckpointed),
    ]
}

fn pairs_template(mode: &str) -> tempfile::TempDir {
    let t = seeded_template(100);
    let c = rusqlite::Connection::open(db(t.path())).unwrap();
    c.execute_batch("CREATE TABLE pairs (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        .unwrap();
    let _: String = c
        .query_row(&format!("PRAGMA journal_mode={mode}"), [], |r| r.get(0))
        .unwrap();
    t
}

fn under_load(r: &mut Report, mode: &str) {
    let t = pairs_template(mode);
    let path = db(t.path());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = vec![];
    {
        let (p, stop) = (path.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let c = rusqlite::Connection::open(&p).unwrap();
            c.busy_timeout(Duration::from_secs(30)).unwrap();
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let tx = c.unchecked_transaction().unwrap();
                tx.execute("INSERT INTO pairs (v) VALUES (?1)", [i])
                    .unwrap();
                tx.execute("INSERT INTO pairs (v) VALUES (?1)", [i])
                    .unwrap();
                tx.commit().unwrap();
                i += 1;
                // A busy writer, not a tight loop: in rollback mode a loop that never lets go
                // of the lock starves every reader, whatever tool it is.
                std::thread::sleep(Duration::from_millis(1));
            }
        }));
    }
    for _ in 0..3 {
        let (p, stop) = (path.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let c = rusqlite::Connection::open(&p).unwrap();
            c.busy_timeout(Duration::from_secs(30)).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let n: i64 = c
                    .query_row("SELECT count(*) FROM pairs", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(n % 2, 0, "reader saw a half pair");
            }
        }));
    }
    let mut tally = Tally::default();
    let backups = runs(20);
    for _ in 0..backups {
        tally.runs += 1;
        let o = run(t.path(), &["backup", "dev", "--json"]);
        if !o.status.success() {
            tally.fail(format!("backup failed under load: {}", stderr(&o)));
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let b = std::path::PathBuf::from(v["path"].as_str().unwrap());
        let n: i64 = rusqlite::Connection::open(&b)
            .unwrap()
            .query_row("SELECT count(*) FROM pairs", [], |r| r.get(0))
            .unwrap();
        if n % 2 != 0 || v["row_counts"]["pairs"].as_i64() != Some(n) {
            tally.fail(format!(
                "backup holds {n} pair rows (manifest {})",
                v["row_counts"]["pairs"]
            ));
        } else {
            tally.old += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for th in threads {
        if th.join().is_err() {
            tally.fail("a writer or reader thread failed");
        }
    }
    check_backups(&mut tally, t.path());
    if !integrity_ok(&path) {
        tally.fail("source failed integrity_check");
    }
    r.add(
        &format!(
            "{backups} backup{} under a writer + 3 readers ({mode})",
            if backups == 1 { "" } else { "s" }
        ),
        tally,
    );
}

fn uncheckpointed(r: &mut Report) {
    let mut tally = Tally::default();
    for round in 0..runs(5) as i64 {
        let t = pairs_template("wal");
        let c = rusqlite::Connection::open(db(t.path())).unwrap();
        c.execute_batch("PRAGMA wal_autocheckpoint=0").unwrap();
        for i in 0..(200 * (round + 1)) {
            c.execute("INSERT INTO pairs (v) VALUES (?1)", [i]).unwrap();
        }
        let wal = std::fs::metadata(format!("{}-wal", db(t.path()).display()))
            .map(|m| m.len())
            .unwrap_or(0);
        tally.runs += 1;
        let o = run(t.path(), &["backup", "dev", "--json"]);
        if !o.status.success() || wal == 0 {
            tally.fail(format!("wal {wal} bytes; backup: {}", stderr(&o)));
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let n: i64 = rusqlite::Connection::open(v["path"].as_str().unwrap())
            .unwrap()
            .query_row("SELECT count(*) FROM pairs", [], |r| r.get(0))
            .unwrap();
        if n != 200 * (round + 1) {
            tally.fail(format!(
                "backup holds {n} of {} committed rows",
                200 * (round + 1)
            ));
            tally.lost_rows += (200 * (round + 1) - n).max(0) as u64;
        } else {
            tally.old += 1;
        }
        drop(c);
    }
    r.add("WAL with un-checkpointed commits is backed up", tally);
}
