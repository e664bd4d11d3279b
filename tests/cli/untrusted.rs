//! Inputs pipeline-db did not make (issue 11): restore sources from elsewhere, odd env paths,
//! symlinked and hard-linked files, a damaged audit log, numbers out of range. Each refusal is
//! checked to have changed nothing.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pipeline_db_e2e::{fingerprint, Env};

use crate::verbs::FailpointExt;

/// A copy of dev (no manifest: a file "from elsewhere"), edited with `sql` through a plain
/// SQLite connection.
fn edited_copy(e: &Env, name: &str, sql: &str) -> PathBuf {
    let out = e.data().join(name);
    e.ok(&["backup", "dev", "--output", out.to_str().unwrap()]);
    std::fs::remove_file(pipeline_db_core::backups::record::manifest_path(&out)).unwrap();
    let c = rusqlite::Connection::open(&out).unwrap();
    c.execute_batch(sql).unwrap();
    drop(c);
    out
}

fn backups_of(e: &Env, env: &str) -> usize {
    std::fs::read_dir(e.data().join("backups").join(env))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn refuses_restore(e: &Env, file: &Path, code: i32, needle: &str) {
    let before = fingerprint(&e.db("dev"));
    let backups = backups_of(e, "dev");
    let (got, _, err) = e.run(&["restore", "dev", file.to_str().unwrap(), "--force"]);
    assert_eq!(got, code, "{}: {err}", file.display());
    assert!(err.contains(needle), "{}: {err}", file.display());
    assert_eq!(
        err.matches("nothing was changed").count(),
        1,
        "said once: {err}"
    );
    assert_eq!(fingerprint(&e.db("dev")), before, "{}", file.display());
    assert_eq!(backups_of(e, "dev"), backups, "no pre-restore backup taken");
}

#[test]
fn a_restore_source_with_a_foreign_schema_is_refused_and_nothing_changes() {
    let e = Env::new();
    e.seeded("dev");
    let cases = [
        (
            "trigger.sqlite3",
            "CREATE TRIGGER evil AFTER UPDATE ON pipeline_db_meta BEGIN UPDATE users SET role = 'admin'; DELETE FROM job_daily_stats; END;",
            "extra trigger `evil`",
        ),
        (
            "view.sqlite3",
            "CREATE VIEW v AS SELECT 1;",
            "extra view `v`",
        ),
        // Found by `make fuzz`: the table an automatic index is recorded for, edited (and with
        // bytes that are not UTF-8) — SQLite does not mind, our schema check must.
        (
            "autoindex.sqlite3",
            "PRAGMA writable_schema=ON; UPDATE sqlite_schema SET tbl_name = 'jo~s' WHERE name = 'sqlite_autoindex_jobs_1';",
            "changed index `sqlite_autoindex_jobs_1`",
        ),
        (
            "autoindex_bytes.sqlite3",
            "PRAGMA writable_schema=ON; UPDATE sqlite_schema SET tbl_name = CAST(x'6a6fff73' AS TEXT) WHERE name = 'sqlite_autoindex_jobs_1';",
            "changed index `sqlite_autoindex_jobs_1`",
        ),
        (
            "column.sqlite3",
            "ALTER TABLE users ADD COLUMN notes TEXT;",
            "changed table `users`",
        ),
        (
            "index.sqlite3",
            "DROP INDEX jobs_created;",
            "missing index `jobs_created`",
        ),
        (
            "jobs-view.sqlite3",
            "PRAGMA foreign_keys=OFF; DROP TRIGGER job_daily_stats_insert; DROP TRIGGER job_daily_stats_delete; DROP TRIGGER job_daily_stats_update; DROP TABLE jobs; CREATE VIEW jobs AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT i AS id FROM r;",
            "jobs",
        ),
        (
            "history.sqlite3",
            "UPDATE refinery_schema_history SET checksum = '123' WHERE version = 1;",
            "V1 `initial` recorded with another checksum",
        ),
    ];
    for (name, sql, needle) in cases {
        let f = edited_copy(&e, name, sql);
        refuses_restore(&e, &f, 3, needle);
        let (code, out, _) = e.run(&["backups", "verify", f.to_str().unwrap(), "--json"]);
        assert_eq!(code, 1, "backups verify says it failed: {out}");
    }
}

#[test]
fn a_restore_source_breaking_a_check_constraint_is_refused_before_the_live_file_is_touched() {
    let e = Env::new();
    e.seeded("dev");
    let f = edited_copy(
        &e,
        "weird.sqlite3",
        "PRAGMA ignore_check_constraints=ON; UPDATE jobs SET status = 'weird' WHERE id = 1;",
    );
    refuses_restore(&e, &f, 1, "failed verification");
    refuses_verify(&e, &f, "CHECK constraint failed in jobs");
}

#[test]
fn a_restore_source_breaking_a_foreign_key_is_refused_and_fails_verification() {
    let e = Env::new();
    e.seeded("dev");
    let f = edited_copy(
        &e,
        "orphan.sqlite3",
        "PRAGMA foreign_keys=OFF; UPDATE jobs SET user_id = 999 WHERE id = 1;",
    );
    refuses_restore(&e, &f, 1, "rows that break a foreign key: jobs row 1");
    refuses_verify(&e, &f, "rows that break a foreign key");
}

/// Text that is not UTF-8 (SQLite stores the bytes as they come; every reader fails on them
/// later) in a file without our manifest: refused by restore and by `backups verify`.
#[test]
fn a_restore_source_with_text_that_is_not_utf8_is_refused() {
    let e = Env::new();
    e.seeded("dev");
    let f = edited_copy(
        &e,
        "latin1.sqlite3",
        "UPDATE jobs SET error_message = CAST(x'4361666ee9' AS TEXT), status = 'failed', completed_at = coalesce(completed_at, created_at) WHERE id = 1;",
    );
    refuses_restore(
        &e,
        &f,
        1,
        "column error_message holds text that is not UTF-8",
    );
    refuses_verify(&e, &f, "not UTF-8");
}

/// Found by `make fuzz` (mutant #917, a bit flipped in a day of the job summary): a file without
/// our manifest whose job summary no longer matches its jobs is refused, not restored for `check`
/// to report afterwards.
#[test]
fn a_restore_source_whose_job_summary_does_not_match_its_jobs_is_refused() {
    let e = Env::new();
    e.seeded("dev");
    let f = edited_copy(
        &e,
        "summary.sqlite3",
        "UPDATE job_daily_stats SET day = '2426' || substr(day, 5) WHERE (day, pipeline_id, status) = (SELECT day, pipeline_id, status FROM job_daily_stats LIMIT 1);",
    );
    refuses_restore(&e, &f, 1, "job summary differs from a recount of its jobs");
    refuses_verify(&e, &f, "job summary differs");
}

/// `backups verify FILE` of a file without a manifest: FAILED with `needle`, exit 1, the file's
/// bytes unchanged and no private copy left in the data dir.
fn refuses_verify(e: &Env, file: &Path, needle: &str) {
    let bytes = std::fs::read(file).unwrap();
    let root = e.data().join("backups");
    let listing = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|x| x.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "verifications.jsonl")
            .collect();
        v.sort();
        v
    };
    let before = listing(&root);
    let (code, out, err) = e.run(&["backups", "verify", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("FAILED") && out.contains(needle), "{out}");
    assert_eq!(
        std::fs::read(file).unwrap(),
        bytes,
        "the file was only read"
    );
    assert_eq!(listing(&root), before, "no private copy left behind");
}

#[cfg(target_os = "linux")]
#[test]
fn env_paths_that_are_not_regular_files_are_refused_before_any_open() {
    let e = Env::new();
    e.seeded("dev");
    let b = e.data().join("b.sqlite3");
    e.ok(&["backup", "dev", "--output", b.to_str().unwrap()]);
    let fifo = e.data().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path we own.
    assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o600) }, 0);
    let dir = e.data().join("adir");
    std::fs::create_dir(&dir).unwrap();
    for (what, path) in [
        ("FIFO", fifo.as_path()),
        ("directory", dir.as_path()),
        ("device", Path::new("/dev/zero")),
    ] {
        let cfg = e.data().join("pipeline-db.toml");
        std::fs::write(
            &cfg,
            format!("[envs.test]\npath = \"{}\"\n", path.display()),
        )
        .unwrap();
        for args in [
            &["check", "test"][..],
            &["restore", "test", b.to_str().unwrap(), "--force"][..],
            &["reset", "test", "--force"][..],
        ] {
            let started = Instant::now();
            let (code, _, err) = e.run(args);
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{what} {args:?} hung"
            );
            assert_eq!(code, 3, "{what} {args:?}: {err}");
            assert!(err.contains("not a database file"), "{what}: {err}");
        }
        assert!(path.exists());
        if what == "directory" {
            assert_eq!(
                std::fs::read_dir(path).unwrap().count(),
                0,
                "nothing written into it"
            );
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(e.data())
        .unwrap()
        .filter_map(|f| f.ok())
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no evidence copies of devices: {leftovers:?}"
    );
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::os::raw::c_char, mode: u32) -> i32;
}

#[cfg(unix)]
#[test]
fn a_symlinked_backups_dir_is_refused_before_anything_is_created_or_deleted() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["migrate", "prod"]);
    e.ok(&["backup", "prod"]);
    e.ok(&["backup", "prod"]);
    let prod_backups = backups_of(&e, "prod");
    let dev_dir = e.data().join("backups").join("dev");
    let _ = std::fs::remove_dir_all(&dev_dir);
    std::os::unix::fs::symlink(e.data().join("backups").join("prod"), &dev_dir).unwrap();
    let (code, _, err) = e.run(&["backups", "prune", "dev", "--keep", "1", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("symlink"), "{err}");
    assert_eq!(
        backups_of(&e, "prod"),
        prod_backups,
        "prod's backups intact"
    );
    // `status` does not call that "never" (review 27): it cannot list them, and says why.
    let (code, out, err) = e.run(&["status", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("last backup: unknown (") && out.contains("symlink"),
        "{out}"
    );
    // A link to a place that does not exist: refused before the directory is created there.
    std::fs::remove_file(&dev_dir).unwrap();
    let elsewhere = e.data().join("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, &dev_dir).unwrap();
    let (code, _, err) = e.run(&["backup", "dev"]);
    assert_eq!(code, 3, "{err}");
    assert!(!elsewhere.exists(), "nothing created at the link's target");
}

#[test]
fn a_hard_link_to_another_envs_file_is_the_same_file() {
    let e = Env::new();
    e.seeded("dev");
    let before = fingerprint(&e.db("dev"));
    let link = e.data().join("test-link.sqlite3");
    std::fs::hard_link(e.db("dev"), &link).unwrap();
    std::fs::write(
        e.data().join("pipeline-db.toml"),
        format!("[envs.test]\npath = \"{}\"\n", link.display()),
    )
    .unwrap();
    let (code, _, err) = e.run(&["reset", "test", "--force"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("share the file"), "{err}");
    assert_eq!(fingerprint(&e.db("dev")), before);
}

#[test]
fn an_audit_log_with_bytes_that_are_not_utf8_still_reads() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["seed", "dev", "--jobs", "3", "--rng-seed", "5"]);
    let log = e.data().join("audit.jsonl");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(b"{\"time\": \"\xff\xfe broken\"}\n\xc3\x28\n");
    std::fs::write(&log, bytes).unwrap();
    let out = e.ok(&["log", "--env", "dev", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.as_array().unwrap().len() >= 2, "{v}");
    let plan = e.ok(&["undo", "dev", "--dry-run", "--json"]);
    assert!(plan.contains("\"undo\""), "{plan}");
}

/// An audit log whose last line was cut short (a crash, a full disk, an editor dropping the final
/// newline): the next line starts on a line of its own, so only the cut line is lost and undo
/// targets the action that really was last.
#[test]
fn an_audit_log_cut_mid_line_loses_only_that_line() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["seed", "dev", "--jobs", "6", "--rng-seed", "1"]);
    e.ok(&["seed", "dev", "--jobs", "7", "--rng-seed", "2"]);
    let log = e.data().join("audit.jsonl");
    let bytes = std::fs::read(&log).unwrap();
    std::fs::write(&log, &bytes[..bytes.len() - 1]).unwrap();
    e.ok(&["reset", "dev", "--force"]);
    let v: serde_json::Value =
        serde_json::from_str(&e.ok(&["log", "--env", "dev", "--json"])).unwrap();
    let verbs: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["verb"].as_str().unwrap())
        .collect();
    assert_eq!(verbs.last(), Some(&"reset"), "{verbs:?}");
    let plan: serde_json::Value =
        serde_json::from_str(&e.ok(&["undo", "dev", "--dry-run", "--json"])).unwrap();
    assert_eq!(plan["action"]["verb"], "reset", "{plan}");
}

/// An argument that is not UTF-8 is a usage error (exit 2, JSON with --json), not a panic; output
/// that cannot be written to stdout (a full disk) is no silent success.
#[test]
fn a_non_utf8_argument_and_an_unwritable_stdout_are_reported() {
    use std::os::unix::ffi::OsStrExt;
    let e = Env::new();
    let bad = std::ffi::OsStr::from_bytes(b"d\xffv");
    let out = std::process::Command::new(pipeline_db_e2e::bin())
        .arg("--data-dir")
        .arg(e.data())
        .args([
            std::ffi::OsStr::new("status"),
            bad,
            std::ffi::OsStr::new("--json"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "usage", "{v}");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(pipeline_db_e2e::bin())
        .arg("--data-dir")
        .arg(e.data())
        .args(["status", "--json"])
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("could not be written to stdout"), "{err}");
}

#[test]
fn numbers_out_of_range_are_usage_errors_not_panics() {
    let e = Env::new();
    let (code, _, err) = e.run(&["--busy-timeout-ms", "2147483648", "status"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("between 0 and 600000"), "{err}");
    std::fs::write(
        e.data().join("pipeline-db.toml"),
        "busy_timeout_ms = 4294967296\n",
    )
    .unwrap();
    let (code, _, err) = e.run(&["status"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("busy_timeout_ms"), "{err}");
}

#[test]
fn a_restore_that_fails_after_writing_puts_the_previous_content_back_and_says_so() {
    let e = Env::new();
    e.seeded("dev");
    let b = e.data().join("older.sqlite3");
    e.ok(&["backup", "dev", "--output", b.to_str().unwrap()]);
    e.ok(&["seed", "dev", "--jobs", "9", "--rng-seed", "3"]);
    let before = fingerprint(&e.db("dev"));
    let (code, _, err) = e.run_with_failpoint(
        &["restore", "dev", b.to_str().unwrap(), "--force"],
        "restore:after_copy=error",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("copied back from the verified pre-restore backup"),
        "{err}"
    );
    assert!(!err.contains("nothing was changed"), "{err}");
    assert_eq!(fingerprint(&e.db("dev")), before, "dev holds what it held");
    let log: serde_json::Value =
        serde_json::from_str(&e.ok(&["log", "--env", "dev", "--json"])).unwrap();
    let last = log.as_array().unwrap().last().unwrap();
    assert_eq!(last["outcome"], "failed");
    assert!(
        last["backup"].as_str().unwrap().contains("pre-restore"),
        "the audit line names the backup: {last}"
    );
}

/// A file attached with `env add` whose schema holds a trigger and a view from elsewhere: added
/// (it can be read), with the drift named in the plan and in `status`; the file is only read.
#[test]
fn an_attached_file_with_a_foreign_schema_is_added_for_reading_with_its_drift_shown() {
    let e = Env::new();
    e.seeded("dev");
    let f = edited_copy(
        &e,
        "legacy.sqlite3",
        "DELETE FROM pipeline_db_meta;
         CREATE TRIGGER t1 AFTER INSERT ON jobs BEGIN DELETE FROM users; END;
         CREATE VIEW v AS SELECT 1;",
    );
    let bytes = std::fs::read(&f).unwrap();
    let out = e.ok(&["env", "add", "legacy", f.to_str().unwrap()]);
    assert!(
        out.contains("extra trigger `t1`; extra view `v`") && out.contains("attached for reading"),
        "{out}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&e.ok(&["status", "legacy", "--json"])).unwrap();
    let s = &status.as_array().unwrap()[0];
    assert!(
        s["error"].as_str().unwrap().contains("extra trigger `t1`"),
        "{s}"
    );
    assert_eq!(std::fs::read(&f).unwrap(), bytes, "the file was only read");
}

/// Reading a file is bounded in time (60 s + 1 s per 10 MiB; here cut to 1 ms for the test): a
/// check past it stops with exit 3 and says why, and the file is untouched.
#[test]
fn an_inspection_past_its_time_limit_is_stopped_with_a_clear_error() {
    let e = Env::new();
    e.seeded("dev");
    let before = std::fs::read(e.db("dev")).unwrap();
    let out = e
        .cmd()
        .env("PIPELINE_DB_TEST_INSPECT_LIMIT_MS", "1")
        .args(["check", "dev"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("stopped — reading took longer than the time limit"),
        "{err}"
    );
    assert_eq!(std::fs::read(e.db("dev")).unwrap(), before);
}

/// A CHECK constraint is an expression from the file: one built to be slow (here ≈ 15 s of CPU for
/// 20k rows of a table of the user's own, far more in a bigger file) stops at the time limit for
/// reading a file from elsewhere (cut to 1.5 s for the test) on every connection that evaluates it
/// — `backups verify` of the file, and a restore's check of its staged copy — and nothing changes.
#[test]
fn a_check_constraint_built_to_be_slow_stops_at_the_time_limit_in_verify_and_restore() {
    let e = Env::new();
    e.seeded("dev");
    let f = e.data().join("slow.sqlite3");
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute("VACUUM INTO ?1", [f.to_str().unwrap()]).unwrap();
    drop(c);
    rusqlite::Connection::open(&f)
        .unwrap()
        .execute_batch(
            "PRAGMA ignore_check_constraints = ON;
             CREATE TABLE my_t (x INTEGER CHECK (length(replace(hex(zeroblob(100000 + x * 0)), '0', 'ab')) > 0));
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
             INSERT INTO my_t SELECT i FROM c;",
        )
        .unwrap();
    let (file_before, dev_before) = (std::fs::read(&f).unwrap(), fingerprint(&e.db("dev")));
    let limited =
        |args: &[&str]| run_with(&e, &[("PIPELINE_DB_TEST_INSPECT_LIMIT_MS", "1500")], args);
    let path = f.to_str().unwrap();
    let (code, out) = limited(&["backups", "verify", path]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("stopped — reading took longer than the time limit"),
        "{out}"
    );
    let (code, out) = limited(&["restore", "dev", path, "--force"]);
    assert_eq!(code, Some(1), "a backup failing verification: {out}");
    assert!(
        out.contains("stopped — reading took longer than the time limit")
            && out.contains("nothing was changed"),
        "{out}"
    );
    assert_eq!(fingerprint(&e.db("dev")), dev_before);
    assert_eq!(
        std::fs::read(&f).unwrap(),
        file_before,
        "the file was only read"
    );
}

#[test]
fn a_live_database_with_a_trigger_or_view_from_elsewhere_is_changed_only_by_reset() {
    let e = Env::new();
    e.seeded("dev");
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch(
        "CREATE TRIGGER evil AFTER INSERT ON jobs BEGIN UPDATE users SET role = 'admin'; END;
         CREATE VIEW forever AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT i FROM r;",
    )
    .unwrap();
    drop(c);
    let before = fingerprint(&e.db("dev"));
    for args in [
        &["seed", "dev", "--jobs", "10"][..],
        &["migrations", "repair", "dev", "--force"][..],
        &["env", "set", "dev", "--force"][..],
    ] {
        let started = Instant::now();
        let (code, _, err) = e.run(args);
        assert!(started.elapsed() < Duration::from_secs(20), "{args:?} hung");
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(err.contains("extra trigger `evil`"), "{args:?}: {err}");
        assert_eq!(fingerprint(&e.db("dev")), before, "{args:?}");
    }
    // Reset changes it, and its plan says what undo will not do afterwards.
    let plan = e.ok(&["reset", "dev", "--dry-run", "--json"]);
    assert!(plan.contains("extra trigger `evil`"), "{plan}");
    assert!(
        plan.contains("`undo` will not bring this database back"),
        "{plan}"
    );
    // An inert table of the user's own is no reason to refuse.
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch("DROP TRIGGER evil; DROP VIEW forever; CREATE TABLE notes (x);")
        .unwrap();
    drop(c);
    e.ok(&["seed", "dev", "--jobs", "3", "--rng-seed", "8"]);
    let plan = e.ok(&["reset", "dev", "--dry-run", "--json"]);
    assert!(!plan.contains("will not bring"), "{plan}");
    e.ok(&["reset", "dev", "--force"]);
}

#[test]
fn verifying_a_backup_reads_the_file_alone_and_leaves_nothing_beside_it() {
    let e = Env::new();
    e.seeded("dev");
    let f = e.data().join("wal.sqlite3");
    e.ok(&["backup", "dev", "--output", f.to_str().unwrap()]);
    std::fs::remove_file(pipeline_db_core::backups::record::manifest_path(&f)).unwrap();
    let side = |s: &str| PathBuf::from(format!("{}{s}", f.display()));
    {
        let c = rusqlite::Connection::open(&f).unwrap();
        let _: String = c
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
    }
    for s in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(side(s));
    }
    // A WAL-mode file is verified without creating -wal or -shm beside it.
    let (code, out, err) = e.run(&["backups", "verify", f.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !side("-wal").exists() && !side("-shm").exists(),
        "sidecars left"
    );
    // A log beside it holding commits: the file alone is not the backup; verify says so.
    let c = rusqlite::Connection::open(&f).unwrap();
    c.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .unwrap();
    c.execute_batch("PRAGMA wal_autocheckpoint=0; DELETE FROM jobs;")
        .unwrap();
    drop(c);
    assert!(std::fs::metadata(side("-wal")).unwrap().len() > 0);
    let (code, out, _) = e.run(&["backups", "verify", f.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("write-ahead log"), "{out}");
}

#[test]
fn control_characters_from_a_file_never_reach_the_terminal() {
    let e = Env::new();
    e.seeded("dev");
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch(
        "UPDATE pipeline_db_meta SET tool_version = char(27) || '[2J' || char(27) || ']0;owned' || char(7),
                                     last_action = 'reset' || char(10) || 'status: ok (forged)'",
    )
    .unwrap();
    drop(c);
    let log = e.data().join("audit.jsonl");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(
        br#"{"time":"t","user":"\u001b[31mroot","pid":1,"env":"dev","file":"x","verb":"reset","summary":"a\nb","backup":null,"outcome":"ok","error":null,"duration_ms":0}"#,
    );
    bytes.push(b'\n');
    std::fs::write(&log, bytes).unwrap();
    for args in [
        &["status"][..],
        &["status", "--json"][..],
        &["log"][..],
        &["log", "--json"][..],
    ] {
        let (code, out, err) = e.run(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{7}'),
            "{args:?}: {out:?}"
        );
        assert!(
            !out.lines().any(|l| l.starts_with("status: ok (forged)")),
            "{args:?}: {out}"
        );
    }
}

#[test]
fn messages_name_a_next_step_that_works_from_where_the_user_stands() {
    let e = Env::new();
    e.seeded("dev");
    // `log --env prod` with entries for dev only.
    let out = e.ok(&["log", "--env", "prod"]);
    assert!(out.contains("No actions on prod"), "{out}");
    // The script's prod reset without a terminal: its hint is in the script's own terms.
    e.ok(&["migrate", "prod", "--confirm-env", "prod"]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/reset_db.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["prod", "--force"])
        .env("PIPELINE_DB_BIN", pipeline_db_e2e::bin())
        .env("PIPELINE_DB_HOME", e.data())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("on a terminal and type 'prod'"), "{err}");
    // An export into a directory that does not exist.
    let (code, _, err) = e.run(&["backup", "dev", "--output", "/nonexistent-usb/x.sqlite3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent-usb does not exist"), "{err}");
    assert!(err.contains("create the directory first"), "{err}");
    // A usage error with --json is JSON on stdout too.
    let (code, out, _) = e.run(&["reset", "dev", "--bogus", "--json"]);
    assert_eq!(code, 2);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["kind"], "usage", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("--bogus"),
        "{v}"
    );
}

#[test]
fn a_damaged_env_with_no_backup_has_a_way_out_reset_keeps_the_evidence_then_rebuilds() {
    let e = Env::new();
    e.ok(&["migrate", "test"]);
    // Damage: overwrite the second page onward with garbage.
    let path = e.db("test");
    let mut bytes = std::fs::read(&path).unwrap();
    for b in bytes.iter_mut().skip(4096) {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let (code, out, err) = e.run(&["check", "test"]);
    assert_eq!(code, 5, "{out}{err}");
    assert!(
        out.contains("pipeline-db reset test"),
        "check names a step that works: {out}"
    );
    assert!(
        !out.contains("undo test`, or"),
        "no undo when there is nothing to undo: {out}"
    );
    // --force alone is not enough: no verified backup can be taken of a damaged file.
    let (code, _, err) = e.run(&["reset", "test", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("only a byte-identical evidence copy is kept"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "refused: unchanged");
    let (code, out, err) = e.run(&["reset", "test", "--confirm-env", "test"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Kept the damaged database as evidence"),
        "{out}"
    );
    let evidence: Vec<PathBuf> = std::fs::read_dir(e.data())
        .unwrap()
        .filter_map(|f| f.ok().map(|f| f.path()))
        .filter(|p| p.to_string_lossy().contains("test.sqlite3.corrupt-"))
        .collect();
    assert!(
        evidence.iter().any(|p| std::fs::read(p).unwrap() == bytes),
        "a byte-identical copy of the damaged file: {evidence:?}"
    );
    e.ok(&["check", "test"]);
    let log: serde_json::Value =
        serde_json::from_str(&e.ok(&["log", "--env", "test", "--json"])).unwrap();
    assert_eq!(log.as_array().unwrap().last().unwrap()["outcome"], "ok");
}

/// A live database that breaks a rule a restore checks (a row past its CHECK, written by a program
/// that turned them off) cannot be backed up into something restore would accept: `check` names
/// the row, and a reset — whose backup would be refused by `undo` — is refused before anything is
/// dropped, with no backup left behind.
#[test]
fn a_database_breaking_a_check_is_named_by_check_and_not_reset_into_an_unrestorable_backup() {
    let e = Env::new();
    e.seeded("dev");
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch(
            "PRAGMA ignore_check_constraints = ON; UPDATE jobs SET run_name = '' WHERE id = 3;",
        )
        .unwrap();
    let (code, out, _) = e.run(&["check", "dev"]);
    assert_eq!(code, 5, "an integrity failure: {out}");
    assert!(
        out.contains("CHECK constraint failed in jobs (row 3)"),
        "{out}"
    );
    let before = fingerprint(&e.db("dev"));
    let backups = backups_of(&e, "dev");
    let (code, _, err) = e.run(&["reset", "dev", "--force"]);
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("CHECK constraint failed in jobs (row 3)"),
        "{err}"
    );
    assert!(err.contains("could not be restored"), "{err}");
    assert_eq!(err.matches("nothing was changed").count(), 1, "{err}");
    assert_eq!(fingerprint(&e.db("dev")), before);
    assert_eq!(backups_of(&e, "dev"), backups, "no backup left behind");
}

/// A table of the user's own beside ours (inert: the verbs work beside it) is in the backup a reset
/// takes, and `undo` brings it back: restore accepts what the verbs accept.
#[test]
fn a_table_of_the_users_own_comes_back_with_undo_after_a_reset() {
    let e = Env::new();
    e.seeded("dev");
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch("CREATE TABLE my_notes (x TEXT); INSERT INTO my_notes VALUES ('keep me');")
        .unwrap();
    // Every table but the tag's (which records the last action).
    let tables = |path: &Path| {
        let mut f = fingerprint(path);
        f.remove("pipeline_db_meta");
        f
    };
    let before = tables(&e.db("dev"));
    // `check` names it and passes, as every verb works beside it.
    let checked = e.ok(&["check", "dev"]);
    assert!(
        checked.contains("plus the user's own extra table my_notes"),
        "{checked}"
    );
    e.ok(&["reset", "dev", "--force"]);
    let out = e.ok(&["undo", "dev", "--force", "--json"]);
    assert!(
        out.contains("plus the user's own extra table `my_notes`"),
        "{out}"
    );
    assert_eq!(tables(&e.db("dev")), before);
    let kept: String = rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .query_row("SELECT x FROM my_notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, "keep me");
    // A view beside it runs: that is drift `check` fails on, naming the view only.
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch("CREATE VIEW my_view AS SELECT x FROM my_notes;")
        .unwrap();
    let (code, out, _) = e.run(&["check", "dev", "--json"]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let drift = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "drift")
        .unwrap();
    assert_eq!(drift["ok"], false);
    assert_eq!(drift["detail"], "extra view my_view", "{drift}");
}

/// The data dir's contents are untrusted too: a backup rewritten together with its manifest (so
/// its sha256 matches) to hold a row that breaks a CHECK is no verified backup — `backups verify`
/// checks every row's CHECK constraints, as the restore that would refuse it does.
#[test]
fn a_backup_rewritten_with_its_manifest_to_break_a_check_fails_backups_verify() {
    let e = Env::new();
    e.seeded("dev");
    std::fs::write(
        e.data().join("pipeline-db.toml"),
        "[backups]\ncompress = false\n",
    )
    .unwrap();
    e.ok(&["backup", "dev"]);
    let dir = e.data().join("backups/dev");
    let backup = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-manual.sqlite3"))
        .unwrap();
    rusqlite::Connection::open(&backup)
        .unwrap()
        .execute_batch(
            "PRAGMA ignore_check_constraints = ON; UPDATE jobs SET status = 'bogus' WHERE id = 1;
             PRAGMA journal_mode = DELETE;",
        )
        .unwrap();
    let manifest = PathBuf::from(format!("{}.json", backup.display()));
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    m["sha256"] = pipeline_db_e2e::sha256(&backup).into();
    m["size_bytes"] = std::fs::metadata(&backup).unwrap().len().into();
    std::fs::write(&manifest, m.to_string()).unwrap();
    let name = backup.file_name().unwrap().to_str().unwrap();
    let (code, out, err) = e.run(&["backups", "verify", name]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        (out.clone() + &err).contains("CHECK constraint failed in jobs (row 1)"),
        "{out}{err}"
    );
}

/// A config value is untrusted: an env whose path the config points into the backups dir (here
/// at one of dev's backups, through a `..`) would have its database overwritten by a backup's
/// rules and deleted by retention. Every command refuses that config, and the backup is untouched.
#[test]
fn a_config_pointing_an_env_into_the_backups_dir_is_refused_and_nothing_is_deleted() {
    let e = Env::new();
    e.seeded("dev");
    let config = e.data().join("pipeline-db.toml");
    std::fs::write(&config, "[backups]\ncompress = false\n").unwrap();
    e.ok(&["backup", "dev"]);
    let backup = dev_backup(&e, "-manual.sqlite3");
    let name = backup.file_name().unwrap().to_str().unwrap();
    let before = std::fs::read(&backup).unwrap();
    std::fs::write(
        &config,
        format!(
            "[backups]\ncompress = false\n[envs.test]\npath = \"backups/../backups/dev/{name}\"\n"
        ),
    )
    .unwrap();
    for args in [
        &["env", "set", "test", "--force"][..],
        &["backups", "prune", "dev", "--keep", "1", "--force"][..],
        &["status"][..],
    ] {
        let (code, out, err) = e.run(args);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(err.contains("is inside the backups dir"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(&backup).unwrap(), before);
}

/// Nothing is written outside the data dir, not even SQLite's temporary files: a query whose
/// DISTINCT spills past its cache writes them in the data dir (where SQLite unlinks them at once)
/// and none where SQLite would look otherwise (`SQLITE_TMPDIR`, here a dir of the test's).
#[test]
fn a_query_that_spills_writes_its_temporary_files_in_the_data_dir_only() {
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let elsewhere = tempfile::TempDir::new().unwrap();
    let mut child = std::process::Command::new(pipeline_db_e2e::bin())
        .arg("--data-dir")
        .arg(e.data())
        .env("SQLITE_TMPDIR", elsewhere.path())
        .env("TMPDIR", elsewhere.path())
        .args([
            "query",
            "dev",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) \
             SELECT count(*) FROM (SELECT DISTINCT randomblob(300) FROM n)",
            "--timeout-ms",
            "60000",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    let (mut inside, mut outside) = (0, 0);
    while child.try_wait().unwrap().is_none() {
        for fd in std::fs::read_dir(&fds).into_iter().flatten().flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            inside += (target.parent() == Some(e.data())
                && target.to_string_lossy().contains("etilqs_")) as u32;
            outside += target.starts_with(elsewhere.path()) as u32;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("300000"));
    assert_eq!(outside, 0, "temporary files outside the data dir");
    assert!(
        inside > 0,
        "the query did not spill: the test proves nothing"
    );
}

/// A file whose write-ahead log has pages but whose WAL index (`-shm`) is gone (its program was
/// killed) cannot be read without SQLite creating that index beside it: `env add` refuses it, and
/// writes nothing there.
#[test]
fn env_add_of_a_file_with_a_log_but_no_index_is_refused_and_writes_nothing_beside_it() {
    let e = Env::new();
    e.seeded("dev");
    let outside = tempfile::TempDir::new().unwrap();
    let f = outside.path().join("w.sqlite3");
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute("VACUUM INTO ?1", [f.to_str().unwrap()]).unwrap();
    drop(c);
    let w = rusqlite::Connection::open(&f).unwrap();
    w.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
         UPDATE pipelines SET description = 'in the log' WHERE id = 1;",
    )
    .unwrap();
    std::mem::forget(w); // killed: the log stays
    std::fs::remove_file(outside.path().join("w.sqlite3-shm")).unwrap();
    let before = pipeline_db_e2e::files_under(outside.path());
    let (code, _, err) = e.run(&["env", "add", "side", f.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("but no") && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(pipeline_db_e2e::files_under(outside.path()), before);
    assert!(
        !e.data().join("pipeline-db.toml").exists(),
        "nothing was written"
    );
}

/// A copy of `src` in SQLite's UTF-16 encoding: the same schema, rows and pragmas.
fn utf16_copy(src: &Path, dest: &Path) {
    let from = rusqlite::Connection::open(src).unwrap();
    let to = rusqlite::Connection::open(dest).unwrap();
    to.execute_batch("PRAGMA encoding = 'UTF-16le';").unwrap();
    let ddl: Vec<String> = from
        .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    to.execute_batch("BEGIN").unwrap();
    for sql in &ddl {
        to.execute_batch(sql).unwrap();
    }
    to.execute_batch("PRAGMA foreign_keys = OFF; DROP TRIGGER IF EXISTS job_daily_stats_insert;")
        .ok();
    let tables: Vec<String> = from
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in &tables {
        let mut read = from.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = read.column_count();
        let marks = vec!["?"; n].join(", ");
        let mut write = to
            .prepare(&format!("INSERT INTO \"{t}\" VALUES ({marks})"))
            .unwrap();
        let mut rows = read.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let values: Vec<rusqlite::types::Value> = (0..n).map(|i| r.get(i).unwrap()).collect();
            write.execute(rusqlite::params_from_iter(values)).unwrap();
        }
    }
    // The trigger back, exactly as it was (its rows were copied with the summary's).
    for sql in ddl.iter().filter(|s| s.contains("job_daily_stats_insert")) {
        to.execute_batch(sql).unwrap();
    }
    to.execute_batch("COMMIT").unwrap();
    for p in ["application_id", "user_version"] {
        let v: i64 = from
            .query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
            .unwrap();
        to.execute_batch(&format!("PRAGMA {p} = {v}")).unwrap();
    }
}

/// Pages of another text encoding cannot be copied into our databases (SQLite refuses it half-way
/// through a restore, after the live file was written): a UTF-16 file is refused up front by
/// `backups verify`, `restore` and `env add`, and nothing changes.
#[test]
fn a_utf16_database_is_refused_before_anything_changes() {
    let e = Env::new();
    e.seeded("dev");
    let f = e.data().join("u16.sqlite3");
    utf16_copy(&e.db("dev"), &f);
    let enc: String = rusqlite::Connection::open(&f)
        .unwrap()
        .query_row("PRAGMA encoding", [], |r| r.get(0))
        .unwrap();
    assert_eq!(enc, "UTF-16le");
    let before = fingerprint(&e.db("dev"));
    let path = f.to_str().unwrap();
    let (code, out, err) = e.run(&["backups", "verify", path]);
    assert_ne!(code, 0, "{out}");
    assert!((out + &err).contains("text encoding is UTF-16le"));
    let (code, out, err) = e.run(&["restore", "dev", path, "--force"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("text encoding is UTF-16le") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(fingerprint(&e.db("dev")), before);
    let (code, _, err) = e.run(&["env", "add", "side", path]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("text encoding is UTF-16le"), "{err}");
    assert!(
        !e.data().join("pipeline-db.toml").exists(),
        "nothing was written"
    );
}

/// A manifest vouches only for a backup in a backup dir of ours: beside a file from elsewhere it is
/// as easy to forge as the file. A copy of a backup whose users table no longer matches its index
/// (one byte changed: `quick_check` passes, `integrity_check` does not), with a manifest written to
/// match it, is checked in full and refused by `backups verify` and `restore`.
#[test]
fn a_manifest_beside_a_file_from_elsewhere_vouches_for_nothing() {
    let e = Env::new();
    e.seeded("dev");
    std::fs::write(
        e.data().join("pipeline-db.toml"),
        "[backups]\ncompress = false\n",
    )
    .unwrap();
    e.ok(&["backup", "dev"]);
    let backup = dev_backup(&e, "-manual.sqlite3");
    let outside = tempfile::TempDir::new().unwrap();
    let f = outside.path().join("stick.sqlite3");
    std::fs::copy(&backup, &f).unwrap();
    let (root, page, name): (i64, i64, String) = {
        let c = rusqlite::Connection::open(&f).unwrap();
        let root = c
            .query_row(
                "SELECT rootpage FROM sqlite_schema WHERE name = 'users'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let page = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let name = c
            .query_row("SELECT username FROM users ORDER BY id LIMIT 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        (root, page, name)
    };
    let mut bytes = std::fs::read(&f).unwrap();
    let range = ((root - 1) * page) as usize..(root * page) as usize;
    let at = bytes[range.clone()]
        .windows(name.len())
        .position(|w| w == name.as_bytes())
        .expect("the username in the table's page")
        + range.start;
    bytes[at] = if bytes[at] == b'z' { b'y' } else { b'z' };
    std::fs::write(&f, &bytes).unwrap();
    let quick: String = rusqlite::Connection::open(&f)
        .unwrap()
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        quick, "ok",
        "the damage must be one quick_check does not see"
    );
    let mut m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.json", backup.display())).unwrap(),
    )
    .unwrap();
    m["path"] = f.to_str().unwrap().into();
    m["sha256"] = pipeline_db_e2e::sha256(&f).into();
    std::fs::write(format!("{}.json", f.display()), m.to_string()).unwrap();
    let before = fingerprint(&e.db("dev"));
    let path = f.to_str().unwrap();
    let (code, out, err) = e.run(&["backups", "verify", path]);
    assert_ne!(code, 0, "{out}");
    assert!((out + &err).contains("integrity_check"), "{err}");
    let (code, out, err) = e.run(&["restore", "dev", path, "--force"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(fingerprint(&e.db("dev")), before);
}

/// A compressed file from elsewhere is decompressed in the data dir, never beside itself, and a
/// stream that decompresses to more than the disk holds (a few KiB of zstd can hold gigabytes)
/// is stopped within the free space (here 100 MiB, as the test says), its partial copy removed.
#[test]
fn a_compressed_file_from_elsewhere_is_decompressed_in_the_data_dir_within_the_free_space() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["backup", "dev"]);
    let zst = dev_backup(&e, "-manual.sqlite3.zst");
    let outside = tempfile::TempDir::new().unwrap();
    let f = outside.path().join("stick.sqlite3.zst");
    std::fs::copy(&zst, &f).unwrap();
    let bomb = outside.path().join("bomb.sqlite3.zst");
    let zeros = std::io::repeat(0).take(200 << 20);
    std::fs::write(&bomb, zstd::stream::encode_all(zeros, 3).unwrap()).unwrap();
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let listed = || pipeline_db_e2e::files_under(outside.path());
    let before = listed();
    e.ok(&["restore", "dev", f.to_str().unwrap(), "--dry-run"]);
    assert_eq!(listed(), before, "nothing written beside the file");
    let free = (100u64 << 20).to_string();
    let small_disk = |args: &[&str]| run_with(&e, &[("PIPELINE_DB_TEST_FREE_BYTES", &free)], args);
    let dev_before = fingerprint(&e.db("dev"));
    let (code, out) = small_disk(&["restore", "dev", bomb.to_str().unwrap(), "--force"]);
    assert_eq!(fingerprint(&e.db("dev")), dev_before, "nothing was changed");
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("not enough free space") && out.contains("decompressing"),
        "{out}"
    );
    let (code, out) = small_disk(&["backups", "verify", bomb.to_str().unwrap()]);
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("decompressing"), "{out}");
    assert_eq!(listed(), before, "nothing written beside the files");
    let leftovers: Vec<String> = pipeline_db_e2e::files_under(&e.data().join("backups"))
        .into_iter()
        .filter(|f| !f.starts_with("dev/") && !f.ends_with(".jsonl"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A restore is bound to the content its plan read: a source overwritten in place (same inode)
/// while the prompt waits is refused as changed, and dev is untouched.
#[test]
fn a_restore_source_overwritten_while_the_prompt_waits_is_refused() {
    use crate::verbs::{exit_code, spawn_pty};
    let e = Env::new();
    e.seeded("dev");
    let outside = tempfile::TempDir::new().unwrap();
    let (a, b) = (
        outside.path().join("a.sqlite3"),
        outside.path().join("b.sqlite3"),
    );
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    for f in [&a, &b] {
        c.execute("VACUUM INTO ?1", [f.to_str().unwrap()]).unwrap();
    }
    drop(c);
    rusqlite::Connection::open(&b)
        .unwrap()
        .execute_batch("UPDATE users SET email = 'mallory@example.org' WHERE id = 2;")
        .unwrap();
    let before = fingerprint(&e.db("dev"));
    let mut p = spawn_pty(&e, &format!("restore dev {}", a.display()));
    p.expect("[y/N]").unwrap();
    std::fs::write(&a, std::fs::read(&b).unwrap()).unwrap(); // in place: the same inode
    p.send_line("y").unwrap();
    p.expect("changed").unwrap();
    assert_eq!(exit_code(&mut p), 3);
    assert_eq!(fingerprint(&e.db("dev")), before);
}

/// Runs `args`, which must finish within 30 s (a hang is killed and fails the test); returns the
/// exit code and everything printed.
fn finishes(e: &Env, args: &[&str]) -> (Option<i32>, String) {
    let mut child = pipeline_db_e2e::spawn_piped(e.data(), args, &[]);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("{args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// The data dir's own files are untrusted too: a FIFO in place of a manifest, the config, the
/// audit log, the ledger or the verification log made commands wait forever. Each is refused as
/// no regular file (or skipped, where a listing can go on), and nothing hangs.
#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_a_data_dir_file_is_refused_and_nothing_hangs() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["backup", "dev"]);
    e.ok(&["backups", "verify", "--all"]);
    let fifo = |p: &Path| {
        let _ = std::fs::remove_file(p);
        assert!(std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .unwrap()
            .success());
    };
    let manifest = dev_backup(&e, ".json");
    let saved = std::fs::read(&manifest).unwrap();
    fifo(&manifest);
    for args in [&["status"][..], &["backups", "list", "dev"][..]] {
        let (code, out) = finishes(&e, args);
        assert_eq!(code, Some(0), "{args:?}: {out}");
    }
    std::fs::remove_file(&manifest).unwrap();
    std::fs::write(&manifest, saved).unwrap();
    let cases: [(&str, &[&str]); 4] = [
        ("pipeline-db.toml", &["status"]),
        ("audit.jsonl", &["log"]),
        ("audit.jsonl", &["backup", "dev"]),
        ("backups/ledger.jsonl", &["backup", "dev"]),
    ];
    for (file, args) in cases {
        let p = e.data().join(file);
        let saved = std::fs::read(&p).ok();
        fifo(&p);
        let (code, out) = finishes(&e, args);
        assert_ne!(code, Some(0), "{file}, {args:?}: {out}");
        assert!(
            out.contains("not a regular file"),
            "{file}, {args:?}: {out}"
        );
        std::fs::remove_file(&p).unwrap();
        if let Some(bytes) = saved {
            std::fs::write(&p, bytes).unwrap();
        }
    }
    let p = e.data().join("backups/verifications.jsonl");
    fifo(&p);
    let (code, out) = finishes(&e, &["backups", "list", "dev"]);
    assert_eq!(code, Some(0), "{out}");
}

/// A manifest cannot make a backup newer than its name says: the oldest backup's manifest dated
/// 2099 does not make it "the newest verified" (which retention never deletes), and retention
/// keeps the really newest ones.
#[test]
fn a_manifest_dated_in_the_future_does_not_make_its_backup_the_newest() {
    let e = Env::new();
    e.seeded("dev");
    let manuals = || dev_backups(&e, "-manual.sqlite3.zst");
    for _ in 0..3 {
        e.ok(&["backup", "dev"]);
        std::thread::sleep(Duration::from_millis(5));
    }
    let all = manuals();
    let oldest = PathBuf::from(format!("{}.json", all[0].display()));
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&oldest).unwrap()).unwrap();
    m["created_at"] = "2099-01-01T00:00:00Z".into();
    std::fs::write(&oldest, m.to_string()).unwrap();
    std::fs::write(e.data().join("pipeline-db.toml"), "[retention]\nkeep = 3\n").unwrap();
    e.ok(&["backup", "dev"]);
    let left = manuals();
    assert!(!left.contains(&all[0]), "the oldest goes: {left:?}");
    assert!(left.contains(&all[1]) && left.contains(&all[2]), "{left:?}");
}

/// A manifest in dev's backup dir that names another env vouches for nothing there: the backup is
/// not dev's to list or to count, `backups verify` checks the file in full, and a restore's plan
/// does not say it was "taken from" the env the manifest names. An export cannot be filed in the
/// backups dir either (retention would count it, and could delete it).
#[test]
fn a_manifest_naming_another_env_than_its_backup_dir_vouches_for_nothing() {
    let e = Env::new();
    e.seeded("dev");
    e.seeded("test");
    e.ok(&["backup", "dev"]);
    let backup = dev_backup(&e, "-manual.sqlite3.zst");
    let manifest = PathBuf::from(format!("{}.json", backup.display()));
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    m["env"] = "test".into();
    std::fs::write(&manifest, m.to_string()).unwrap();
    let listed = e.ok(&["backups", "list", "--json"]);
    assert!(!listed.contains("-manual.sqlite3.zst\""), "{listed}");
    let path = backup.to_str().unwrap();
    let out = e.ok(&["backups", "verify", path, "--json"]);
    assert!(
        out.contains("\"has_manifest\": false"),
        "checked in full: {out}"
    );
    let plan = e.ok(&["restore", "dev", path, "--dry-run", "--json"]);
    assert!(!plan.contains("taken from test"), "{plan}");

    let into = e
        .data()
        .join("backups/dev/dev-20200101T000000000Z-manual.sqlite3");
    let before = dev_backups(&e, "");
    let (code, _, err) = e.run(&["backup", "test", "--output", into.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("inside the backups dir"), "{err}");
    assert_eq!(dev_backups(&e, ""), before, "nothing filed there");
}

/// A sample user renamed by hand: seed says what is missing and how to get it back, exit 3,
/// instead of "Query returned no rows".
#[test]
fn seed_after_a_sample_user_was_renamed_says_what_is_missing() {
    let e = Env::new();
    e.seeded("dev");
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch("UPDATE users SET username = 'ada2' WHERE username = 'ada.lovelace';")
        .unwrap();
    let before = fingerprint(&e.db("dev"));
    let (code, _, err) = e.run(&["seed", "dev", "--jobs", "10"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("`ada.lovelace` is gone")
            && err.contains("pipeline-db did not change the database"),
        "{err}"
    );
    assert_eq!(fingerprint(&e.db("dev")), before);
}

/// dev's first backup (by name) whose file name ends with `suffix`.
fn dev_backup(e: &Env, suffix: &str) -> PathBuf {
    dev_backups(e, suffix)
        .into_iter()
        .next()
        .expect("a backup of dev")
}

/// dev's backup files whose names end with `suffix`, by name (oldest first).
fn dev_backups(e: &Env, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(e.data().join("backups/dev"))
        .into_iter()
        .flatten()
        .map(|f| f.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

/// Runs `args` with the environment variables `vars`; returns the exit code and all it printed.
fn run_with(e: &Env, vars: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let out = e
        .cmd()
        .envs(vars.iter().copied())
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// Names read from a database reach the terminal escaped: a table named with terminal control
/// sequences (clear the screen, move the cursor up) is shown as text in `check`, `status` and
/// `migrations check`, and cannot rewrite what is printed above a prompt.
#[test]
fn names_from_a_database_cannot_drive_the_terminal() {
    let e = Env::new();
    e.seeded("dev");
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch("CREATE TABLE \"x\u{1b}[2J\u{1b}[1A\u{202e}y\" (a);")
        .unwrap();
    for args in [
        &["check", "dev"][..],
        &["status", "dev"][..],
        &["migrations", "check", "dev"][..],
    ] {
        let (_, out, err) = e.run(args);
        let all = out + &err;
        assert!(all.contains("x\\u{1b}[2J"), "{args:?}: {all}");
        assert!(
            !all.contains('\u{1b}') && !all.contains('\u{202e}'),
            "{args:?}: raw control characters in {all:?}"
        );
    }
    // The error line of a refusal naming it too (a view from elsewhere: seed refuses).
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch("CREATE VIEW \"v\u{1b}[2J\" AS SELECT 1;")
        .unwrap();
    let (code, _, err) = e.run(&["seed", "dev", "--jobs", "1"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("v\\u{1b}[2J") && !err.contains('\u{1b}'),
        "{err:?}"
    );
}

/// CSV asked for on a terminal is shown escaped (a value can hold escape sequences); piped, the
/// bytes are exactly the value's.
#[test]
fn csv_on_a_terminal_is_escaped_and_piped_it_is_exact() {
    use crate::verbs::exit_code;
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let sql = "SELECT 'a' || char(27) || '[2Jb' AS x";
    let piped = e.ok(&["query", "dev", sql, "--format", "csv"]);
    assert!(piped.contains("a\u{1b}[2Jb"), "{piped:?}");
    let mut cmd = std::process::Command::new(pipeline_db_e2e::bin());
    cmd.arg("--data-dir")
        .arg(e.data())
        .args(["query", "dev", sql, "--format", "csv"]);
    let mut p = expectrl::Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(20)));
    p.expect("a\\u{1b}[2Jb").unwrap();
    // CSV's CRLF line endings stay line endings (a CR inside a line would be shown escaped).
    let (_, rest) = p
        .expect(expectrl::Eof)
        .map(|m| ((), m.before().to_vec()))
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&rest).contains("\\u{d}"),
        "{rest:?}"
    );
    assert_eq!(exit_code(&mut p), 0);
}

/// `undo` restores the backup of the last action on the env's file: once the env points at
/// another file (`env path`), that backup never held it, and undo refuses instead of replacing
/// the new file with the old one's content.
#[test]
fn undo_after_the_env_was_pointed_at_another_file_is_refused() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["reset", "dev", "--force"]);
    let other = e.data().join("elsewhere.sqlite3");
    e.ok(&["env", "path", "dev", other.to_str().unwrap(), "--force"]);
    e.ok(&["migrate", "dev"]);
    let before = fingerprint(&other);
    let (code, _, err) = e.run(&["undo", "dev", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("was pointed at another file since"), "{err}");
    assert_eq!(fingerprint(&other), before);
}

/// A migration history with a gap (V2 recorded, V1 not: edited by hand) is no history our runs
/// leave: `migrate` refuses it up front, names the gap, and takes no backup.
#[test]
fn a_migration_history_with_a_gap_is_refused_before_any_backup() {
    let e = Env::new();
    e.seeded("dev");
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch("DELETE FROM refinery_schema_history WHERE version = 1;")
        .unwrap();
    let before = fingerprint(&e.db("dev"));
    let (code, _, err) = e.run(&["migrate", "dev", "--force"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("a gap in the history"), "{err}");
    assert_eq!(fingerprint(&e.db("dev")), before);
    assert!(dev_backups(&e, ".zst").is_empty(), "no backup taken");
    // The cards do not offer what migrate refuses: status gives migrate's own reason.
    let status: serde_json::Value =
        serde_json::from_str(&e.ok(&["status", "dev", "--json"])).unwrap();
    let migrate = &status[0]["actions"]["migrate"];
    assert_eq!(migrate["available"], false, "{migrate}");
    assert!(
        migrate["reason"]
            .as_str()
            .unwrap()
            .contains("a gap in the history"),
        "{migrate}"
    );
}

/// Moving the whole data dir (a new laptop, another disk) is no repointing: `undo` still brings
/// back what the last action replaced.
#[test]
fn undo_works_after_the_whole_data_dir_was_moved() {
    let e = Env::new();
    e.seeded("dev");
    let before = fingerprint(&e.db("dev"));
    e.ok(&["reset", "dev", "--force"]);
    let moved = tempfile::TempDir::new_in(e.data().parent().unwrap()).unwrap();
    let to = moved.path().join("data");
    std::fs::rename(e.data(), &to).unwrap();
    // Retention keeps undo's target in the moved dir (keep = 1: only the guards keep anything).
    std::fs::write(to.join("pipeline-db.toml"), "[retention]\nkeep = 1\n").unwrap();
    let run = |args: &[&str]| pipeline_db_e2e::command(&to).args(args).output().unwrap();
    assert!(run(&["backup", "dev"]).status.success());
    let out = run(&["undo", "dev", "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut after = fingerprint(&to.join("dev.sqlite3"));
    let mut was = before;
    after.remove("pipeline_db_meta");
    was.remove("pipeline_db_meta");
    assert_eq!(after, was);
}

/// Regressions a review of this hardening found, each a workflow that must keep working: undo of
/// a retag (its pre-retag backup is tagged with the old name), undo after an `env path` that
/// pointed the env at the file it had, and a compressed backup verified on a small disk.
#[test]
fn undo_of_a_retag_and_after_a_no_op_env_path_and_a_small_disk_keep_working() {
    let e = Env::new();
    e.seeded("dev");
    std::fs::copy(e.db("dev"), e.db("test")).unwrap();
    e.ok(&["env", "set", "test", "--force"]);
    e.ok(&["undo", "test", "--force"]);
    e.ok(&["reset", "dev", "--force"]);
    e.ok(&["env", "path", "dev", "--default", "--force"]);
    e.ok(&["undo", "dev", "--force"]);
    e.ok(&["backup", "dev"]);
    let zst = dev_backup(&e, "-manual.sqlite3.zst");
    let free = (40u64 << 20).to_string();
    let (code, out) = run_with(
        &e,
        &[("PIPELINE_DB_TEST_FREE_BYTES", &free)],
        &["backups", "verify", zst.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{out}");
}

/// A retention policy edited by hand is checked as `config set` checks it: under a limit too large
/// to mean anything (in bytes it wrapped to nothing, and every backup went) or `keep = 0`,
/// retention deletes nothing and says why; every command still runs, and `config set` fixes it.
#[test]
fn a_retention_policy_out_of_range_in_the_config_deletes_nothing_and_can_be_fixed() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["backup", "dev"]);
    let cfg = e.data().join("pipeline-db.toml");
    for bad in [
        "budget_mib = 17592186044416",
        "max_total_mib = 17592186044416",
        "keep = 0",
    ] {
        let before = dev_backups(&e, ".zst");
        std::fs::write(&cfg, format!("[retention]\n{bad}\n")).unwrap();
        let (code, out, err) = e.run(&["backup", "dev"]);
        assert_eq!(code, 0, "{bad}: {err}");
        assert!((out + &err).contains("out of range"), "{bad}: {err}");
        let after = dev_backups(&e, ".zst");
        assert!(
            before.iter().all(|b| after.contains(b)),
            "{bad}: nothing deleted"
        );
        assert_eq!(after.len(), before.len() + 1, "{bad}");
    }
    e.ok(&["config", "set", "retention", "1", "--force"]);
    assert!(std::fs::read_to_string(&cfg).unwrap().contains("keep = 1"));
}

/// Only a regular file of its own is a backup: a link in the backup dir to the live database
/// (with a manifest made to match it) is not listed, so a restore does not take it for "a backup
/// that already holds exactly this database" and takes a real one; a directory named like a
/// backup neither counts nor stops retention.
#[test]
fn a_link_to_the_live_database_in_the_backup_dir_is_no_backup() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["backup", "dev"]);
    let old = dev_backup(&e, "-manual.sqlite3.zst");
    e.ok(&["seed", "dev", "--jobs", "7"]);
    rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let dir = e.data().join("backups/dev");
    let manifest = |name: &str| {
        let mut m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{}.json", old.display())).unwrap(),
        )
        .unwrap();
        m["sha256"] = pipeline_db_e2e::sha256(&e.db("dev")).into();
        m["size_bytes"] = std::fs::metadata(e.db("dev")).unwrap().len().into();
        m["stored"] = serde_json::Value::Null;
        m["created_at"] = "2099-12-31T23:59:59Z".into();
        std::fs::write(dir.join(format!("{name}.json")), m.to_string()).unwrap();
    };
    let link = "dev-20991231T235959000Z-manual.sqlite3";
    std::os::unix::fs::symlink(e.db("dev"), dir.join(link)).unwrap();
    manifest(link);
    let hard = "dev-20991231T235958000Z-manual.sqlite3";
    std::fs::hard_link(e.db("dev"), dir.join(hard)).unwrap();
    manifest(hard);
    let folder = "dev-20000101T000000000Z-manual.sqlite3.zst";
    std::fs::create_dir(dir.join(folder)).unwrap();
    manifest(folder);
    let listed = e.ok(&["backups", "list", "dev", "--json"]);
    for name in [link, hard, folder] {
        assert!(!listed.contains(name), "{name} listed: {listed}");
    }
    let plan = e.ok(&["restore", "dev", old.to_str().unwrap(), "--dry-run"]);
    assert!(!plan.contains("already holds exactly"), "{plan}");
    e.ok(&["restore", "dev", old.to_str().unwrap(), "--force"]);
    assert_eq!(
        dev_backups(&e, "-pre-restore.sqlite3.zst").len(),
        1,
        "a real pre-restore backup"
    );
    std::fs::write(e.data().join("pipeline-db.toml"), "[retention]\nkeep = 1\n").unwrap();
    let out = e.ok(&["backup", "dev"]);
    assert!(!out.contains("failed"), "{out}");
    assert!(dir.join(folder).is_dir() && dir.join(link).exists());
}

/// Retention counts what backups take on disk, not what their manifests claim: a manifest in
/// test's backup dir claiming 9 GiB does not make prod's next backup delete prod's others.
#[test]
fn retention_counts_measured_sizes_not_manifest_claims() {
    let e = Env::new();
    e.ok(&["migrate", "prod"]);
    for _ in 0..3 {
        e.ok(&["backup", "prod"]);
    }
    e.seeded("test");
    e.ok(&["backup", "test"]);
    let test_backup = std::fs::read_dir(e.data().join("backups/test"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-manual.sqlite3.zst"))
        .unwrap();
    let m_path = format!("{}.json", test_backup.display());
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&m_path).unwrap()).unwrap();
    m["stored"]["bytes"] = (9u64 << 30).into();
    std::fs::write(&m_path, m.to_string()).unwrap();
    let out = e.ok(&["backup", "prod"]);
    assert!(!out.contains("Retention deleted"), "{out}");
    let prod = std::fs::read_dir(e.data().join("backups/prod"))
        .unwrap()
        .filter(|f| f.as_ref().unwrap().path().extension() == Some("zst".as_ref()))
        .count();
    assert_eq!(prod, 4);
}

/// A manifest cannot make a backup older than its name says either: prune keeps the newest by
/// name, whatever its manifest's date.
#[test]
fn a_backdated_manifest_does_not_make_the_newest_backup_the_oldest() {
    let e = Env::new();
    e.seeded("dev");
    for _ in 0..3 {
        e.ok(&["backup", "dev"]);
        std::thread::sleep(Duration::from_millis(5));
    }
    let all = dev_backups(&e, "-manual.sqlite3.zst");
    let newest = PathBuf::from(format!("{}.json", all[2].display()));
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&newest).unwrap()).unwrap();
    m["created_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&newest, m.to_string()).unwrap();
    e.ok(&["backups", "prune", "dev", "--keep", "1", "--force"]);
    assert_eq!(dev_backups(&e, "-manual.sqlite3.zst"), vec![all[2].clone()]);
}

/// `backups verify` names only the checks it made: a compressed backup without a frame checksum
/// is not said to have one, and a manifest with no record of the compressed file fails (every
/// manifest of ours has it) instead of passing unchecked.
#[test]
fn backups_verify_names_only_the_checks_it_made() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["backup", "dev"]);
    let ours = dev_backup(&e, "-manual.sqlite3.zst");
    let content = zstd::decode_all(std::fs::File::open(&ours).unwrap()).unwrap();
    let mut enc = zstd::Encoder::new(Vec::new(), 1).unwrap();
    enc.include_checksum(false).unwrap();
    std::io::Write::write_all(&mut enc, &content).unwrap();
    let bare = enc.finish().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", ours.display())).unwrap())
            .unwrap();
    let dir = e.data().join("backups/dev");
    let put = |name: &str, stored: serde_json::Value| {
        let mut m = manifest.clone();
        m["stored"] = stored;
        std::fs::write(dir.join(format!("{name}.json")), m.to_string()).unwrap();
    };
    let recorded = "dev-20261201T000000001Z-manual.sqlite3.zst";
    std::fs::write(dir.join(recorded), &bare).unwrap();
    put(
        recorded,
        serde_json::json!({
            "format": "zstd",
            "bytes": bare.len(),
            "sha256": pipeline_db_e2e::sha256(&dir.join(recorded)),
        }),
    );
    let out = e.ok(&["backups", "verify", recorded]);
    assert!(out.contains("it carries no frame checksum"), "{out}");
    assert!(!out.contains("(frame checksum)"), "{out}");
    let unrecorded = "dev-20261201T000000002Z-manual.sqlite3.zst";
    std::fs::write(dir.join(unrecorded), &bare).unwrap();
    put(unrecorded, serde_json::Value::Null);
    let (code, out, err) = e.run(&["backups", "verify", unrecorded]);
    assert_ne!(code, 0, "{out}");
    assert!((out + &err).contains("no record of the stored"), "{err}");
}

/// A query whose temporary files (here a DISTINCT of 90 MB of random blobs) would take more than
/// it may of the free space where they go is stopped, says so, and leaves no file behind; the
/// allowance (half of the free space) is lowered to 2 MB for the test.
#[test]
fn a_query_whose_temporary_files_would_fill_the_disk_is_stopped() {
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let before: Vec<_> = std::fs::read_dir(e.data())
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .collect();
    let (code, out) = run_with(
        &e,
        &[("PIPELINE_DB_TEST_QUERY_ROOM_BYTES", "2000000")],
        &[
            "query",
            "dev",
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) \
             SELECT count(*) FROM (SELECT DISTINCT randomblob(300) FROM n)",
            "--timeout-ms",
            "60000",
        ],
    );
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("its temporary files in") && out.contains("a query may take"),
        "{out}"
    );
    assert!(!out.contains("warning"), "{out}");
    let after: Vec<_> = std::fs::read_dir(e.data())
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .collect();
    assert_eq!(after, before, "nothing left in the data dir");
}

/// A data dir whose path is not UTF-8 is refused before anything is created (every path goes into
/// the audit log and the manifests as text): no action runs unlogged.
#[test]
fn a_data_dir_that_is_not_utf8_is_refused_before_anything_is_created() {
    use std::os::unix::ffi::OsStrExt;
    let e = Env::new();
    let dir = e.data().join(std::ffi::OsStr::from_bytes(b"u\xff"));
    let out = std::process::Command::new(pipeline_db_e2e::bin())
        .arg("--data-dir")
        .arg(&dir)
        .args(["reset", "dev", "--force"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(!dir.exists(), "nothing created");
}

/// A directory or a symbolic link where the lock file goes is refused with what it is and the
/// next step (exit 3), not a bare OS error; nothing changes.
#[test]
fn a_lock_file_that_is_a_directory_or_a_link_is_named_with_the_next_step() {
    let e = Env::new();
    e.seeded("dev");
    let before = fingerprint(&e.db("dev"));
    let lock = e.data().join("dev.sqlite3.lock");
    let _ = std::fs::remove_file(&lock);
    std::fs::create_dir(&lock).unwrap();
    let (code, _, err) = e.run(&["seed", "dev", "--jobs", "3"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("a directory") && err.contains("Remove it"),
        "{err}"
    );
    std::fs::remove_dir(&lock).unwrap();
    std::os::unix::fs::symlink(e.data().join("elsewhere"), &lock).unwrap();
    let (code, _, err) = e.run(&["seed", "dev", "--jobs", "3"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("a symbolic link"), "{err}");
    assert_eq!(fingerprint(&e.db("dev")), before);
}

/// `env path` while a verb runs on the env's file waits for it (its lock), then gives up with
/// exit 4: the env is never repointed under a running action, whose audit line would come after
/// the repoint and make undo take its backup for the new file's.
#[test]
fn env_path_waits_for_a_verb_running_on_the_env() {
    let e = Env::new();
    e.seeded("dev");
    let (child, err, _) = pipeline_db_e2e::at_failpoint(
        e.data(),
        "seed:batch=sleep:3000",
        &["seed", "dev", "--jobs", "10"],
    );
    let other = e.data().join("other.sqlite3");
    let (code, _, msg) = e.run(&[
        "--busy-timeout-ms",
        "300",
        "env",
        "path",
        "dev",
        other.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(code, 4, "{msg}");
    assert!(
        msg.contains("in use by another pipeline-db process"),
        "{msg}"
    );
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_eq!(code, Some(0), "{rest}");
    let status = e.ok(&["status", "dev", "--json"]);
    assert!(
        !status.contains("other.sqlite3"),
        "dev was not repointed: {status}"
    );
    e.ok(&["env", "path", "dev", other.to_str().unwrap(), "--force"]);
}

/// Removing an added env whose directory is gone (an unmounted disk) works: no verb can be running
/// there, and no lock file is made beside a file that is no longer an env.
#[test]
fn env_remove_of_an_env_whose_directory_is_gone_works_and_leaves_no_lock_file() {
    let e = Env::new();
    let ext = tempfile::tempdir().unwrap();
    let dir = ext.path().join("disk");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("x.sqlite3");
    rusqlite::Connection::open(&file)
        .unwrap()
        .execute_batch("CREATE TABLE legacy(a); INSERT INTO legacy VALUES (1);")
        .unwrap();
    e.ok(&["env", "add", "xe", file.to_str().unwrap()]);
    e.ok(&["env", "remove", "xe", "--force"]);
    assert!(!dir.join("x.sqlite3.lock").exists(), "no lock file made");
    e.ok(&["env", "add", "xe", file.to_str().unwrap()]);
    let gone = ext.path().join("gone");
    std::fs::rename(&dir, &gone).unwrap();
    e.ok(&["env", "remove", "xe", "--force"]);
}

/// `PIPELINE_DB_HOME=` (set but empty: a script's variable that was never filled) must not mean
/// "the default data dir": refused, exit 2, nothing created there; with `--data-dir` on the command
/// line it is ignored. Likewise an empty `PIPELINE_DB_CONFIG`.
#[test]
fn an_empty_data_dir_or_config_variable_is_refused_not_taken_for_the_default() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let run = |vars: &[(&str, &str)], args: &[&str]| {
        let mut c = std::process::Command::new(pipeline_db_e2e::bin());
        c.env_remove("PIPELINE_DB_HOME")
            .env_remove("PIPELINE_DB_CONFIG")
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("xdg"))
            .envs(vars.iter().copied())
            .args(args)
            .stdin(std::process::Stdio::null());
        let o = c.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    for var in ["PIPELINE_DB_HOME", "PIPELINE_DB_CONFIG"] {
        let (code, err) = run(&[(var, "")], &["migrate", "dev"]);
        assert_eq!(code, Some(2), "{var}: {err}");
        assert!(err.contains(&format!("{var} is set but empty")), "{err}");
    }
    assert!(
        pipeline_db_e2e::files_under(home.path()).is_empty(),
        "nothing made in the default data dir"
    );
    // Not fooled by a value that looks like the flag; help and version need no data dir.
    let (code, err) = run(
        &[("PIPELINE_DB_HOME", "")],
        &["query", "dev", "--", "--data-dir=/tmp\nSELECT 1"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("PIPELINE_DB_HOME is set but empty"), "{err}");
    for help in [&["--help"][..], &["--version"], &["migrate", "--help"]] {
        let (code, err) = run(&[("PIPELINE_DB_HOME", "")], help);
        assert_eq!(code, Some(0), "{help:?}: {err}");
    }
    let dir = data.path().to_str().unwrap();
    let (code, err) = run(
        &[("PIPELINE_DB_HOME", "")],
        &["--data-dir", dir, "migrate", "dev"],
    );
    assert_eq!(code, Some(0), "{err}");
}

/// A table name read from a file holds a newline: the plans and `status` show it escaped, on its
/// own line, never as lines of the plan it would forge ("backup: none needed") — in a restore
/// source (from a USB stick) and in the live database (review 20).
#[test]
fn a_newline_in_a_table_name_prints_escaped_never_as_a_line_of_the_plan() {
    let e = Env::new();
    e.seeded("dev");
    let forged = "  backup:     none needed (a dry run: nothing will be replaced)";
    let sql = format!("CREATE TABLE \"zz\n{forged}\n  note\" (x);");
    let source = edited_copy(&e, "usb.sqlite3", &sql);
    let forges = |out: &str| {
        out.lines()
            .any(|l| l.starts_with("  backup:     none needed (a dry"))
    };
    let plan = e.ok(&["restore", "prod", source.to_str().unwrap(), "--dry-run"]);
    assert!(!forges(&plan), "{plan}");
    assert!(plan.contains("zz\\u{a}  backup:"), "shown, escaped: {plan}");
    // The same table in the live database, and an index of that kind (review 21: the reset plan's
    // "other objects" printed it raw).
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch(&sql).unwrap();
    c.execute_batch(&format!("CREATE INDEX \"idx\n{forged}\" ON users (email);"))
        .unwrap();
    drop(c);
    for args in [
        vec!["reset", "dev", "--dry-run"],
        vec!["status", "dev"],
        vec!["check", "dev"],
        vec!["export", "dev", "nosuch", "--format", "csv"],
        vec!["migrations", "check", "dev"],
    ] {
        let (_, out, err) = e.run(&args);
        assert!(!forges(&out) && !forges(&err), "{args:?}: {out}{err}");
    }
    // That index damaged: SQLite's message names it, in the plans' notes (review 25).
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
        .unwrap();
    let (root, page): (i64, i64) = c
        .query_row(
            "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_schema WHERE name LIKE 'idx%'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(c);
    let mut bytes = std::fs::read(e.db("dev")).unwrap();
    let at = ((root - 1) * page) as usize + 3;
    let cells = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
    bytes[at..at + 2].copy_from_slice(&(cells - 1).to_be_bytes());
    std::fs::write(e.db("dev"), &bytes).unwrap();
    for args in [
        vec!["reset", "dev", "--dry-run"],
        vec!["restore", "dev", source.to_str().unwrap(), "--dry-run"],
    ] {
        let (_, out, err) = e.run(&args);
        assert!(out.contains("damaged"), "{args:?}: {out}{err}");
        assert!(!forges(&out) && !forges(&err), "{args:?}: {out}{err}");
    }
}

/// Another program moves a database file into the env's path while a verb runs (the usual
/// atomic replace, `mv new.sqlite3 dev.sqlite3`) (review 26): the verb's connection still has the
/// old file open while SQLite finds the log beside the path, and its backup was of the old file —
/// a reset exited 0 and emptied the file moved in, which no backup held. Now the verb sees the
/// path name another file before it commits: refused, rolled back, and the file moved in is left
/// as it was.
#[test]
fn a_database_file_moved_into_place_while_a_verb_runs_is_refused_and_left_as_it_is() {
    for (failpoint, args) in [
        (
            "reset:after_drop=sleep:2000",
            &["reset", "dev", "--force"][..],
        ),
        (
            "seed:batch=sleep:2000",
            &["seed", "dev", "--jobs", "50"][..],
        ),
    ] {
        let e = Env::new();
        e.seeded("dev");
        let other = edited_copy(&e, "other.sqlite3", "UPDATE users SET role = 'viewer'");
        let moved_in = fingerprint(&other);
        let (child, err, seen) = pipeline_db_e2e::at_failpoint(e.data(), failpoint, args);
        std::fs::rename(&other, e.db("dev")).unwrap();
        let (code, rest) = pipeline_db_e2e::finish(child, err);
        assert_eq!(code, Some(3), "{args:?}: {seen}{rest}");
        assert!(rest.contains("was replaced by another file"), "{rest}");
        assert!(rest.contains("rolled back"), "{rest}");
        assert_eq!(
            fingerprint(&e.db("dev")),
            moved_in,
            "{args:?}: the file moved in is as it was"
        );
        let (code, out, err) = e.run(&["check", "dev"]);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
}

/// Ctrl-C twice once the change is committed (review 25): the second press quit at once, exit
/// 130 ("cancelled") with the database reset and no audit line — `undo` then offered the action
/// before it. Once committed, Ctrl-C says so and the checks and the audit line are finished.
#[test]
fn ctrl_c_after_the_commit_does_not_lose_the_audit_line() {
    let e = Env::new();
    e.seeded("dev");
    let (child, err, seen) = pipeline_db_e2e::at_failpoint(
        e.data(),
        "ritual:check_after=sleep:2000",
        &["reset", "dev", "--force"],
    );
    for _ in 0..2 {
        std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_eq!(code, Some(0), "{seen}{rest}");
    assert!(rest.contains("the change is committed"), "{rest}");
    let log: serde_json::Value =
        serde_json::from_str(&e.ok(&["log", "--env", "dev", "--json"])).unwrap();
    let last = log.as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["verb"].as_str(), last["outcome"].as_str()),
        (Some("reset"), Some("ok")),
        "{last}"
    );
}
