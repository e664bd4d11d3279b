//! Case 4: a database locked by another process's write transaction, and two CLI resets of the
//! same env at once: serialised, exit 4 after the timeout, exactly one verified backup per
//! successful action.

use std::time::Duration;

use super::*;

const RESET: [&str; 10] = [
    "reset",
    "dev",
    "--force",
    "--with-sample-data",
    "--jobs",
    "800",
    "--rng-seed",
    "9",
    "--as-of",
    AS_OF,
];

pub fn cases() -> Vec<Case> {
    let template = Shared::new(|| seeded_template(300));
    let (t1, t2, t3) = (template.clone(), template.clone(), template);
    vec![
        Case::new("held_begin_immediate", move |r| {
            held(r, t1.get(), "IMMEDIATE")
        }),
        Case::new("held_begin_exclusive", move |r| {
            held(r, t2.get(), "EXCLUSIVE")
        }),
        Case::new("two_resets_at_once", move |r| concurrent(r, t3.get())),
    ]
}

fn held(r: &mut Report, template: &tempfile::TempDir, mode: &str) {
    let old = fingerprint(&db(template.path())).unwrap();
    let mut t = Tally::default();
    for _ in 0..runs(5) {
        let d = fresh_copy(template.path());
        let holder = rusqlite::Connection::open(db(d.path())).unwrap();
        holder.execute_batch(&format!("BEGIN {mode}")).unwrap();
        let mut args = vec!["--busy-timeout-ms", "300"];
        args.extend(RESET);
        let o = run(d.path(), &args);
        if o.status.code() != Some(4) {
            t.fail(format!(
                "expected exit 4, got {:?}: {}",
                o.status.code(),
                stderr(&o)
            ));
        }
        holder.execute_batch("ROLLBACK").unwrap();
        drop(holder);
        if files_under(&d.path().join("backups"))
            .iter()
            .any(|p| p.to_string_lossy().contains("pre-reset"))
        {
            t.fail("a backup was taken for an action that could not start");
        }
        judge(&mut t, d.path(), &old, &old, true);
    }
    r.add(&format!("database held by BEGIN {mode}"), t);
}

fn concurrent(r: &mut Report, template: &tempfile::TempDir) {
    let old = fingerprint(&db(template.path())).unwrap();
    let (new, _) = new_state(template.path(), &RESET);
    let mut t = Tally::default();
    // At least two runs: one of each kind. A reset planned before the other one ran finds, under
    // the lock, a database that is no longer what its plan showed: it is refused as stale (exit
    // 3, nothing changed) — or succeeds if it planned after the other one finished.
    for i in 0..runs(10).max(2) {
        let d = fresh_copy(template.path());
        // Half the runs: a generous timeout (both succeed, one after the other); the others: the
        // first is slowed down and the second gives up after 200 ms (exit 4).
        let patient = i % 2 == 0;
        let mut a = cli(d.path(), &RESET);
        if !patient {
            a.env("PIPELINE_DB_FAILPOINT", "reset:after_drop=sleep:1500");
        }
        let a = a
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(if patient { 5 } else { 300 }));
        let mut bargs = vec!["--busy-timeout-ms", if patient { "20000" } else { "200" }];
        bargs.extend(RESET);
        let b = run(d.path(), &bargs);
        let a = a.wait_with_output().unwrap();
        let ok = [a.status.success(), b.status.success()]
            .iter()
            .filter(|x| **x)
            .count();
        let busy = [a.status.code(), b.status.code()]
            .iter()
            .filter(|c| **c == Some(4))
            .count();
        let stale = [&a, &b]
            .iter()
            .filter(|o| o.status.code() == Some(3) && stderr(o).contains("changed since the plan"))
            .count();
        // Under load the second process can even win the lock before the first one takes it:
        // then the first is the stale one. Either way exactly one reset ran, the other waited
        // too long (exit 4, impatient runs) or was refused as stale (exit 3).
        if ok + busy + stale != 2 || ok == 0 || (patient && busy != 0) {
            t.fail(format!(
                "run {i}: a={:?} {} b={:?} {}",
                a.status.code(),
                stderr(&a),
                b.status.code(),
                stderr(&b)
            ));
        }
        let backups = check_backups(&mut t, d.path())
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("pre-reset"))
            .count();
        if backups != ok {
            t.fail(format!(
                "run {i}: {ok} successful resets but {backups} pre-reset backups"
            ));
        }
        judge(&mut t, d.path(), &old, &new, true);
    }
    r.add("two CLI resets of dev at once", t);
}
