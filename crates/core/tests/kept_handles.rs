//! A live database read as a file keeps no handle of this process open once the verb that read it
//! is done (its own test binary: no other test's connection is open meanwhile). While the desktop
//! runs, the disk holding an env can then be unmounted.

mod common;

/// How many handles of this process name `p`.
#[cfg(target_os = "linux")]
fn opened(p: &std::path::Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t == p)
        .count()
}

/// A second seed takes its verified backup by reading the live file (under the write lock);
/// afterwards nothing of this process has the database open.
#[cfg(target_os = "linux")]
#[test]
fn no_handle_of_a_live_database_is_left_open_after_a_verb() {
    let (dir, ws) = common::seeded(50);
    let out = common::seed_dev(
        &ws,
        &pipeline_db_core::verbs::seed::SeedOptions {
            jobs: 20,
            ..Default::default()
        },
    );
    assert!(out.backup.is_some(), "the second seed took a backup");
    let db = dir.path().join("dev.sqlite3");
    assert_eq!(opened(&db), 0, "a handle of {} is left open", db.display());
}
