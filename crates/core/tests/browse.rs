//! The read-only browser: keyset paging visits every row once in order, filters hold, charts add up.

mod common;
use common::seeded;

use pipeline_db_core::browse::{self, JobCursor, JobFilter, Order};
use pipeline_db_core::Workspace;

fn all_pages(ws: &Workspace, f: &JobFilter, order: Order, limit: u32) -> Vec<browse::JobRow> {
    let mut out = vec![];
    let mut after: Option<JobCursor> = None;
    loop {
        let page = browse::jobs(ws, "dev", f, order, after.as_ref(), limit).unwrap();
        assert!(page.rows.len() <= limit as usize);
        out.extend(page.rows);
        match page.next {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

#[test]
fn keyset_paging_visits_every_job_once_in_order() {
    let (_d, ws) = seeded(137);
    for order in [Order::NewestFirst, Order::OldestFirst] {
        let rows = all_pages(&ws, &JobFilter::default(), order, 20);
        assert_eq!(rows.len(), 137);
        let keys: Vec<_> = rows.iter().map(|r| (r.created_at.clone(), r.id)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        if order == Order::NewestFirst {
            sorted.reverse();
        }
        assert_eq!(keys, sorted, "{order:?}");
    }
}

#[test]
fn filters_narrow_the_listing() {
    let (_d, ws) = seeded(200);
    let all = all_pages(&ws, &JobFilter::default(), Order::NewestFirst, 500);
    let failed = JobFilter {
        status: Some("failed".into()),
        ..Default::default()
    };
    let rows = all_pages(&ws, &failed, Order::NewestFirst, 7);
    assert_eq!(
        rows.len(),
        all.iter().filter(|r| r.status == "failed").count()
    );
    assert!(rows.iter().all(|r| r.status == "failed"));

    let p = all[0].pipeline_id;
    let by_pipeline = JobFilter {
        pipeline_id: Some(p),
        ..Default::default()
    };
    let rows = all_pages(&ws, &by_pipeline, Order::OldestFirst, 9);
    assert_eq!(
        rows.len(),
        all.iter().filter(|r| r.pipeline_id == p).count()
    );

    let day = all[all.len() / 2].created_at[..10].to_string();
    let one_day = JobFilter {
        from: Some(day.clone()),
        to: Some(format!("{day}T23:59:59Z")),
        ..Default::default()
    };
    let rows = all_pages(&ws, &one_day, Order::NewestFirst, 50);
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.created_at.starts_with(&day)));
}

#[test]
fn bad_filters_are_usage_errors() {
    let (_d, ws) = seeded(5);
    for f in [
        JobFilter {
            status: Some("done'; DROP TABLE jobs".into()),
            ..Default::default()
        },
        JobFilter {
            from: Some("yesterday".into()),
            ..Default::default()
        },
    ] {
        let e = browse::jobs(&ws, "dev", &f, Order::NewestFirst, None, 10).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
    }
}

#[test]
fn job_detail_pretty_prints_params() {
    let (_d, ws) = seeded(5);
    let first = browse::jobs(
        &ws,
        "dev",
        &JobFilter::default(),
        Order::NewestFirst,
        None,
        1,
    )
    .unwrap()
    .rows
    .remove(0);
    let d = browse::job(&ws, "dev", first.id).unwrap().unwrap();
    assert_eq!(d.row, first);
    assert!(serde_json::from_str::<serde_json::Value>(&d.params_pretty).is_ok());
    assert!(browse::job(&ws, "dev", -1).unwrap().is_none());
}

#[test]
fn users_and_pipelines_page_by_id() {
    let (_d, ws) = seeded(5);
    let first = browse::users(&ws, "dev", None, 2).unwrap();
    assert_eq!(first.rows.len(), 2);
    let rest = browse::users(&ws, "dev", first.next, 2).unwrap();
    assert_eq!(rest.rows.len(), 1);
    assert!(rest.next.is_none());
    assert!(rest.rows[0].id > first.rows[1].id);
    let p = browse::pipelines(&ws, "dev", None, 500).unwrap();
    assert_eq!(p.rows.len(), 4);
}

#[test]
fn chart_aggregates_add_up() {
    let (_d, ws) = seeded(150);
    let c = browse::charts(&ws, "dev", 3650).unwrap();
    let total: u64 = c.status_counts.iter().map(|s| s.n).sum();
    assert_eq!(total, 150);
    assert_eq!(c.per_day.iter().map(|d| d.n).sum::<u64>(), 150);
    assert_eq!(c.per_pipeline.iter().map(|p| p.total).sum::<u64>(), 150);
    let of = |k: &str| {
        c.status_counts
            .iter()
            .find(|s| s.key == k)
            .map_or(0, |s| s.n)
    };
    let sum = |f: fn(&browse::PipelineRate) -> u64| c.per_pipeline.iter().map(f).sum::<u64>();
    assert_eq!(sum(|p| p.completed), of("completed"));
    assert_eq!(sum(|p| p.failed), of("failed"));
    assert!(c
        .per_pipeline
        .iter()
        .all(|p| p.completed + p.failed <= p.total));
}

#[test]
fn a_missing_database_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::at(dir.path()).unwrap();
    let e = browse::jobs(
        &ws,
        "dev",
        &JobFilter::default(),
        Order::NewestFirst,
        None,
        10,
    )
    .unwrap_err();
    assert!(e.to_string().contains("migrate dev"), "{e}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing created"
    );
}
