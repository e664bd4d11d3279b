//! Shared by the core integration tests: a data dir whose dev env holds a little sample data.

use pipeline_db_core::verbs::seed::{self, SeedOptions};
use pipeline_db_core::{Confirmed, Quiet, Workspace};

/// A temp data dir with dev seeded (3 users, 4 pipelines, `jobs` jobs).
#[allow(dead_code)] // each test binary uses its own subset of these helpers
pub fn seeded(jobs: u64) -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::at(dir.path()).unwrap();
    let opts = SeedOptions {
        users: 3,
        pipelines: 4,
        jobs,
        ..Default::default()
    };
    seed_dev(&ws, &opts);
    (dir, ws)
}

/// `seed dev` with `opts`, confirmed, through the plan → execute path every adapter uses.
#[allow(dead_code)] // each test binary uses its own subset of these helpers
pub fn seed_dev(ws: &Workspace, opts: &SeedOptions) -> seed::SeedOutcome {
    let req = seed::SeedRequest {
        env: "dev".into(),
        options: opts.clone(),
    };
    let plan = seed::plan(ws, &req).unwrap();
    seed::execute(ws, &plan, &Confirmed::forced(), &Quiet).unwrap()
}

/// Rows in `table` of dev, read through a plain SQLite connection.
#[allow(dead_code)]
pub fn count(ws: &Workspace, table: &str) -> i64 {
    let c = rusqlite::Connection::open(ws.env("dev").unwrap().path).unwrap();
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}
