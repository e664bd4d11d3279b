//! Case 1 (restore) and case 12: kill -9 during restore (also one that relies on an existing
//! backup instead of taking one); a prod backup restored into dev is retagged dev and
//! audit-logged; a backup with a newer schema is refused.

use std::time::Duration;

use super::*;

pub fn cases() -> Vec<Case> {
    let template = Shared::new(|| seeded_template(300));
    let t2 = template.clone();
    vec![
        Case::new("kill9_during_restore", move |r| {
            // The backup to restore: a bigger, different dev, exported outside the data dir.
            let (other, exported) = exported();
            let args = ["restore", "dev", exported.to_str().unwrap(), "--force"];
            kill_during_restore(r, "kill -9 during restore", template.get(), &args);
            drop(other);
        }),
        Case::new("kill9_during_restore_on_an_existing_backup", move |r| {
            // dev was just backed up: the restore takes no new backup, it relies on that one.
            let template = Shared::new(|| {
                let t = seeded_template(300);
                must(t.path(), &["backup", "dev"]);
                t
            });
            let (other, exported) = exported();
            let args = ["restore", "dev", exported.to_str().unwrap(), "--force"];
            let d = fresh_copy(template.get().path());
            let mut plan_args = args[..3].to_vec();
            plan_args.extend(["--dry-run", "--json"]);
            let plan = run(d.path(), &plan_args);
            let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap_or_default();
            if plan["backup"]["existing"] != true {
                let mut t = Tally::default();
                t.fail(format!(
                    "the plan does not rely on the existing backup: {plan}"
                ));
                r.add("kill -9 during a restore relying on an existing backup", t);
                return;
            }
            let what = "kill -9 during a restore relying on an existing backup";
            kill_during_restore(r, what, template.get(), &args);
            drop(other);
        }),
        Case::new("among_other_programs", among_other_programs),
        Case::new("prod_into_dev", prod_into_dev),
        Case::new("newer_schema_refused", move |r| newer_schema(r, t2.get())),
    ]
}

/// A seeded dev exported outside its data dir: (its data dir, the export's path).
fn exported() -> (tempfile::TempDir, std::path::PathBuf) {
    let other = tempfile::tempdir().unwrap();
    must(
        other.path(),
        &[
            "seed",
            "dev",
            "--jobs",
            "4000",
            "--rng-seed",
            "77",
            "--as-of",
            AS_OF,
        ],
    );
    let exported = other.path().join("export.sqlite3");
    must(
        other.path(),
        &["backup", "dev", "--output", exported.to_str().unwrap()],
    );
    (other, exported)
}

fn kill_during_restore(r: &mut Report, what: &str, template: &tempfile::TempDir, args: &[&str]) {
    let old = fingerprint(&db(template.path())).unwrap();
    let (new, took) = new_state(template.path(), args);
    let mut t = Tally::default();
    let mut rng = Lcg(4242);
    // Half the runs (50 by default, see `runs`) abort at the named point, the others are killed.
    let n = runs(50);
    for i in 0..n {
        let d = fresh_copy(template.path());
        if i < n.div_ceil(2) {
            let o = cli(d.path(), args)
                .env("PIPELINE_DB_FAILPOINT", "restore:mid_copy=abort")
                .output()
                .unwrap();
            if o.status.success() {
                t.fail("failpoint restore:mid_copy was never reached");
            }
        } else {
            let delay =
                Duration::from_millis(rng.next((took.as_millis() as u64 * 12 / 10).max(20)));
            let mut child = cli(d.path(), args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let _ = child.kill();
            let _ = child.wait();
        }
        judge(&mut t, d.path(), &old, &new, true);
    }
    r.add(what, t);
}

/// Restores while other programs come and go — the sqlite3 shell, with the system's SQLite, one
/// short connection per statement, as a web app's pool does: a writer adding users, two readers
/// counting jobs. Restore refuses when a write landed after its backup. Readers must see one whole
/// database or the other (300 or 4,000 jobs); every write the shell reported committed must be in
/// the database at the end or in a pre-restore backup (a write restore overwrote unseen would be in
/// neither: lost).
fn among_other_programs(r: &mut Report) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let t = seeded_template(300);
    let dir = t.path();
    let small = dir.join("small.sqlite3");
    must(dir, &["backup", "dev", "--output", small.to_str().unwrap()]);
    let (other, big) = exported();
    // Every pre-restore backup is kept: a write may be only in one of them.
    must(dir, &["config", "set", "retention", "1000", "--force"]);
    let live = db(dir);
    let shell = |sql: &str| {
        Command::new("sqlite3")
            .arg(&live)
            .args([".timeout 5000", sql])
            .output()
            .expect("the sqlite3 shell (scripts/deps.sh test installs it)")
    };
    let stop = AtomicBool::new(false);
    let mut t_ = Tally::default();
    let (committed, seen) = std::thread::scope(|sc| {
        let writer = sc.spawn(|| {
            let mut committed = vec![];
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let o = shell(&format!(
                    "INSERT INTO users (username, email, hashed_password, role) VALUES ('w{i}', 'w{i}@x.org', '$argon2id$x', 'viewer')"
                ));
                if o.status.success() {
                    committed.push(i);
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            committed
        });
        let readers: Vec<_> = (0..2)
            .map(|_| {
                sc.spawn(|| {
                    let mut odd = vec![];
                    while !stop.load(Ordering::Relaxed) {
                        let o = shell("SELECT count(*) FROM jobs");
                        let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
                        let err = String::from_utf8_lossy(&o.stderr).to_string();
                        let fine = match o.status.success() {
                            true => out == "300" || out == "4000",
                            // Waiting too long, or a file taken away mid-open, is no wrong answer.
                            false => err.contains("locked") || err.contains("busy"),
                        };
                        if !fine {
                            odd.push(format!("reader: {out:?} {err:?}"));
                        }
                    }
                    odd
                })
            })
            .collect();
        for k in 0..runs(30) {
            let from = if k % 2 == 0 { &big } else { &small };
            t_.runs += 1;
            let o = run(
                dir,
                &[
                    "restore",
                    "dev",
                    from.to_str().unwrap(),
                    "--force",
                    "--json",
                ],
            );
            match o.status.code() {
                Some(0) => t_.new += 1,
                // Refused: another program wrote after the backup, or changed what was planned.
                Some(3) => t_.old += 1,
                // Restored, and then another program wrote before the check after: said so,
                // nothing put back over its write.
                _ if stderr(&o).contains("another program wrote to it after") => t_.new += 1,
                _ => t_.fail(format!("restore failed: {}", stderr(&o))),
            }
        }
        stop.store(true, Ordering::Relaxed);
        let seen: Vec<String> = readers
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec!["a reader panicked".into()])
            })
            .collect();
        (writer.join().unwrap_or_default(), seen)
    });
    for s in seen.into_iter().take(5) {
        t_.fail(s);
    }
    if t_.new == 0 {
        t_.fail("no restore got through");
    }
    // Every committed write: in the database now, or in a backup taken before it was replaced.
    let mut states = vec![live.clone()];
    states.extend(check_backups(&mut t_, dir));
    let has = |p: &Path, i: i64| {
        let plain = pipeline_db_e2e::content(p).ok()?;
        let c = rusqlite::Connection::open(&plain.path).ok()?;
        c.query_row(
            "SELECT count(*) FROM users WHERE email = ?1",
            [format!("w{i}@x.org")],
            |r| r.get::<_, i64>(0),
        )
        .ok()
    };
    let lost: Vec<i64> = committed
        .iter()
        .copied()
        .filter(|i| !states.iter().any(|p| has(p, *i) == Some(1)))
        .collect();
    if !lost.is_empty() {
        t_.lost_rows += lost.len() as u64;
        t_.problems.push(format!(
            "{} of {} committed writes are in no state: {:?}",
            lost.len(),
            committed.len(),
            &lost[..lost.len().min(5)]
        ));
    }
    if !integrity_ok(&live) {
        t_.fail("dev failed integrity_check");
    }
    drop(other);
    r.add(
        &format!(
            "restores among other programs ({} writes committed; refused = old)",
            committed.len()
        ),
        t_,
    );
}

fn prod_into_dev(r: &mut Report) {
    let mut t = Tally::default();
    for _ in 0..runs(3) {
        t.runs += 1;
        let d = tempfile::tempdir().unwrap();
        must(d.path(), &["migrate", "prod"]);
        rusqlite::Connection::open(d.path().join("prod.sqlite3")).unwrap()
            .execute_batch("INSERT INTO users (username,email,hashed_password,role) VALUES ('p','p@x.org','$argon2id$x','admin')").unwrap();
        let b = d.path().join("prod-export.sqlite3");
        must(
            d.path(),
            &["backup", "prod", "--output", b.to_str().unwrap()],
        );
        must(d.path(), &["seed", "dev", "--jobs", "50", "--as-of", AS_OF]);
        let plan = run(
            d.path(),
            &["restore", "dev", b.to_str().unwrap(), "--dry-run", "--json"],
        );
        if !String::from_utf8_lossy(&plan.stdout).contains("prod") {
            t.fail(format!(
                "the plan does not say the backup came from prod: {}",
                String::from_utf8_lossy(&plan.stdout)
            ));
        }
        must(
            d.path(),
            &["restore", "dev", b.to_str().unwrap(), "--force"],
        );
        let st: serde_json::Value =
            serde_json::from_slice(&run(d.path(), &["status", "dev", "--json"]).stdout).unwrap();
        if st[0]["identity"]["env"] != "dev" || st[0]["row_counts"]["users"] != 1 {
            t.fail(format!("after restore: {}", st[0]));
        } else {
            t.new += 1;
        }
        let log =
            String::from_utf8_lossy(&run(d.path(), &["log", "--env", "dev", "--json"]).stdout)
                .into_owned();
        if !log.contains("\"restore\"") {
            t.fail("restore is not in the audit log");
        }
        check_backups(&mut t, d.path());
    }
    r.add("prod backup restored into dev is retagged dev", t);
}

fn newer_schema(r: &mut Report, template: &tempfile::TempDir) {
    let mut t = Tally::default();
    let d = fresh_copy(template.path());
    let old = fingerprint(&db(d.path())).unwrap();
    let newer = d.path().join("newer.sqlite3");
    must(
        d.path(),
        &["backup", "dev", "--output", newer.to_str().unwrap()],
    );
    rusqlite::Connection::open(&newer).unwrap()
        .execute_batch("INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (99, 'future', '2030-01-01T00:00:00Z', '1')").unwrap();
    let _ = std::fs::remove_file(format!("{}.json", newer.display()));
    let o = run(
        d.path(),
        &["restore", "dev", newer.to_str().unwrap(), "--force"],
    );
    if o.status.code() != Some(3) {
        t.fail(format!(
            "newer schema: exit {:?}: {}",
            o.status.code(),
            stderr(&o)
        ));
    }
    judge(&mut t, d.path(), &old, &old, true);
    r.add("backup with a newer schema is refused", t);
}
