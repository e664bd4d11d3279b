//! A query past its time limit inside one row (where SQLite does not look at the limit) is
//! answered by the limit anyway, and at most two such queries finish in the background (its own
//! test binary: the count of those is the process's).

mod common;

use std::time::{Duration, Instant};

use pipeline_db_core::workbench::query::{self, QueryRequest};
use pipeline_db_core::Error;

/// One row whose expressions take tens of seconds: LIKEs with a long pattern over a long text.
fn slow_row() -> String {
    let pattern = format!("%{}b", "a".repeat(900));
    let likes: Vec<String> = (0..60).map(|i| format!("x LIKE p AS m{i}")).collect();
    format!(
        "WITH v(x, p) AS (SELECT printf('%.*c', 999000, 'a'), '{pattern}') SELECT {} FROM v",
        likes.join(", ")
    )
}

#[test]
fn a_query_stuck_inside_a_row_is_answered_by_its_limit_and_few_are_left_finishing() {
    let (_dir, ws) = common::seeded(5);
    let quiet = || pipeline_db_core::progress::Quiet;
    // A quick query is answered with its rows.
    let quick = QueryRequest::new("dev", "SELECT count(*) FROM jobs");
    assert_eq!(
        query::run_bounded(&ws, &quick, quiet()).unwrap().rows.len(),
        1
    );
    let mut req = QueryRequest::new("dev", &slow_row());
    req.timeout = Duration::from_millis(100);
    for _ in 0..2 {
        let t = Instant::now();
        let e = query::run_bounded(&ws, &req, quiet()).unwrap_err();
        assert!(matches!(e, Error::QueryRunaway { .. }), "{e}");
        assert!(e.to_string().contains("left to finish that row"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    }
    let e = query::run_bounded(&ws, &quick, quiet()).unwrap_err();
    assert!(e.to_string().contains("still finishing a row"), "{e}");
    assert_eq!(e.exit_code(), 3);
    // The two rows still running end with this test's process.
}
