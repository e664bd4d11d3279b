//! Case 1: kill -9 at random moments and abort at named points, during reset, backup, migrate and a
//! 200k-job seed (restore: see restore.rs).

use std::path::Path;
use std::time::Duration;

use super::*;

pub fn all(r: &mut Report) {
    let seeded = seeded_template(300);
    let reset = [
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
    case(
        r,
        "kill -9 during reset",
        seeded.path(),
        &reset,
        Some("reset:after_drop"),
        true,
    );
    case(
        r,
        "kill -9 during backup",
        seeded.path(),
        &["backup", "dev"],
        Some("backup:mid_copy"),
        false,
    );
    let m = migrate_template();
    case(
        r,
        "kill -9 during migrate",
        m.path(),
        &["migrate", "dev"],
        Some("migrate:before_commit"),
        true,
    );
    let seed = [
        "seed",
        "dev",
        "--jobs",
        "200000",
        "--rng-seed",
        "5",
        "--as-of",
        AS_OF,
    ];
    case(
        r,
        "kill -9 during a 200k-job seed",
        seeded.path(),
        &seed,
        None,
        false,
    );
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
    let (new, took) = {
        let d = fresh_copy(template);
        let t0 = std::time::Instant::now();
        let o = cmd(d.path()).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        (fingerprint(&db(d.path())).unwrap(), t0.elapsed())
    };
    let mut t = Tally::default();
    let mut rng = Lcg(name.len() as u64 * 7919);
    let named = if point.is_some() { 25 } else { 0 };
    for i in 0..50 {
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
    }
    r.add(name, t);
}
