//! One path for every change (issue 10): core's one confirmation rule for migrate too, and a plan
//! that changed between showing and executing is refused, by the real binary.

use pipeline_db_e2e::{fingerprint, Env};

use crate::verbs::{exit_code, spawn_pty};

/// prod holding data with V2 pending: V2's objects and history row removed from a V2 database.
fn prod_with_data_and_v2_pending(e: &Env) {
    e.ok(&["migrate", "prod"]);
    let c = rusqlite::Connection::open(e.db("prod")).unwrap();
    c.execute_batch(
        "INSERT INTO users (username, email, hashed_password, role)
           VALUES ('ana', 'ana@example.org', '$argon2id$x', 'admin');
         DROP TRIGGER job_daily_stats_insert; DROP TRIGGER job_daily_stats_delete;
         DROP TRIGGER job_daily_stats_update; DROP TABLE job_daily_stats;
         DELETE FROM refinery_schema_history WHERE version = 2;",
    )
    .unwrap();
}

fn history_rows(e: &Env, env: &str) -> i64 {
    let c = rusqlite::Connection::open(e.db(env)).unwrap();
    c.query_row("SELECT count(*) FROM refinery_schema_history", [], |r| {
        r.get(0)
    })
    .unwrap()
}

fn backups_of(e: &Env, env: &str) -> Vec<String> {
    let dir = e.data().join("backups").join(env);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|f| f.ok())
                .map(|f| f.file_name().to_string_lossy().into_owned())
                .filter(|n| pipeline_db_e2e::is_backup_name(n))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn migrating_prod_with_data_needs_the_typed_name_like_every_change() {
    let e = Env::new();
    prod_with_data_and_v2_pending(&e);
    let plan: serde_json::Value =
        serde_json::from_str(&e.ok(&["migrate", "prod", "--dry-run", "--json"])).unwrap();
    assert_eq!(plan["confirmation"], "type_env_name", "{plan}");
    for args in [
        &["migrate", "prod"][..],
        &["migrate", "prod", "--force"][..],
        &["migrate", "prod", "--confirm-env", "test"][..],
    ] {
        let (code, _, err) = e.run(args);
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(err.contains("--confirm-env prod"), "{args:?}: {err}");
        assert!(err.contains("nothing was changed"), "{err}");
        assert_eq!(history_rows(&e, "prod"), 1, "{args:?} applied V2");
        assert!(backups_of(&e, "prod").is_empty(), "{args:?} made a backup");
    }
    let log = e.ok(&["log", "--env", "prod", "--json"]);
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    assert_eq!(
        log.as_array().unwrap().last().unwrap()["outcome"],
        "refused"
    );

    let out = e.ok(&["migrate", "prod", "--confirm-env", "prod"]);
    assert!(out.contains("Applied 1 migrations"), "{out}");
    assert_eq!(history_rows(&e, "prod"), 2);
    let backups = backups_of(&e, "prod");
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(backups[0].contains("pre-migrate"), "{backups:?}");
    e.ok(&["backups", "verify", &backups[0], "--env", "prod"]);
}

#[test]
fn migrating_dev_with_data_asks_yes_or_no_and_an_empty_one_asks_nothing() {
    let e = Env::new();
    e.ok(&["migrate", "dev"]);
    let plan: serde_json::Value =
        serde_json::from_str(&e.ok(&["migrate", "dev", "--dry-run", "--json"])).unwrap();
    assert_eq!(plan["confirmation"], "none", "nothing pending: {plan}");
    e.seeded("test");
    let c = rusqlite::Connection::open(e.db("test")).unwrap();
    c.execute_batch(
        "DROP TRIGGER job_daily_stats_insert; DROP TRIGGER job_daily_stats_delete;
         DROP TRIGGER job_daily_stats_update; DROP TABLE job_daily_stats;
         DELETE FROM refinery_schema_history WHERE version = 2;",
    )
    .unwrap();
    drop(c);
    let (code, _, err) = e.run(&["migrate", "test"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(history_rows(&e, "test"), 1);
    e.ok(&["migrate", "test", "--force"]);
    assert_eq!(history_rows(&e, "test"), 2);
}

#[test]
fn a_plan_that_changed_while_it_was_shown_is_refused() {
    let e = Env::new();
    e.seeded("dev");
    let mut p = spawn_pty(&e, "reset dev");
    p.expect("reset dev? [y/N]").unwrap();
    // Another process changes dev while the plan is on the screen.
    e.ok(&["seed", "dev", "--jobs", "7", "--rng-seed", "4242"]);
    let changed = fingerprint(&e.db("dev"));
    p.send_line("y").unwrap();
    p.expect("changed since the plan was shown").unwrap();
    assert_eq!(exit_code(&mut p), 3);
    assert_eq!(
        fingerprint(&e.db("dev")),
        changed,
        "reset ran on a stale plan"
    );
    let log = e.ok(&["log", "--env", "dev", "--json"]);
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    let last = log.as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["verb"].as_str(), last["outcome"].as_str()),
        (Some("reset"), Some("refused"))
    );
    assert!(last["backup"].is_null(), "{last}");
}

#[test]
fn an_undo_planned_before_another_action_is_refused_not_run_on_the_new_data() {
    let e = Env::new();
    e.seeded("dev");
    e.ok(&["seed", "dev", "--jobs", "5", "--rng-seed", "1"]);
    let mut p = spawn_pty(&e, "undo dev");
    p.expect("[y/N]").unwrap();
    // A second seed lands between the plan and the answer: undoing the first one would now
    // throw its rows away too.
    e.ok(&["seed", "dev", "--jobs", "9", "--rng-seed", "2"]);
    let changed = fingerprint(&e.db("dev"));
    p.send_line("y").unwrap();
    p.expect("changed since the plan was shown").unwrap();
    assert_eq!(exit_code(&mut p), 3);
    assert_eq!(fingerprint(&e.db("dev")), changed);
}

/// With `--json` on a terminal the plan was not shown before its question (review 27: only
/// "reset dev? [y/N]"): it is shown (on stderr; stdout stays the JSON alone) before the prompt.
#[test]
fn a_json_run_on_a_terminal_shows_the_plan_before_it_asks() {
    let e = Env::new();
    e.seeded("dev");
    let mut p = spawn_pty(&e, "reset dev --json");
    let shown = p.expect("reset dev? [y/N]").unwrap();
    let before = String::from_utf8_lossy(shown.before()).into_owned();
    assert!(
        before.contains("will drop:") && before.contains("backup:"),
        "{before}"
    );
    p.send_line("n").unwrap();
    assert_eq!(exit_code(&mut p), 130);
}
