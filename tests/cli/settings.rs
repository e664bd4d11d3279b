//! End-to-end tests of the settings verbs (`env add|remove|path`, `config show|set`) with the real
//! binary: every refusal leaves the config and the database file byte for byte as they were.

use std::path::{Path, PathBuf};

use pipeline_db_e2e::{sha256, Env};
use rusqlite::Connection;

/// A database outside the data dir with one table of data; `setup` may tag it.
fn db_file(dir: &Path, name: &str, setup: impl FnOnce(&Connection)) -> PathBuf {
    let p = dir.join(name);
    let c = Connection::open(&p).unwrap();
    c.execute_batch("CREATE TABLE legacy (x INTEGER); INSERT INTO legacy VALUES (1), (2);")
        .unwrap();
    setup(&c);
    p
}

fn tagged(dir: &Path, name: &str, env: &str) -> PathBuf {
    db_file(dir, name, |c| {
        pipeline_db_core::schema::tag::write_tag(c, env, None, "test").unwrap()
    })
}

fn config(e: &Env) -> PathBuf {
    e.data().join("pipeline-db.toml")
}

fn read(p: &Path) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn add_untagged_file_then_tag_it_and_migrate() {
    let e = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let legacy = db_file(outside.path(), "legacy.db", |_| {});
    let before = sha256(&legacy);
    let out = e.ok(&["env", "add", "demo", s(&legacy)]);
    assert!(
        out.contains("env set demo"),
        "says it must be tagged: {out}"
    );
    assert_eq!(sha256(&legacy), before, "env add never writes the file");
    let cfg = std::fs::read_to_string(config(&e)).unwrap();
    assert!(cfg.contains("[envs.demo]"), "{cfg}");
    let status = e.ok(&["status", "demo", "--json"]);
    assert!(status.contains("legacy.db"), "{status}");
    let (code, _, err) = e.run(&["migrate", "demo"]);
    assert_eq!(code, 3, "untagged data is refused until tagged: {err}");
    e.ok(&["env", "set", "demo", "--force"]);
    e.ok(&["migrate", "demo", "--force"]);
    let log = e.ok(&["log", "--json"]);
    assert!(log.contains("\"env add\""), "audit-logged: {log}");
}

#[test]
fn add_refusals_have_their_exit_codes_and_change_nothing() {
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let outside = tempfile::tempdir().unwrap();
    let o = outside.path();
    let text = o.join("notes.db");
    std::fs::write(&text, b"id,name\n1,alice\n".repeat(20)).unwrap();
    let empty = o.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let staging = tagged(o, "staging.db", "staging");
    let foreign = db_file(o, "foreign.db", |c| {
        c.pragma_update(None, "application_id", 0x4142_4344)
            .unwrap()
    });
    let dev_file = e.db("dev");
    let missing = o.join("missing.db");
    let cases: Vec<(&str, &Path, i32, &str)> = vec![
        ("demo", &text, 5, "not a SQLite database"),
        ("demo", &empty, 5, "not a SQLite database"),
        ("demo", &staging, 3, "env add staging"),
        ("demo", &foreign, 3, "another application"),
        ("dev", &staging, 3, "env path dev"),
        ("demo", &dev_file, 3, "database of env `dev`"),
        ("Demo", &staging, 2, "invalid environment name"),
        ("../x", &staging, 2, "invalid environment name"),
        ("demo", &missing, 2, "does not exist"),
    ];
    for (name, path, code, msg) in cases {
        let file = read(path);
        let (got, _, err) = e.run(&["env", "add", name, s(path)]);
        assert_eq!(got, code, "{name} {}: {err}", path.display());
        assert!(err.contains(msg), "{name} {}: {err}", path.display());
        assert_eq!(read(path), file, "file byte for byte");
        assert!(!config(&e).exists(), "no config written");
    }
    assert!(!missing.exists());
}

#[test]
fn dry_run_json_prints_the_plan_and_writes_nothing() {
    let e = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let staging = tagged(outside.path(), "staging.db", "staging");
    let out = e.ok(&[
        "env",
        "add",
        "staging",
        s(&staging),
        "--protected",
        "--dry-run",
        "--json",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["verb"], "env add");
    assert_eq!(plan["file"]["identity"]["env"], "staging");
    assert_eq!(plan["changes"].as_array().unwrap().len(), 2, "{plan}");
    assert!(!config(&e).exists());
    let out = e.ok(&[
        "env",
        "add",
        "staging",
        s(&staging),
        "--protected",
        "--json",
    ]);
    let outcome: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome["written"], true);
    let show: serde_json::Value =
        serde_json::from_str(&e.ok(&["config", "show", "--json"])).unwrap();
    assert_eq!(show["workspace"]["envs"]["staging"]["protected"], true);
}

#[test]
fn remove_keeps_the_file_and_builtins_cannot_be_removed() {
    let e = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let staging = tagged(outside.path(), "staging.db", "staging");
    e.ok(&["env", "add", "staging", s(&staging)]);
    e.ok(&["backup", "staging"]);
    let before = sha256(&staging);
    // Removing an env is confirmed (core's rule): no terminal and no --force → refused.
    let cfg = read(&config(&e));
    let (code, _, err) = e.run(&["env", "remove", "staging"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("needs confirmation") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(read(&config(&e)), cfg, "nothing written");
    e.ok(&["env", "remove", "staging", "--force"]);
    assert_eq!(sha256(&staging), before);
    assert!(e
        .data()
        .join("backups/staging")
        .read_dir()
        .unwrap()
        .next()
        .is_some());
    let (code, _, _) = e.run(&["status", "staging"]);
    assert_eq!(code, 2, "gone from the config");
    let cfg = read(&config(&e));
    let (code, _, err) = e.run(&["env", "remove", "prod"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(read(&config(&e)), cfg);
}

#[test]
fn env_path_repoints_and_resets_to_default() {
    let e = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let fresh = outside.path().join("fresh.db");
    let out = e.ok(&["env", "path", "test", s(&fresh)]);
    assert!(out.contains("migrate test"), "{out}");
    e.ok(&["migrate", "test"]);
    assert!(fresh.exists(), "migrate created the new file");
    let staging = tagged(outside.path(), "staging.db", "staging");
    let (code, _, _) = e.run(&["env", "path", "dev", s(&staging)]);
    assert_eq!(code, 3, "tagged for another env");
    // test's file now holds data: pointing it elsewhere is confirmed.
    assert_eq!(e.run(&["env", "path", "test", "--default"]).0, 3);
    e.ok(&["env", "path", "test", "--default", "--force"]);
    let show = e.ok(&["config", "show"]);
    assert!(show.contains(s(&e.db("test"))), "{show}");
    assert!(fresh.exists(), "the old file is left");
}

#[test]
fn retention_and_busy_timeout_keep_comments_in_an_explicit_config() {
    let e = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let cfg = outside.path().join("team.toml");
    std::fs::write(
        &cfg,
        "# shared by the team\n[retention]\nkeep = 20 # default\n",
    )
    .unwrap();
    let with_cfg = |args: &[&str]| {
        let mut a = vec!["--config", s(&cfg)];
        a.extend_from_slice(args);
        e.run(&a)
    };
    for bad in ["0", "1001"] {
        let (code, _, err) = with_cfg(&["config", "set", "retention", bad]);
        assert_eq!(code, 2, "{err}");
    }
    assert_eq!(with_cfg(&["config", "set", "busy-timeout", "600001"]).0, 2);
    // Lower retention means the next prune deletes more: confirmed.
    let (code, _, err) = with_cfg(&["config", "set", "retention", "3", "--max-total-mib", "50"]);
    assert_eq!(code, 3, "{err}");
    assert!(!std::fs::read_to_string(&cfg).unwrap().contains("keep = 3"));
    let (code, _, err) = with_cfg(&[
        "config",
        "set",
        "retention",
        "3",
        "--max-total-mib",
        "50",
        "--force",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(with_cfg(&["config", "set", "busy-timeout", "1500"]).0, 0);
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains("# shared by the team") && text.contains("keep = 3"),
        "{text}"
    );
    let (_, show, _) = with_cfg(&["config", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(v["workspace"]["retention"]["keep"], 3);
    assert_eq!(v["workspace"]["retention"]["max_total_mib"], 50);
    assert_eq!(v["workspace"]["busy_timeout_ms"], 1500);
    assert!(
        !config(&e).exists(),
        "the explicit config was edited, not the data dir's"
    );
}

#[cfg(unix)] // symlinks, modes
#[test]
fn symlinked_config_is_refused() {
    let e = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let real = outside.path().join("real.toml");
    std::fs::write(&real, "# real\n").unwrap();
    std::os::unix::fs::symlink(&real, config(&e)).unwrap();
    let (code, _, err) = e.run(&["config", "set", "retention", "4"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("symlink"), "{err}");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "# real\n");
}

#[test]
fn repointing_prod_with_data_needs_the_typed_name_and_a_refusal_is_logged() {
    let e = Env::new();
    e.ok(&["migrate", "prod"]);
    let outside = tempfile::tempdir().unwrap();
    let other = outside.path().join("other.db");
    let cfg = read(&config(&e));
    // No terminal: --force alone is not the typed name; core refuses and logs it.
    for args in [
        &["env", "path", "prod", s(&other)][..],
        &["env", "path", "prod", s(&other), "--force"][..],
    ] {
        let (code, _, err) = e.run(args);
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(err.contains("--confirm-env prod"), "{err}");
        assert_eq!(read(&config(&e)), cfg, "nothing written");
    }
    let log: serde_json::Value =
        serde_json::from_str(&e.ok(&["log", "--env", "prod", "--json"])).unwrap();
    let refused = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["verb"] == "env path" && l["outcome"] == "refused")
        .count();
    assert_eq!(refused, 2, "{log}");
    e.ok(&["env", "path", "prod", s(&other), "--confirm-env", "prod"]);
    assert!(e.ok(&["config", "show"]).contains(s(&other)));
}

/// A lower retention under which prod's next backup deletes one of its backups — though a prune
/// now would delete none — needs prod's name typed too (review 18: it took a y/N, and the next
/// `backup prod` deleted one); a higher one asks nothing of the kind.
#[test]
fn lowering_retention_so_that_prods_next_backup_deletes_one_needs_its_name() {
    let e = Env::new();
    e.ok(&["migrate", "prod"]);
    for _ in 0..3 {
        e.ok(&["backup", "prod"]);
    }
    let plan = e.ok(&["config", "set", "retention", "3", "--dry-run", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(
        (&v["env"], &v["confirmation"]),
        (&"prod".into(), &"type_env_name".into()),
        "{plan}"
    );
    let (code, out, err) = e.run(&["config", "set", "retention", "3", "--force"]);
    assert_eq!(code, 3, "{out}{err}");
    e.ok(&["config", "set", "retention", "3", "--confirm-env", "prod"]);
    let plan = e.ok(&["config", "set", "retention", "5", "--dry-run", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(
        v["confirmation"], "none",
        "raising deletes nothing more: {plan}"
    );
}

/// A lower retention that deletes backups of two protected envs is confirmed for both: their
/// names typed together (one of them is not enough), and nothing is written before.
#[test]
fn lowering_retention_below_two_protected_envs_backups_needs_both_names() {
    let e = Env::new();
    std::fs::create_dir_all(e.data()).unwrap();
    let cfg = e.data().join("pipeline-db.toml");
    std::fs::write(&cfg, "[envs.staging]\nprotected = true\n").unwrap();
    for env in ["prod", "staging"] {
        e.ok(&["migrate", env]);
        for _ in 0..3 {
            e.ok(&["backup", env]);
        }
    }
    let before = std::fs::read_to_string(&cfg).unwrap();
    let plan = e.ok(&["config", "set", "retention", "1", "--dry-run", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(v["env"], "prod staging", "{plan}");
    assert_eq!(v["confirmation"], "type_env_name", "{plan}");
    for one in ["prod", "staging"] {
        let (code, out, err) = e.run(&["config", "set", "retention", "1", "--confirm-env", one]);
        assert_eq!(code, 3, "{out}{err}");
        assert!(
            err.contains("protected envs prod, staging")
                && err.contains("--confirm-env 'prod staging'"),
            "{err}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        before,
        "nothing written"
    );
    e.ok(&[
        "config",
        "set",
        "retention",
        "1",
        "--confirm-env",
        "prod staging",
    ]);
    assert!(std::fs::read_to_string(&cfg).unwrap().contains("keep = 1"));
}

/// Lowering retention so far that prod's backups would go at its next backup is confirmed as a
/// prune of prod is: by the typed name (y/N or --force is not enough); the plan says what goes.
#[test]
fn lowering_retention_below_prods_backups_needs_the_typed_name() {
    let e = Env::new();
    e.ok(&["migrate", "prod"]);
    for _ in 0..3 {
        e.ok(&["backup", "prod"]);
    }
    let (code, out, err) = e.run(&["config", "set", "retention", "1", "--force"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("type `prod`"), "{err}");
    let plan = e.ok(&["config", "set", "retention", "1", "--dry-run"]);
    assert!(
        plan.contains("`pipeline-db backups prune` deletes 2 of prod's backups"),
        "{plan}"
    );
    e.ok(&["config", "set", "retention", "1", "--confirm-env", "prod"]);
    // What the plan said is what a prune does.
    let listed = || {
        e.ok(&["backups", "list", "prod", "--json"])
            .matches("\"path\"")
            .count()
    };
    assert_eq!(listed(), 3);
    e.ok(&["backups", "prune", "prod", "--confirm-env", "prod"]);
    assert_eq!(listed(), 1);
}

/// An env pointed at a file another env keeps beside its database — its `-wal` (SQLite deleted it
/// when `dev` checkpointed: test's 300 jobs gone with no backup), its `.lock` (taking `prod`'s lock
/// emptied test's database) — is refused by `env path` and `env add`, and in a config edited by
/// hand; a database beside which another program keeps a `.lock` of its own is refused by `env
/// add`, and its lock file is never emptied or written (review 20).
#[test]
fn an_env_on_another_env_s_log_or_lock_or_beside_a_foreign_lock_is_refused() {
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let data = e.data().to_path_buf();
    for beside in ["dev.sqlite3-wal", "dev.sqlite3-shm", "prod.sqlite3.lock"] {
        let p = data.join(beside);
        for args in [
            vec!["env", "path", "test", s(&p)],
            vec!["env", "add", "demo", s(&p)],
        ] {
            let (code, _, err) = e.run(&args);
            // dev's -wal and -shm exist: not a database (5); prod's lock does not (2).
            assert!([2, 5].contains(&code), "{args:?}: {err}");
            assert!(!config(&e).exists(), "no config written");
        }
    }
    let (code, _, err) = e.run(&["env", "path", "test", s(&data.join("prod.sqlite3.lock"))]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("pipeline-db's lock of env `prod`"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    // By hand: the config no longer loads, so nothing runs against it.
    std::fs::write(config(&e), "[envs.test]\npath = \"dev.sqlite3-wal\"\n").unwrap();
    let (code, _, err) = e.run(&["seed", "test", "--jobs", "3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SQLite's log of env `dev`"), "{err}");
    std::fs::remove_file(config(&e)).unwrap();

    let outside = tempfile::tempdir().unwrap();
    let app = db_file(outside.path(), "app.db", |c| {
        c.execute_batch("CREATE TABLE notes(x); INSERT INTO notes VALUES (1);")
            .unwrap()
    });
    let lock = outside.path().join("app.db.lock");
    std::fs::write(&lock, "another program's own lock\n").unwrap();
    let (code, _, err) = e.run(&["env", "add", "stage", s(&app)]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not pipeline-db's lock"), "{err}");
    assert!(!config(&e).exists(), "no config written");
    // Added while the lock file was not there: the changing verb refuses it, untouched.
    std::fs::remove_file(&lock).unwrap();
    e.ok(&["env", "add", "stage", s(&app)]);
    std::fs::write(&lock, "another program's own lock\n").unwrap();
    let (code, _, err) = e.run(&["env", "set", "stage", "--force"]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "another program's own lock\n"
    );
    assert!(
        !data.join("backups/stage").exists(),
        "no backup made: refused before the ritual"
    );
}

/// An env's path that is a link to nothing yet, or holds a newline (review 27): the first was
/// created through at the next migrate (two envs on one future file, left a config every command
/// refused; a file made in the backups dir), the second echoed as a forged line in messages.
/// Both are usage errors now, the config unchanged.
#[test]
fn an_env_path_that_is_a_dangling_link_or_holds_control_characters_is_refused() {
    let e = Env::new();
    let outside = tempfile::tempdir().unwrap();
    let link = outside.path().join("link.sqlite3");
    std::os::unix::fs::symlink(e.data().join("ghost.sqlite3"), &link).unwrap();
    let odd = outside.path().join("nl\nx.sqlite3");
    std::fs::copy(tagged(outside.path(), "t.sqlite3", "test"), &odd).unwrap();
    let before = read(&config(&e));
    for args in [
        vec!["env", "path", "test", link.to_str().unwrap(), "--force"],
        vec!["env", "path", "test", odd.to_str().unwrap(), "--force"],
        vec!["env", "add", "extra", odd.to_str().unwrap()],
    ] {
        let (code, _, err) = e.run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.contains("nl\nx"), "echoed raw: {err}");
        assert_eq!(read(&config(&e)), before, "{args:?}");
    }
}
