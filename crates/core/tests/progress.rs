//! Long copies report their progress in bytes and can be cancelled without leaving anything
//! behind: a cancelled backup leaves no file, a cancelled restore leaves the database unchanged.

mod common;
use common::seeded;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use pipeline_db_core::verbs::backup::{self, BackupOptions};
use pipeline_db_core::verbs::seed::SeedOptions;
use pipeline_db_core::{
    verbs::restore, verbs::status, Confirmed, Error, Observer, Progress, Workspace,
};

/// Records every report; cancels once a report of `cancel_at` arrives.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, u64, u64)>>,
    cancel_at: Option<&'static str>,
    cancel: AtomicBool,
}

impl Recorder {
    fn cancelling_at(stage: &'static str) -> Recorder {
        Recorder {
            cancel_at: Some(stage),
            ..Default::default()
        }
    }

    fn stages(&self) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        for (s, _, _) in self.seen.lock().unwrap().iter() {
            if out.last() != Some(s) {
                out.push(s.clone());
            }
        }
        out
    }

    fn of(&self, stage: &str) -> Vec<(u64, u64)> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(s, _, _)| s == stage)
            .map(|(_, d, t)| (*d, *t))
            .collect()
    }
}

impl Observer for Recorder {
    fn bytes(&self, p: &Progress) {
        self.seen
            .lock()
            .unwrap()
            .push((p.stage.to_string(), p.done, p.total));
        if self.cancel_at == Some(p.stage) {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn jobs(ws: &Workspace) -> u64 {
    status::status(ws, Some("dev")).unwrap()[0].row_counts["jobs"]
}

#[test]
fn a_backup_reports_bytes_copied_then_verified() {
    let (_d, ws) = seeded(3000);
    let obs = Recorder::default();
    let rec = backup::run_observed(&ws, "dev", &BackupOptions::default(), &obs)
        .unwrap()
        .backup;
    // Backups in the backup dir are compressed in the copy's read, then read back as verified.
    assert_eq!(obs.stages(), ["copying", "verifying"]);
    let copying = obs.of("copying");
    let verifying = obs.of("verifying");
    assert_eq!(
        copying.last().unwrap().0,
        copying.last().unwrap().1,
        "copy reaches its total"
    );
    assert_eq!(*verifying.last().unwrap(), (rec.size_bytes, rec.size_bytes));
    assert!(verifying.windows(2).all(|w| w[0].0 <= w[1].0), "monotonic");
}

#[test]
fn a_cancelled_backup_leaves_no_file() {
    let (_d, ws) = seeded(3000);
    let dir = ws.env("dev").unwrap().backup_dir;
    let before = files_in(&dir);
    let obs = Recorder::cancelling_at("copying");
    let err = backup::run_observed(&ws, "dev", &BackupOptions::default(), &obs).unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    assert_eq!(
        files_in(&dir),
        before,
        "no backup, no temp file, no manifest"
    );
    assert!(
        pipeline_db_core::backups::record::list(&ws.env("dev").unwrap())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_restore_reports_each_copy_and_a_cancel_mid_copy_changes_nothing() {
    let (_d, ws) = seeded(3000);
    let b = backup::run(&ws, "dev", &BackupOptions::default())
        .unwrap()
        .backup;
    let more = SeedOptions {
        users: 3,
        pipelines: 4,
        jobs: 500,
        rng_seed: 99,
        ..Default::default()
    };
    common::seed_dev(&ws, &more);
    let before = jobs(&ws);
    assert_eq!(before, 3500);
    let arg = b.path.to_string_lossy().into_owned();

    let obs = Recorder::cancelling_at("restoring");
    let err = restore::execute(
        &ws,
        &restore::plan(
            &ws,
            &restore::RestoreRequest {
                env: "dev".into(),
                backup: arg.clone(),
            },
        )
        .unwrap(),
        &Confirmed::forced(),
        &obs,
    )
    .unwrap_err();
    // Cancelled after its pre-restore backup: the message names the backup it kept.
    assert!(err.is_cancel() && err.backup_taken().is_some(), "{err}");
    assert_eq!(
        jobs(&ws),
        before,
        "a cancelled restore leaves the database as it was"
    );
    let restoring = obs.of("restoring");
    assert!(
        restoring.len() == 1 && restoring[0].0 < restoring[0].1,
        "{restoring:?}"
    );

    // The cancelled restore's pre-restore backup holds exactly what dev holds: this restore
    // relies on it (no copying / verifying of a new backup).
    let dir = ws.env("dev").unwrap().backup_dir;
    let backups_before = files_in(&dir);
    let obs = Recorder::default();
    let plan = restore::plan(
        &ws,
        &restore::RestoreRequest {
            env: "dev".into(),
            backup: arg.clone(),
        },
    )
    .unwrap();
    assert!(plan.backup.as_ref().unwrap().existing, "{:?}", plan.backup);
    restore::execute(&ws, &plan, &Confirmed::forced(), &obs).unwrap();
    assert_eq!(jobs(&ws), 3000);
    assert_eq!(
        obs.stages(),
        ["staging", "restoring"],
        "stage the backup, copy pages in"
    );
    assert_eq!(files_in(&dir), backups_before, "no new backup file");
    let r = obs.of("restoring");
    assert_eq!(r.last().unwrap().0, r.last().unwrap().1);
}
