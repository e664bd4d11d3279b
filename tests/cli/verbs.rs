//! End-to-end tests of the `pipeline-db` CLI: every verb, the safety rules and their exit codes,
//! on real files in a private data dir per test.

use std::time::{Duration, Instant};

use pipeline_db_e2e::{data_fingerprint, files_under, fingerprint, sha256, Env};

const AS_OF: &str = "2026-06-01";

// ---------- environments and inputs ----------

#[test]
fn unknown_or_malformed_env_is_a_usage_error_and_touches_nothing() {
    let e = Env::new();
    for bad in [
        "staging", "Dev", "../prod", "dev/x", "", "dev prod", "dév", "-x",
    ] {
        for verb in [
            &["reset", bad, "--force"][..],
            &["migrate", bad],
            &["seed", bad],
            &["status", bad],
            &["backup", bad],
        ] {
            let (code, _, err) = e.run(verb);
            assert_eq!(code, 2, "{verb:?}: {err}");
            if bad == "staging" {
                assert!(err.contains("dev, prod, test"), "lists valid envs: {err}");
            }
        }
    }
    assert!(
        files_under(e.data()).is_empty(),
        "no file created: {:?}",
        files_under(e.data())
    );
}

#[test]
fn non_database_files_are_refused_and_left_byte_for_byte() {
    let e = Env::new();
    std::fs::create_dir_all(e.data()).unwrap();
    let random: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    let mut half_header = b"SQLite format 3\0".to_vec();
    half_header.extend_from_slice(&[0u8; 20]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("zero", vec![]),
        ("one", vec![b'\n']),
        ("text", b"id,name\n1,alice\n".repeat(20)),
        ("random", random),
        ("short header", half_header),
    ];
    for (name, bytes) in cases {
        std::fs::write(e.db("dev"), &bytes).unwrap();
        // `reset` is the way out for a damaged file: it keeps a byte-identical evidence copy,
        // then rebuilds (untrusted.rs); every other verb refuses it.
        for verb in [
            &["migrate", "dev"][..],
            &["seed", "dev"],
            &["backup", "dev"],
            &["env", "set", "dev", "--force"],
        ] {
            let (code, _, err) = e.run(verb);
            assert_eq!(code, 5, "{name} {verb:?}: {err}");
            assert!(err.contains("dev.sqlite3"), "names the file: {err}");
        }
        assert_eq!(
            std::fs::read(e.db("dev")).unwrap(),
            bytes,
            "{name} unchanged"
        );
        assert!(
            !e.data().join("backups").exists(),
            "{name}: no backup of a non-database"
        );
    }
}

#[test]
fn status_on_empty_data_dir_creates_nothing() {
    let e = Env::new();
    let out = e.ok(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert!(files_under(e.data()).is_empty());
}

#[test]
fn config_adds_envs_and_protects_them() {
    let e = Env::new();
    std::fs::create_dir_all(e.data()).unwrap();
    std::fs::write(
        e.data().join("pipeline-db.toml"),
        "[envs.staging]\nprotected = true\n",
    )
    .unwrap();
    e.ok(&["migrate", "staging"]);
    let (code, _, err) = e.run(&["seed", "staging"]);
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = e.run(&["reset", "staging", "--force"]);
    assert_eq!(code, 3, "protected: --force alone is not enough: {err}");
    e.ok(&["reset", "staging", "--force", "--confirm-env", "staging"]);
    std::fs::write(
        e.data().join("pipeline-db.toml"),
        "[envs.prod]\nprotected = false\n",
    )
    .unwrap();
    let (code, _, err) = e.run(&["status"]);
    assert_eq!(code, 2, "{err}");
}

// ---------- reset ----------

#[test]
fn reset_creates_a_missing_file_without_backup_and_tags_it() {
    let e = Env::new();
    let plan: serde_json::Value =
        serde_json::from_str(&e.ok(&["reset", "dev", "--dry-run", "--json"])).unwrap();
    assert_eq!(plan["exists"], false);
    assert!(plan["backup"].is_null());
    assert!(!e.db("dev").exists(), "dry run creates nothing");
    e.ok(&["reset", "dev", "--force"]);
    let st: serde_json::Value = serde_json::from_str(&e.ok(&["status", "dev", "--json"])).unwrap();
    assert_eq!(st[0]["identity"]["env"], "dev");
    assert_eq!(
        st[0]["schema_version"],
        pipeline_db_core::schema::migrations::latest_version()
    );
    assert_eq!(st[0]["health"], "ok");
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    let app: i32 = c
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, pipeline_db_core_app_id());
}

fn pipeline_db_core_app_id() -> i32 {
    0x5044_4231
}

#[test]
fn reset_takes_a_verified_backup_equal_to_the_old_database() {
    let e = Env::new();
    e.seeded("dev");
    let old = fingerprint(&e.db("dev"));
    let out: serde_json::Value =
        serde_json::from_str(&e.ok(&["reset", "dev", "--force", "--json"])).unwrap();
    let backup = std::path::PathBuf::from(out["backup"]["path"].as_str().unwrap());
    assert!(
        backup.starts_with(e.data().join("backups/dev")),
        "{backup:?}"
    );
    assert_eq!(
        fingerprint(&backup),
        old,
        "backup holds exactly the old data"
    );
    // The manifest's sha256 is the SQLite content's; the stored (compressed) file has its own.
    let content = pipeline_db_e2e::content(&backup).unwrap();
    assert_eq!(
        sha256(&content.path),
        out["backup"]["sha256"].as_str().unwrap()
    );
    assert_eq!(
        sha256(&backup),
        out["backup"]["stored"]["sha256"].as_str().unwrap()
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.json", backup.display())).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["reason"], "pre-reset");
    assert_eq!(manifest["row_counts"]["jobs"], 300);
    let now = fingerprint(&e.db("dev"));
    assert_eq!(
        now["jobs"].0, 0,
        "reset without sample data empties the tables"
    );
    assert_eq!(
        now["refinery_schema_history"].0,
        pipeline_db_core::schema::migrations::latest_version() as u64
    );
}

#[test]
fn reset_drops_objects_the_tool_does_not_know() {
    let e = Env::new();
    e.seeded("dev");
    {
        let c = rusqlite::Connection::open(e.db("dev")).unwrap();
        c.execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
             INSERT INTO notes (body) VALUES ('keep me in the backup');
             CREATE VIEW v_jobs AS SELECT id FROM jobs;
             CREATE TRIGGER t_notes AFTER INSERT ON notes BEGIN SELECT 1; END;
             CREATE INDEX extra_idx ON jobs (run_name);",
        )
        .unwrap();
    }
    let plan: serde_json::Value =
        serde_json::from_str(&e.ok(&["reset", "dev", "--dry-run", "--json"])).unwrap();
    let tables: Vec<&str> = plan["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(tables.contains(&"notes"), "{tables:?}");
    e.ok(&["reset", "dev", "--force"]);
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    let left: i64 = c
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name IN ('notes','v_jobs','t_notes','extra_idx')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
    let (code, out, _) = e.run(&["migrations", "check", "dev"]);
    assert_eq!(code, 0, "no drift after reset: {out}");
}

#[test]
fn reset_without_tty_and_without_force_refuses_and_changes_nothing() {
    let e = Env::new();
    e.seeded("dev");
    let before = sha256(&e.db("dev"));
    let (code, _, err) = e.run(&["reset", "dev"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(sha256(&e.db("dev")), before);
    assert!(
        !e.data().join("backups/dev").exists()
            || files_under(&e.data().join("backups/dev")).is_empty()
    );
}

#[test]
fn prod_needs_confirm_env_and_never_gets_sample_data() {
    let e = Env::new();
    e.ok(&["migrate", "prod"]);
    let (code, _, err) = e.run(&["reset", "prod", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--confirm-env prod"), "{err}");
    let (code, _, _) = e.run(&["reset", "prod", "--force", "--confirm-env", "dev"]);
    assert_eq!(code, 3, "the wrong name is refused");
    let (code, _, err) = e.run(&[
        "reset",
        "prod",
        "--force",
        "--confirm-env",
        "prod",
        "--with-sample-data",
    ]);
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = e.run(&["seed", "prod"]);
    assert_eq!(code, 3, "{err}");
    e.ok(&["reset", "prod", "--force", "--confirm-env", "prod"]);
    let log = e.ok(&["log", "--env", "prod", "--json"]);
    let entries: serde_json::Value = serde_json::from_str(&log).unwrap();
    let outcomes: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["ok", "refused", "refused", "refused", "refused", "ok"]
    );
}

#[test]
fn a_file_tagged_for_another_env_is_refused() {
    let e = Env::new();
    e.ok(&["migrate", "prod"]);
    std::fs::copy(e.db("prod"), e.db("dev")).unwrap();
    let before = sha256(&e.db("dev"));
    for verb in [
        &["reset", "dev", "--force"][..],
        &["migrate", "dev"],
        &["seed", "dev"],
        &["backup", "dev"],
    ] {
        let (code, _, err) = e.run(verb);
        assert_eq!(code, 3, "{verb:?}: {err}");
        assert!(
            err.contains("is tagged `prod`") && err.contains("env set dev"),
            "{err}"
        );
    }
    assert_eq!(sha256(&e.db("dev")), before);
    // Explicit retag: confirmation + backup, then dev verbs work.
    let (code, _, err) = e.run(&["env", "set", "dev", "--force"]);
    assert_eq!(
        code, 3,
        "taking a file from prod needs the typed name: {err}"
    );
    e.ok(&["env", "set", "dev", "--force", "--confirm-env", "dev"]);
    e.ok(&["seed", "dev", "--jobs", "10", "--as-of", AS_OF]);
    let b = files_under(&e.data().join("backups/dev"));
    assert!(
        b.iter()
            .any(|n| n.contains("pre-retag") && pipeline_db_e2e::is_backup_name(n)),
        "{b:?}"
    );
}

#[test]
fn a_foreign_database_without_tag_is_refused() {
    let e = Env::new();
    std::fs::create_dir_all(e.data()).unwrap();
    {
        let c = rusqlite::Connection::open(e.db("dev")).unwrap();
        c.execute_batch("CREATE TABLE precious (x); INSERT INTO precious VALUES (1);")
            .unwrap();
    }
    let before = sha256(&e.db("dev"));
    let (code, _, err) = e.run(&["reset", "dev", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no pipeline-db environment tag"), "{err}");
    assert_eq!(sha256(&e.db("dev")), before);
}

#[test]
fn an_error_after_the_drop_step_leaves_the_database_as_before() {
    let e = Env::new();
    e.seeded("dev");
    let old = fingerprint(&e.db("dev"));
    let (code, _, err) =
        e.run_with_failpoint(&["reset", "dev", "--force"], "reset:after_drop=error");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("step `drop`") && err.contains("pipeline-db did not change the database"),
        "{err}"
    );
    assert_eq!(fingerprint(&e.db("dev")), old);
    let (code, _, err) =
        e.run_with_failpoint(&["reset", "dev", "--force"], "reset:after_drop=abort");
    assert_ne!(code, 0, "{err}");
    assert_eq!(
        fingerprint(&e.db("dev")),
        old,
        "a crash after the drop loses nothing"
    );
    let ic: String = rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ic, "ok");
}

pub(crate) trait FailpointExt {
    fn run_with_failpoint(&self, args: &[&str], fp: &str) -> (i32, String, String);
}

impl FailpointExt for Env {
    fn run_with_failpoint(&self, args: &[&str], fp: &str) -> (i32, String, String) {
        let out = self
            .cmd()
            .env("PIPELINE_DB_FAILPOINT", fp)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Ctrl-C while a seed inserts: core stops at its next batch and rolls back, the audit log
/// records "cancelled", exit 130, the database holds exactly what it held, no log left beside it.
#[test]
fn ctrl_c_during_a_seed_rolls_it_back_and_is_recorded() {
    let e = Env::new();
    e.seeded("dev");
    let before = fingerprint(&e.db("dev"));
    // The failpoint's warning says the first batch is in and the process is inside the change.
    let (child, err, seen) = pipeline_db_e2e::at_failpoint(
        e.data(),
        "seed:batch=sleep:1500",
        &["seed", "dev", "--jobs", "200000"],
    );
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_eq!(code, Some(130), "{seen}{rest}");
    assert!(rest.contains("cancelled"), "{rest}");
    assert_eq!(fingerprint(&e.db("dev")), before, "rolled back");
    let wal = std::fs::metadata(format!("{}-wal", e.db("dev").display()));
    assert!(wal.map_or(true, |m| m.len() == 0), "no log left beside dev");
    let log = std::fs::read_to_string(e.data().join("audit.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["verb"], "seed");
    assert_eq!(last["outcome"], "cancelled", "{last}");
}

/// Finding 19: a seed is refused before anything is written when the disk cannot hold its rows
/// (about 1.4 KB per job: the log, then the file) and its backup; the figures are in the message.
#[test]
fn a_seed_larger_than_the_free_space_is_refused_at_the_plan() {
    let e = Env::new();
    e.seeded("dev");
    let before = fingerprint(&e.db("dev"));
    let backups = files_under(&e.data().join("backups"));
    let out = e
        .cmd()
        .env("PIPELINE_DB_TEST_FREE_BYTES", "5000000")
        .args(["seed", "dev", "--jobs", "100000", "--dry-run"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("not enough free space") && err.contains("MiB needed (the new rows"),
        "{err}"
    );
    let (code, out, err) = e.run(&["seed", "dev", "--jobs", "100000", "--dry-run", "--json"]);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        plan["space"]["needed_bytes"].as_u64().unwrap() > 140_000_000,
        "{plan}"
    );
    assert_eq!(fingerprint(&e.db("dev")), before);
    assert_eq!(files_under(&e.data().join("backups")), backups);
}

// ---------- locking ----------

#[test]
fn a_database_held_by_another_write_transaction_is_busy_after_the_timeout() {
    let e = Env::new();
    e.seeded("dev");
    let old = fingerprint(&e.db("dev"));
    let holder = rusqlite::Connection::open(e.db("dev")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let t = Instant::now();
    let (code, _, err) = e.run(&["--busy-timeout-ms", "700", "reset", "dev", "--force"]);
    assert_eq!(code, 4, "{err}");
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "waited for the timeout"
    );
    assert!(err.contains("locked by another connection"), "{err}");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(fingerprint(&e.db("dev")), old);
    let backups = files_under(&e.data().join("backups/dev"));
    assert!(
        backups.iter().all(|b| !b.contains("pre-reset")),
        "no backup for an action that never started: {backups:?}"
    );
}

#[test]
fn a_second_pipeline_db_process_waits_then_fails_with_the_owner_pid() {
    let e = Env::new();
    e.seeded("dev");
    let mut slow = e.cmd();
    slow.env("PIPELINE_DB_FAILPOINT", "reset:after_drop=sleep:3000")
        .args(["reset", "dev", "--force"]);
    let mut child = std::process::Command::new(pipeline_db_e2e::bin())
        .args([
            "--data-dir",
            e.data().to_str().unwrap(),
            "reset",
            "dev",
            "--force",
        ])
        .env("PIPELINE_DB_FAILPOINT", "reset:after_drop=sleep:3000")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first process holds the lock.
    let lock = e.data().join("dev.sqlite3.lock");
    let t = Instant::now();
    while std::fs::read_to_string(&lock)
        .map(|s| s.is_empty())
        .unwrap_or(true)
        && t.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, _, err) = e.run(&["--busy-timeout-ms", "300", "migrate", "dev"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains(&format!("pid {}", child.id())), "{err}");
    assert!(child.wait().unwrap().success());
}

// ---------- migrations ----------

#[test]
fn migrate_creates_tags_and_is_idempotent() {
    let e = Env::new();
    let plan: serde_json::Value =
        serde_json::from_str(&e.ok(&["migrate", "test", "--dry-run", "--json"])).unwrap();
    assert_eq!(
        plan["pending"].as_array().unwrap().len() as i64,
        pipeline_db_core::schema::migrations::latest_version()
    );
    assert!(!e.db("test").exists());
    e.ok(&["migrate", "test"]);
    let out = e.ok(&["migrate", "test"]);
    assert!(out.contains("up to date"), "{out}");
    let list: serde_json::Value =
        serde_json::from_str(&e.ok(&["migrations", "list", "test", "--json"])).unwrap();
    assert_eq!(list[0]["state"], "applied");
    assert_eq!(list[0]["checksum"], list[0]["applied_checksum"]);
    let all = e.ok(&["migrations", "list"]);
    assert!(all.contains("pending"), "{all}");
}

#[test]
fn a_tampered_migration_checksum_is_refused_before_any_ddl() {
    let e = Env::new();
    e.seeded("dev");
    {
        let c = rusqlite::Connection::open(e.db("dev")).unwrap();
        c.execute(
            "UPDATE refinery_schema_history SET checksum = '42' WHERE version = 1",
            [],
        )
        .unwrap();
    }
    let old = fingerprint(&e.db("dev"));
    let (code, _, err) = e.run(&["migrate", "dev"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("V1") && err.contains("checksum"), "{err}");
    let (code, _, _) = e.run(&["seed", "dev"]);
    assert_eq!(code, 3);
    assert_eq!(fingerprint(&e.db("dev")), old);
    let list = e.ok(&["migrations", "list", "dev"]);
    assert!(list.contains("DIVERGENT"), "{list}");
}

#[test]
fn drift_is_reported_with_exit_1() {
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    assert_eq!(e.run(&["migrations", "check", "dev"]).0, 0);
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch("DROP INDEX jobs_created; CREATE TABLE scratch (x);")
        .unwrap();
    let (code, out, _) = e.run(&["migrations", "check", "dev"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("missing")
            && out.contains("jobs_created")
            && out.contains("extra")
            && out.contains("scratch"),
        "{out}"
    );
    let (code, json, _) = e.run(&["migrations", "check", "dev", "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["differences"].as_array().unwrap().len(), 2);
}

#[test]
fn migrations_new_creates_the_next_file_and_rejects_bad_names() {
    let e = Env::new();
    let dir = e.data().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("V1__initial.sql"), "-- x\n").unwrap();
    e.ok(&[
        "migrations",
        "new",
        "Add job tags",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let f = dir.join("V2__add_job_tags.sql");
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.starts_with("-- V2__add_job_tags"), "{text}");
    assert!(!text.contains('\r'));
    for bad in ["../evil", "a/b", "drop;table", "", "9lives"] {
        let (code, _, err) = e.run(&["migrations", "new", bad, "--dir", dir.to_str().unwrap()]);
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
    assert_eq!(files_under(&dir).len(), 2);
}

#[test]
fn repository_migrations_are_lf_only_and_gitattributes_keeps_them_so() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let attrs = std::fs::read_to_string(root.join(".gitattributes")).unwrap();
    assert!(
        attrs.lines().any(|l| l.trim() == "*.sql text eol=lf"),
        "{attrs}"
    );
    let mut n = 0;
    for entry in std::fs::read_dir(root.join("migrations")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "sql") {
            n += 1;
            let bytes = std::fs::read(&p).unwrap();
            assert!(!bytes.contains(&b'\r'), "{} contains CR", p.display());
            assert!(
                !bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
                "{} has a BOM",
                p.display()
            );
        }
    }
    assert!(n >= 1);
}

// ---------- seed ----------

#[test]
fn sample_data_is_deterministic_realistic_and_consistent() {
    let (a, b) = (Env::new(), Env::new());
    for e in [&a, &b] {
        e.ok(&[
            "seed",
            "dev",
            "--jobs",
            "2000",
            "--rng-seed",
            "7",
            "--as-of",
            AS_OF,
        ]);
    }
    assert_eq!(
        data_fingerprint(&a.db("dev")),
        data_fingerprint(&b.db("dev")),
        "same seed, same data"
    );
    let c = Env::new();
    c.ok(&[
        "seed",
        "dev",
        "--jobs",
        "2000",
        "--rng-seed",
        "8",
        "--as-of",
        AS_OF,
    ]);
    assert_ne!(
        data_fingerprint(&a.db("dev"))["jobs"],
        data_fingerprint(&c.db("dev"))["jobs"]
    );

    let conn = rusqlite::Connection::open(a.db("dev")).unwrap();
    let fk: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0);
    let roles: i64 = conn
        .query_row("SELECT count(DISTINCT role) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(roles, 3, "every role is covered");
    let statuses: i64 = conn
        .query_row("SELECT count(DISTINCT status) FROM jobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(statuses, 4);
    let names: String = conn
        .query_row("SELECT group_concat(name) FROM pipelines", [], |r| r.get(0))
        .unwrap();
    assert!(
        names.contains("nf-core/rnaseq") && names.contains("nf-core/sarek"),
        "{names}"
    );
    let bad_out: i64 = conn
        .query_row(
            "SELECT count(*) FROM jobs WHERE output_dir IS NOT NULL AND started_at IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bad_out, 0);
    let params_ok: i64 = conn
        .query_row("SELECT count(*) FROM jobs WHERE json_extract(params, '$.input') LIKE 's3://%' AND json_extract(params, '$.genome') IS NOT NULL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(params_ok, 2000);
    let span: (String, String) = conn
        .query_row(
            "SELECT min(created_at), max(created_at) FROM jobs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        span.0.as_str() >= "2026-03-03" && span.1.as_str() < "2026-06-01",
        "{span:?}"
    );
    let hash: String = conn
        .query_row(
            "SELECT hashed_password FROM users WHERE username = 'admin'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(
        pipeline_db_core::schema::sample::verify_password("admin-demo-pass", &hash),
        "documented demo login works"
    );
}

#[test]
fn reseeding_with_the_same_seed_adds_nothing() {
    let e = Env::new();
    e.ok(&["seed", "dev", "--jobs", "500", "--as-of", AS_OF]);
    let before = data_fingerprint(&e.db("dev"));
    let out: serde_json::Value =
        serde_json::from_str(&e.ok(&["seed", "dev", "--jobs", "500", "--as-of", AS_OF, "--json"]))
            .unwrap();
    assert_eq!(out["counts"]["jobs_inserted"], 0);
    assert_eq!(out["counts"]["users_inserted"], 0);
    assert!(
        out["backup"]["path"].is_string(),
        "seeding a database with data is preceded by a backup"
    );
    assert_eq!(data_fingerprint(&e.db("dev")), before);
}

#[test]
fn the_schema_enforces_the_model_rules() {
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch("PRAGMA foreign_keys=ON").unwrap();
    c.execute_batch("INSERT INTO users (username,email,hashed_password,role) VALUES ('a','a@x.org','$argon2id$x','admin');
                     INSERT INTO pipelines (name, config) VALUES ('p', '{}');").unwrap();
    let bad = [
        "INSERT INTO users (username,email,hashed_password,role) VALUES ('b','b@x.org','$argon2id$x','root')",
        "INSERT INTO users (username,email,hashed_password,role) VALUES ('A','c@x.org','$argon2id$x','viewer')",
        "INSERT INTO pipelines (name, config) VALUES ('q', 'not json')",
        "INSERT INTO jobs (session_id,run_name,user_id,pipeline_id,status) VALUES ('00000000-0000-0000-0000-000000000001','r',99,1,'pending')",
        "INSERT INTO jobs (session_id,run_name,user_id,pipeline_id,status) VALUES ('00000000-0000-0000-0000-000000000002','r',1,1,'done')",
        "INSERT INTO jobs (session_id,run_name,user_id,pipeline_id,status,created_at) VALUES ('00000000-0000-0000-0000-000000000003','r',1,1,'running','2026-01-01T00:00:00Z')",
        "INSERT INTO jobs (session_id,run_name,user_id,pipeline_id,status,created_at,started_at,completed_at) VALUES ('00000000-0000-0000-0000-000000000004','r',1,1,'completed','2026-01-02T00:00:00Z','2026-01-01T00:00:00Z','2026-01-03T00:00:00Z')",
        "INSERT INTO jobs (session_id,run_name,user_id,pipeline_id,status,created_at,completed_at) VALUES ('00000000-0000-0000-0000-000000000005','r',1,1,'failed','2026-01-02T00:00:00Z','2026-01-03T00:00:00Z')",
        "INSERT INTO jobs (session_id,run_name,user_id,pipeline_id,status,output_dir) VALUES ('00000000-0000-0000-0000-000000000006','r',1,1,'pending','/x')",
        "INSERT INTO jobs (session_id,run_name,user_id,pipeline_id,status,created_at) VALUES ('00000000-0000-0000-0000-000000000007','r',1,1,'pending','yesterday')",
    ];
    for sql in bad {
        assert!(c.execute(sql, []).is_err(), "accepted: {sql}");
    }
    c.execute("INSERT INTO jobs (session_id,run_name,user_id,pipeline_id,status,created_at,started_at,completed_at,output_dir) VALUES ('00000000-0000-0000-0000-000000000008','r',1,1,'completed','2026-01-01T00:00:00Z','2026-01-01T00:10:00Z','2026-01-01T03:00:00Z','/out')", []).unwrap();
}

// ---------- status, backup, log ----------

#[test]
fn status_backup_and_log_report_what_happened() {
    let e = Env::new();
    e.seeded("dev");
    let rec: serde_json::Value =
        serde_json::from_str(&e.ok(&["backup", "dev", "--label", "before demo", "--json"]))
            .unwrap();
    assert_eq!(rec["reason"], "manual");
    assert_eq!(rec["label"], "before demo");
    let export = e.data().join("export.sqlite3");
    e.ok(&["backup", "dev", "--output", export.to_str().unwrap()]);
    assert_eq!(data_fingerprint(&export), data_fingerprint(&e.db("dev")));
    let (code, _, err) = e.run(&["backup", "dev", "--output", export.to_str().unwrap()]);
    assert_eq!(code, 3, "an existing export is never overwritten: {err}");
    let st: serde_json::Value = serde_json::from_str(&e.ok(&["status", "--json"])).unwrap();
    let dev = st
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["env"] == "dev")
        .unwrap();
    assert_eq!(dev["row_counts"]["jobs"], 300);
    assert_eq!(dev["sample_data"], true);
    assert_eq!(dev["last_action"], "reset");
    assert!(dev["last_backup"]["path"].is_string());
    let log: serde_json::Value = serde_json::from_str(&e.ok(&["log", "--json"])).unwrap();
    let verbs: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["verb"].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["reset", "backup", "backup", "backup"]);
    for entry in log.as_array().unwrap() {
        for k in [
            "time",
            "user",
            "env",
            "file",
            "verb",
            "summary",
            "outcome",
            "duration_ms",
        ] {
            assert!(!entry[k].is_null(), "{k} in {entry}");
        }
    }
    let human = e.ok(&["status"]);
    assert!(human.contains("prod [PROTECTED]"), "{human}");
    let list = e.ok(&["backups", "list", "dev"]);
    assert!(list.contains("manual"), "{list}");
}

#[test]
fn json_errors_go_to_stdout_as_json_and_messages_to_stderr() {
    let e = Env::new();
    let (code, out, err) = e.run(&["reset", "nope", "--json", "--force"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["kind"], "invalid_env");
    assert!(err.contains("unknown environment"));
}

// ---------- the platform's reset_db.sh ----------

#[test]
fn reset_db_sh_keeps_the_platform_interface() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let script = root.join("scripts/reset_db.sh");
    let e = Env::new();
    let run = |args: &[&str]| {
        std::process::Command::new("bash")
            .arg(&script)
            .args(args)
            .env("PIPELINE_DB_BIN", pipeline_db_e2e::bin())
            .env("PIPELINE_DB_HOME", e.data())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    assert_eq!(run(&["staging"]).status.code(), Some(2));
    assert_eq!(run(&["dev", "--yes"]).status.code(), Some(2));
    let two = run(&["dev", "prod"]);
    assert_eq!(two.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&two.stderr).contains("one environment at a time"));
    // No environment: dev, as on the platform (and still confirmed: no TTY, no --force, refused).
    let none = run(&[]);
    assert_eq!(none.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no environment given: dev"));
    assert_eq!(
        run(&["dev"]).status.code(),
        Some(3),
        "no TTY and no --force: refused, never hangs"
    );
    assert!(!e.db("dev").exists());
    let out = run(&["dev", "--force", "--with-sample-data"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fingerprint(&e.db("dev"))["jobs"].0,
        500,
        "the default sample"
    );
    assert_eq!(run(&["dev", "--force"]).status.code(), Some(0));
    assert_eq!(fingerprint(&e.db("dev"))["jobs"].0, 0);
    // A flag given twice means what it means once; no environment is dev.
    let twice = run(&[
        "--with-sample-data",
        "--force",
        "--force",
        "--with-sample-data",
    ]);
    assert_eq!(
        twice.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
    assert_eq!(fingerprint(&e.db("dev"))["jobs"].0, 500);
    assert_eq!(
        run(&["prod", "--force"]).status.code(),
        Some(3),
        "prod: --force is never enough"
    );
    let sample = run(&["prod", "--with-sample-data", "--force"]);
    assert_eq!(sample.status.code(), Some(3));
    // The typed-name hint only where the name was the reason.
    assert!(!String::from_utf8_lossy(&sample.stderr).contains("on a terminal and type"));
    // Not found: a clear message, no build started.
    let lone = tempfile::TempDir::new().unwrap();
    std::fs::copy(&script, lone.path().join("reset_db.sh")).unwrap();
    // A PATH with only the tools the script uses (an installed pipeline-db is not on it).
    let tools = lone.path().join("bin");
    std::fs::create_dir(&tools).unwrap();
    for t in ["basename", "dirname"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(t))
            .find(|p| p.exists());
        std::os::unix::fs::symlink(found.unwrap(), tools.join(t)).unwrap();
    }
    let out = std::process::Command::new("/bin/bash")
        .arg(lone.path().join("reset_db.sh"))
        .args(["dev", "--force"])
        .env("PATH", &tools)
        .env_remove("PIPELINE_DB_BIN")
        .env("PIPELINE_DB_HOME", e.data())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pipeline-db not found"));
    // Through a symlink where the platform keeps it (backend/scripts/reset_db.sh): the script
    // finds this checkout's build from its own place, not the link's (review 22).
    let platform = tempfile::TempDir::new().unwrap();
    let scripts = platform.path().join("backend/scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::os::unix::fs::symlink(&script, scripts.join("reset_db.sh")).unwrap();
    let readlink = ["/usr/bin/readlink", "/bin/readlink"]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap();
    std::os::unix::fs::symlink(readlink, tools.join("readlink")).unwrap();
    let out = std::process::Command::new("/bin/bash")
        .arg("./backend/scripts/reset_db.sh")
        .args(["test", "--force"])
        .current_dir(platform.path())
        .env("PATH", &tools)
        .env_remove("PIPELINE_DB_BIN")
        .env("PIPELINE_DB_HOME", e.data())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------- interactive confirmation through a real terminal ----------

pub(crate) fn spawn_pty(e: &Env, args: &str) -> expectrl::Session {
    let cmd = format!(
        "{} --data-dir {} {args}",
        pipeline_db_e2e::bin().display(),
        e.data().display()
    );
    let mut p = expectrl::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(20)));
    p
}

pub(crate) fn exit_code(p: &mut expectrl::Session) -> i32 {
    use expectrl::WaitStatus;
    match p.get_process().wait().unwrap() {
        WaitStatus::Exited(_, c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn prod_reset_asks_for_the_typed_env_name_on_a_terminal() {
    let e = Env::new();
    e.ok(&["migrate", "prod"]);
    e.ok(&["backup", "prod"]);
    // --force alone on a terminal still asks for the name.
    let mut p = spawn_pty(&e, "reset prod --force");
    p.expect("Type `prod` to reset it").unwrap();
    p.send_line("dev").unwrap();
    p.expect("nothing was changed").unwrap();
    assert_eq!(exit_code(&mut p), 130);
    let mut p = spawn_pty(&e, "reset prod");
    p.expect("will drop").unwrap();
    p.expect("Type `prod` to reset it").unwrap();
    p.send_line("prod").unwrap();
    p.expect("Reset prod").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    let log = e.ok(&["log", "--env", "prod", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&log).unwrap();
    let last = v.as_array().unwrap().last().unwrap();
    assert_eq!(last["verb"], "reset");
    assert_eq!(last["outcome"], "ok");
    assert!(last["backup"].as_str().unwrap().contains("pre-reset"));
}

#[test]
fn dev_reset_asks_yes_or_no_and_no_cancels_with_130() {
    let e = Env::new();
    e.seeded("dev");
    let old = fingerprint(&e.db("dev"));
    let mut p = spawn_pty(&e, "reset dev");
    p.expect("reset dev? [y/N]").unwrap();
    p.send_line("").unwrap();
    assert_eq!(exit_code(&mut p), 130);
    assert_eq!(fingerprint(&e.db("dev")), old);
    let log: serde_json::Value =
        serde_json::from_str(&e.ok(&["log", "--env", "dev", "--json"])).unwrap();
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["verb"].as_str(), last["outcome"].as_str()),
        (Some("reset"), Some("cancelled"))
    );
    let mut p = spawn_pty(
        &e,
        "reset dev --with-sample-data --jobs 50 --as-of 2026-06-01",
    );
    p.expect("[y/N]").unwrap();
    p.send_line("y").unwrap();
    p.expect("Reset dev").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(fingerprint(&e.db("dev"))["jobs"].0, 50);
}

// ---------- findings of the review ----------

#[test]
fn a_leftover_wal_beside_a_missing_database_is_never_applied_to_a_new_one() {
    let e = Env::new();
    e.seeded("dev");
    {
        // Another process commits deletes into the WAL and dies without a checkpoint.
        let c = rusqlite::Connection::open(e.db("dev")).unwrap();
        c.execute_batch("PRAGMA wal_autocheckpoint=0; DELETE FROM jobs;")
            .unwrap();
        let wal = format!("{}-wal", e.db("dev").display());
        std::fs::copy(&wal, e.data().join("saved-wal")).unwrap();
        drop(c);
        std::fs::copy(e.data().join("saved-wal"), &wal).unwrap();
    }
    std::fs::remove_file(e.db("dev")).unwrap();
    let wal = std::path::PathBuf::from(format!("{}-wal", e.db("dev").display()));
    let wal_bytes = std::fs::read(&wal).unwrap();
    assert!(!wal_bytes.is_empty());
    for verb in [
        &["reset", "dev", "--force"][..],
        &["migrate", "dev"],
        &["seed", "dev"],
    ] {
        let (code, _, err) = e.run(verb);
        assert_eq!(code, 3, "{verb:?}: {err}");
        assert!(
            err.contains("-wal") && err.contains("last commits"),
            "{err}"
        );
        assert!(!e.db("dev").exists());
        assert_eq!(std::fs::read(&wal).unwrap(), wal_bytes, "the WAL is kept");
    }
    std::fs::write(&wal, b"").unwrap();
    e.ok(&["reset", "dev", "--force"]);
    assert!(e.run(&["check", "dev"]).0 == 0, "a fresh, healthy database");
}

#[test]
fn an_unwritable_audit_log_stops_the_action_before_any_change() {
    let e = Env::new();
    e.seeded("dev");
    let old = fingerprint(&e.db("dev"));
    std::fs::rename(e.data().join("audit.jsonl"), e.data().join("audit.old")).unwrap();
    std::fs::create_dir(e.data().join("audit.jsonl")).unwrap();
    let backups_before = files_under(&e.data().join("backups"));
    let (code, _, err) = e.run(&["reset", "dev", "--force"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("audit.jsonl"), "{err}");
    assert_eq!(fingerprint(&e.db("dev")), old);
    assert_eq!(
        files_under(&e.data().join("backups")),
        backups_before,
        "no backup either"
    );
}

#[cfg(unix)] // symlinks, modes
#[test]
fn lock_and_log_files_are_never_followed_through_symlinks() {
    let e = Env::new();
    e.seeded("dev");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let lock = e.data().join("dev.sqlite3.lock");
    std::fs::remove_file(&lock).ok();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let (code, _, err) = e.run(&["migrate", "dev"]);
    assert_ne!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    std::fs::remove_file(&lock).unwrap();
    let ledger = e.data().join("backups/ledger.jsonl");
    std::fs::create_dir_all(e.data().join("backups")).unwrap();
    std::fs::remove_file(&ledger).ok();
    std::os::unix::fs::symlink(&victim, &ledger).unwrap();
    let (code, _, err) = e.run(&["backup", "dev"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("ledger.jsonl is a symbolic link") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // Refused before the copy: no backup exists that the ledger does not list.
    assert_eq!(
        std::fs::read_dir(e.data().join("backups/dev"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
    std::fs::remove_file(&ledger).unwrap();
    let audit = e.data().join("audit.jsonl");
    std::fs::remove_file(&audit).unwrap();
    std::os::unix::fs::symlink(&victim, &audit).unwrap();
    let (code, _, err) = e.run(&["backup", "dev"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("audit.jsonl is a symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

#[test]
fn seed_dates_out_of_range_are_usage_errors_not_panics() {
    let e = Env::new();
    for bad in ["0001-01-01", "1970-01-01", "2026-13-01", "yesterday"] {
        let (code, _, err) = e.run(&["seed", "dev", "--as-of", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
    }
    assert!(!e.db("dev").exists());
}

#[test]
fn an_export_never_lands_on_a_live_database() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["migrate", "prod"]);
    let prod = fingerprint(&e.db("prod"));
    std::fs::remove_file(e.db("prod")).ok();
    for target in [e.db("prod"), e.data().join("dev.sqlite3-wal")] {
        let (code, _, err) = e.run(&["backup", "dev", "--output", target.to_str().unwrap()]);
        assert_eq!(code, 3, "{err}");
    }
    assert!(!e.db("prod").exists());
    let _ = prod;
}

#[test]
fn check_reports_a_drifted_job_summary_and_migrations_repair_rebuilds_it() {
    let e = Env::new();
    e.seeded("dev");
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch(
            "UPDATE job_daily_stats SET jobs = jobs + 1
             WHERE day = (SELECT min(day) FROM job_daily_stats)",
        )
        .unwrap();
    let (code, out, err) = e.run(&["check", "dev"]);
    let all = format!("{out}{err}");
    assert_eq!(code, 1, "{all}");
    assert!(
        all.contains("job_summary") && all.contains("migrations repair dev"),
        "{all}"
    );
    let out = e.ok(&["migrations", "repair", "dev", "--force"]);
    assert!(out.contains("rebuilt its job summary"), "{out}");
    let (code, out, err) = e.run(&["check", "dev"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("job_daily_stats matches"), "{out}");
}

/// A check after the commit that fails (here injected; another program writing between the commit
/// and the check does the same) never says "nothing was changed": the change is in the database,
/// the message and the audit line name the pre-action backup, and undo restores it.
#[test]
fn a_check_failing_after_the_commit_says_the_change_is_in_and_undo_restores_its_backup() {
    let e = Env::new();
    e.seeded("dev");
    let before = data_fingerprint(&e.db("dev"));
    let args = [
        "reset",
        "dev",
        "--force",
        "--with-sample-data",
        "--jobs",
        "50",
    ];
    let (code, _, err) = e.run_with_failpoint(&args, "ritual:check_after=error");
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("was committed"), "{err}");
    assert!(!err.contains("nothing was changed"), "{err}");
    assert!(
        err.contains("pre-reset") && err.contains("pipeline-db undo dev"),
        "{err}"
    );
    let jobs: i64 = rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(jobs, 50, "the reset is in the database");
    let log: serde_json::Value =
        serde_json::from_str(&e.ok(&["log", "--env", "dev", "--json"])).unwrap();
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["outcome"], "committed, check failed", "{last}");
    assert!(
        last["backup"].as_str().unwrap().contains("pre-reset"),
        "{last}"
    );
    // Undo's target is that backup; what the change left was recorded, so a y/N (--force) is
    // enough while nothing changed since.
    e.ok(&["undo", "dev", "--force"]);
    assert_eq!(
        data_fingerprint(&e.db("dev")),
        before,
        "undo brought the old rows back"
    );
}

/// Undo confirmed on a plan that said "unchanged since the action" is refused when another program
/// changed the database before it ran (a count-preserving UPDATE here): that change needs the name
/// typed, on a plan that names it. Nothing is restored.
#[test]
fn undo_refuses_a_change_made_after_its_plan_said_unchanged() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["seed", "dev", "--jobs", "6", "--rng-seed", "7"]);
    let (child, err, _) = pipeline_db_e2e::at_failpoint(
        e.data(),
        "undo:before_execute=sleep:3000",
        &["undo", "dev", "--force"],
    );
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute(
            "UPDATE users SET email = 'changed@example.org' WHERE username = 'admin'",
            [],
        )
        .unwrap();
    let after_edit = data_fingerprint(&e.db("dev"));
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_eq!(code, Some(3), "{rest}");
    assert!(rest.contains("changed since"), "{rest}");
    assert!(
        rest.contains("users"),
        "the plan names what changed: {rest}"
    );
    assert_eq!(
        data_fingerprint(&e.db("dev")),
        after_edit,
        "nothing restored"
    );
}

/// The env's lock is let go only after the action's audit line is written: another process cannot
/// act on the env (a retention pass reading undo's target from the log) in between.
#[test]
fn the_env_lock_is_held_until_the_audit_line_is_written() {
    let e = Env::new();
    e.seeded("dev");
    let (child, err, _) = pipeline_db_e2e::at_failpoint(
        e.data(),
        "audit:before_line=sleep:3000",
        &["seed", "dev", "--jobs", "5"],
    );
    let (code, _, msg) = e.run(&["--busy-timeout-ms", "300", "seed", "dev", "--jobs", "1"]);
    assert_eq!(
        code, 4,
        "still locked while the first seed's line is written: {msg}"
    );
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_eq!(code, Some(0), "{rest}");
    e.ok(&["seed", "dev", "--jobs", "1"]);
}

/// Undo confirmed (name typed) on a plan that named the changes since the action: a further change
/// made while it waited is one the plan did not name, so it is refused too; nothing is restored.
#[test]
fn undo_refuses_a_change_made_after_a_plan_that_named_other_changes() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["seed", "dev", "--jobs", "6", "--rng-seed", "7"]);
    let db = || rusqlite::Connection::open(e.db("dev")).unwrap();
    db().execute("UPDATE users SET role = 'viewer' WHERE id = 1", [])
        .unwrap();
    let (child, err, _) = pipeline_db_e2e::at_failpoint(
        e.data(),
        "undo:before_execute=sleep:3000",
        &["undo", "dev", "--force", "--confirm-env", "dev"],
    );
    db().execute(
        "UPDATE pipelines SET description = 'IMPORTANT' WHERE id = 1",
        [],
    )
    .unwrap();
    let after_edit = data_fingerprint(&e.db("dev"));
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_eq!(code, Some(3), "{rest}");
    assert!(rest.contains("changed since the plan was shown"), "{rest}");
    assert_eq!(
        data_fingerprint(&e.db("dev")),
        after_edit,
        "nothing restored"
    );
    // Planned again, it names both and runs.
    e.ok(&["undo", "dev", "--force", "--confirm-env", "dev"]);
}

/// A change that fails after its pre-action backup was made (rolled back) says the database was
/// not changed and names the backup it kept (a new file in the backup dir), as its audit line does;
/// a backup whose manifest cannot be written is removed, so "nothing was changed" is then true.
#[test]
fn a_failure_after_the_backup_names_the_backup_it_kept() {
    let e = Env::new();
    e.seeded("dev");
    let before = fingerprint(&e.db("dev"));
    let backups = || {
        std::fs::read_dir(e.data().join("backups/dev"))
            .map(|d| {
                d.flatten()
                    .map(|f| f.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_else(|_| Vec::<String>::new())
    };
    let cases = [
        (
            vec!["seed", "dev", "--jobs", "5"],
            "seed:batch=error",
            "pre-seed",
        ),
        (
            vec!["reset", "dev", "--force"],
            "reset:after_drop=error",
            "pre-reset",
        ),
    ];
    for (args, fp, reason) in cases {
        let (code, _, err) = e.run_with_failpoint(&args, fp);
        assert_ne!(code, 0, "{fp}");
        assert!(!err.contains("nothing was changed"), "{fp}: {err}");
        assert!(
            err.contains("pipeline-db did not change the database"),
            "{fp}: {err}"
        );
        assert!(
            err.contains(reason)
                && err.contains("stays (it holds the database as it was before this action)"),
            "{fp}: {err}"
        );
        assert_eq!(fingerprint(&e.db("dev")), before, "{fp}");
        let log: serde_json::Value =
            serde_json::from_str(&e.ok(&["log", "--env", "dev", "--json"])).unwrap();
        let last = log.as_array().unwrap().last().unwrap().clone();
        assert!(last["backup"].as_str().unwrap().contains(reason), "{last}");
        assert!(
            backups().iter().any(|n| n.contains(reason)),
            "{:?}",
            backups()
        );
    }
    // The restore's copy failing after its pre-restore backup.
    let b = e.data().join("older.sqlite3");
    e.ok(&["backup", "dev", "--output", b.to_str().unwrap()]);
    for fp in ["restore:mid_copy=error", "restore:before_copy=error"] {
        let (_, _, err) =
            e.run_with_failpoint(&["restore", "dev", b.to_str().unwrap(), "--force"], fp);
        assert!(!err.contains("nothing was changed"), "{fp}: {err}");
        assert!(
            err.contains("pipeline-db did not change the database"),
            "{fp}: {err}"
        );
    }
    let (_, _, err) = e.run_with_failpoint(
        &["restore", "dev", b.to_str().unwrap(), "--force"],
        "restore:mid_copy=error",
    );
    assert!(!err.contains("nothing was changed"), "{err}");
    assert!(
        err.contains("stays (it holds the database as it was before this action)"),
        "{err}"
    );
    // No manifest, no backup: the placed file is removed and the claim is true again.
    let n = backups().len();
    let (code, _, err) =
        e.run_with_failpoint(&["seed", "dev", "--jobs", "5"], "backup:manifest=error");
    assert_ne!(code, 0);
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(backups().len(), n, "no stray backup: {:?}", backups());
    assert_eq!(fingerprint(&e.db("dev")), before);
}

/// The audit line of a seed says what it added, not what it was asked for (review 25: a seed
/// that added nothing was logged — and offered for undo — as "seed 6 users / 20 pipelines / 500
/// jobs").
#[test]
fn a_seed_is_logged_with_what_it_really_added() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["seed", "dev"]);
    let log: serde_json::Value =
        serde_json::from_str(&e.ok(&["log", "--env", "dev", "--json"])).unwrap();
    let last = log.as_array().unwrap().last().unwrap();
    let summary = last["summary"].as_str().unwrap();
    assert!(
        summary.contains("0 jobs added") && summary.contains("already there"),
        "{summary}"
    );
}
