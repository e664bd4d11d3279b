//! The analyst's workbench end to end (issue 13): read-only queries and their refusals, exports
//! that never overwrite, imports through the one ritual, and the round trip between them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pipeline_db_e2e::{data_fingerprint, fingerprint, sha256, Env};

fn out_dir(e: &Env) -> PathBuf {
    let d = e.data().join("out");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn backups(e: &Env, env: &str) -> usize {
    std::fs::read_dir(e.data().join("backups").join(env))
        .map(|d| {
            d.flatten()
                .filter(|f| pipeline_db_e2e::is_backup_name(&f.file_name().to_string_lossy()))
                .count()
        })
        .unwrap_or(0)
}

// ---------- query ----------

#[test]
fn query_refuses_every_kind_of_write_naming_it_and_leaves_the_file_byte_identical() {
    let e = Env::new();
    e.seeded("dev");
    let vacuum_target = e.data().join("copy.db");
    let before = sha256(&e.db("dev"));
    let vacuum = format!("VACUUM INTO '{}'", vacuum_target.display());
    let cases: Vec<(&str, &str)> = vec![
        (
            "INSERT INTO users (username) VALUES ('x')",
            "INSERT into users",
        ),
        ("UPDATE jobs SET status = 'failed'", "UPDATE of jobs.status"),
        ("DELETE FROM jobs", "DELETE from jobs"),
        ("DROP TABLE jobs", "DROP"),
        ("CREATE TABLE x(a)", "CREATE"),
        ("CREATE TEMP TABLE x(a)", "CREATE"),
        (
            "WITH n AS (SELECT 1) INSERT INTO pipelines (name) SELECT 'x' FROM n",
            "INSERT into pipelines",
        ),
        ("ATTACH 'other.db' AS o", "ATTACH"),
        ("PRAGMA writable_schema = 1", "PRAGMA writable_schema"),
        ("PRAGMA user_version = 7", "PRAGMA user_version = 7"),
        ("PRAGMA journal_mode = DELETE", "PRAGMA journal_mode"),
        // Not called read-only by SQLite even without a value: named, not "changes the database".
        (
            "PRAGMA journal_mode",
            "PRAGMA journal_mode (not on the read-only list)",
        ),
        ("SELECT load_extension('/tmp/evil.so')", "load_extension"),
        ("VACUUM", "changes the database"),
        (&vacuum, "refused"),
        ("BEGIN IMMEDIATE", "transaction"),
        ("SELECT 1; DELETE FROM jobs", "DELETE from jobs"),
        ("SELECT 1; SELECT 2", "more than one statement"),
    ];
    for (sql, says) in cases {
        let (code, out, err) = e.run(&["query", "dev", sql]);
        assert_eq!(code, 3, "{sql}: {err}");
        assert!(err.contains(says), "{sql}: {err}");
        assert!(err.contains("nothing was changed"), "{sql}: {err}");
        assert!(out.is_empty(), "{sql}: {out}");
    }
    assert_eq!(
        sha256(&e.db("dev")),
        before,
        "the database file is untouched"
    );
    assert!(!vacuum_target.exists(), "VACUUM INTO wrote nothing");
    // Reads still work, and read-only PRAGMAs.
    let out = e.ok(&["query", "dev", "PRAGMA table_info(jobs)", "--format", "csv"]);
    assert!(out.contains("\"session_id\""), "{out}");
}

#[test]
fn query_json_keeps_types_and_csv_tells_null_from_empty() {
    let e = Env::new();
    e.seeded("dev");
    let out = e.ok(&[
        "query",
        "dev",
        "SELECT id, 1.5 AS r, NULL AS n, '' AS empty, params FROM jobs ORDER BY id LIMIT 2",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["id"], 1);
    assert_eq!(v[0]["r"], 1.5);
    assert!(v[0]["n"].is_null());
    assert_eq!(v[0]["empty"], "");
    assert!(v[0]["params"].is_object(), "JSON column nested: {out}");
    let out = e.ok(&[
        "query",
        "dev",
        "SELECT NULL AS n, '' AS empty, 'a,\"b\"' AS q",
        "--format",
        "csv",
    ]);
    assert_eq!(out, "\"n\",\"empty\",\"q\"\r\n,\"\",\"a,\"\"b\"\"\"\r\n");
    let nd = e.ok(&[
        "query",
        "dev",
        "SELECT id FROM jobs",
        "--format",
        "ndjson",
        "--max-rows",
        "5",
    ]);
    assert_eq!(nd.lines().count(), 5);
    let (code, _, err) = e.run(&["query", "dev", "SELECT id FROM jobs", "--max-rows", "5"]);
    assert_eq!(code, 0);
    assert!(err.contains("truncated at 5 rows"), "{err}");
}

#[test]
fn query_table_fits_the_terminal_width() {
    let e = Env::new();
    e.seeded("dev");
    let out = e
        .cmd()
        .env("COLUMNS", "60")
        .args(["query", "dev", "SELECT id, params FROM jobs LIMIT 3"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for line in text.lines() {
        assert!(line.chars().count() <= 60, "{line:?}");
    }
    assert!(text.contains('…'), "long cells are cut: {text}");
}

#[test]
fn a_runaway_recursive_query_is_stopped_by_the_time_limit() {
    let e = Env::new();
    e.seeded("dev");
    let before = sha256(&e.db("dev"));
    let started = Instant::now();
    let (code, _, err) = e.run(&[
        "query",
        "dev",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
        "--timeout-ms",
        "700",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("700 ms") && err.contains("--timeout-ms"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(sha256(&e.db("dev")), before);
}

// ---------- export ----------

#[test]
fn export_never_overwrites_and_stdout_is_the_same_bytes() {
    let e = Env::new();
    e.seeded("dev");
    let dir = out_dir(&e);
    let file = dir.join("jobs.csv");
    e.ok(&[
        "export",
        "dev",
        "jobs",
        "--format",
        "csv",
        "--output",
        s(&file),
    ]);
    let stdout = e.ok(&["export", "dev", "jobs", "--format", "csv"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), stdout);
    assert_eq!(stdout.lines().count(), 301, "header + 300 rows");
    std::fs::write(dir.join("taken.csv"), "keep").unwrap();
    let (code, _, err) = e.run(&[
        "export",
        "dev",
        "jobs",
        "--format",
        "csv",
        "--output",
        s(&dir.join("taken.csv")),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("taken.csv")).unwrap(),
        "keep"
    );
    let (code, _, err) = e.run(&["export", "dev", "nosuch", "--format", "csv"]);
    assert_eq!(code, 2, "{err}");
    // A query export goes through the same guard.
    let (code, _, err) = e.run(&[
        "export",
        "dev",
        "--query",
        "DELETE FROM jobs",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 3, "{err}");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains(".pdb-tmp-")),
        "no temp file left: {names:?}"
    );
    // One audit line per export, whatever its outcome.
    let log: serde_json::Value =
        serde_json::from_str(&e.ok(&["log", "--env", "dev", "--json"])).unwrap();
    let exports: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["verb"] == "export")
        .map(|l| {
            (
                l["outcome"].as_str().unwrap(),
                l["summary"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(exports.len(), 5, "{exports:?}");
    let ok: Vec<_> = exports.iter().filter(|(o, _)| *o == "ok").collect();
    assert_eq!(ok.len(), 2, "{exports:?}");
    assert!(
        ok.iter()
            .any(|(_, s)| s.contains("jobs.csv") && s.contains("300 rows")),
        "{ok:?}"
    );
    assert_eq!(
        exports.iter().filter(|(o, _)| *o == "refused").count(),
        2,
        "{exports:?}"
    );
}

#[test]
fn an_export_killed_before_its_rename_leaves_no_file_and_its_temp_is_cleaned_next_time() {
    let e = Env::new();
    e.seeded("dev");
    let dir = out_dir(&e);
    let file = dir.join("jobs.ndjson");
    for point in ["export:before_fsync", "export:before_rename"] {
        let out = e
            .cmd()
            .env("PIPELINE_DB_FAILPOINT", format!("{point}=abort"))
            .args([
                "export",
                "dev",
                "jobs",
                "--format",
                "ndjson",
                "--output",
                s(&file),
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{point}");
        assert!(!file.exists(), "{point}: nothing at the final name");
    }
    let temps = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().contains(".pdb-tmp-"))
            .count()
    };
    assert!(temps(&dir) >= 1, "the killed process left its temp file");
    e.ok(&[
        "export",
        "dev",
        "jobs",
        "--format",
        "ndjson",
        "--output",
        s(&file),
    ]);
    assert_eq!(
        temps(&dir),
        0,
        "the next export removed the dead process's temp files"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 300);
}

/// The clean-up of dead exports' temp files in the output directory (the user's own) removes only
/// names exactly as pipeline-db makes them: a file that merely contains the marker is theirs.
#[test]
fn an_export_leaves_the_users_files_that_merely_look_like_temp_files() {
    let e = Env::new();
    e.seeded("dev");
    let docs = tempfile::tempdir().unwrap();
    let dir = docs.path();
    let theirs = ["thesis.pdb-tmp-final.docx", "log.pdb-tmp-999999-x"];
    for n in theirs {
        std::fs::write(dir.join(n), "precious").unwrap();
    }
    let dead = dir.join(".users.csv.pdb-tmp-999999999-1");
    std::fs::write(&dead, "").unwrap();
    let out = dir.join("users.csv");
    e.ok(&[
        "export",
        "dev",
        "users",
        "--format",
        "csv",
        "--output",
        s(&out),
    ]);
    for n in theirs {
        assert_eq!(
            std::fs::read_to_string(dir.join(n)).unwrap(),
            "precious",
            "{n}"
        );
    }
    assert!(
        !dead.exists(),
        "a dead export's own temp file is still cleaned"
    );
}

/// An export never lands on the workspace's own files (the config, a journal beside a database,
/// the backups dir), and one whose audit line cannot be written is refused before it writes.
#[test]
fn an_export_onto_the_workspaces_own_files_or_without_its_audit_line_is_refused() {
    let e = Env::new();
    e.seeded("dev");
    std::fs::create_dir_all(e.data().join("backups/dev")).unwrap();
    let before = std::fs::read_dir(e.data()).unwrap().count();
    // `export dev users` as CSV to `out`, after the global options `pre`.
    let export = |pre: &[&str], out: &Path| {
        let mut args = pre.to_vec();
        args.extend([
            "export",
            "dev",
            "users",
            "--format",
            "csv",
            "--output",
            s(out),
        ]);
        e.run(&args)
    };
    for own in [
        "pipeline-db.toml",
        "dev.sqlite3-journal",
        "backups/dev/x.csv",
        "later.sqlite3-wal",
    ] {
        let out = e.data().join(own);
        let (code, _, err) = export(&[], &out);
        assert_eq!(code, 3, "{own}: {err}");
        assert!(err.contains("export somewhere else"), "{own}: {err}");
        assert!(!out.exists(), "{own}");
    }
    // With a config elsewhere, the data dir's own config (read by every run without --config)
    // is still refused.
    let elsewhere = tempfile::tempdir().unwrap();
    let cfg = elsewhere.path().join("my.toml");
    std::fs::write(&cfg, "[retention]\nkeep = 5\n").unwrap();
    let own = e.data().join("pipeline-db.toml");
    let (code, _, err) = export(&["--config", s(&cfg)], &own);
    assert_eq!(code, 3, "{err}");
    assert!(!own.exists());
    assert_eq!(std::fs::read_dir(e.data()).unwrap().count(), before);
    e.ok(&["status", "dev"]);
    // The audit log replaced by a directory: no line can be appended, so nothing is exported.
    let log = e.data().join("audit.jsonl");
    std::fs::rename(&log, e.data().join("audit.moved")).unwrap();
    std::fs::create_dir(&log).unwrap();
    let out = out_dir(&e).join("users.csv");
    let (code, _, err) = export(&[], &out);
    assert_ne!(code, 0, "{err}");
    assert!(!out.exists(), "nothing exported without its audit line");
}

// ---------- import ----------

/// Export dev's tables, import them into an empty test: the same rows (ids, text, JSON), and
/// the job summary the triggers keep.
fn round_trip(format: &str) {
    let e = Env::new();
    e.seeded("dev");
    let dir = out_dir(&e);
    e.ok(&["migrate", "test"]);
    for t in ["users", "pipelines", "jobs"] {
        let f = dir.join(format!("{t}.{format}"));
        e.ok(&["export", "dev", t, "--format", format, "--output", s(&f)]);
        e.ok(&["import", "test", t, s(&f), "--force"]);
    }
    assert_eq!(
        data_fingerprint(&e.db("test")),
        data_fingerprint(&e.db("dev"))
    );
    let (a, b) = (fingerprint(&e.db("test")), fingerprint(&e.db("dev")));
    assert_eq!(a["job_daily_stats"], b["job_daily_stats"]);
    e.ok(&["check", "test"]);
}

#[test]
fn an_exported_table_imports_back_unchanged_csv() {
    round_trip("csv");
}

#[test]
fn an_exported_table_imports_back_unchanged_ndjson() {
    round_trip("ndjson");
}

fn write(e: &Env, name: &str, bytes: &[u8]) -> PathBuf {
    let p = out_dir(e).join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

const USERS_HEADER: &str = "username,email,hashed_password,role\n";

#[test]
fn one_bad_row_refuses_the_whole_file_naming_line_column_and_rule() {
    let e = Env::new();
    e.seeded("dev");
    let before = fingerprint(&e.db("dev"));
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "check.csv",
            format!("{USERS_HEADER}ann,ann@example.org,$argon2id$x,analyst\nbob,bob@example.org,$argon2id$x,boss\n").into_bytes(),
            &["line 3", "role", "CHECK"],
        ),
        (
            "type.csv",
            format!("{USERS_HEADER}ann,ann@example.org,$argon2id$x,analyst\n").replace("role\n", "is_active\n").replace("analyst", "maybe").into_bytes(),
            &["line 2", "is_active", "not an integer"],
        ),
        (
            "utf8.csv",
            [USERS_HEADER.as_bytes(), b"ann,ann@example.org,$argon2id$x,analyst\nb\xffb,b@example.org,$argon2id$x,viewer\n"].concat(),
            &["line 3", "UTF-8"],
        ),
        (
            "columns.csv",
            format!("{USERS_HEADER}ann,ann@example.org\n").into_bytes(),
            &["line 2", "2 fields"],
        ),
        (
            "unknown.csv",
            b"username,shoe_size\nann,42\n".to_vec(),
            &["line 1", "unknown column `shoe_size`"],
        ),
        (
            "dup.csv",
            format!("{USERS_HEADER}admin,new@example.org,$argon2id$x,analyst\n").into_bytes(),
            &["line 2", "username", "already has a row"],
        ),
        (
            "dup-in-file.csv",
            format!("{USERS_HEADER}ann,ann@example.org,$argon2id$x,analyst\nANN,x@example.org,$argon2id$x,viewer\n").into_bytes(),
            &["line 3", "username", "earlier line"],
        ),
        (
            "jobs.ndjson",
            b"{\"session_id\":\"aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa\",\"run_name\":\"x\",\"user_id\":999,\"pipeline_id\":1}\n".to_vec(),
            &["line 1", "user_id", "no row of users has id 999"],
        ),
        (
            "nul.csv",
            format!("{USERS_HEADER}ADMIN\0 x,nul@example.org,$argon2id$x,admin\n").into_bytes(),
            &["line 2", "username", "holds a NUL byte"],
        ),
        (
            "nul.ndjson",
            b"{\"username\":\"ann\",\"email\":\"ann\\u0000 x@example.org\",\"hashed_password\":\"$argon2id$x\"}\n".to_vec(),
            &["line 1", "email", "holds a NUL byte"],
        ),
        (
            "twice.ndjson",
            b"{\"username\":\"ann\",\"email\":\"ann@example.org\",\"hashed_password\":\"$argon2id$x\",\"username\":\"admin2\"}\n".to_vec(),
            &["line 1", "username", "more than once"],
        ),
        (
            "bad.ndjson",
            b"{\"username\":\"ann\",\"email\":\"ann@example.org\",\"hashed_password\":\"$argon2id$x\"}\n[1,2]\n".to_vec(),
            &["line 2", "not a JSON object"],
        ),
    ];
    for (name, bytes, says) in cases {
        let table = if name.starts_with("jobs") {
            "jobs"
        } else {
            "users"
        };
        let f = write(&e, name, &bytes);
        let (code, _, err) = e.run(&["import", "dev", table, s(&f), "--force"]);
        assert_eq!(code, 3, "{name}: {err}");
        for w in says {
            assert!(err.contains(w), "{name}: wanted {w:?} in {err}");
        }
        assert!(err.contains("nothing was imported"), "{name}: {err}");
        assert_eq!(fingerprint(&e.db("dev")), before, "{name}: dev unchanged");
    }
    assert_eq!(backups(&e, "dev"), 0, "no import got as far as its backup");
}

#[test]
fn a_refused_file_is_shown_as_a_plan_that_lists_its_bad_rows() {
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let mut csv = String::from(USERS_HEADER);
    for i in 0..25 {
        let role = if i < 22 { "boss" } else { "viewer" };
        csv += &format!("u{i},u{i}@example.org,$argon2id$x,{role}\n");
    }
    csv += "u23,again@example.org,$argon2id$x,viewer\n";
    let f = write(&e, "bad.csv", csv.as_bytes());
    let (code, out, err) = e.run(&["import", "dev", "users", s(&f), "--dry-run", "--json"]);
    assert_eq!(code, 3, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["importable"], false, "{plan}");
    assert_eq!(plan["rows"], 3, "the rows no check refused");
    assert_eq!(plan["bad_row_count"], 22);
    assert_eq!(
        plan["bad_rows"].as_array().unwrap().len(),
        20,
        "the first 20 listed"
    );
    assert_eq!(plan["bad_rows"][0]["line"], 2);
    assert_eq!(plan["bad_rows"][0]["column"], "role");
    assert!(plan["bad_rows"][0]["rule"]
        .as_str()
        .unwrap()
        .contains("CHECK"));
    assert_eq!(plan["duplicates"][0]["line"], 27, "{plan}");
    let (code, out, err) = e.run(&["import", "dev", "users", s(&f), "--dry-run"]);
    assert_eq!(code, 3, "{err}");
    for says in [
        "bad rows:   22",
        "line 2, column role",
        "… and 2 more",
        "cannot run",
    ] {
        assert!(out.contains(says), "{says:?} in {out}");
    }
    assert!(err.contains("22 rows break a rule"), "{err}");
    // Without --dry-run: refused with the same exit code, nothing imported, no backup.
    let (code, _, err) = e.run(&["import", "dev", "users", s(&f), "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("nothing was imported") && err.contains("line 2"),
        "{err}"
    );
    assert_eq!(
        e.ok(&[
            "query",
            "dev",
            "SELECT count(*) FROM users",
            "--format",
            "csv"
        ])
        .lines()
        .nth(1),
        Some("0")
    );
}

#[test]
fn importing_into_prod_needs_the_typed_name_and_takes_a_verified_backup() {
    let e = Env::new();
    e.ok(&["migrate", "prod"]);
    let f = write(
        &e,
        "u.csv",
        format!("{USERS_HEADER}ann,ann@example.org,$argon2id$x,analyst\n").as_bytes(),
    );
    let plan: serde_json::Value =
        serde_json::from_str(&e.ok(&["import", "prod", "users", s(&f), "--dry-run", "--json"]))
            .unwrap();
    assert_eq!(plan["confirmation"], "type_env_name", "{plan}");
    assert_eq!(plan["rows"], 1);
    for args in [
        &["import", "prod", "users", s(&f)][..],
        &["import", "prod", "users", s(&f), "--force"],
    ] {
        let (code, _, err) = e.run(args);
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(err.contains("--confirm-env prod"), "{err}");
    }
    let out = e.ok(&[
        "import",
        "prod",
        "users",
        s(&f),
        "--confirm-env",
        "prod",
        "--json",
    ]);
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["inserted"], 1);
    let backup = out["backup"]["path"].as_str().unwrap().to_string();
    assert!(backup.contains("pre-import"), "{backup}");
    e.ok(&["backups", "verify", &backup]);
    let log = e.ok(&["log", "--env", "prod", "--json"]);
    assert!(log.contains("\"import\""), "audit-logged: {log}");
    // The same file again: every row is a duplicate now.
    let (code, _, err) = e.run(&["import", "prod", "users", s(&f), "--confirm-env", "prod"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("duplicate"), "{err}");
}

#[test]
fn the_plan_binds_the_input_files_sha256() {
    // The ritual re-makes the plan under the lock and refuses it as stale when any promise
    // differs; the input file's sha256 is one: a file edited after the plan gives another plan.
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let f = write(
        &e,
        "u.csv",
        format!("{USERS_HEADER}ann,ann@example.org,$argon2id$x,analyst\n").as_bytes(),
    );
    let a: serde_json::Value =
        serde_json::from_str(&e.ok(&["import", "dev", "users", s(&f), "--dry-run", "--json"]))
            .unwrap();
    std::fs::write(
        &f,
        format!("{USERS_HEADER}bob,bob@example.org,$argon2id$x,analyst\n"),
    )
    .unwrap();
    let b: serde_json::Value =
        serde_json::from_str(&e.ok(&["import", "dev", "users", s(&f), "--dry-run", "--json"]))
            .unwrap();
    assert_ne!(a["file_sha256"], b["file_sha256"]);
}

/// The import file is named as what it is in every refusal of its path (the path checks are
/// shared with backups given as paths), and a path that is no regular file is refused with exit 3
/// as README's exit codes say — before anything opens it (a FIFO would make the read wait).
#[cfg(unix)]
#[test]
fn an_import_path_that_is_missing_or_no_regular_file_is_refused_as_an_import_file() {
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let dir = out_dir(&e);
    let fifo = dir.join("fifo.csv");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let missing = dir.join("nope.csv");
    let dotdot = format!("{}/../nope.csv", dir.display());
    let cases: [(&[&str], i32, &str); 4] = [
        (&[s(&missing)], 2, "cannot read import file"),
        (&[&dotdot], 2, "invalid import file path"),
        (
            &[s(&fifo)],
            3,
            "is a FIFO (named pipe), not a regular file; refusing to read it as an import file",
        ),
        (
            &["/dev/zero", "--format", "csv"],
            3,
            "is a character device, not a regular file",
        ),
    ];
    for (args, code, says) in cases {
        let args = [&["import", "dev", "users"][..], args, &["--force"]].concat();
        let started = Instant::now();
        let (got, _, err) = e.run(&args);
        assert!(started.elapsed() < Duration::from_secs(20), "{args:?} hung");
        assert_eq!(got, code, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: wanted {says:?} in {err}");
        assert!(!err.contains("backup"), "{args:?}: not a backup: {err}");
    }
    assert_eq!(backups(&e, "dev"), 0);
}

/// A child stopped at a sleeping failpoint, given `secs` to finish: one still running then is
/// killed and the test fails (it hung). Returns its exit code, stdout and the rest of its stderr.
fn finish_within(
    mut child: std::process::Child,
    err: std::io::BufReader<std::process::ChildStderr>,
    secs: u64,
) -> (Option<i32>, String, String) {
    let (mut out, mut err) = (child.stdout.take().unwrap(), err);
    let read_out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).unwrap();
        s
    });
    let read_err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "still running after {secs} s (it hung): {}",
                read_err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code(),
        read_out.join().unwrap(),
        read_err.join().unwrap(),
    )
}

fn users_named(e: &Env, env: &str, name: &str) -> String {
    e.ok(&[
        "query",
        env,
        &format!("SELECT count(*) FROM users WHERE username = '{name}'"),
        "--format",
        "csv",
    ])
    .lines()
    .nth(1)
    .unwrap()
    .to_string()
}

fn one_user(name: &str) -> String {
    format!("{USERS_HEADER}{name},{name}@example.org,$argon2id$x,viewer\n")
}

/// The rows inserted are the bytes the plan hashed and the user confirmed, or none: under the
/// lock the file is opened once — refused if it is not the planned file —, and the bytes read from
/// that open file for the insert, after the backup, must have the planned sha256, or the import
/// is rolled back before its COMMIT.
#[cfg(unix)]
#[test]
fn an_import_inserts_the_bytes_it_planned_or_nothing() {
    let e = Env::new();
    e.seeded("dev");
    let run = |f: &Path, failpoint: &str| {
        pipeline_db_e2e::at_failpoint(
            e.data(),
            failpoint,
            &["import", "dev", "users", s(f), "--force", "--json"],
        )
    };
    // Replaced (a new file renamed over it) while the backup is taken: the file opened under the
    // lock is still the planned one, and its rows go in.
    let f = write(&e, "live.csv", one_user("ann").as_bytes());
    let planned = sha256(&f);
    let (child, err, _) = run(&f, "import:before_insert=sleep:1500");
    let t = write(&e, "t.csv", one_user("sam").as_bytes());
    std::fs::rename(&t, &f).unwrap();
    let (code, out, rest) = finish_within(child, err, 60);
    assert_eq!(code, Some(0), "{rest}");
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["plan"]["file_sha256"], planned.as_str(), "{out}");
    assert_eq!(out["inserted"], 1);
    assert_eq!(users_named(&e, "dev", "ann"), "1", "the planned row");
    assert_eq!(users_named(&e, "dev", "sam"), "0", "not the new file's");

    // Written in place (same file) while the backup is taken: refused, rolled back.
    let before = fingerprint(&e.db("dev"));
    let backups_before = backups(&e, "dev");
    let f = write(&e, "inplace.csv", one_user("bob").as_bytes());
    let (child, err, _) = run(&f, "import:before_insert=sleep:1500");
    std::fs::write(&f, one_user("cat")).unwrap();
    let (code, _, rest) = finish_within(child, err, 60);
    assert_eq!(code, Some(3), "{rest}");
    for says in [
        "import file",
        "changed: the bytes read for the insert",
        "are not the planned ones",
        "pipeline-db did not change the database",
        "stays (it holds the database as it was before this action)",
    ] {
        assert!(rest.contains(says), "{says:?} in {rest}");
    }
    assert_eq!(fingerprint(&e.db("dev")), before, "neither file's rows");
    assert_eq!(
        backups(&e, "dev"),
        backups_before + 1,
        "its backup was taken"
    );

    // Replaced between the confirmation and the lock: refused before the backup.
    let f = write(&e, "early.csv", one_user("dan").as_bytes());
    let (child, err, _) = run(&f, "import:before_replan=sleep:1500");
    let t = write(&e, "t2.csv", one_user("eve").as_bytes());
    std::fs::rename(&t, &f).unwrap();
    let (code, _, rest) = finish_within(child, err, 60);
    assert_eq!(code, Some(3), "{rest}");
    assert!(
        rest.contains("replaced or written since the plan read it"),
        "{rest}"
    );
    assert_eq!(fingerprint(&e.db("dev")), before);
    assert_eq!(backups(&e, "dev"), backups_before + 1, "no new backup");
}

/// Seeds dev, starts `import dev users u.csv --force`, and while it waits at its re-plan under the
/// lock removes the file and calls `then` with its path (to put something in its place); returns
/// the exit code, the rest of stderr, and dev's fingerprint from before.
fn import_with_the_file_changed_after_the_plan(
    e: &Env,
    then: impl FnOnce(&Path),
) -> (Option<i32>, String, pipeline_db_e2e::Fingerprint) {
    e.seeded("dev");
    let before = fingerprint(&e.db("dev"));
    let f = write(e, "u.csv", one_user("ann").as_bytes());
    let (child, err, _) = pipeline_db_e2e::at_failpoint(
        e.data(),
        "import:before_replan=sleep:1500",
        &["import", "dev", "users", s(&f), "--force"],
    );
    std::fs::remove_file(&f).unwrap();
    then(&f);
    let (code, _, rest) = finish_within(child, err, 30);
    (code, rest, before)
}

/// A FIFO put in the import file's place between the confirmation and the import: opening it
/// under the env's write lock waited forever for a writer. It is opened without waiting and
/// refused as at the plan; nothing is imported and the lock is let go.
#[cfg(unix)]
#[test]
fn a_fifo_swapped_in_after_the_plan_is_refused_without_waiting_under_the_lock() {
    let e = Env::new();
    let (code, rest, before) = import_with_the_file_changed_after_the_plan(&e, |f| {
        assert!(std::process::Command::new("mkfifo")
            .arg(f)
            .status()
            .unwrap()
            .success());
    });
    assert_eq!(code, Some(3), "{rest}");
    assert!(
        rest.contains(
            "is a FIFO (named pipe), not a regular file; refusing to read it as an import file"
        ),
        "{rest}"
    );
    assert_eq!(fingerprint(&e.db("dev")), before, "nothing imported");
    assert_eq!(backups(&e, "dev"), 0, "refused before the backup");
    e.ok(&["backup", "dev"]); // the lock was let go
}

/// An env's own database (or one of its files), under any name, is no import file: refused before
/// it is opened (read as a file while the plan's connection is open, it would drop that
/// connection's locks).
#[test]
fn an_env_s_own_database_is_no_import_file() {
    let e = Env::new();
    e.seeded("dev");
    let alias = e.data().join("rows.csv");
    std::fs::hard_link(e.db("dev"), &alias).unwrap();
    for (f, format) in [(e.db("dev"), "csv"), (alias, "csv")] {
        let (code, _, err) = e.run(&[
            "import",
            "dev",
            "users",
            s(&f),
            "--format",
            format,
            "--force",
        ]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("is dev's database (or one of its files)"),
            "{err}"
        );
    }
}

/// An import file removed after the plan was shown is a change since the plan (exit 3, as a file
/// replaced), not a mistake on the command line.
#[test]
fn an_import_file_removed_after_the_plan_is_a_change_since_the_plan() {
    let e = Env::new();
    let (code, rest, before) = import_with_the_file_changed_after_the_plan(&e, |_| {});
    assert_eq!(code, Some(3), "{rest}");
    assert!(
        rest.contains("it was removed after the plan read it"),
        "{rest}"
    );
    assert_eq!(fingerprint(&e.db("dev")), before, "nothing imported");
    assert_eq!(backups(&e, "dev"), 0, "refused before the backup");
}

/// The plan's count of rows to add is the rows that meet every check: bad rows, duplicates and
/// missing references are counted apart (a row with two problems, once). Blank lines are no rows,
/// in CSV (empty ones, anywhere: trailing ones refused the whole file) as in NDJSON, and the plan
/// says how many were skipped.
#[test]
fn the_plan_counts_only_the_rows_it_would_add_and_skips_blank_lines() {
    let e = Env::new();
    e.seeded("dev");
    let csv = format!(
        "{USERS_HEADER}ann,ann@example.org,$argon2id$x,analyst\n\
         bob,bob@example.org,$argon2id$x,boss\n\
         admin,carl@example.org,$argon2id$x,boss\n\
         dan,dan@example.org,$argon2id$x\n\
         admin,eve@example.org,$argon2id$x,viewer\n"
    );
    let f = write(&e, "mixed.csv", csv.as_bytes());
    let (code, out, err) = e.run(&["import", "dev", "users", s(&f), "--dry-run", "--json"]);
    assert_eq!(code, 3, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["rows"], 1, "ann alone would be added: {plan}");
    assert_eq!(plan["bad_row_count"], 3, "{plan}");
    assert_eq!(plan["duplicate_count"], 2, "{plan}");
    let (_, out, _) = e.run(&["import", "dev", "users", s(&f), "--dry-run"]);
    assert!(out.contains("add:        1 row to users"), "{out}");

    let blank = format!(
        "\r\n{USERS_HEADER}ann,ann@example.org,$argon2id$x,analyst\n\n\
         fay,fay@example.org,$argon2id$x,viewer\r\n\r\n\n"
    );
    let ndjson = "{\"username\":\"ann\",\"email\":\"ann@example.org\",\"hashed_password\":\"$argon2id$x\"}\n  \n\
         {\"username\":\"fay\",\"email\":\"fay@example.org\",\"hashed_password\":\"$argon2id$x\"}\n\n\n\n";
    for (name, bytes) in [("blank.csv", blank.as_str()), ("blank.ndjson", ndjson)] {
        let f = write(&e, name, bytes.as_bytes());
        let plan: serde_json::Value =
            serde_json::from_str(&e.ok(&["import", "dev", "users", s(&f), "--dry-run", "--json"]))
                .unwrap();
        assert_eq!(plan["importable"], true, "{name}: {plan}");
        assert_eq!(plan["rows"], 2, "{name}: {plan}");
        assert_eq!(
            plan["notes"][0], "4 blank lines skipped (they are no rows)",
            "{name}: {plan}"
        );
    }
    let f = out_dir(&e).join("blank.csv");
    let out: serde_json::Value =
        serde_json::from_str(&e.ok(&["import", "dev", "users", s(&f), "--force", "--json"]))
            .unwrap();
    assert_eq!(out["inserted"], 2, "{out}");
    assert_eq!(users_named(&e, "dev", "fay"), "1");
}

/// A row without an id gets the largest id so far + 1 when it is inserted; a later row giving
/// that id was planned as importable and then refused by the insert (`UNIQUE constraint failed:
/// users.id`). The plan follows the ids SQLite gives, in the file's order, and lists that row.
#[test]
fn the_plan_refuses_an_id_that_sqlite_gives_an_earlier_row_without_one() {
    let e = Env::new();
    e.seeded("dev"); // users 1..=6
    let row = |id: &str, name: &str| format!("{id},{name},{name}@example.org,$argon2id$x,viewer\n");
    let header = "id,username,email,hashed_password,role\n";
    // ann gets 7; bob gives 8; cat gets 9 (after bob's 8), and dan gives `dan`.
    let ids = |dan: &str| {
        [
            header,
            &row("", "ann"),
            &row("8", "bob"),
            &row("", "cat"),
            &row(dan, "dan"),
        ]
        .concat()
    };
    // dan giving 9 too clashes.
    let f = write(&e, "ids.csv", ids("9").as_bytes());
    let before = fingerprint(&e.db("dev"));
    let (code, out, err) = e.run(&["import", "dev", "users", s(&f), "--dry-run", "--json"]);
    assert_eq!(code, 3, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["importable"], false, "{plan}");
    assert_eq!(plan["duplicate_count"], 1, "{plan}");
    assert_eq!(plan["duplicates"][0]["line"], 5, "{plan}");
    assert_eq!(plan["duplicates"][0]["column"], "id", "{plan}");
    let rule = plan["duplicates"][0]["rule"].as_str().unwrap();
    assert!(
        rule.contains("line 4 gives no id, so SQLite gives it 9"),
        "{rule}"
    );
    let (code, _, err) = e.run(&["import", "dev", "users", s(&f), "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("line 5") && err.contains("line 4 gives no id"),
        "{err}"
    );
    assert_eq!(fingerprint(&e.db("dev")), before);
    // Without dan's id the ids follow on: imported as planned.
    std::fs::write(&f, ids("10")).unwrap();
    e.ok(&["import", "dev", "users", s(&f), "--force"]);
    let ids = e.ok(&[
        "query",
        "dev",
        "SELECT group_concat(id) FROM (SELECT id FROM users WHERE id > 6 ORDER BY id)",
        "--format",
        "csv",
    ]);
    assert_eq!(ids.lines().nth(1), Some("\"7,8,9,10\""), "{ids}");
}

/// In an empty table the first id given sets where SQLite's ids go on, negative ones too: an
/// id-less row after -5 gets -4, not 1.
#[test]
fn the_plan_follows_negative_ids_in_an_empty_table() {
    let e = Env::new();
    e.ok(&["migrate", "dev", "--force"]);
    let clash = write(&e, "n1.csv", b"id,name\n-5,a\n,b\n-4,c\n");
    let (code, _, err) = e.run(&["import", "dev", "pipelines", s(&clash), "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("SQLite gives it -4"), "{err}");
    let fine = write(&e, "n2.csv", b"id,name\n-5,a\n,b\n1,c\n");
    e.ok(&["import", "dev", "pipelines", s(&fine), "--force"]);
    let ids: Vec<i64> = rusqlite::Connection::open(e.db("dev"))
        .unwrap()
        .prepare("SELECT id FROM pipelines ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, [-5, -4, 1]);
}

/// Two result columns named alike are two JSON keys, not one key twice (which most readers
/// collapse into one value).
#[test]
fn json_output_keeps_both_of_two_columns_named_alike() {
    let e = Env::new();
    e.seeded("dev");
    let out = e.ok(&[
        "export",
        "dev",
        "--query",
        "SELECT 1 a, 2 a",
        "--format",
        "ndjson",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v, serde_json::json!({"a": 1, "a_2": 2}), "{out}");
}

/// An export into a pipe whose reader stops early (`| head`) ends as a Unix tool does there:
/// quietly, exit 141 (128 + SIGPIPE), no error message.
#[test]
fn an_export_into_a_pipe_closed_early_ends_quietly() {
    use std::io::Read;
    let e = Env::new();
    e.seeded("dev");
    let sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 2000000) SELECT x FROM c";
    let mut child = std::process::Command::new(pipeline_db_e2e::bin())
        .arg("--data-dir")
        .arg(e.data())
        .args(["export", "dev", "--query", sql, "--format", "csv"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The reader is gone (stdout dropped above).
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(!err.contains("error"), "{err}");
}

/// The rows a query holds for the console are bounded: a few zeroblob columns took 3.5 GB within
/// the time limit; now the query stops with its own error past 128 MiB, exit 3, nothing written
/// (review 19). (`/usr/bin/time` on this query: peak RSS 3.4–4.1 GB before, ≈ 170 MB after.)
#[test]
fn a_query_holding_more_than_the_console_keeps_is_stopped() {
    let e = Env::new();
    e.seeded("dev");
    let before = fingerprint(&e.db("dev"));
    let cols: Vec<String> = (0..20).map(|i| format!("zeroblob(999999) c{i}")).collect();
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<1000) SELECT {} FROM n",
        cols.join(", ")
    );
    let (code, out, err) = e.run(&["query", "dev", &sql, "--format", "csv"]);
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty(), "no partial result printed");
    assert!(err.contains("the query console keeps in memory"), "{err}");
    assert!(
        err.contains("pipeline-db export"),
        "names the way that streams: {err}"
    );
    assert_eq!(fingerprint(&e.db("dev")), before);
}

/// Text that is not UTF-8 in a result is named by row and column (it was "invalid utf-8
/// sequence … at index 1" with no row or column) — never shown changed (review 19).
#[test]
fn text_that_is_not_utf8_in_a_query_result_is_named_by_row_and_column() {
    let e = Env::new();
    e.seeded("dev");
    let sql = "SELECT 'fine' AS a, CAST(x'41ff42' AS TEXT) AS odd";
    let before = fingerprint(&e.db("dev"));
    let (code, _, err) = e.run(&["query", "dev", sql]);
    assert_eq!(
        fingerprint(&e.db("dev")),
        before,
        "nothing was changed, as it says"
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("row 1, column `odd`"), "{err}");
    assert!(err.contains("41ff42"), "its bytes: {err}");
}

/// A query stuck inside one row (LIKEs with a long pattern over a long text: SQLite looks at the
/// time limit only between rows) still ends by its limit: `--timeout-ms 100` ran 25 s and exited
/// 0 (review 19); now it ends within the limit and core's 2 s grace, exit 3.
#[test]
fn a_query_stuck_inside_one_row_ends_by_its_time_limit() {
    let e = Env::new();
    e.seeded("dev");
    let sql = stuck_row_sql();
    let before = fingerprint(&e.db("dev"));
    let t = Instant::now();
    let (code, out, err) = e.run(&["query", "dev", &sql, "--timeout-ms", "100"]);
    assert_eq!(
        fingerprint(&e.db("dev")),
        before,
        "nothing was changed, as it says"
    );
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty());
    assert!(err.contains("inside one row"), "{err}");
    assert!(err.contains("stopped with this process"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

/// The SQL of a row that takes tens of seconds inside itself: LIKEs with a long pattern over a
/// long text (SQLite looks at a time limit or an interrupt only between rows).
fn stuck_row_sql() -> String {
    let pattern = format!("%{}b", "a".repeat(900));
    let likes: Vec<String> = (0..60).map(|i| format!("x LIKE p AS m{i}")).collect();
    format!(
        "WITH v(x, p) AS (SELECT printf('%.*c', 999000, 'a'), '{pattern}') SELECT {} FROM v",
        likes.join(", ")
    )
}

/// `export --query` stuck inside one row ends by its time limit like `query` (it ran on past its
/// limit, and Cancel waited for the row): exit 3 within the limit and core's 2 s grace, and no
/// file — neither at the name asked for nor a temp file beside it.
#[test]
fn an_export_stuck_inside_one_row_ends_by_its_time_limit_and_leaves_no_file() {
    let e = Env::new();
    e.seeded("dev");
    let dir = out_dir(&e);
    let file = dir.join("stuck.csv");
    let t = Instant::now();
    let (code, out, err) = e.run(&[
        "export",
        "dev",
        "--query",
        &stuck_row_sql(),
        "--format",
        "csv",
        "--timeout-ms",
        "100",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(out.is_empty());
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
    assert!(err.contains("inside one row"), "{err}");
    assert!(err.contains("nothing is made at"), "{err}");
    assert!(err.contains("stopped with this process"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "no file, no temp file: {left:?}");
    let audit = std::fs::read_to_string(e.data().join("audit.jsonl")).unwrap();
    let last = audit.lines().last().unwrap();
    assert!(
        last.contains("export of query") && last.contains("inside one row"),
        "{last}"
    );
}

/// CSV cells a spreadsheet would run as formulas: exported as the database holds them with a
/// note naming how many, or after a `'` with --escape-formulas (review 19); JSON refuses the flag.
#[test]
fn formula_like_csv_cells_are_named_and_escaped_on_request() {
    let e = Env::new();
    e.seeded("dev");
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch(
        "UPDATE pipelines SET description = '=HYPERLINK(\"http://evil.example/\",\"open\")' WHERE id = 1;
         UPDATE pipelines SET description = '@SUM(1+1)' WHERE id = 2;",
    )
    .unwrap();
    drop(c);
    let dir = out_dir(&e);
    let plain = dir.join("plain.csv");
    let (code, _, err) = export_pipelines(&e, "csv", &plain);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("2 text cells begin with = + - @"), "{err}");
    let text = std::fs::read_to_string(&plain).unwrap();
    assert!(text.contains("\"@SUM(1+1)\""), "as the database holds it");
    let escaped = dir.join("escaped.csv");
    let args = [
        "export",
        "dev",
        "pipelines",
        "--format",
        "csv",
        "--output",
        s(&escaped),
        "--escape-formulas",
        "--json",
    ];
    let out: serde_json::Value = serde_json::from_str(&e.ok(&args)).unwrap();
    assert_eq!(out["formula_cells"], 2);
    assert_eq!(out["formulas_escaped"], true);
    let text = std::fs::read_to_string(&escaped).unwrap();
    assert!(text.contains("\"'@SUM(1+1)\""), "{text}");
    assert!(text.contains("\"'=HYPERLINK("), "{text}");
    let (code, _, err) = e.run(&[
        "export",
        "dev",
        "pipelines",
        "--format",
        "json",
        "--escape-formulas",
    ]);
    assert_eq!(code, 2, "{err}");
    // `query --format csv` too (review 21).
    let sql = "SELECT description FROM pipelines WHERE id <= 2 ORDER BY id";
    let (code, out, err) = e.run(&["query", "dev", sql, "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"@SUM(1+1)\""), "{out}");
    assert!(err.contains("2 text cells begin with = + - @"), "{err}");
    let (code, out, _) = e.run(&["query", "dev", sql, "--format", "csv", "--escape-formulas"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"'@SUM(1+1)\""), "{out}");
}

/// JSON exports: a JSON column's text with whitespace around it comes back byte for byte through
/// NDJSON and import (it was trimmed); text that is not UTF-8 stops a JSON export, no file made,
/// never written changed (it was U+FFFD) (review 19).
#[test]
fn json_exports_keep_json_text_exactly_and_refuse_text_that_is_not_utf8() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["migrate", "test"]);
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch("UPDATE pipelines SET config = ' {\"a\":1} ' WHERE id = 1;")
        .unwrap();
    let dir = out_dir(&e);
    let file = dir.join("pipelines.ndjson");
    e.ok(&[
        "export",
        "dev",
        "pipelines",
        "--format",
        "ndjson",
        "--output",
        s(&file),
    ]);
    e.ok(&["import", "test", "pipelines", s(&file), "--force"]);
    let t = rusqlite::Connection::open(e.db("test")).unwrap();
    let config: Vec<u8> = t
        .query_row(
            "SELECT CAST(config AS BLOB) FROM pipelines WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(config, b" {\"a\":1} ");
    c.execute_batch("UPDATE pipelines SET description = CAST(x'41ff42' AS TEXT) WHERE id = 2;")
        .unwrap();
    drop(c);
    let bad = dir.join("bad.json");
    let (code, _, err) = export_pipelines(&e, "json", &bad);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("row 2, column `description`"), "{err}");
    assert!(!bad.exists());
}

/// An export of a whole table of more columns than a query may select (a legacy table of 150) is
/// no "too many columns" refusal; an empty query is a usage error, not "returns no rows" (review 19).
#[test]
fn a_wide_table_exports_and_an_empty_query_is_a_usage_error() {
    let e = Env::new();
    e.seeded("dev");
    let cols: Vec<String> = (0..150).map(|i| format!("c{i} INTEGER")).collect();
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch(&format!(
        "CREATE TABLE wide ({}); INSERT INTO wide (c0, c149) VALUES (1, 2);",
        cols.join(", ")
    ))
    .unwrap();
    drop(c);
    let (code, out, err) = e.run(&["export", "dev", "wide", "--format", "csv"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().next().unwrap().ends_with("\"c149\""), "{out}");
    assert!(out.contains("1,,"), "{out}");
    for empty in [" \n ", "/* c */", ";", " -- only a comment\n ;"] {
        let (code, _, err) = e.run(&["query", "dev", empty]);
        assert_eq!(code, 2, "{empty:?}: {err}");
        assert!(err.contains("no SQL given"), "{err}");
    }
    // A query still may not select more than 100 columns.
    let (code, _, err) = e.run(&["query", "dev", "SELECT * FROM wide"]);
    assert_ne!(code, 0, "{err}");
}

/// A database another program holds is said as busy (exit 4), as before: the query's limit and
/// grace start once it is open (it was "passed its time limit inside one row", exit 3) (review 21).
#[test]
fn a_query_of_a_database_held_by_another_program_is_busy_not_stuck() {
    let e = Env::new();
    e.seeded("dev");
    let c = rusqlite::Connection::open(e.db("dev")).unwrap();
    c.execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE zz (a);")
        .unwrap();
    let (code, _, err) = e.run(&[
        "--busy-timeout-ms",
        "3000",
        "query",
        "dev",
        "SELECT 1",
        "--timeout-ms",
        "100",
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(!err.contains("inside one row"), "{err}");
    drop(c);
}

/// `export dev pipelines --format FORMAT --output OUT`: (exit code, stdout, stderr).
fn export_pipelines(e: &Env, format: &str, out: &Path) -> (i32, String, String) {
    e.run(&[
        "export",
        "dev",
        "pipelines",
        "--format",
        format,
        "--output",
        s(out),
    ])
}
