//! The desktop's read queries on the seeded database (status distribution, jobs per day, one
//! filtered keyset page): measured through `pipeline_db_core::browse` once that module lands.

use std::path::Path;

use anyhow::Result;

use crate::report::{size, Row};

pub fn rows(_home: &Path, n: u64) -> Result<Vec<Row>> {
    Ok(vec![Row::new(format!(
        "desktop queries on {} jobs (status distribution, jobs per day, keyset page), p95 of 30",
        size(n)
    ))
    .ours("n/a: core::browse not committed yet")
    .goal("p95 < 30 ms each", None)])
}
