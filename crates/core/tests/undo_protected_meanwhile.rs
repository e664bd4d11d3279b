//! An env made protected after an undo plan was shown (from a terminal, while the desktop's plan
//! is open) is not undone on that plan's y/N: the plan is stale (review 23).

mod common;

use pipeline_db_core::verbs::seed::SeedOptions;
use pipeline_db_core::verbs::undo;
use pipeline_db_core::{Confirmed, Error, Quiet, Workspace};

#[test]
fn an_undo_planned_before_the_env_was_protected_is_refused_as_stale() {
    let (dir, ws) = common::seeded(20);
    // A second seed: an action with a pre-action backup, for undo.
    common::seed_dev(
        &ws,
        &SeedOptions {
            jobs: 10,
            ..Default::default()
        },
    );
    let plan = undo::plan(&ws, "dev").unwrap();
    assert_eq!(format!("{:?}", plan.confirmation), "YesNo");
    std::fs::write(
        dir.path().join("pipeline-db.toml"),
        "[envs.dev]\nprotected = true\n",
    )
    .unwrap();
    let now = Workspace::at(dir.path()).unwrap();
    let e = undo::execute(&now, &plan, &Confirmed::forced(), &Quiet).unwrap_err();
    assert!(matches!(e, Error::Stale { .. }), "{e}");
}
