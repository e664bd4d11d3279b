//! Shared by the core integration tests: a data dir whose dev env holds a little sample data.

use pipeline_db_core::verbs::seed::{self, SeedOptions};
use pipeline_db_core::{Confirmed, Quiet, Workspace};

/// A temp data dir with dev seeded (3 users, 4 pipelines, `jobs` jobs).
pub fn seeded(jobs: u64) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::at(dir.path()).unwrap();
    let opts = SeedOptions {
        users: 3,
        pipelines: 4,
        jobs,
        ..Default::default()
    };
    seed::execute(
        &ws,
        &seed::plan(
            &ws,
            &seed::SeedRequest {
                env: "dev".into(),
                options: opts.clone(),
            },
        )
        .unwrap(),
        &Confirmed::forced(),
        &Quiet,
    )
    .unwrap();
    (dir, ws)
}
