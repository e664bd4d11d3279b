//! A change runs on the config as it is when it runs, not on the workspace its plan was shown
//! from (review 26): the CLI loads its workspace once, before its prompt, and the desktop keeps
//! one loaded — an env protected meanwhile was reset on a y/N, and retention deleted a backup the
//! config meanwhile said to keep.

mod common;

use pipeline_db_core::verbs::backup::{self, BackupOptions};
use pipeline_db_core::verbs::reset::{self, ResetRequest};
use pipeline_db_core::{Confirmed, Error, Quiet, Workspace};

fn config(dir: &std::path::Path, text: &str) {
    std::fs::write(dir.join("pipeline-db.toml"), text).unwrap();
}

#[test]
fn an_env_protected_after_its_plan_was_shown_is_not_changed_on_a_y() {
    let (dir, ws) = common::seeded(20);
    let req = ResetRequest {
        env: "dev".into(),
        sample_data: None,
        keep_evidence: false,
    };
    let plan = reset::plan(&ws, &req).unwrap();
    assert_eq!(format!("{:?}", plan.confirmation), "YesNo");
    config(dir.path(), "[envs.dev]\nprotected = true\n");
    // The workspace the plan was shown from, as the CLI holds it.
    let e = reset::execute(&ws, &plan, &Confirmed::forced(), &Quiet).unwrap_err();
    assert!(matches!(e, Error::Stale { .. }), "{e}");
    assert!(e.to_string().contains("TypeEnvName"), "{e}");
    assert_eq!(
        common::count(&ws, "jobs"),
        20,
        "the protected env was not reset"
    );
}

#[test]
fn retention_after_a_change_follows_the_config_as_it_is_then() {
    let (dir, _) = common::seeded(20);
    config(dir.path(), "[retention]\nkeep = 2\n");
    let ws = Workspace::at(dir.path()).unwrap();
    for _ in 0..2 {
        backup::run(&ws, "dev", &BackupOptions::default()).unwrap();
    }
    let req = ResetRequest {
        env: "dev".into(),
        sample_data: None,
        keep_evidence: false,
    };
    let plan = reset::plan(&ws, &req).unwrap();
    config(dir.path(), "[retention]\nkeep = 50\n");
    let done = reset::execute(&ws, &plan, &Confirmed::forced(), &Quiet).unwrap();
    let retention = done.retention.expect("a backup was made, so retention ran");
    assert_eq!(retention.policy.keep, 50);
    assert!(retention.deleted.is_empty(), "{:?}", retention.deleted);
    assert_eq!(retention.kept, 3);
}
