//! The desktop's read queries on the seeded database, through the same core functions the
//! desktop's charts page and data browser call (`pipeline_db_core::browse`), on one read-only
//! connection: p95 over 30 runs after a warm-up (5 runs when one call takes over a second).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use pipeline_db_core::browse::{self, JobFilter, Order};

use crate::report::{dur, size, Row};

const RUNS: usize = 30;
const SLOW_RUNS: usize = 5;
const GOAL: Duration = Duration::from_millis(30);

/// (p95, median, runs) of calls of `f`, after one warm-up call.
fn p95(mut f: impl FnMut() -> Result<()>) -> Result<(Duration, Duration, usize)> {
    let t = Instant::now();
    f()?;
    let runs = if t.elapsed() > Duration::from_secs(1) {
        SLOW_RUNS
    } else {
        RUNS
    };
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        v.push(t.elapsed());
    }
    v.sort();
    let idx = ((runs as f64 * 0.95).ceil() as usize).clamp(1, runs) - 1;
    Ok((v[idx], v[runs / 2], runs))
}

fn row(what: &str, n: u64, (p95, median, runs): (Duration, Duration, usize)) -> Row {
    Row::new(format!(
        "desktop: {what} on {} jobs, p95 of {runs}",
        size(n)
    ))
    .ours(format!("{} (median {})", dur(p95), dur(median)))
    .goal("p95 < 30 ms", Some(p95 < GOAL))
}

pub fn rows(home: &Path, n: u64) -> Result<Vec<Row>> {
    eprintln!("desktop queries…");
    let ws = pipeline_db_core::Workspace::at(home)?;
    let reader = browse::Reader::open(&ws, "dev")?;
    let since = pipeline_db_core::storage::time::format(
        pipeline_db_core::storage::time::now_epoch() - 90 * 86_400,
    );
    let mut out = vec![];
    let t = p95(|| {
        let c = reader.status_counts()?;
        anyhow::ensure!(!c.is_empty(), "no status counts");
        Ok(())
    })?;
    out.push(row(
        "status distribution (`browse::Reader::status_counts`)",
        n,
        t,
    ));
    let t = p95(|| {
        reader.jobs_per_day(&since)?;
        Ok(())
    })?;
    out.push(row(
        "jobs per day, 90 days (`browse::Reader::jobs_per_day`)",
        n,
        t,
    ));
    let t = p95(|| {
        reader.success_per_pipeline(&since)?;
        Ok(())
    })?;
    out.push(row(
        "success per pipeline, 90 days (`browse::Reader::success_per_pipeline`, also on the charts page)",
        n,
        t,
    ));
    // The second page of failed jobs of one pipeline, newest first: a filtered keyset page.
    let filter = JobFilter {
        status: Some("failed".into()),
        pipeline_id: Some(1),
        ..Default::default()
    };
    let first = reader.jobs(&filter, Order::NewestFirst, None, 50)?;
    let cursor = first.next.clone();
    let t = p95(|| {
        reader.jobs(&filter, Order::NewestFirst, cursor.as_ref(), 50)?;
        Ok(())
    })?;
    out.push(row(
        "data browser, 2nd keyset page of 50, status=failed + one pipeline (`browse::Reader::jobs`)",
        n,
        t,
    ));
    Ok(out)
}
