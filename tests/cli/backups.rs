//! CLI tests of the backup verbs: restore, undo, check, backups verify/prune/list, migrations repair.
//! Real binary, real SQLite files in a temp data dir.

use std::path::{Path, PathBuf};

use pipeline_db_e2e::command as cmd;
use rusqlite::Connection;
use serde_json::Value;
use tempfile::TempDir;

/// Runs and returns (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cmd(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(dir, args);
    assert_eq!(code, 0, "{args:?} failed: {err}\n{out}");
    out
}

fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).unwrap()
}

fn db(dir: &Path, env: &str) -> PathBuf {
    dir.join(format!("{env}.sqlite3"))
}

/// Every row of every table, as text: equal dumps = same content.
fn dump(path: &Path) -> String {
    let plain = pipeline_db_e2e::content(path).unwrap();
    let c = Connection::open_with_flags(&plain.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = String::new();
    for t in tables {
        // WITHOUT ROWID tables (job_daily_stats) scan in primary key order.
        let order = match c.prepare(&format!("SELECT rowid FROM \"{t}\" LIMIT 0")) {
            Ok(_) => " ORDER BY rowid",
            Err(_) => "",
        };
        let mut s = c.prepare(&format!("SELECT * FROM \"{t}\"{order}")).unwrap();
        let n = s.column_count();
        let mut rows = s.query([]).unwrap();
        out.push_str(&format!("## {t}\n"));
        while let Some(r) = rows.next().unwrap() {
            for i in 0..n {
                out.push_str(&format!("{:?}|", r.get_ref(i).unwrap()));
            }
            out.push('\n');
        }
    }
    out
}

fn scalar(path: &Path, sql: &str) -> String {
    let plain = pipeline_db_e2e::content(path).unwrap();
    let c = Connection::open(&plain.path).unwrap();
    c.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
        .map(|v| format!("{v:?}"))
        .unwrap()
}

fn audit(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn backups(dir: &Path, env: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("backups").join(env))
        .map(|rd| rd.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p: &PathBuf| {
            pipeline_db_e2e::is_backup_name(&p.file_name().unwrap().to_string_lossy())
        })
        .collect();
    v.sort();
    v
}

fn dev_with_jobs(dir: &Path, jobs: &str) {
    ok(
        dir,
        &[
            "reset",
            "dev",
            "--with-sample-data",
            "--jobs",
            jobs,
            "--force",
        ],
    );
}

/// [`backed_up`] in a new data dir, then 20 more jobs seeded: the backup no longer holds dev.
fn changed_since_backup(jobs: &str) -> (TempDir, String) {
    let d = TempDir::new().unwrap();
    let p = backed_up(d.path(), jobs);
    ok(d.path(), &["seed", "dev", "--jobs", "20"]);
    (d, p)
}

/// Another program (a connection of this test, ignoring pipeline-db's lock) commits `sql` to dev.
fn other_program_writes(dir: &Path, sql: &str) {
    let other = Connection::open(db(dir, "dev")).unwrap();
    other
        .busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    other.execute(sql, []).unwrap();
}

/// A dev database with `jobs` sample jobs and a manual backup of it; returns the backup's path.
fn backed_up(dir: &Path, jobs: &str) -> String {
    dev_with_jobs(dir, jobs);
    let b = json(dir, &["backup", "dev", "--json"]);
    b["path"].as_str().unwrap().to_string()
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0xff;
    std::fs::write(path, b).unwrap();
}

#[test]
fn restore_of_a_prod_backup_into_dev_is_retagged_dev_and_audited() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    ok(dir, &["migrate", "prod"]); // a missing prod is created by migrate, not reset
    let b = json(dir, &["backup", "prod", "--json"]);
    let prod_backup = b["path"].as_str().unwrap().to_string();
    dev_with_jobs(dir, "40");
    let plan = json(
        dir,
        &["restore", "dev", &prod_backup, "--dry-run", "--json"],
    );
    let notes = plan["notes"].to_string();
    assert!(
        notes.contains("taken from prod; it will be tagged dev"),
        "{notes}"
    );
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(40)"
    );

    let out = json(dir, &["restore", "dev", &prod_backup, "--force", "--json"]);
    let dev = db(dir, "dev");
    assert_eq!(
        scalar(&dev, "SELECT env FROM pipeline_db_meta"),
        "Text(\"dev\")"
    );
    assert_eq!(scalar(&dev, "SELECT count(*) FROM jobs"), "Integer(0)");
    assert_eq!(scalar(&dev, "PRAGMA integrity_check"), "Text(\"ok\")");
    let pre = PathBuf::from(out["backup"]["path"].as_str().unwrap());
    assert!(pre.to_string_lossy().contains("pre-restore"));
    assert_eq!(scalar(&pre, "SELECT count(*) FROM jobs"), "Integer(40)");
    let last = audit(dir).pop().unwrap();
    assert_eq!(
        (last["verb"].as_str(), last["outcome"].as_str()),
        (Some("restore"), Some("ok"))
    );
    assert_eq!(last["env"], "dev");
    assert_eq!(last["backup"].as_str(), Some(pre.to_str().unwrap()));
    // Prod is untouched and still tagged prod.
    assert_eq!(
        scalar(&db(dir, "prod"), "SELECT env FROM pipeline_db_meta"),
        "Text(\"prod\")"
    );
}

#[test]
fn restore_into_prod_needs_the_typed_confirmation() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    ok(dir, &["migrate", "prod"]); // a missing prod is created by migrate, not reset
    let b = json(dir, &["backup", "prod", "--json"]);
    let p = b["path"].as_str().unwrap();
    let (code, _, err) = run(dir, &["restore", "prod", p, "--force"]);
    assert_eq!(code, 3, "{err}");
    ok(
        dir,
        &["restore", "prod", p, "--force", "--confirm-env", "prod"],
    );
}

#[test]
fn restore_refuses_a_backup_with_a_newer_schema_and_changes_nothing() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "10");
    let newer = dir.join("newer.sqlite3");
    std::fs::copy(db(dir, "dev"), &newer).unwrap();
    Connection::open(&newer)
        .unwrap()
        .execute_batch(
            "PRAGMA journal_mode=DELETE; INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
             VALUES (99, 'future', '2030-01-01T00:00:00Z', '1'); DELETE FROM jobs;",
        )
        .unwrap();
    let before = dump(&db(dir, "dev"));
    let (code, _, err) = run(dir, &["restore", "dev", newer.to_str().unwrap(), "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("newer"), "{err}");
    assert_eq!(dump(&db(dir, "dev")), before);
    assert!(
        backups(dir, "dev").is_empty(),
        "no pre-restore backup for a refused restore"
    );
}

#[test]
fn restore_leaves_the_database_unchanged_when_the_backup_fails_verification() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "20");
    let b = json(dir, &["backup", "dev", "--json"]);
    let good = PathBuf::from(b["path"].as_str().unwrap());
    ok(dir, &["reset", "dev", "--force"]);
    let before = dump(&db(dir, "dev"));
    let n_backups = backups(dir, "dev").len();

    // 1. A byte flipped inside the file: sha256 no longer matches the manifest.
    let flipped = good.with_file_name("flipped.sqlite3");
    std::fs::copy(&good, &flipped).unwrap();
    std::fs::copy(
        pipeline_db_core::backups::record::manifest_path(&good),
        pipeline_db_core::backups::record::manifest_path(&flipped),
    )
    .unwrap();
    let len = std::fs::metadata(&flipped).unwrap().len() as usize;
    flip_byte(&flipped, len - 100);
    // 2. The manifest's sha256 edited.
    let tampered = good.with_file_name("tampered.sqlite3");
    std::fs::copy(&good, &tampered).unwrap();
    let mut m: Value = serde_json::from_str(
        &std::fs::read_to_string(pipeline_db_core::backups::record::manifest_path(&good)).unwrap(),
    )
    .unwrap();
    m["sha256"] = Value::String("0".repeat(64));
    std::fs::write(
        pipeline_db_core::backups::record::manifest_path(&tampered),
        m.to_string(),
    )
    .unwrap();
    // 3. The manifest is not JSON any more: no silent fallback to "no manifest".
    let bad_manifest = good.with_file_name("badmanifest.sqlite3");
    std::fs::copy(&good, &bad_manifest).unwrap();
    std::fs::write(
        pipeline_db_core::backups::record::manifest_path(&bad_manifest),
        "{ not json",
    )
    .unwrap();
    // 4. A manifest whose row counts do not describe its file (a compressed backup's plan is
    // read from its manifest; the staged copy must then hold exactly those rows).
    assert!(good.to_string_lossy().ends_with(".sqlite3.zst"), "{good:?}");
    let liar = good.with_file_name("liar.sqlite3.zst");
    std::fs::copy(&good, &liar).unwrap();
    let mut m: Value = serde_json::from_str(
        &std::fs::read_to_string(pipeline_db_core::backups::record::manifest_path(&good)).unwrap(),
    )
    .unwrap();
    m["row_counts"]["jobs"] = Value::from(999);
    std::fs::write(
        pipeline_db_core::backups::record::manifest_path(&liar),
        m.to_string(),
    )
    .unwrap();
    let plan = json(
        dir,
        &["restore", "dev", "liar.sqlite3.zst", "--dry-run", "--json"],
    );
    let jobs = plan["source"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "jobs");
    assert_eq!(
        jobs.unwrap()["rows"],
        999,
        "the plan shows the manifest: {plan}"
    );
    // 5. Not a database at all, no manifest.
    let junk = dir.join("junk.sqlite3");
    std::fs::write(&junk, vec![7u8; 5000]).unwrap();

    for (name, arg) in [
        ("flipped", "flipped.sqlite3".to_string()),
        ("tampered", "tampered".to_string()),
        ("bad manifest", "badmanifest.sqlite3".to_string()),
        ("manifest with other rows", "liar.sqlite3.zst".to_string()),
        ("junk", junk.to_string_lossy().into_owned()),
    ] {
        let (code, _, err) = run(dir, &["restore", "dev", &arg, "--force"]);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(err.contains("failed verification"), "{name}: {err}");
        if name == "manifest with other rows" {
            assert!(err.contains("but the plan showed"), "{err}");
        }
        assert_eq!(dump(&db(dir, "dev")), before, "{name}: dev changed");
        assert_eq!(
            backups(dir, "dev").len(),
            n_backups + 4,
            "{name}: a pre-restore backup was taken"
        );
    }
    let log = audit(dir);
    assert!(log
        .iter()
        .rev()
        .take(5)
        .all(|e| e["verb"] == "restore" && e["outcome"] == "failed"));
    // The untampered backup restores fine.
    ok(
        dir,
        &[
            "restore",
            "dev",
            good.file_name().unwrap().to_str().unwrap(),
            "--force",
        ],
    );
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(20)"
    );
}

#[test]
fn restore_interrupted_mid_copy_leaves_the_old_database() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    let p = backed_up(dir, "300");
    ok(dir, &["reset", "dev", "--force"]);
    let before = dump(&db(dir, "dev"));
    for action in ["error", "abort"] {
        let out = cmd(dir)
            .env(
                "PIPELINE_DB_FAILPOINT",
                format!("restore:mid_copy={action}"),
            )
            .args(["restore", "dev", &p, "--force"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{action}");
        assert_eq!(dump(&db(dir, "dev")), before, "{action}: dev changed");
        assert_eq!(
            scalar(&db(dir, "dev"), "PRAGMA integrity_check"),
            "Text(\"ok\")"
        );
    }
    ok(dir, &["restore", "dev", &p, "--force"]);
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(300)"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".pdb-tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Restore lets go of the write lock between its pre-restore backup and its page copy (the copy
/// is a write transaction of its own). Another program that commits in that gap wrote something
/// no backup holds: the copy must be refused before a page is written, and that commit kept.
/// Both ways: a new pre-restore backup, and relying on an existing backup that holds the database
/// (compared beside the staging, with no write lock).
#[test]
fn restore_refuses_when_another_program_commits_between_its_backup_and_its_copy() {
    for existing in [false, true] {
        commit_in_the_gap(existing);
    }
}

fn commit_in_the_gap(existing: bool) {
    let (d, p) = changed_since_backup("50");
    let dir = d.path();
    if existing {
        ok(dir, &["backup", "dev"]);
    }
    let plan = json(dir, &["restore", "dev", &p, "--dry-run", "--json"]);
    assert_eq!(plan["backup"]["existing"], existing, "{plan}");
    let (child, err, seen) = pipeline_db_e2e::at_failpoint(
        dir,
        "restore:before_copy=sleep:2000",
        &["restore", "dev", &p, "--force"],
    );
    // The other program: its commit lands while restore sleeps between backup and copy.
    other_program_writes(
        dir,
        "UPDATE users SET email = 'gap@example.org' WHERE id = (SELECT min(id) FROM users)",
    );
    let before = dump(&db(dir, "dev"));
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_eq!(code, Some(3), "refused: {seen}{rest}");
    assert!(
        rest.contains("changed right after it was backed up"),
        "{rest}"
    );
    assert_eq!(
        dump(&db(dir, "dev")),
        before,
        "the other program's commit was lost"
    );
    assert_eq!(
        scalar(
            &db(dir, "dev"),
            "SELECT count(*) FROM users WHERE email = 'gap@example.org'"
        ),
        "Integer(1)"
    );
}

/// After the page copy the live file must be, page for page, the staged copy that passed the
/// full verification. A staged copy that differs from what was copied (here: changed on disk
/// during the copy's check) fails the restore, and the previous content is put back.
#[test]
fn restore_puts_the_old_content_back_when_the_live_file_is_not_the_staged_copy() {
    let (d, p) = changed_since_backup("300");
    let dir = d.path();
    let before = dump(&db(dir, "dev"));
    let (child, err, seen) = pipeline_db_e2e::at_failpoint(
        dir,
        "restore:after_copy=sleep:2000",
        &["restore", "dev", &p, "--force"],
    );
    let staging: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".pdb-tmp-"))
        .collect();
    assert_eq!(staging.len(), 1, "{staging:?}");
    let mut bytes = std::fs::read(&staging[0]).unwrap();
    bytes[3 * 4096 + 1000] ^= 0x55;
    std::fs::write(&staging[0], &bytes).unwrap();
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_ne!(code, Some(0), "{seen}{rest}");
    assert!(
        rest.contains("is not page for page the verified staged copy"),
        "{rest}"
    );
    assert_eq!(
        dump(&db(dir, "dev")),
        before,
        "the previous content is back"
    );
    assert_eq!(
        scalar(&db(dir, "dev"), "PRAGMA integrity_check"),
        "Text(\"ok\")"
    );
}

/// A reader holding the restored content in the log keeps the checkpoint from emptying it: the
/// live file alone is then not the database, so the check after runs `quick_check` on a snapshot
/// instead of comparing the file — and the restore succeeds with the reader still open.
#[test]
fn restore_checks_through_sqlite_when_a_reader_holds_the_log() {
    let (d, p) = changed_since_backup("300");
    let dir = d.path();
    let (child, err, seen) = pipeline_db_e2e::at_failpoint(
        dir,
        "restore:after_copy=sleep:1500",
        &[
            "--busy-timeout-ms",
            "300",
            "restore",
            "dev",
            &p,
            "--force",
            "--json",
        ],
    );
    let reader = Connection::open(db(dir, "dev")).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let jobs: i64 = reader
        .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(jobs, 300, "the reader sees the restored rows");
    let (code, out, rest) = pipeline_db_e2e::finish_with_stdout(child, err);
    reader.execute_batch("COMMIT").unwrap();
    assert_eq!(code, Some(0), "{seen}{rest}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let steps: Vec<&str> = v["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["step"].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"restore: quick_check after (no page comparison)"),
        "{steps:?}"
    );
    assert!(
        !steps.contains(&"restore: compare with the staged copy"),
        "{steps:?}"
    );
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(300)"
    );
}

/// The backup the plan relied on (it held the database) is compared while the source is staged,
/// without the write lock. A commit by another program after that comparison means it no longer
/// holds: a new pre-restore backup is taken, which holds that commit, and the restore goes on.
#[test]
fn restore_takes_a_new_backup_when_another_program_commits_while_it_stages() {
    let (d, p) = changed_since_backup("50");
    let dir = d.path();
    let held = json(dir, &["backup", "dev", "--json"]);
    let plan = json(dir, &["restore", "dev", &p, "--dry-run", "--json"]);
    assert_eq!(plan["backup"]["existing"], true, "{plan}");
    let (child, err, seen) = pipeline_db_e2e::at_failpoint(
        dir,
        "restore:staged=sleep:2000",
        &["restore", "dev", &p, "--force", "--json"],
    );
    other_program_writes(
        dir,
        "UPDATE users SET email = 'staging@example.org' WHERE id = (SELECT min(id) FROM users)",
    );
    let (code, out, rest) = pipeline_db_e2e::finish_with_stdout(child, err);
    assert_eq!(code, Some(0), "{seen}{rest}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let taken = v["backup"]["path"].as_str().unwrap();
    assert_ne!(taken, held["path"].as_str().unwrap(), "a new backup");
    assert!(
        taken.contains("-pre-restore."),
        "named as what it is: {taken}"
    );
    assert_eq!(
        scalar(
            Path::new(taken),
            "SELECT count(*) FROM users WHERE email = 'staging@example.org'"
        ),
        "Integer(1)",
        "the new backup holds the other program's commit"
    );
}

/// A check after the copy that fails because another program wrote after the copy: copying the
/// previous content back would erase that program's writes, so it is not done, and the error
/// says so and names the pre-restore backup.
#[test]
fn restore_does_not_put_back_over_writes_made_after_its_copy() {
    let (d, p) = changed_since_backup("50");
    let dir = d.path();
    let (child, err, seen) = pipeline_db_e2e::at_failpoint(
        dir,
        "restore:after_copy=sleep:2000",
        &["restore", "dev", &p, "--force"],
    );
    other_program_writes(
        dir,
        "DELETE FROM jobs WHERE id = (SELECT max(id) FROM jobs)",
    );
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_ne!(code, Some(0), "{seen}{rest}");
    assert!(rest.contains("was not put back"), "{rest}");
    assert!(rest.contains("another program wrote to it"), "{rest}");
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(49)",
        "the restored rows with the other program's delete"
    );
}

/// A file from elsewhere with bytes past its last page (SQLite ignores them; some tools grow files
/// in chunks) is restored: the live file is compared with the staged copy's pages only.
#[test]
fn restore_of_a_file_with_bytes_past_its_last_page() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "40");
    let out = dir.join("elsewhere.sqlite3");
    ok(dir, &["backup", "dev", "--output", out.to_str().unwrap()]);
    for side in [".json", ".zst"] {
        let mut m = out.as_os_str().to_owned();
        m.push(side);
        let _ = std::fs::remove_file(std::path::PathBuf::from(m));
    }
    let mut bytes = std::fs::read(&out).unwrap();
    bytes.extend_from_slice(&[0xAB; 3000]);
    std::fs::write(&out, &bytes).unwrap();
    ok(dir, &["seed", "dev", "--jobs", "10"]);
    let v = json(
        dir,
        &["restore", "dev", out.to_str().unwrap(), "--force", "--json"],
    );
    let steps: Vec<&str> = v["timings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["step"].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"restore: compare with the staged copy"),
        "{steps:?}"
    );
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(40)"
    );
}

#[test]
fn undo_restores_the_pre_action_backup_and_asks_again_after_changes() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "25");
    let with_jobs = dump(&db(dir, "dev"));
    ok(dir, &["reset", "dev", "--force"]);
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(0)"
    );
    let plan = json(dir, &["undo", "dev", "--dry-run", "--json"]);
    assert_eq!(plan["action"]["verb"], "reset");
    assert_eq!(plan["changed_since"].as_array().unwrap().len(), 0);
    ok(dir, &["undo", "dev", "--force"]);
    let after_undo = dump(&db(dir, "dev"));
    // Same rows except the tag's last action.
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(25)",
        "{with_jobs}"
    );
    assert_eq!(audit(dir).last().unwrap()["verb"], "undo");

    // Undo again (= the undo is undone) after someone changed the database: asks again.
    Connection::open(db(dir, "dev"))
        .unwrap()
        .execute_batch("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs LIMIT 5)")
        .unwrap();
    let plan = json(dir, &["undo", "dev", "--dry-run", "--json"]);
    assert!(
        plan["changed_since"]
            .to_string()
            .contains("jobs: 25 rows then, 20 rows now"),
        "{plan}"
    );
    assert_eq!(plan["confirmation"], "type_env_name");
    let (code, _, err) = run(dir, &["undo", "dev", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("changed since"), "{err}");
    assert_ne!(dump(&db(dir, "dev")), after_undo);
    ok(dir, &["undo", "dev", "--force", "--confirm-env", "dev"]);
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(0)"
    );
}

#[test]
fn undo_with_nothing_to_undo_is_a_usage_error() {
    let d = TempDir::new().unwrap();
    let (code, _, err) = run(d.path(), &["undo", "dev", "--force"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing to undo"), "{err}");
}

#[test]
fn prune_keeps_the_newest_verified_backup_and_the_undo_target() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    ok(dir, &["reset", "dev", "--force"]); // b1: the pre-reset backup undo would restore
    for _ in 0..3 {
        ok(dir, &["backup", "dev"]); // b2, b3, b4 (manual)
    }
    let all = backups(dir, "dev");
    assert_eq!(all.len(), 4, "{all:?}");
    let (b1, b2, b3, b4) = (&all[0], &all[1], &all[2], &all[3]);
    assert!(b1.to_string_lossy().contains("pre-reset"));
    let len = std::fs::metadata(b4).unwrap().len() as usize;
    flip_byte(b4, len - 10); // the newest no longer verifies

    let plan = json(
        dir,
        &[
            "backups",
            "prune",
            "dev",
            "--keep",
            "1",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(backups(dir, "dev").len(), 4, "dry run deleted something");
    let delete: Vec<&str> = plan[0]["delete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(delete, vec![b2.to_str().unwrap()]);
    assert!(plan[0]["frees_bytes"].as_u64().unwrap() > 0);
    let out = ok(dir, &["backups", "prune", "dev", "--keep", "1", "--force"]);
    assert!(
        out.contains("the newest verified backup") && out.contains("undo"),
        "{out}"
    );
    assert_eq!(
        backups(dir, "dev"),
        vec![b1.clone(), b3.clone(), b4.clone()]
    );
    assert!(!pipeline_db_core::backups::record::manifest_path(b2).exists());
    assert_eq!(audit(dir).last().unwrap()["verb"], "backups prune");

    // list shows the trust state and the undo target.
    let list = json(dir, &["backups", "list", "dev", "--json"]);
    let by_path = |p: &Path| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|b| b["path"] == p.to_str().unwrap())
            .unwrap()
            .clone()
    };
    assert_eq!(by_path(b1)["undo_target"], true);
    assert_eq!(by_path(b4)["trust"]["state"], "failed");
    assert_eq!(by_path(b3)["trust"]["state"], "verified");
}

#[test]
fn backups_verify_detects_tampering() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    let b = json(dir, &["backup", "dev", "--json"]);
    let p = PathBuf::from(b["path"].as_str().unwrap());
    let name = p.file_name().unwrap().to_str().unwrap().to_string();
    ok(dir, &["backups", "verify", &name]);
    ok(dir, &["backups", "verify", "--all"]);
    let len = std::fs::metadata(&p).unwrap().len() as usize;
    flip_byte(&p, len / 2);
    let (code, out, _) = run(dir, &["backups", "verify", &name]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("sha256"), "{out}");
    assert_eq!(run(dir, &["backups", "verify", "--all"]).0, 1);
    assert_eq!(run(dir, &["backups", "verify", "../x"]).0, 2);
}

#[test]
fn odd_backup_names_are_rejected() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    let before = dump(&db(dir, "dev"));
    let long = "a".repeat(300);
    for bad in [
        "..",
        ".hidden.sqlite3",
        "a\u{1}b",
        long.as_str(),
        "\u{202e}x",
        "no-such-backup",
    ] {
        let (code, _, err) = run(dir, &["restore", "dev", bad, "--force"]);
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
    let live = db(dir, "dev");
    let (code, _, err) = run(dir, &["restore", "dev", live.to_str().unwrap(), "--force"]);
    assert_eq!(code, 2, "the live database is not a backup: {err}");
    for bad in ["../x.sqlite3", "/etc/passwd"] {
        let (code, _, err) = run(dir, &["restore", "dev", bad, "--force"]);
        assert_ne!(code, 0, "{bad:?}: {err}");
    }
    let (code, _, err) = run(
        dir,
        &[
            "backup",
            "dev",
            "--output",
            &format!("{}/../x.sqlite3", dir.display()),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(dump(&db(dir, "dev")), before);
}

#[test]
fn check_reports_a_healthy_database() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    ok(dir, &["backup", "dev"]);
    let r = json(dir, &["check", "dev", "--json"]);
    assert_eq!(r["corrupt"], false);
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["ok"] == true),
        "{r}"
    );
    assert!(r["last_verified_backup_age_secs"].as_i64().unwrap() >= 0);
    // The filesystem is named: a temp dir is a local one (a network one would fail the check).
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "filesystem" && f["detail"] == "not a network filesystem"),
        "{r}"
    );
    // An index of the user's own is named and passes (verbs, backups and restore work beside it).
    Connection::open(db(dir, "dev"))
        .unwrap()
        .execute_batch("CREATE INDEX extra_idx ON jobs (status)")
        .unwrap();
    let (code, out, _) = run(dir, &["check", "dev"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("plus the user's own extra index extra_idx"),
        "{out}"
    );
    // One of ours dropped is drift: a problem (exit 1), not corruption.
    Connection::open(db(dir, "dev"))
        .unwrap()
        .execute_batch("DROP INDEX jobs_created")
        .unwrap();
    let (code, out, _) = run(dir, &["check", "dev"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("missing index jobs_created"), "{out}");
}

/// A damaged database is replaced by removing it (after its evidence copy): not while another
/// program has it open (review 25: a restore and a reset removed it under a program holding a
/// write transaction, whose next commit then went into the removed file, exit 0). Refused, exit 4,
/// the file left as it is; once the program lets go, the same commands work.
#[test]
fn a_damaged_database_another_program_has_open_is_not_replaced() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "400");
    let backup = dir.join("before.sqlite3");
    let (code, _, err) = run(
        dir,
        &["backup", "dev", "--output", backup.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let path = db(dir, "dev");
    let bytes = garble(&path);
    // The other program: this test's process, holding the file open.
    let held = std::fs::File::open(&path).unwrap();
    let me = format!("pid {}", std::process::id());
    for args in [
        &["reset", "dev", "--confirm-env", "dev", "--force"][..],
        &[
            "restore",
            "dev",
            backup.to_str().unwrap(),
            "--confirm-env",
            "dev",
            "--force",
        ][..],
    ] {
        let (code, out, err) = run(dir, args);
        assert_eq!(code, 4, "{args:?}: {out}{err}");
        assert!(
            err.contains("another program has it open") && err.contains(&me),
            "{err}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{args:?}: left as it is"
        );
    }
    drop(held);
    let (code, out, err) = run(dir, &["reset", "dev", "--confirm-env", "dev", "--force"]);
    assert_eq!(code, 0, "{out}{err}");
}

/// The database at `path` with everything in its main file (no WAL beside it) and pages 2..8
/// garbled: damaged past `quick_check`. Returns its bytes now.
fn garble(path: &Path) -> Vec<u8> {
    Connection::open(path)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        .unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    for b in &mut bytes[4096..4096 * 8] {
        *b = 0x55;
    }
    std::fs::write(path, &bytes).unwrap();
    bytes
}

#[test]
fn check_keeps_a_byte_identical_evidence_copy_of_a_corrupt_database() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "400");
    let path = db(dir, "dev");
    let bytes = garble(&path);
    assert!(!dir.join("dev.sqlite3-wal").exists());
    let (code, out, err) = run(dir, &["check", "dev"]);
    assert_eq!(code, 5, "{out}{err}");
    // No backup exists: the next step named is one that works from here (reset keeps evidence).
    assert!(
        out.contains("restore") && out.contains("pipeline-db reset dev"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "check changed the file"
    );
    let evidence: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("dev.sqlite3.corrupt-"))
        .collect();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    assert_eq!(std::fs::read(&evidence[0]).unwrap(), bytes);

    // The same damage checked again is the same evidence: one copy, named again.
    let r = cmd(dir).args(["check", "dev", "--json"]).output().unwrap();
    assert_eq!(r.status.code(), Some(5));
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        v["evidence"][0].as_str().unwrap(),
        evidence[0].to_str().unwrap()
    );
    let count = || {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .contains("dev.sqlite3.corrupt-")
            })
            .count()
    };
    assert_eq!(count(), 1);

    // Not a database at all: same rule.
    std::fs::write(&path, b"this is not sqlite").unwrap();
    let r = cmd(dir).args(["check", "dev", "--json"]).output().unwrap();
    assert_eq!(r.status.code(), Some(5));
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    let ev = PathBuf::from(v["evidence"][0].as_str().unwrap());
    assert_eq!(std::fs::read(ev).unwrap(), b"this is not sqlite");
    assert_eq!(count(), 2, "other bytes: another copy");

    // With a log beside it: kept once as a pair too (every check made a new pair, review 23).
    std::fs::write(dir.join("dev.sqlite3-wal"), b"a log that is not one").unwrap();
    for round in 0..3 {
        let r = cmd(dir).args(["check", "dev", "--json"]).output().unwrap();
        assert_eq!(r.status.code(), Some(5));
        let v: Value = serde_json::from_slice(&r.stdout).unwrap();
        assert_eq!(v["evidence"].as_array().unwrap().len(), 2, "{v}");
        assert_eq!(count(), 4, "round {round}: the pair once");
    }
}

fn set_v1_checksum(dir: &Path, sql: &str) {
    let sum = pipeline_db_core::schema::migrations::checksum_of("V1__initial", sql).unwrap();
    Connection::open(db(dir, "dev"))
        .unwrap()
        .execute(
            "UPDATE refinery_schema_history SET checksum = ?1 WHERE version = 1",
            [sum],
        )
        .unwrap();
}

/// `migrations check` vouches only for a history it knows: a version newer than this pipeline-db,
/// a migration recorded with another checksum and a gap are drift (exit 1), and a changing verb
/// refuses such a file before any backup is taken.
#[test]
fn migrations_check_reports_an_unknown_changed_or_missing_migration_as_drift() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    let history = |sql: &str| {
        Connection::open(db(dir, "dev"))
            .unwrap()
            .execute_batch(sql)
            .unwrap()
    };
    history(
        "INSERT INTO refinery_schema_history VALUES (3, 'future', '2026-12-03T00:00:00Z', '123')",
    );
    let (code, out, err) = run(dir, &["migrations", "check", "dev"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("V3 future"), "{out}");
    let backups = || std::fs::read_dir(dir.join("backups/dev")).map_or(0, |d| d.count());
    let before = backups();
    let (code, _, err) = run(dir, &["env", "set", "dev", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("V3 future"), "{err}");
    assert_eq!(backups(), before, "refused before any backup");
    history("DELETE FROM refinery_schema_history WHERE version = 3; UPDATE refinery_schema_history SET checksum = '999' WHERE version = 2");
    let (code, out, _) = run(dir, &["migrations", "check", "dev"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("changed") && out.contains("V2"), "{out}");
    let v2 = pipeline_db_core::schema::migrations::embedded()[1]
        .checksum()
        .to_string();
    history(&format!("UPDATE refinery_schema_history SET checksum = '{v2}' WHERE version = 2; DELETE FROM refinery_schema_history WHERE version = 1"));
    let (code, out, _) = run(dir, &["migrations", "check", "dev"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("missing") && out.contains("V1"), "{out}");
}

#[test]
fn migrations_repair_fixes_only_whitespace_differences() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    let m = &pipeline_db_core::schema::migrations::embedded()[0];
    let sql = m.sql().unwrap().to_string();
    let first_line_padded = sql.replacen('\n', "   \n", 1);
    for (case, variant) in [
        ("crlf", sql.replace('\n', "\r\n")),
        ("bom", format!("\u{feff}{sql}")),
        ("trailing whitespace", first_line_padded),
    ] {
        set_v1_checksum(dir, &variant);
        let (code, _, err) = run(dir, &["migrate", "dev"]);
        assert_eq!(
            code, 3,
            "{case}: migrate should refuse divergent history: {err}"
        );
        let out = ok(dir, &["migrations", "repair", "dev", "--force"]);
        assert!(out.contains("V1"), "{case}: {out}");
        ok(dir, &["migrate", "dev", "--force"]);
        let last = audit(dir)
            .into_iter()
            .rev()
            .find(|e| e["verb"] == "migrations repair")
            .unwrap();
        assert_eq!(last["outcome"], "ok", "{case}");
        assert!(
            last["backup"].as_str().unwrap().contains("pre-repair"),
            "{case}"
        );
    }
    let before = dump(&db(dir, "dev"));
    set_v1_checksum(dir, &format!("{sql}\nDROP TABLE jobs;\n"));
    let edited = dump(&db(dir, "dev"));
    let (code, _, err) = run(dir, &["migrations", "repair", "dev"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("V1"), "{err}");
    assert_eq!(
        dump(&db(dir, "dev")),
        edited,
        "a refused repair changed the database"
    );
    assert_ne!(before, edited);
}

#[test]
fn restore_over_a_damaged_database_keeps_it_as_evidence() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "400");
    let b = json(dir, &["backup", "dev", "--json"]);
    let good = b["path"].as_str().unwrap().to_string();
    let path = db(dir, "dev");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        .unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    for x in &mut bytes[4096..4096 * 8] {
        *x = 0x55;
    }
    for (case, damaged) in [
        ("garbled pages", bytes),
        ("not a database", b"junk".repeat(2000)),
    ] {
        std::fs::write(&path, &damaged).unwrap();
        let _ = std::fs::remove_file(dir.join("dev.sqlite3-wal"));
        assert_eq!(run(dir, &["check", "dev"]).0, 5, "{case}");
        let out = json(dir, &["restore", "dev", &good, "--force", "--json"]);
        assert!(out["plan"]["current_damaged"].is_string(), "{case}: {out}");
        let ev = PathBuf::from(out["evidence"][0].as_str().unwrap());
        assert_eq!(
            std::fs::read(&ev).unwrap(),
            damaged,
            "{case}: evidence differs"
        );
        assert_eq!(
            scalar(&path, "PRAGMA integrity_check"),
            "Text(\"ok\")",
            "{case}"
        );
        assert_eq!(
            scalar(&path, "SELECT count(*) FROM jobs"),
            "Integer(400)",
            "{case}"
        );
        assert_eq!(run(dir, &["check", "dev"]).0, 0, "{case}");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
            .unwrap();
    }
}

#[test]
fn restore_of_an_older_schema_suggests_migrate() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    let empty = dir.join("empty.sqlite3");
    Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); DROP TABLE t;")
        .unwrap();
    let plan = json(
        dir,
        &[
            "restore",
            "dev",
            empty.to_str().unwrap(),
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(plan["migrate_after"], true);
    let out = ok(dir, &["restore", "dev", empty.to_str().unwrap(), "--force"]);
    assert!(out.contains("pipeline-db migrate dev"), "{out}");
    ok(dir, &["migrate", "dev", "--force"]);
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT env FROM pipeline_db_meta"),
        "Text(\"dev\")"
    );
}

#[test]
fn restore_of_a_backup_with_another_page_size_converts_it() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "50");
    let small = dir.join("small-pages.sqlite3");
    {
        let src = Connection::open(db(dir, "dev")).unwrap();
        src.execute("VACUUM INTO ?1", [small.to_str().unwrap()])
            .unwrap();
        let c = Connection::open(&small).unwrap();
        c.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA page_size=1024; VACUUM;")
            .unwrap();
        assert_eq!(scalar(&small, "PRAGMA page_size"), "Integer(1024)");
    }
    let expected = dump(&small);
    ok(dir, &["reset", "dev", "--force"]);
    ok(dir, &["restore", "dev", small.to_str().unwrap(), "--force"]);
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(50)"
    );
    assert_eq!(scalar(&db(dir, "dev"), "PRAGMA page_size"), "Integer(4096)");
    let (a, b) = (dump(&db(dir, "dev")), expected);
    // Same rows; only the tag's last action differs.
    assert_eq!(a.lines().count(), b.lines().count());
}

#[test]
fn prune_applies_the_configured_count_and_size_limits() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "3000");
    for _ in 0..4 {
        ok(dir, &["backup", "dev"]);
    }
    let all = backups(dir, "dev");
    let sizes: Vec<u64> = all
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    let total: u64 = sizes.iter().sum();
    // A bound of half the total in whole MiB (at least 1): the oldest go until it holds.
    let bound_mib = (total / 2 / (1 << 20)).max(1);
    assert!(
        total > bound_mib << 20,
        "backups too small for this test: {total}"
    );
    std::fs::write(
        dir.join("pipeline-db.toml"),
        format!("[retention]\nkeep = 3\nmax_total_mib = {bound_mib}\n"),
    )
    .unwrap();
    let mut remaining = total;
    let mut expect_deleted = vec![];
    for (i, (p, s)) in all.iter().zip(&sizes).enumerate() {
        let over_count = i < all.len() - 3;
        if i + 1 < all.len() && (over_count || remaining > bound_mib << 20) {
            remaining -= s;
            expect_deleted.push(p.clone());
        }
    }
    let out = ok(dir, &["backups", "prune", "dev", "--force"]);
    let left = backups(dir, "dev");
    for p in &all {
        assert_eq!(
            left.contains(p),
            !expect_deleted.contains(p),
            "{p:?}\n{out}"
        );
    }
    assert!(
        left.contains(all.last().unwrap()),
        "the newest verified backup is kept"
    );
}

#[cfg(unix)] // symlinks, modes
#[test]
fn a_backup_dir_that_is_a_symlink_elsewhere_is_refused() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    let elsewhere = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.join("backups")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.join("backups").join("dev")).unwrap();
    let before = dump(&db(dir, "dev"));
    let (code, _, err) = run(dir, &["backup", "dev"]);
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = run(dir, &["reset", "dev", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(dump(&db(dir, "dev")), before);
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "wrote outside the data dir"
    );
}

#[cfg(unix)] // symlinks, modes
#[test]
fn restore_writes_into_the_live_file_and_an_open_connection_sees_the_new_content() {
    use std::os::unix::fs::MetadataExt;
    let d = TempDir::new().unwrap();
    let dir = d.path();
    let p = backed_up(dir, "60");
    ok(dir, &["reset", "dev", "--force"]);
    let path = db(dir, "dev");
    let inode = std::fs::metadata(&path).unwrap().ino();
    // A reader (like the desktop) keeps the database open across the restore.
    let reader =
        Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let count = |c: &Connection| -> i64 {
        c.query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&reader), 0);
    ok(dir, &["restore", "dev", &p, "--force"]);
    assert_eq!(
        std::fs::metadata(&path).unwrap().ino(),
        inode,
        "the file was replaced"
    );
    assert_eq!(
        count(&reader),
        60,
        "the open connection does not see the restore"
    );
}

#[test]
fn prune_follows_the_one_confirmation_rule() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    for _ in 0..3 {
        ok(dir, &["backup", "dev"]);
    }
    let before = std::fs::read_dir(dir.join("backups/dev")).unwrap().count();
    let (code, _, err) = run(dir, &["backups", "prune", "dev", "--keep", "1"]);
    assert_eq!(code, 3, "no TTY, no --force: {err}");
    assert!(
        err.contains("--force") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(dir.join("backups/dev")).unwrap().count(),
        before,
        "nothing deleted"
    );
    ok(dir, &["backups", "prune", "dev", "--keep", "1", "--force"]);
    assert!(std::fs::read_dir(dir.join("backups/dev")).unwrap().count() < before);
}

fn name_of(p: &Path) -> &str {
    p.file_name().unwrap().to_str().unwrap()
}

#[test]
fn retention_runs_after_every_backup_and_keeps_undo_pins_and_the_newest() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("pipeline-db.toml"), "[retention]\nkeep = 2\n").unwrap();
    dev_with_jobs(dir, "5");
    ok(dir, &["reset", "dev", "--force"]); // b1: undo's target
    let b1 = backups(dir, "dev")[0].clone();
    ok(dir, &["backup", "dev"]); // b2: two backups, within the policy
    let b2 = backups(dir, "dev")[1].clone();
    // b3: the count rule would delete b1, which undo needs: kept, and the unmet policy is said.
    let (code, out, err) = run(dir, &["backup", "dev"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("Retention deleted"), "{out}");
    assert!(
        err.contains("retention policy not met: 3 backups are kept"),
        "{err}"
    );
    let out = ok(dir, &["backup", "dev"]); // b4: b2 goes
    assert!(
        out.contains(&format!("Retention deleted {}", b2.display())),
        "{out}"
    );
    let left = backups(dir, "dev");
    assert_eq!(left.len(), 3);
    assert!(left.contains(&b1) && !left.contains(&b2));
    assert!(!pipeline_db_core::backups::record::manifest_path(&b2).exists());
    let line = audit(dir).last().unwrap().clone();
    assert_eq!(line["verb"], "backups prune");
    assert_eq!(line["outcome"], "ok");
    let summary = line["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("automatic retention: deleted 1 backup ")
            && summary.contains(name_of(&b2)),
        "{summary}"
    );

    // A pinned backup stays.
    let b3 = left[1].clone();
    ok(dir, &["backups", "pin", "dev", name_of(&b3)]);
    let out = ok(dir, &["backup", "dev"]); // b5
    assert!(!out.contains("Retention deleted"), "{out}");
    assert_eq!(backups(dir, "dev").len(), 4);
    let list = ok(dir, &["backups", "list", "dev"]);
    assert!(
        list.contains("(pinned)") && list.contains("retention: keep 2 per env"),
        "{list}"
    );
    let listed = json(dir, &["backups", "list", "dev", "--json"]);
    let pinned: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["pinned"] == true)
        .map(|b| b["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pinned, vec![b3.to_str().unwrap().to_string()]);

    // Unpinned, and undo's target moves to the pre-seed backup: the seed's JSON lists the
    // deletions, oldest first.
    ok(dir, &["backups", "unpin", "dev", name_of(&b3)]);
    let b4 = left[2].clone();
    let out = json(dir, &["seed", "dev", "--jobs", "1", "--json"]);
    let deleted: Vec<&str> = out["retention"]["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        deleted,
        vec![
            b1.to_str().unwrap(),
            b3.to_str().unwrap(),
            b4.to_str().unwrap()
        ]
    );
    assert_eq!(out["retention"]["kept"], 2);
    assert_eq!(backups(dir, "dev").len(), 2);
}

#[test]
fn a_budget_smaller_than_one_backup_keeps_the_newest_and_says_so() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "3000");
    // Plain backups: a compressed one of 3,000 jobs is far below 1 MiB.
    std::fs::write(
        dir.join("pipeline-db.toml"),
        "[retention]\nbudget_mib = 1\n[backups]\ncompress = false\n",
    )
    .unwrap();
    ok(dir, &["backup", "dev"]);
    let first = backups(dir, "dev");
    assert!(
        std::fs::metadata(&first[0]).unwrap().len() > 1 << 20,
        "too small a db for this test"
    );
    let (code, out, err) = run(dir, &["backup", "dev", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["retention"]["deleted"][0]["path"],
        first[0].to_str().unwrap()
    );
    assert!(
        v["retention"]["unmet"]
            .as_str()
            .unwrap()
            .contains("retention.budget_mib = 1"),
        "{v}"
    );
    let left = backups(dir, "dev");
    assert_eq!(left.len(), 1, "the only copy is never deleted");
    assert_eq!(left[0].to_str().unwrap(), v["path"].as_str().unwrap());
}

#[test]
fn pin_refuses_what_is_not_one_of_the_envs_backups() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    let (code, _, err) = run(dir, &["backups", "pin", "dev", "nope"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(dir, &["backups", "pin", "dev", "../dev.sqlite3"]);
    assert_ne!(code, 0, "{err}");
    assert!(!dir.join("dev.sqlite3.pin").exists());
    ok(dir, &["backup", "dev"]);
    let b = backups(dir, "dev")[0].clone();
    std::fs::remove_file(pipeline_db_core::backups::record::manifest_path(&b)).unwrap();
    let (code, _, err) = run(dir, &["backups", "pin", "dev", name_of(&b)]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no readable manifest"), "{err}");
    assert!(!pipeline_db_core::backups::pins::is_pinned(&b));
}

#[test]
fn reset_and_a_restore_of_a_smaller_backup_leave_a_compact_file() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    ok(dir, &["reset", "dev", "--force"]);
    ok(dir, &["backup", "dev"]);
    let small = backups(dir, "dev")[0].clone();
    dev_with_jobs(dir, "20000");
    let big = std::fs::metadata(db(dir, "dev")).unwrap().len();
    ok(dir, &["reset", "dev", "--force"]);
    let after_reset = std::fs::metadata(db(dir, "dev")).unwrap().len();
    assert!(
        after_reset * 10 < big,
        "reset left {after_reset} bytes of a {big}-byte file"
    );
    assert_eq!(
        scalar(&db(dir, "dev"), "PRAGMA freelist_count"),
        "Integer(0)"
    );
    dev_with_jobs(dir, "20000");
    ok(dir, &["restore", "dev", name_of(&small), "--force"]);
    let after_restore = std::fs::metadata(db(dir, "dev")).unwrap().len();
    assert!(
        after_restore * 10 < big,
        "restore left {after_restore} bytes of a {big}-byte file"
    );
}

#[test]
fn a_restore_takes_no_new_backup_when_a_verified_one_holds_exactly_the_database() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "30");
    let source = PathBuf::from(
        json(dir, &["backup", "dev", "--json"])["path"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    Connection::open(db(dir, "dev"))
        .unwrap()
        .execute_batch("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs ORDER BY id LIMIT 5)")
        .unwrap();
    let now = PathBuf::from(
        json(dir, &["backup", "dev", "--json"])["path"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let ids = "SELECT group_concat(id) FROM (SELECT id FROM jobs ORDER BY id)";
    let with_25 = scalar(&db(dir, "dev"), ids);
    let n = backups(dir, "dev").len();

    // The manual backup just taken holds exactly what dev holds: the plan relies on it.
    let plan = json(
        dir,
        &["restore", "dev", name_of(&source), "--dry-run", "--json"],
    );
    assert_eq!(plan["backup"]["existing"], true, "{plan}");
    assert_eq!(plan["backup"]["path"], now.to_string_lossy().as_ref());
    let text = ok(dir, &["restore", "dev", name_of(&source), "--dry-run"]);
    assert!(
        text.contains("none new:") && text.contains(name_of(&now)),
        "{text}"
    );
    let out = ok(dir, &["restore", "dev", name_of(&source), "--force"]);
    assert!(out.contains("no new backup was taken"), "{out}");
    assert_eq!(backups(dir, "dev").len(), n, "no pre-restore backup file");
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(30)"
    );
    let last = audit(dir).pop().unwrap();
    assert_eq!(
        last["backup"],
        now.to_string_lossy().as_ref(),
        "undo's target"
    );
    // Undo brings back exactly what the restore replaced.
    ok(dir, &["undo", "dev", "--force"]);
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(25)"
    );
    assert_eq!(scalar(&db(dir, "dev"), ids), with_25);

    // Once the database differs from every backup, a new pre-restore backup is taken.
    Connection::open(db(dir, "dev"))
        .unwrap()
        .execute_batch("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs ORDER BY id LIMIT 1)")
        .unwrap();
    let plan = json(
        dir,
        &["restore", "dev", name_of(&source), "--dry-run", "--json"],
    );
    assert_eq!(plan["backup"]["existing"], false, "{plan}");
    // A backup whose file no longer holds what its manifest says is never relied on.
    let held = PathBuf::from(
        json(dir, &["backup", "dev", "--json"])["path"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let plan = json(
        dir,
        &["restore", "dev", name_of(&source), "--dry-run", "--json"],
    );
    assert_eq!(plan["backup"]["existing"], true, "{plan}");
    let len = std::fs::metadata(&held).unwrap().len() as usize;
    flip_byte(&held, len / 2);
    let plan = json(
        dir,
        &["restore", "dev", name_of(&source), "--dry-run", "--json"],
    );
    assert_eq!(plan["backup"]["existing"], false, "{plan}");
}

/// Unpinning a prod backup lets retention delete it at prod's next backup: it needs the typed
/// name (`--force` is not enough), as a prune of prod does. Pinning asks nothing.
#[test]
fn unpinning_a_prod_backup_needs_the_typed_name() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    ok(dir, &["migrate", "prod"]);
    ok(dir, &["backup", "prod"]);
    let b = backups(dir, "prod")[0].clone();
    let name = b.file_name().unwrap().to_str().unwrap();
    let pinned = || pipeline_db_core::backups::pins::is_pinned(&b);
    ok(dir, &["backups", "pin", "prod", name]);
    assert!(pinned());
    let (code, _, err) = run(dir, &["backups", "unpin", "prod", name, "--force"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("type `prod`"), "{err}");
    assert!(pinned(), "still pinned");
    ok(
        dir,
        &["backups", "unpin", "prod", name, "--confirm-env", "prod"],
    );
    assert!(!pinned());
}

/// A prune that stops at a deletion names what it deleted before and says the rest was not
/// deleted: never a bare error after some backups are gone.
#[test]
fn a_prune_that_stops_part_way_names_what_it_deleted() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_three_backups(dir);
    let out = deleting_fails_second(dir, &["backups", "prune", "dev", "--keep", "1", "--force"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("deleted before it: "), "{err}");
    assert!(err.contains("planned deletions were not made"), "{err}");
}

/// Automatic retention that stops part-way reports what it kept as it is on disk (not 0), and no
/// "what is left is protected" note for a pass that did not finish.
#[test]
fn retention_that_stops_part_way_reports_what_is_kept() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_three_backups(dir);
    ok(dir, &["config", "set", "retention", "10", "--force"]);
    // keep = 1 now: the next backup's pass deletes several, and stops at the second.
    std::fs::write(
        dir.join("pipeline-db.toml"),
        std::fs::read_to_string(dir.join("pipeline-db.toml"))
            .unwrap()
            .replace("keep = 10", "keep = 1"),
    )
    .unwrap();
    let out = deleting_fails_second(dir, &["backup", "dev", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &v["retention"];
    assert!(
        r["error"].as_str().unwrap().contains("deleted before it"),
        "{r}"
    );
    let on_disk = std::fs::read_dir(dir.join("backups/dev"))
        .unwrap()
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().ends_with(".sqlite3.zst"))
        .count();
    assert_eq!(r["kept"].as_u64().unwrap() as usize, on_disk, "{r}");
    assert!(r["unmet"].is_null(), "{r}");
}

/// dev with a few jobs and three manual backups, a second apart (names never collide).
fn dev_with_three_backups(dir: &Path) {
    dev_with_jobs(dir, "5");
    for _ in 0..3 {
        ok(dir, &["backup", "dev"]);
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
}

/// Runs `args` with the second deletion of a backup failing.
fn deleting_fails_second(dir: &Path, args: &[&str]) -> std::process::Output {
    pipeline_db_e2e::command(dir)
        .env("PIPELINE_DB_FAILPOINT", "retention:before_delete=error@2")
        .args(args)
        .output()
        .unwrap()
}

/// `backups prune --dry-run` writes nothing, its verification log included.
#[test]
fn a_prune_dry_run_writes_nothing() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_three_backups(dir);
    let log = dir.join("backups/verifications.jsonl");
    let before = std::fs::read(&log).ok();
    let listing = |p: &Path| {
        let mut v: Vec<(String, u64)> = pipeline_db_e2e::files_under(p)
            .into_iter()
            .map(|f| {
                let n = std::fs::metadata(p.join(&f)).map(|m| m.len()).unwrap();
                (f, n)
            })
            .collect();
        v.sort();
        v
    };
    let files = listing(&dir.join("backups"));
    ok(
        dir,
        &["backups", "prune", "dev", "--keep", "1", "--dry-run"],
    );
    assert_eq!(std::fs::read(&log).ok(), before);
    assert_eq!(listing(&dir.join("backups")), files);
}

/// `backups prune` of every env that stops in the second env also says what the first deleted in
/// the same command (done and audited, not printed yet).
#[test]
fn a_prune_of_every_env_that_stops_names_what_earlier_envs_deleted() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_three_backups(dir);
    ok(
        dir,
        &[
            "reset",
            "test",
            "--with-sample-data",
            "--jobs",
            "5",
            "--force",
        ],
    );
    for _ in 0..3 {
        ok(dir, &["backup", "test"]);
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let dev_before = std::fs::read_dir(dir.join("backups/dev")).unwrap().count();
    let out = pipeline_db_e2e::command(dir)
        .env("PIPELINE_DB_FAILPOINT", "retention:before_delete=error@4")
        .args(["backups", "prune", "--keep", "1", "--force"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let dev_after = std::fs::read_dir(dir.join("backups/dev")).unwrap().count();
    assert!(dev_after < dev_before, "dev was pruned first");
    assert!(
        err.contains(
            "this command deleted backups of other envs before it stopped at test — dev: "
        ),
        "{err}"
    );
}

/// A backup reads the live file itself (its quiesced main file is copied as a file). On POSIX
/// systems closing any handle of a file drops every lock the process holds on it, SQLite's too;
/// another program closing its last connection would then take the database for itself,
/// checkpoint without regard to the change still running and delete the log that change writes
/// into. The live file is read through a handle kept open: the log stays, the reset lands whole.
#[test]
fn a_program_closing_its_connection_during_a_reset_leaves_the_reset_s_log_in_place() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "300");
    let (child, err, seen) = pipeline_db_e2e::at_failpoint(
        dir,
        "reset:after_drop=sleep:1500",
        &["reset", "dev", "--force"],
    );
    let wal = dir.join("dev.sqlite3-wal");
    assert!(wal.exists(), "{seen}");
    // The other program (the sqlite3 shell, with the system's SQLite): opens, reads, closes.
    let other = std::process::Command::new("sqlite3")
        .arg(db(dir, "dev"))
        .arg("SELECT count(*) FROM sqlite_schema")
        .output()
        .expect("the sqlite3 shell (scripts/deps.sh test installs it)");
    assert!(other.status.success(), "{other:?}");
    assert!(
        wal.exists(),
        "the reset's log was deleted under it by another program's close"
    );
    let (code, rest) = pipeline_db_e2e::finish(child, err);
    assert_eq!(code, Some(0), "{seen}{rest}");
    assert_eq!(
        scalar(&db(dir, "dev"), "SELECT count(*) FROM jobs"),
        "Integer(0)"
    );
}

/// A program may hold the database open without any lock: opened but not used yet (a connection
/// pool's idle connection, `sqlite3.connect`), or between transactions with a rollback journal.
/// Restore writes into the live file and never replaces it, so such a connection, used after the
/// restore and after another program wrote, reads the restored database and its write lands in it.
/// (A restored file renamed over the live one would leave it on the old file, which SQLite would
/// pair with the new file's `-wal`, found by name: a mixed read, then a corrupt database.)
#[test]
fn a_connection_opened_before_a_restore_sees_the_restored_database_whole() {
    let (d, p) = changed_since_backup("50");
    let dir = d.path();
    let idle = Connection::open(db(dir, "dev")).unwrap();
    ok(dir, &["restore", "dev", &p, "--force"]);
    other_program_writes(
        dir,
        "UPDATE jobs SET run_name = 'after' WHERE id = (SELECT min(id) FROM jobs)",
    );
    let jobs: i64 = idle
        .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(jobs, 50, "the idle connection reads the restored rows");
    idle.execute(
        "UPDATE jobs SET run_name = 'idle' WHERE id = (SELECT max(id) FROM jobs)",
        [],
    )
    .unwrap();
    drop(idle);
    let live = db(dir, "dev");
    assert_eq!(scalar(&live, "PRAGMA integrity_check"), "Text(\"ok\")");
    assert_eq!(
        scalar(
            &live,
            "SELECT count(*) FROM jobs WHERE run_name IN ('after', 'idle')"
        ),
        "Integer(2)",
        "both programs' writes are in the database"
    );
}

/// A live database is not a backup, under any of its names: a second name (a hard link) of dev's
/// file is refused as a restore source like dev's own path, and `backups verify` points to
/// `check` for both (reading it as a file while a change holds dev open would also drop that
/// change's locks on it).
#[test]
fn a_second_name_of_a_live_database_is_no_restore_source() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "20");
    let alias = dir.join("alias.sqlite3");
    std::fs::hard_link(db(dir, "dev"), &alias).unwrap();
    for env in ["dev", "test"] {
        let out = cmd(dir)
            .args(["restore", env, alias.to_str().unwrap(), "--force"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env}: {err}");
        assert!(err.contains("is the live database of dev"), "{env}: {err}");
    }
    // Its `-shm` too (SQLite's locks are on it): never read as a backup.
    let _open = Connection::open(db(dir, "dev")).unwrap();
    _open
        .query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .unwrap();
    let shm = dir.join("dev.sqlite3-shm");
    assert!(shm.exists());
    let out = cmd(dir)
        .args(["restore", "dev", shm.to_str().unwrap(), "--force"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is the live database of dev"), "{err}");
    for f in [alias, db(dir, "dev"), shm] {
        let out = cmd(dir)
            .args(["backups", "verify", f.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("`pipeline-db check dev` checks it"), "{err}");
    }
}

/// A sparse file in another env's backup dir (9 GiB long, a few KiB on disk) is counted by the
/// space it takes: the data dir's budget (8 GiB) does not make dev's next backup delete dev's
/// good backups for space never used (review 20).
#[test]
fn a_sparse_file_does_not_count_its_length_against_the_budget() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "5");
    ok(dir, &["backup", "dev"]);
    ok(dir, &["backup", "dev"]);
    let before = backups(dir, "dev");
    let test = dir.join("backups/test");
    std::fs::create_dir_all(&test).unwrap();
    let name = "test-20261203T000000000Z-manual.sqlite3";
    let sparse = std::fs::File::create(test.join(name)).unwrap();
    sparse.set_len(9 << 30).unwrap();
    drop(sparse);
    let manifest = std::fs::read_to_string(format!("{}.json", before[0].display()))
        .unwrap()
        .replace("\"env\": \"dev\"", "\"env\": \"test\"");
    std::fs::write(test.join(format!("{name}.json")), manifest).unwrap();
    let (code, out, err) = run(dir, &["backup", "dev", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["retention"]["deleted"], Value::Array(vec![]), "{v}");
    let after = backups(dir, "dev");
    assert!(before.iter().all(|b| after.contains(b)), "{after:?}");
}

/// A backup that failed `backups verify` stays FAILED in a copy of the data dir (the log was keyed
/// by absolute path: the copy listed it "verified" and `check` named it the newest verified
/// backup), and is never shown verified when the log has grown past what is read of it (it was
/// ignored whole past 64 MiB) (review 20).
#[test]
fn a_failed_verification_is_remembered_in_a_copied_data_dir_and_past_a_long_log() {
    let d = TempDir::new().unwrap();
    let dir = d.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    dev_with_jobs(&dir, "5");
    ok(&dir, &["backup", "dev"]);
    let damaged = backups(&dir, "dev").pop().unwrap();
    // A good copy of it elsewhere, in a folder that looks like a backups dir (a USB stick).
    let usb = d.path().join("usb/backups/dev");
    std::fs::create_dir_all(&usb).unwrap();
    let usb_copy = usb.join(damaged.file_name().unwrap());
    std::fs::copy(&damaged, &usb_copy).unwrap();
    let mut bytes = std::fs::read(&damaged).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let (code, _, _) = run(&dir, &["backups", "verify", "--all"]);
    assert_ne!(code, 0);
    let state = |dir: &Path| {
        let list: Value = json(dir, &["backups", "list", "dev", "--json"]);
        let name = damaged.file_name().unwrap().to_str().unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|b| b["path"].as_str().unwrap().ends_with(name))
            .map(|b| b["trust"]["state"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(state(&dir), "failed");
    // Verifying the good copy elsewhere says nothing of the damaged backup (review 21).
    ok(&dir, &["backups", "verify", usb_copy.to_str().unwrap()]);
    assert_eq!(state(&dir), "failed", "a copy elsewhere is another file");
    let copy = d.path().join("copy");
    let status = std::process::Command::new("cp")
        .args(["-a", dir.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(state(&copy), "failed", "in the copy too");
    let check = ok(&copy, &["check", "dev"]);
    assert!(
        !check
            .lines()
            .any(|l| l.contains("newest verified") && l.contains("manual")),
        "{check}"
    );
    // 65 MiB appended after the record: it is no longer read, so the state is not known.
    let log = dir.join("backups/verifications.jsonl");
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    std::io::Write::write_all(&mut f, &vec![b' '; 65 << 20]).unwrap();
    std::io::Write::write_all(&mut f, b"\n").unwrap();
    drop(f);
    assert_eq!(state(&dir), "unknown");
}

/// `check` said "ok … newest verified backup" of a backup whose stored bytes had changed since it
/// was verified (review 25: one byte flipped, same size). Its sha256 is read again now: the
/// changed one is named, exit 1, and the newest one that still matches is the one named good.
#[test]
fn check_hashes_the_newest_verified_backup_again() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "50");
    ok(dir, &["backup", "dev"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(dir, &["backup", "dev"]);
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir.join("backups/dev"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".zst"))
        .collect();
    backups.sort();
    let newest = backups.last().unwrap().clone();
    let mut bytes = std::fs::read(&newest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&newest, &bytes).unwrap();
    let (code, out, err) = run(dir, &["check", "dev"]);
    assert_eq!(code, 1, "{out}{err}");
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        out.lines()
            .any(|l| l.contains(&name) && l.contains("no longer has the sha256")),
        "{out}"
    );
    // The command it names works (review 28: it named `backups verify dev`, exit 2).
    assert!(
        out.contains(&format!("`pipeline-db backups verify {name}`")),
        "{out}"
    );
    let (code, _, err) = run(dir, &["backups", "verify", &name]);
    assert_eq!(code, 1, "{err}");
    let older = backups[backups.len() - 2]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        out.lines()
            .any(|l| l.contains("newest verified backup") && l.contains(&older)),
        "{out}"
    );
}

/// `reset dev --keep-evidence`, confirmed with the typed name.
const RESET_KEEPING_EVIDENCE: &[&str] = &[
    "reset",
    "dev",
    "--keep-evidence",
    "--confirm-env",
    "dev",
    "--force",
];

/// Rows another program wrote past the CHECK constraints (`PRAGMA ignore_check_constraints`):
/// `check` called the env corrupt and named restore or reset, and both refused — no backup of it
/// can be restored, so none is taken — a dead end (review 25). `reset --keep-evidence` is the way
/// out: planned as damaged (typed name), a byte-identical evidence copy kept, the env rebuilt;
/// the refusal and `check` name it.
#[test]
fn rows_that_break_check_constraints_have_a_way_out_that_keeps_them() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "30");
    let c = Connection::open(db(dir, "dev")).unwrap();
    c.execute_batch(
        "PRAGMA ignore_check_constraints = 1; UPDATE users SET role = 'boss' WHERE id = 1;
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .unwrap();
    drop(c);
    let (code, out, _) = run(dir, &["check", "dev"]);
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("--keep-evidence"), "{out}");
    let (code, _, err) = run(dir, &["reset", "dev", "--force"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("reset ENV --keep-evidence"), "{err}");
    // Planned as damaged: the typed name, never --force alone.
    let (code, _, err) = run(dir, &["reset", "dev", "--keep-evidence", "--force"]);
    assert_eq!(code, 3, "{err}");
    let (code, out, err) = run(dir, RESET_KEEPING_EVIDENCE);
    assert_eq!(code, 0, "{out}{err}");
    let evidence: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.contains("dev.sqlite3.corrupt-") && !n.ends_with("-wal")
        })
        .collect();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    let kept = Connection::open(&evidence[0]).unwrap();
    let role: String = kept
        .query_row("SELECT role FROM users WHERE id = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(role, "boss", "the rows are kept as they were");
    // The plan counted what it dropped, and the audit line names the evidence (review 28).
    assert!(out.contains("will drop:  3 tables"), "{out}");
    let log: serde_json::Value =
        serde_json::from_str(&ok(dir, &["log", "--env", "dev", "--json"])).unwrap();
    let summary = log.as_array().unwrap().last().unwrap()["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        summary.contains("3 tables") && summary.contains(&*evidence[0].to_string_lossy()),
        "{summary}"
    );
    let (code, out, _) = run(dir, &["check", "dev"]);
    assert_eq!(code, 0, "{out}");
}

/// A restore that wrote the database, failed its check, and could not put the previous content
/// back is what `undo` must undo next: its pre-restore backup, not the action before it (review
/// 25: undo offered the pre-seed backup, which would have lost the state the restore replaced).
#[test]
fn undo_after_a_restore_that_was_not_put_back_takes_the_pre_restore_backup() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "50");
    ok(dir, &["backup", "dev"]);
    let manual = std::fs::read_dir(dir.join("backups/dev"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-manual.sqlite3.zst"))
        .unwrap();
    ok(dir, &["seed", "dev", "--jobs", "20", "--rng-seed", "5"]);
    let out = pipeline_db_e2e::command(dir)
        .env(
            "PIPELINE_DB_FAILPOINT",
            "restore:after_copy=error,restore:mid_copy=error@2",
        )
        .args(["restore", "dev", manual.to_str().unwrap(), "--force"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("was not put back"), "{err}");
    let plan: serde_json::Value =
        serde_json::from_str(&ok(dir, &["undo", "dev", "--dry-run", "--json"])).unwrap();
    let from = plan["restore"]["source"]["path"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        from.contains("pre-restore"),
        "undo would restore {from}: {plan}"
    );
}

/// An env whose file is outside the data dir: its evidence copy went beside that file (review
/// 27: 1.4 MB written outside the data dir by `check`). It is kept in `<data>/evidence/<env>/`.
#[test]
fn evidence_of_a_file_outside_the_data_dir_is_kept_in_the_data_dir() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    let outside = TempDir::new().unwrap();
    let file = outside.path().join("t.sqlite3");
    ok(
        dir,
        &["env", "path", "test", file.to_str().unwrap(), "--force"],
    );
    ok(dir, &["reset", "test", "--force", "--with-sample-data"]);
    let bytes = garble(&file);
    let (code, out, err) = run(dir, &["check", "test"]);
    assert_eq!(code, 5, "{out}{err}");
    let beside: Vec<String> = std::fs::read_dir(outside.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".corrupt-"))
        .collect();
    assert!(
        beside.is_empty(),
        "written outside the data dir: {beside:?}"
    );
    let kept: Vec<PathBuf> = std::fs::read_dir(dir.join("evidence/test"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), bytes);
    // The reset that rebuilds it names and keeps the same evidence there.
    let (code, out, err) = run(dir, &["reset", "test", "--confirm-env", "test", "--force"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&kept[0].display().to_string())
            || err.contains(&kept[0].display().to_string()),
        "{out}{err}"
    );
}

/// A backup killed between its file and its manifest left a complete file that no listing showed
/// (review 25: skipped with a log line only, not counted in disk use). `backups list` names it,
/// with its size, and how to check it.
#[test]
fn a_backup_file_without_its_manifest_is_listed_as_not_recorded() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "20");
    let out = pipeline_db_e2e::command(dir)
        .env("PIPELINE_DB_FAILPOINT", "backup:manifest=abort")
        .args(["backup", "dev"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let orphan = std::fs::read_dir(dir.join("backups/dev"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-manual.sqlite3.zst"))
        .expect("the file stayed");
    let list = ok(dir, &["backups", "list", "dev"]);
    let line = list
        .lines()
        .find(|l| l.contains("not recorded"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains(&orphan.display().to_string()), "{line}");
    let (code, out, err) = run(dir, &["backups", "verify", orphan.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
}

/// The row that breaks its CHECK constraint is the env tag's own (review 29): `reset
/// --keep-evidence` asked for `env set`, which refused for the same row — a loop with no exit.
#[test]
fn keep_evidence_works_when_the_broken_row_is_the_env_tag() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "10");
    let c = Connection::open(db(dir, "dev")).unwrap();
    c.execute_batch(
        "PRAGMA ignore_check_constraints = 1; UPDATE pipeline_db_meta SET env = '';
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .unwrap();
    drop(c);
    let (code, out, err) = run(dir, RESET_KEEPING_EVIDENCE);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(dir, &["check", "dev"]);
    assert_eq!(code, 0, "{out}");
}

/// A FIFO named like a damaged database's `-shm` (review 29): the check for another program's
/// locks opened it and waited forever, holding the env's lock. It is not opened now.
#[test]
fn a_fifo_beside_a_damaged_database_does_not_hang_its_reset() {
    let d = TempDir::new().unwrap();
    let dir = d.path();
    dev_with_jobs(dir, "30");
    let path = db(dir, "dev");
    garble(&path);
    let fifo = dir.join("dev.sqlite3-shm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = pipeline_db_e2e::spawn_piped(
        dir,
        &["reset", "dev", "--confirm-env", "dev", "--force"],
        &[],
    );
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the reset hung on the FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    assert!(
        status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
