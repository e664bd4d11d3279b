//! An export stuck inside one row (where SQLite looks at neither its time limit nor a cancel) is
//! answered by its limit, or shortly after a cancel, and leaves no file: not at the name asked for,
//! not a temp file, not later when the row ends (its own test binary: the count of exports left
//! finishing is the process's).

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline_db_core::progress::Observer;
use pipeline_db_core::workbench::export::{self, ExportRequest, Source};
use pipeline_db_core::workbench::format::Format;
use pipeline_db_core::Error;

/// One row of `likes` LIKEs with a long pattern over a long text: ≈ 0.8 s each here.
fn slow_row(likes: usize) -> String {
    let pattern = format!("%{}b", "a".repeat(900));
    let cols: Vec<String> = (0..likes).map(|i| format!("x LIKE p AS m{i}")).collect();
    format!(
        "WITH v(x, p) AS (SELECT printf('%.*c', 999000, 'a'), '{pattern}') SELECT {} FROM v",
        cols.join(", ")
    )
}

/// Cancels from the moment `at` has passed.
struct CancelAt(Instant, Arc<AtomicBool>);
impl Observer for CancelAt {
    fn cancelled(&self) -> bool {
        let now = Instant::now() >= self.0;
        self.1.fetch_or(now, Ordering::SeqCst) || now
    }
}

fn request(sql: &str, output: &Path, timeout: Duration) -> ExportRequest {
    ExportRequest {
        env: "dev".into(),
        source: Source::Query(sql.into()),
        format: Format::Csv,
        output: Some(output.to_path_buf()),
        timeout: Some(timeout),
        escape_formulas: false,
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_export_stuck_inside_a_row_is_answered_by_its_limit_or_a_cancel_and_leaves_no_file() {
    let (_dir, ws) = common::seeded(5);
    let out = tempfile::tempdir().unwrap();
    // ≈ 8 s: both rows given up on below are still running when the third export comes.
    let sql = slow_row(10);
    let started = Instant::now();

    // By the limit: answered at 100 ms + the 2 s grace, long before the row ends.
    let t = Instant::now();
    let req = request(
        &sql,
        &out.path().join("limit.csv"),
        Duration::from_millis(100),
    );
    let e = export::run(
        &ws,
        &req,
        Box::new(std::io::sink()),
        CancelAt(t + Duration::from_secs(3600), Default::default()),
    )
    .unwrap_err();
    assert!(matches!(e, Error::QueryRunaway { .. }), "{e}");
    assert!(e.to_string().contains("nothing is made at"), "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        files_in(out.path()),
        Vec::<String>::new(),
        "no file, no temp file"
    );

    // By a cancel, with a limit far away: answered 2 s after the cancel.
    let t = Instant::now();
    let req = request(
        &sql,
        &out.path().join("cancel.csv"),
        Duration::from_secs(600),
    );
    let seen = Arc::new(AtomicBool::new(false));
    let e = export::run(
        &ws,
        &req,
        Box::new(std::io::sink()),
        CancelAt(t + Duration::from_millis(200), seen.clone()),
    )
    .unwrap_err();
    assert!(matches!(e, Error::CancelledLeftFinishing { .. }), "{e}");
    assert_eq!(e.exit_code(), pipeline_db_core::exit::CANCELLED);
    assert!(seen.load(Ordering::SeqCst));
    assert!(
        t.elapsed() < Duration::from_millis(3500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        files_in(out.path()),
        Vec::<String>::new(),
        "no file, no temp file"
    );

    // Two left finishing: a third is refused, and runs once they have ended (at their rows' end).
    let quick = request(
        "SELECT 1 AS one",
        &out.path().join("quick.csv"),
        Duration::from_secs(10),
    );
    let e = export::run(
        &ws,
        &quick,
        Box::new(std::io::sink()),
        pipeline_db_core::progress::Quiet,
    )
    .unwrap_err();
    assert!(e.to_string().contains("still finishing a row"), "{e}");
    let done = loop {
        match export::run(
            &ws,
            &quick,
            Box::new(std::io::sink()),
            pipeline_db_core::progress::Quiet,
        ) {
            Ok(done) => break done,
            Err(e) if e.to_string().contains("still finishing a row") => {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "they never ended"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(done.rows, 1);
    // The rows given up on ended and made nothing: only the quick export's file is there.
    assert_eq!(files_in(out.path()), vec!["quick.csv".to_string()]);
}
