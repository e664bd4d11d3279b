//! SQLite's temporary files go into the data dir (its own test binary: the setting is the
//! process's, and the first workspace loaded sets it).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use pipeline_db_core::workspace::config::Workspace;

/// A sort too big for its cache spills into the data dir, not the system's temp dir; nothing is
/// left there.
#[test]
fn a_spilling_sort_writes_its_temporary_file_in_the_data_dir() {
    let d = tempfile::TempDir::new().unwrap();
    Workspace::at(d.path()).unwrap();
    let dir = d.path().to_path_buf();
    let c = rusqlite::Connection::open_in_memory().unwrap();
    c.execute_batch("PRAGMA temp_store = FILE; PRAGMA cache_size = 10;")
        .unwrap();
    let (spilled, running) = (AtomicBool::new(false), AtomicBool::new(true));
    std::thread::scope(|s| {
        s.spawn(|| {
            while running.load(Ordering::SeqCst) {
                // Temporary files are unlinked as they are opened: look for open ones.
                if open_files_under(&dir) {
                    spilled.store(true, Ordering::SeqCst);
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        let n: i64 = c
            .query_row(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
                 SELECT count(*) FROM (SELECT DISTINCT randomblob(200) FROM n)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        running.store(false, Ordering::SeqCst);
        assert_eq!(n, 300_000);
    });
    assert!(
        spilled.into_inner(),
        "no temporary file under {}",
        dir.display()
    );
    assert!(
        std::fs::read_dir(&dir).unwrap().next().is_none(),
        "left behind"
    );
}

fn open_files_under(dir: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| is_temp_file_in(&target, dir)))
}

/// SQLite's temporary file (`etilqs_…`, shown by /proc as deleted) directly in `dir`.
fn is_temp_file_in(target: &Path, dir: &Path) -> bool {
    target.parent() == Some(dir)
        && target
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("etilqs_"))
}
