//! A plan promises the file it was made from (review 26): its (device, inode) was read again when
//! the promises were compared, on both sides, so another file renamed into the env's path between
//! the plan shown and the lock was never seen. It is recorded when the plan is made now.

mod common;

use pipeline_db_core::verbs::reset::{self, ResetRequest};
use pipeline_db_core::{Confirmed, Error, Quiet};

#[test]
fn another_file_renamed_into_place_after_the_plan_is_refused_as_stale() {
    let (dir, ws) = common::seeded(20);
    let dev = ws.env("dev").unwrap().path;
    let other = dir.path().join("other.sqlite3");
    let c = rusqlite::Connection::open(&dev).unwrap();
    c.execute("VACUUM INTO ?1", [other.to_str().unwrap()])
        .unwrap();
    drop(c);
    let c = rusqlite::Connection::open(&other).unwrap();
    c.execute_batch("UPDATE users SET role = 'viewer'").unwrap();
    drop(c);
    let req = ResetRequest {
        env: "dev".into(),
        sample_data: None,
        keep_evidence: false,
    };
    let plan = reset::plan(&ws, &req).unwrap();
    std::fs::rename(&other, &dev).unwrap();
    let e = reset::execute(&ws, &plan, &Confirmed::forced(), &Quiet).unwrap_err();
    assert!(matches!(e, Error::Stale { .. }), "{e}");
    assert!(e.to_string().contains("file: device"), "{e}");
    assert_eq!(
        common::count(&ws, "jobs"),
        20,
        "the file moved in was not reset"
    );
}
