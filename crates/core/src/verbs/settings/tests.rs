//! Settings edits on real files in temp dirs: every refusal leaves the config and the database as
//! they were; a successful edit keeps the config's other keys and comments.

use super::*;
use proptest::prelude::*;
use rusqlite::Connection;

struct T {
    dir: tempfile::TempDir,
}

impl T {
    fn new() -> T {
        T {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn ws(&self) -> Workspace {
        Workspace::at(self.data()).unwrap()
    }
    fn config(&self) -> PathBuf {
        self.data().join(CONFIG_FILE_NAME)
    }
    fn write_config(&self, text: &str) {
        std::fs::create_dir_all(self.data()).unwrap();
        std::fs::write(self.config(), text).unwrap();
    }
    /// A database outside the data dir, tagged `tag` (or untagged / foreign).
    fn db(&self, name: &str, setup: impl FnOnce(&Connection)) -> PathBuf {
        let p = self.dir.path().join(name);
        let c = Connection::open(&p).unwrap();
        c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        setup(&c);
        drop(c);
        p
    }
    fn tagged(&self, name: &str, env: &str) -> PathBuf {
        self.db(name, |c| tag::write_tag(c, env, None, "test").unwrap())
    }
    fn audit(&self) -> Vec<crate::safety::audit::AuditEntry> {
        crate::safety::audit::read(&self.ws().audit_path(), None)
            .unwrap()
            .0
    }
}

fn attach_req(name: &str, path: &Path) -> Attach {
    Attach {
        name: name.into(),
        path: path.into(),
        protected: false,
    }
}

fn bytes(p: &Path) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

#[test]
fn attach_untagged_file_adds_env_and_never_writes_the_file() {
    let t = T::new();
    let db = t.db("legacy.db", |_| {});
    let before = bytes(&db);
    let out = attach(&t.ws(), &attach_req("demo", &db), false).unwrap();
    assert!(out.written && out.plan.creates_config);
    assert!(out.plan.file.as_ref().unwrap().needs_tag);
    assert!(
        out.plan.notes.iter().any(|n| n.contains("env set demo")),
        "{:?}",
        out.plan.notes
    );
    assert_eq!(bytes(&db), before, "the database is never written");
    let ws = reload(&t.ws()).unwrap();
    let demo = ws.env("demo").unwrap();
    assert_eq!(demo.path, db.canonicalize().unwrap());
    assert!(!demo.protected);
    let log = t.audit();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].verb.as_str(), log[0].outcome.as_str()),
        ("env add", "ok")
    );
    // Changing verbs still refuse the untagged data.
    assert_eq!(
        crate::verbs::migrate::plan(
            &ws,
            &crate::verbs::migrate::MigrateRequest { env: "demo".into() }
        )
        .unwrap_err()
        .exit_code(),
        3
    );
}

/// A WAL database with no sidecars is inspected without creating `-wal`/`-shm` beside it, even
/// under an awkward name; with a sidecar present its pages are seen (the tag committed in the WAL).
#[test]
fn inspection_leaves_no_sidecars_and_sees_the_wal() {
    let t = T::new();
    let name = "my db #1 ?x=%20.db";
    let db = t.db(name, |c| {
        c.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .unwrap();
        tag::write_tag(c, "staging", None, "test").unwrap();
    });
    let side = |s: &str| t.dir.path().join(format!("{name}{s}"));
    assert!(!side("-wal").exists(), "closing checkpointed the WAL");
    let before = bytes(&db);
    let out = attach(&t.ws(), &attach_req("staging", &db), false).unwrap();
    assert!(!out.plan.file.unwrap().needs_tag);
    assert_eq!(bytes(&db), before);
    assert!(
        !side("-wal").exists() && !side("-shm").exists(),
        "no sidecar created"
    );

    let t2 = T::new();
    let db2 = t2.tagged("live.db", "qa");
    let keep_open = Connection::open(&db2).unwrap();
    keep_open
        .query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .unwrap();
    keep_open
        .execute("UPDATE pipeline_db_meta SET env = 'uat'", [])
        .unwrap();
    assert!(t2.dir.path().join("live.db-wal").exists());
    let e = attach(&t2.ws(), &attach_req("qa", &db2), true).unwrap_err();
    assert!(
        e.to_string().contains("tagged `uat`"),
        "the WAL's tag is seen: {e}"
    );
}

#[test]
fn attach_tagged_file_protected() {
    let t = T::new();
    let db = t.tagged("staging.db", "staging");
    let req = Attach {
        protected: true,
        ..attach_req("staging", &db)
    };
    let out = attach(&t.ws(), &req, false).unwrap();
    assert!(!out.plan.file.unwrap().needs_tag);
    let ws = reload(&t.ws()).unwrap();
    assert!(ws.env("staging").unwrap().protected);
    assert!(std::fs::read_to_string(t.config())
        .unwrap()
        .contains("protected = true"));
}

#[test]
fn dry_run_writes_nothing() {
    let t = T::new();
    let db = t.tagged("s.db", "staging");
    let out = attach(&t.ws(), &attach_req("staging", &db), true).unwrap();
    assert!(!out.written);
    assert_eq!(out.plan.changes.len(), 1);
    assert!(!t.data().exists(), "no data dir, no config, no audit log");
}

/// A file only offered as an env (a dry run here) is not kept open: it may sit on a stick the user
/// wants to unmount, or be deleted (its space would stay used while the process runs).
#[cfg(target_os = "linux")]
#[test]
fn a_file_only_offered_as_an_env_is_not_kept_open() {
    let t = T::new();
    let db = t.tagged("offered.db", "staging");
    attach(&t.ws(), &attach_req("staging", &db), true).unwrap();
    let open: Vec<_> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|l| l.starts_with(&db))
        .collect();
    assert!(open.is_empty(), "{open:?}");
}

/// Every refusal: the exit code, and neither the config, the audit log's absence of a change, nor
/// the database file changed.
fn refused(t: &T, req: &Attach, code: u8) -> Error {
    let cfg = bytes(&t.config());
    let file = bytes(&req.path);
    let err = attach(&t.ws(), req, false).unwrap_err();
    assert_eq!(err.exit_code(), code, "{err}");
    assert_eq!(bytes(&t.config()), cfg, "config unchanged");
    assert_eq!(bytes(&req.path), file, "file unchanged byte for byte");
    err
}

#[test]
fn not_a_database_is_refused_and_left_byte_for_byte() {
    let t = T::new();
    for (name, content) in [
        ("empty.db", vec![]),
        ("text.db", b"id,name\n1,alice\n".repeat(20)),
        ("zeros.db", vec![0u8; 4096]),
    ] {
        let p = t.dir.path().join(name);
        std::fs::write(&p, &content).unwrap();
        let e = refused(&t, &attach_req("demo", &p), exit::NOT_A_DATABASE);
        assert!(e.to_string().contains("not a SQLite database"), "{e}");
    }
    let dir = t.dir.path().join("adir");
    std::fs::create_dir(&dir).unwrap();
    refused(&t, &attach_req("demo", &dir), exit::REFUSED);
}

#[test]
fn wrong_tag_is_refused_with_its_tag_as_the_suggested_name() {
    let t = T::new();
    let db = t.tagged("other.db", "staging");
    let e = refused(&t, &attach_req("demo", &db), exit::REFUSED);
    assert!(e.to_string().contains("env add staging"), "{e}");
    let log = t.audit();
    assert_eq!(
        log.last().unwrap().outcome,
        "refused",
        "refusals are audit-logged"
    );
}

#[test]
fn foreign_application_is_refused() {
    let t = T::new();
    let db = t.db("foreign.db", |c| {
        c.pragma_update(None, "application_id", 0x1234).unwrap()
    });
    let e = refused(&t, &attach_req("demo", &db), exit::REFUSED);
    assert!(matches!(e, Error::ForeignApplication { .. }), "{e}");
}

#[test]
fn duplicate_names_are_refused() {
    let t = T::new();
    let db = t.tagged("dev.db", "dev");
    let e = refused(&t, &attach_req("dev", &db), exit::REFUSED);
    assert!(e.to_string().contains("env path dev"), "built-in hint: {e}");
    let s = t.tagged("s.db", "staging");
    attach(&t.ws(), &attach_req("staging", &s), false).unwrap();
    let s2 = t.tagged("s2.db", "staging");
    let e = refused(&t, &attach_req("staging", &s2), exit::REFUSED);
    assert!(e.to_string().contains("already exists"), "{e}");
}

#[test]
fn another_envs_file_or_a_backup_is_refused() {
    let t = T::new();
    let ws = t.ws();
    {
        use crate::verbs::migrate::{execute, plan, MigrateRequest};
        let p = plan(&ws, &MigrateRequest { env: "dev".into() }).unwrap();
        execute(&ws, &p, &crate::Confirmed::forced(), &crate::Quiet).unwrap();
    }
    let dev = ws.env("dev").unwrap().path;
    let e = refused(&t, &attach_req("demo", &dev), exit::REFUSED);
    assert!(e.to_string().contains("database of env `dev`"), "{e}");
    let b = crate::verbs::backup::run(&ws, "dev", &Default::default()).unwrap();
    let e = refused(&t, &attach_req("demo", &b.backup.path), exit::REFUSED);
    assert!(e.to_string().contains("backups dir"), "{e}");
}

#[test]
fn missing_file_is_a_usage_error_for_add() {
    let t = T::new();
    let p = t.dir.path().join("nope.db");
    refused(&t, &attach_req("demo", &p), exit::USAGE);
    assert!(!p.exists());
}

#[cfg(unix)] // symlinks
#[test]
fn symlinked_config_is_refused_and_its_target_kept() {
    let t = T::new();
    std::fs::create_dir_all(t.data()).unwrap();
    let real = t.dir.path().join("real.toml");
    std::fs::write(&real, "# mine\n").unwrap();
    std::os::unix::fs::symlink(&real, t.config()).unwrap();
    let db = t.tagged("s.db", "staging");
    let e = refused(&t, &attach_req("staging", &db), exit::REFUSED);
    assert!(e.to_string().contains("symlink"), "{e}");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "# mine\n");
    assert!(std::fs::symlink_metadata(t.config())
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn edits_keep_comments_and_other_keys() {
    let t = T::new();
    t.write_config(
        "# team settings\nbusy_timeout_ms = 7000 # slow disk\n\n[envs.dev]\n# laptop copy\npath = \"work/dev.db\"\n",
    );
    let db = t.tagged("s.db", "staging");
    attach(&t.ws(), &attach_req("staging", &db), false).unwrap();
    set_retention(&t.ws(), 5, Some(100), YES).unwrap();
    let text = std::fs::read_to_string(t.config()).unwrap();
    for kept in [
        "# team settings",
        "# slow disk",
        "# laptop copy",
        "path = \"work/dev.db\"",
    ] {
        assert!(text.contains(kept), "{kept:?} lost:\n{text}");
    }
    let ws = reload(&t.ws()).unwrap();
    assert_eq!(ws.busy_timeout_ms, 7000);
    assert_eq!(ws.retention.keep, 5);
    assert_eq!(ws.retention.max_total_mib, 100);
    assert!(ws.env("dev").unwrap().path.ends_with("work/dev.db"));
    detach(&ws, "staging", YES).unwrap();
    let ws = reload(&ws).unwrap();
    assert!(ws.env("staging").is_err());
    assert!(db.exists(), "remove never deletes the file");
    assert!(std::fs::read_to_string(t.config())
        .unwrap()
        .contains("# laptop copy"));
    let no_tmp = std::fs::read_dir(t.data()).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .contains(fs::TEMP_MARKER)
    });
    assert!(no_tmp, "no temp file left");
}

#[test]
fn builtins_cannot_be_removed_unknown_is_usage() {
    let t = T::new();
    for b in BUILTIN_ENVS {
        let e = detach(&t.ws(), b, YES).unwrap_err();
        assert_eq!(e.exit_code(), exit::REFUSED, "{e}");
    }
    assert_eq!(
        detach(&t.ws(), "nope", YES).unwrap_err().exit_code(),
        exit::USAGE
    );
    assert!(!t.config().exists());
}

#[test]
fn env_path_checks_an_existing_file_and_accepts_a_missing_one() {
    let t = T::new();
    let wrong = t.tagged("w.db", "staging");
    let e = set_env_path(&t.ws(), "dev", Some(&wrong), YES).unwrap_err();
    assert_eq!(e.exit_code(), exit::REFUSED);
    assert!(!t.config().exists());
    let fresh = t.dir.path().join("fresh.db");
    let out = set_env_path(&t.ws(), "dev", Some(&fresh), YES).unwrap();
    assert!(!out.plan.file.unwrap().exists);
    assert!(!fresh.exists(), "nothing created");
    let ws = reload(&t.ws()).unwrap();
    assert_eq!(ws.env("dev").unwrap().path, fresh);
    let bad_dir = t.dir.path().join("no/such/dir.db");
    assert_eq!(
        set_env_path(&ws, "dev", Some(&bad_dir), YES)
            .unwrap_err()
            .exit_code(),
        exit::USAGE
    );
    set_env_path(&ws, "dev", None, YES).unwrap();
    let ws = reload(&ws).unwrap();
    assert_eq!(ws.env("dev").unwrap().path, ws.data_dir.join("dev.sqlite3"));
}

#[test]
fn prod_stays_protected_when_repointed() {
    let t = T::new();
    let p = t.tagged("p.db", "prod");
    // A protected env is repointed only with its name typed.
    let typed = Confirmed {
        yes: true,
        typed_env: Some("prod".into()),
    };
    set_env_path(&t.ws(), "prod", Some(&p), Apply::Write(&typed)).unwrap();
    assert!(reload(&t.ws()).unwrap().env("prod").unwrap().protected);
}

#[test]
fn retention_and_busy_timeout_bounds() {
    let t = T::new();
    for keep in [0, 1001, usize::MAX] {
        let e = set_retention(&t.ws(), keep, None, YES).unwrap_err();
        assert_eq!(e.exit_code(), exit::USAGE, "{e}");
    }
    let e = set_retention(&t.ws(), 3, Some(MAX_TOTAL_MIB + 1), YES).unwrap_err();
    assert_eq!(e.exit_code(), exit::USAGE);
    assert_eq!(
        set_busy_timeout(&t.ws(), 600_001, false)
            .unwrap_err()
            .exit_code(),
        2
    );
    assert!(!t.config().exists());
    set_retention(&t.ws(), 1, None, YES).unwrap();
    set_busy_timeout(&t.ws(), 250, false).unwrap();
    let ws = reload(&t.ws()).unwrap();
    assert_eq!((ws.retention.keep, ws.busy_timeout_ms), (1, 250));
}

#[test]
fn explicit_config_file_is_the_one_edited() {
    let t = T::new();
    let cfg = t.dir.path().join("elsewhere.toml");
    std::fs::write(&cfg, "# elsewhere\n").unwrap();
    let ws = Workspace::load(&WorkspaceOptions {
        data_dir: Some(t.data()),
        config: Some(cfg.clone()),
        busy_timeout: None,
    })
    .unwrap();
    set_retention(&ws, 7, None, YES).unwrap();
    assert!(std::fs::read_to_string(&cfg).unwrap().contains("keep = 7"));
    assert!(!t.config().exists());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any name the validator rejects is a usage error, and nothing is written.
    #[test]
    fn invalid_names_write_nothing(name in "\\PC{0,40}") {
        prop_assume!(check_env_name(&name).is_err());
        let t = T::new();
        let db = t.db("x.db", |_| {});
        let e = attach(&t.ws(), &attach_req(&name, &db), false).unwrap_err();
        prop_assert_eq!(e.exit_code(), exit::USAGE);
        prop_assert!(!t.data().exists());
    }
}

const FORCED: Confirmed = Confirmed {
    yes: true,
    typed_env: None,
};
const YES: Apply<'static> = Apply::Write(&FORCED);

#[test]
fn a_change_that_needs_confirming_is_refused_without_it_and_writes_nothing() {
    let t = T::new();
    let db = t.tagged("s.db", "staging");
    attach(&t.ws(), &attach_req("staging", &db), false).unwrap();
    let before = std::fs::read_to_string(t.config()).unwrap();
    let none = Confirmed::default();
    let ws = reload(&t.ws()).unwrap();
    // Removing an env, lowering retention: y/N (or --force) first.
    let e = detach(&ws, "staging", Apply::Write(&none)).unwrap_err();
    assert_eq!(e.exit_code(), exit::REFUSED, "{e}");
    assert!(e.to_string().contains("needs confirmation"), "{e}");
    let e = set_retention(&ws, 1, None, Apply::Write(&none)).unwrap_err();
    assert_eq!(e.exit_code(), exit::REFUSED, "{e}");
    // Repointing prod while it holds data: the typed name; a yes alone is not enough.
    let prod = ws.env("prod").unwrap().path;
    std::fs::copy(t.tagged("p.db", "prod"), &prod).unwrap();
    let other = t.dir.path().join("other.db");
    let e = set_env_path(&ws, "prod", Some(&other), YES).unwrap_err();
    assert_eq!(e.exit_code(), exit::REFUSED, "{e}");
    assert!(e.to_string().contains("--confirm-env prod"), "{e}");
    assert_eq!(std::fs::read_to_string(t.config()).unwrap(), before);
    let refused = t.audit().iter().filter(|e| e.outcome == "refused").count();
    assert_eq!(refused, 3, "each refusal is audit-logged");
    // With the answer core asks for, each is written.
    let typed = Confirmed {
        yes: true,
        typed_env: Some("prod".into()),
    };
    set_env_path(&ws, "prod", Some(&other), Apply::Write(&typed)).unwrap();
    set_retention(&ws, 1, None, YES).unwrap();
    detach(&ws, "staging", YES).unwrap();
    let ws = reload(&ws).unwrap();
    assert_eq!(ws.retention.keep, 1);
    assert!(ws.env("staging").is_err());
}

/// A workspace loaded before another program added a protected env to the config (the desktop
/// keeps its own until its next settings change): a lower retention that deletes that env's
/// backups is still planned from the config as it is now, and needs that env's name typed
/// (review 18: a y/N was enough, and qa's next backup deleted two).
#[test]
fn a_retention_change_is_planned_from_the_config_as_it_is_now() {
    use crate::verbs::{backup, migrate};
    let t = T::new();
    let stale = t.ws();
    t.write_config("[envs.qa]\nprotected = true\n");
    let now = t.ws();
    let p = migrate::plan(&now, &migrate::MigrateRequest { env: "qa".into() }).unwrap();
    migrate::execute(&now, &p, &Confirmed::forced(), &crate::progress::Quiet).unwrap();
    for _ in 0..3 {
        backup::run(&now, "qa", &Default::default()).unwrap();
    }
    let before = std::fs::read_to_string(t.config()).unwrap();
    let e = set_retention(&stale, 1, None, YES).unwrap_err();
    assert_eq!(e.exit_code(), exit::REFUSED, "{e}");
    assert!(e.to_string().contains("type `qa`"), "{e}");
    assert_eq!(std::fs::read_to_string(t.config()).unwrap(), before);
    let typed = Confirmed {
        yes: true,
        typed_env: Some("qa".into()),
    };
    set_retention(&stale, 1, None, Apply::Write(&typed)).unwrap();
}
