//! Case 1: kill -9 at random moments and abort at named points, during reset, backup, migrate and a
//! 200k-job seed (restore: see restore.rs).

use std::path::Path;
use std::time::Duration;

use super::*;

const RESET: [&str; 10] = [
    "reset",
    "dev",
    "--force",
    "--with-sample-data",
    "--jobs",
    "3000",
    "--rng-seed",
    "9",
    "--as-of",
    AS_OF,
];

const SEED: [&str; 8] = [
    "seed",
    "dev",
    "--jobs",
    "200000",
    "--rng-seed",
    "5",
    "--as-of",
    AS_OF,
];

pub fn cases() -> Vec<Case> {
    let seeded = Shared::new(|| seeded_template(300));
    let m = Shared::new(migrate_template);
    let (s1, s2, s3) = (seeded.clone(), seeded.clone(), seeded);
    let with_backups = Shared::new(retention_template);
    let s4 = Shared::new(|| seeded_template(300));
    vec![
        Case::new("during_compression", move |r| {
            case(
                r,
                "kill -9 while the pre-reset backup is compressed",
                s4.get().path(),
                &RESET,
                Some("backup:mid_compress"),
                true,
            )
        }),
        Case::new("during_reset", move |r| {
            case(
                r,
                "kill -9 during reset",
                s1.get().path(),
                &RESET,
                Some("reset:after_drop"),
                true,
            )
        }),
        Case::new("during_backup", move |r| {
            case(
                r,
                "kill -9 during backup",
                s2.get().path(),
                &["backup", "dev"],
                Some("backup:mid_copy"),
                false,
            )
        }),
        Case::new("during_migrate", move |r| {
            case(
                r,
                "kill -9 during migrate",
                m.get().path(),
                &["migrate", "dev", "--force"],
                Some("migrate:before_commit"),
                true,
            )
        }),
        Case::new("during_retention", move |r| {
            case(
                r,
                "kill -9 during retention after a backup",
                with_backups.get().path(),
                &["backup", "dev"],
                Some("retention:before_delete"),
                false,
            )
        }),
        Case::new("during_seed_200k", move |r| {
            case(
                r,
                "kill -9 during a 200k-job seed",
                s3.get().path(),
                &SEED,
                None,
                false,
            )
        }),
    ]
}

/// dev with three verified backups and a policy of one: the next backup's retention deletes the
/// three older ones (a kill lands before, between or after the deletions).
fn retention_template() -> tempfile::TempDir {
    let t = seeded_template(300);
    for _ in 0..3 {
        must(t.path(), &["backup", "dev"]);
    }
    std::fs::write(t.path().join("pipeline-db.toml"), "[retention]\nkeep = 1\n").unwrap();
    t
}

/// dev holds a table of its own and a tag, but no schema yet: `migrate` has work to do and data
/// to protect.
pub fn migrate_template() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    {
        let c = rusqlite::Connection::open(db(t.path())).unwrap();
        c.execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
             INSERT INTO notes (body) SELECT 'note ' || i FROM n;",
        )
        .unwrap();
    }
    must(t.path(), &["env", "set", "dev", "--force"]);
    t
}

fn case(
    r: &mut Report,
    name: &str,
    template: &Path,
    args: &[&str],
    point: Option<&str>,
    destructive: bool,
) {
    // Cases without a named point (the 200k-job seed) run the release binary, which `make test`
    // builds: a debug build would take ~15 s a run. Every kill lands at a random moment.
    let release = point.is_none();
    let cmd = |d: &Path| {
        if release {
            release_cli(d, args)
        } else {
            cli(d, args)
        }
    };
    let old = fingerprint(&db(template)).unwrap();
    let had_backup = !check_backups(&mut Tally::default(), template).is_empty();
    let (new, took) = {
        let d = fresh_copy(template);
        let t0 = std::time::Instant::now();
        let o = cmd(d.path()).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        (fingerprint(&db(d.path())).unwrap(), t0.elapsed())
    };
    let mut t = Tally::default();
    let mut rng = Lcg(name.len() as u64 * 7919);
    // Half the runs (50 by default, see `runs`) abort at the named point, the others are killed.
    let n = runs(50);
    let named = if point.is_some() { n.div_ceil(2) } else { 0 };
    for i in 0..n {
        let d = fresh_copy(template);
        if i < named {
            let o = cli(d.path(), args)
                .env("PIPELINE_DB_FAILPOINT", format!("{}=abort", point.unwrap()))
                .output()
                .unwrap();
            if o.status.success() {
                t.fail(format!("failpoint {} was never reached", point.unwrap()));
            }
        } else {
            let max = (took.as_millis() as u64 * 12 / 10).max(20);
            let delay = Duration::from_millis(rng.next(max));
            let mut child = cmd(d.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let _ = child.kill();
            let _ = child.wait();
        }
        judge(&mut t, d.path(), &old, &new, destructive);
        if had_backup && check_backups(&mut Tally::default(), d.path()).is_empty() {
            t.fail("no verified backup of dev is left, though there was one before");
        }
    }
    r.add(name, t);
}
