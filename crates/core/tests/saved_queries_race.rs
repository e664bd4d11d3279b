//! Two saves of different queries at the same moment (two windows, or the desktop's parallel
//! commands) both survive: each read-change-write holds the queries dir's lock (review 19).
use pipeline_db_core::workbench::saved;
use pipeline_db_core::workspace::config::Workspace;

#[test]
fn concurrent_saves_of_different_names_all_survive() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let _ = Workspace::at(&data).unwrap();
    let per_thread = 40;
    std::thread::scope(|s| {
        for t in 0..2 {
            let data = data.clone();
            s.spawn(move || {
                let ws = Workspace::at(&data).unwrap();
                for i in 0..per_thread {
                    // every call returned Ok: the user was told the query was saved
                    saved::save(&ws, "dev", &format!("q{t}-{i}"), "SELECT 1", false).unwrap();
                }
            });
        }
    });
    let ws = Workspace::at(&data).unwrap();
    let n = saved::list(&ws, "dev").unwrap().len();
    assert_eq!(
        n,
        2 * per_thread,
        "saved {} queries (each save said ok), {n} are kept",
        2 * per_thread
    );
}
