//! Command tests on Tauri's mock runtime, built with the real `generate_context!` so the ACL of
//! `capabilities/main.json` applies. Every test has its own data dir.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{harness, kind, reset_body, Harness, Options};
use pipeline_db_core::{verbs::migrate, verbs::status, Confirmed, Quiet};
use serde_json::{json, Value};
use tauri::Listener;

#[test]
fn reset_without_a_token_is_rejected_and_nothing_changes() {
    let h = harness(Options::default());
    h.seeded("dev", 20);
    let before = h.rows("dev");
    let e = h.invoke("reset_env", reset_body("dev", None)).unwrap_err();
    assert_eq!(kind(&e), "token", "{e}");
    let e = h
        .invoke("reset_env", reset_body("dev", Some("forged")))
        .unwrap_err();
    assert_eq!(kind(&e), "token", "{e}");
    assert_eq!(h.rows("dev"), before);
    assert!(!h.backups("dev").contains(&"pre-reset".to_string()));
}

#[test]
fn a_confirmed_reset_runs_once_and_a_replay_is_rejected() {
    let h = harness(Options::default());
    h.seeded("dev", 20);
    let t = h.token("plan_reset", json!({"env": "dev", "sampleData": false}));
    let out = h.invoke("reset_env", reset_body("dev", Some(&t))).unwrap();
    assert!(out["backup"]["path"].is_string(), "{out}");
    assert_eq!(h.rows("dev")["jobs"], 0);
    let backups_after_first = h.backups("dev");
    let e = h
        .invoke("reset_env", reset_body("dev", Some(&t)))
        .unwrap_err();
    assert_eq!(kind(&e), "token");
    assert!(
        e["message"].as_str().unwrap().contains("already used"),
        "{e}"
    );
    assert_eq!(h.backups("dev"), backups_after_first, "no second backup");
}

#[test]
fn a_plan_made_stale_by_a_change_is_rejected() {
    let h = harness(Options::default());
    h.seeded("dev", 20);
    let t = h.token("plan_reset", json!({"env": "dev", "sampleData": false}));
    h.seeded("dev", 40); // the database changes after the plan was shown
    let before = h.rows("dev");
    let backups = h.backups("dev");
    let e = h
        .invoke("reset_env", reset_body("dev", Some(&t)))
        .unwrap_err();
    // Core re-makes the plan under the lock and compares it with the one the token keeps.
    assert_eq!(kind(&e), "stale_plan");
    assert!(
        e["message"].as_str().unwrap().contains("changed since"),
        "{e}"
    );
    assert_eq!(h.rows("dev"), before);
    assert_eq!(h.backups("dev"), backups);
}

#[test]
fn a_token_for_another_env_or_verb_is_rejected() {
    let h = harness(Options::default());
    h.seeded("dev", 10);
    h.seeded("test", 10);
    let before = h.rows("test");
    let t = h.token("plan_reset", json!({"env": "dev", "sampleData": false}));
    let e = h
        .invoke("reset_env", reset_body("test", Some(&t)))
        .unwrap_err();
    assert!(
        e["message"].as_str().unwrap().contains("not reset of test"),
        "{e}"
    );
    let t = h.token("plan_backup", json!({"env": "dev", "export": false}));
    let e = h
        .invoke("reset_env", reset_body("dev", Some(&t)))
        .unwrap_err();
    assert_eq!(kind(&e), "token", "{e}");
    assert_eq!(h.rows("test"), before);
    assert_eq!(h.rows("dev")["jobs"], 10);
}

#[test]
fn an_expired_token_is_rejected() {
    let h = harness(Options {
        ttl: Duration::ZERO,
        ..Default::default()
    });
    h.seeded("dev", 10);
    let t = h.token("plan_reset", json!({"env": "dev", "sampleData": false}));
    let e = h
        .invoke("reset_env", reset_body("dev", Some(&t)))
        .unwrap_err();
    assert_eq!(kind(&e), "token", "{e}");
    assert_eq!(h.rows("dev")["jobs"], 10);
}

fn with_prod(h: &Harness) {
    let p = migrate::plan(&h.ws, &migrate::MigrateRequest { env: "prod".into() }).unwrap();
    migrate::execute(&h.ws, &p, &Confirmed::forced(), &Quiet).unwrap();
}

#[test]
fn prod_denied_in_the_native_dialog_changes_nothing() {
    let h = harness(Options {
        accept: false,
        ..Default::default()
    });
    with_prod(&h);
    let before = status::status(&h.ws, Some("prod")).unwrap()[0].clone();
    let t = h.token("plan_reset", json!({"env": "prod", "sampleData": false}));
    let e = h
        .invoke("reset_env", reset_body("prod", Some(&t)))
        .unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
    let after = status::status(&h.ws, Some("prod")).unwrap()[0].clone();
    assert_eq!(after.last_action_at, before.last_action_at);
    assert_eq!(after.last_action.as_deref(), Some("migrate"));
    assert!(h.backups("prod").is_empty());
}

/// prod holding data with V2 pending (V2's objects and history row removed).
fn prod_with_data_and_v2_pending(h: &Harness) {
    with_prod(h);
    let path = h.ws.env("prod").unwrap().path;
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(
        "INSERT INTO users (username, email, hashed_password, role)
           VALUES ('ana', 'ana@example.org', '$argon2id$x', 'admin');
         DROP TRIGGER job_daily_stats_insert; DROP TRIGGER job_daily_stats_delete;
         DROP TRIGGER job_daily_stats_update; DROP TABLE job_daily_stats;
         DELETE FROM refinery_schema_history WHERE version = 2;",
    )
    .unwrap();
}

#[test]
fn migrating_prod_with_data_follows_cores_rule_typed_name_then_the_native_dialog() {
    for accept in [false, true] {
        let h = harness(Options {
            accept,
            ..Default::default()
        });
        prod_with_data_and_v2_pending(&h);
        let planned = h.invoke("plan_migrate", json!({"env": "prod"})).unwrap();
        assert_eq!(planned["confirmation"], "type_env_name", "{planned}");
        let t = planned["issued"]["token"].as_str().unwrap();
        let r = h.invoke(
            "migrate_env",
            json!({"env": "prod", "answer": {"token": t}}),
        );
        let version = status::status(&h.ws, Some("prod")).unwrap()[0].schema_version;
        if accept {
            assert!(r.is_ok(), "{r:?}");
            assert_eq!(version, Some(2));
            assert_eq!(h.backups("prod"), vec!["pre-migrate"]);
        } else {
            assert_eq!(kind(&r.unwrap_err()), "cancelled");
            assert_eq!(version, Some(1), "declined in the dialog: nothing applied");
            assert!(h.backups("prod").is_empty());
        }
    }
}

/// prod's name is typed in the native dialog, and only there: a page that sends a name of its
/// own changes nothing (there is no such field), and a name typed wrong — or in another case —
/// is refused with nothing changed.
#[test]
fn prod_needs_its_name_typed_in_the_native_dialog() {
    for typed in ["", "PROD", "dev", "prod "] {
        let h = harness(Options {
            types: Some(typed),
            ..Options::default()
        });
        with_prod(&h);
        let t = h.token("plan_reset", json!({"env": "prod", "sampleData": false}));
        let mut body = reset_body("prod", Some(&t));
        body["answer"]["typedEnv"] = "prod".into();
        let e = h.invoke("reset_env", body).unwrap_err();
        assert_eq!(kind(&e), "refused", "{typed:?}: {e}");
        assert!(h.backups("prod").is_empty());
    }
    let h = harness(Options {
        types: Some("prod"),
        ..Options::default()
    });
    with_prod(&h);
    let t = h.token("plan_reset", json!({"env": "prod", "sampleData": false}));
    let out = h.invoke("reset_env", reset_body("prod", Some(&t))).unwrap();
    assert!(
        out["backup"]["path"].is_string(),
        "prod reset takes a backup: {out}"
    );
}

#[test]
fn prod_cannot_be_seeded_from_the_window() {
    let h = harness(Options::default());
    with_prod(&h);
    let e = h
        .invoke("plan_seed", json!({"env": "prod", "jobs": 5}))
        .unwrap_err();
    assert_eq!(kind(&e), "refused", "{e}");
    let e = h
        .invoke("plan_reset", json!({"env": "prod", "sampleData": true}))
        .unwrap_err();
    assert_eq!(kind(&e), "refused", "{e}");
}

#[test]
fn migrate_then_seed_through_tokens_streams_progress_events() {
    let h = harness(Options::default());
    let events = Arc::new(Mutex::new(Vec::<Value>::new()));
    let sink = events.clone();
    h.window.listen_any("progress", move |e| {
        sink.lock()
            .unwrap()
            .push(serde_json::from_str(e.payload()).unwrap())
    });
    let t = h.token("plan_migrate", json!({"env": "dev"}));
    h.invoke("migrate_env", json!({"env": "dev", "answer": {"token": t}}))
        .unwrap();
    let t = h.token("plan_seed", json!({"env": "dev", "jobs": 300}));
    let out = h
        .invoke(
            "seed_env",
            json!({"env": "dev", "jobs": 300, "answer": {"token": t}}),
        )
        .unwrap();
    assert_eq!(out["counts"]["jobs_inserted"], 300, "{out}");
    let events = events.lock().unwrap();
    let last = events
        .iter()
        .rfind(|e| e["op"] == "seed" && e["total"].as_u64() > Some(0))
        .unwrap_or_else(|| panic!("no seed progress among {events:?}"));
    assert_eq!(last["done"], last["total"], "{last}");
}

#[test]
fn export_goes_to_the_file_chosen_in_the_save_dialog() {
    let out_dir = tempfile::tempdir().unwrap();
    let dest = out_dir.path().join("dev-export.sqlite3");
    let h = harness(Options {
        save_to: Some(dest.clone()),
        ..Default::default()
    });
    h.seeded("dev", 5);
    let t = h.token("plan_backup", json!({"env": "dev", "export": true}));
    let rec = h
        .invoke(
            "backup_env",
            json!({"env": "dev", "export": true, "label": null, "answer": {"token": t}}),
        )
        .unwrap();
    assert_eq!(Path::new(rec["path"].as_str().unwrap()), dest);
    assert!(dest.exists());
}

#[test]
fn a_cancelled_save_dialog_writes_nothing() {
    let h = harness(Options::default()); // FixedFile(None): the user cancels
    h.seeded("dev", 5);
    let before = h.backups("dev");
    let t = h.token("plan_backup", json!({"env": "dev", "export": true}));
    let e = h
        .invoke(
            "backup_env",
            json!({"env": "dev", "export": true, "label": null, "answer": {"token": t}}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
    assert_eq!(h.backups("dev"), before);
}

#[test]
fn the_acl_denies_a_command_no_capability_grants() {
    let h = harness(Options::default());
    let e = h.invoke("debug_token_count", json!({})).unwrap_err();
    assert!(e.to_string().contains("not allowed"), "{e}");
    let e = h.invoke("no_such_command", json!({})).unwrap_err();
    assert!(e.to_string().contains("not allowed"), "{e}");
    let envs = h.invoke("status", json!({})).unwrap();
    assert_eq!(envs.as_array().unwrap().len(), 3, "{envs}");
}

#[test]
fn the_browser_pages_and_filters_jobs() {
    let h = harness(Options::default());
    h.seeded("dev", 120);
    let mut seen = std::collections::BTreeSet::new();
    let mut after = Value::Null;
    loop {
        let page = h
            .invoke(
                "browse_jobs",
                json!({"env": "dev", "filter": {}, "order": "newest_first", "after": after, "limit": 50}),
            )
            .unwrap();
        for r in page["rows"].as_array().unwrap() {
            assert!(seen.insert(r["id"].as_i64().unwrap()), "a row came twice");
        }
        after = page["next"].clone();
        if after.is_null() {
            break;
        }
    }
    assert_eq!(seen.len(), 120);
    let page = h
        .invoke(
            "browse_jobs",
            json!({"env": "dev", "filter": {"status": "failed"}, "after": null}),
        )
        .unwrap();
    assert!(page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "failed"));
    let e = h
        .invoke(
            "browse_jobs",
            json!({"env": "dev", "filter": {"status": "nope"}, "after": null}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "invalid_input", "{e}");
}

#[test]
fn undo_restores_what_the_reset_replaced_and_needs_its_own_token() {
    let h = harness(Options::default());
    h.seeded("dev", 30);
    let t = h.token("plan_reset", json!({"env": "dev", "sampleData": false}));
    h.invoke("reset_env", reset_body("dev", Some(&t))).unwrap();
    assert_eq!(h.rows("dev")["jobs"], 0);
    let e = h
        .invoke("undo_env", json!({"env": "dev", "answer": {"token": null}}))
        .unwrap_err();
    assert_eq!(kind(&e), "token", "{e}");
    assert_eq!(h.rows("dev")["jobs"], 0, "nothing restored without a token");
    let t = h.token("plan_undo", json!({"env": "dev"}));
    h.invoke("undo_env", json!({"env": "dev", "answer": {"token": t}}))
        .unwrap();
    assert_eq!(h.rows("dev")["jobs"], 30);
}

#[test]
fn restore_from_a_file_picked_in_the_open_dialog() {
    let out_dir = tempfile::tempdir().unwrap();
    let copy = out_dir.path().join("dev-copy.sqlite3");
    let h = harness(Options {
        save_to: Some(copy.clone()),
        ..Default::default()
    });
    h.seeded("dev", 12);
    let t = h.token("plan_backup", json!({"env": "dev", "export": true}));
    h.invoke(
        "backup_env",
        json!({"env": "dev", "export": true, "label": null, "answer": {"token": t}}),
    )
    .unwrap();
    h.seeded("dev", 40);
    assert_eq!(h.rows("dev")["jobs"], 40);
    let planned = h
        .invoke("plan_restore", json!({"env": "dev", "backup": null}))
        .unwrap();
    assert_eq!(
        Path::new(planned["plan"]["source"]["path"].as_str().unwrap()),
        copy
    );
    let t = planned["issued"]["token"].as_str().unwrap();
    let backup = copy.to_string_lossy();
    // A token for this plan does not restore another file.
    let e = h
        .invoke(
            "restore_env",
            json!({"env": "test", "backup": backup, "answer": {"token": t}}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "token", "{e}");
    // The page cannot name that file itself (#16): the picked file comes from the dialog again.
    let t = h.token("plan_restore", json!({"env": "dev", "backup": null}));
    h.invoke(
        "restore_env",
        json!({"env": "dev", "backup": backup, "answer": {"token": t}}),
    )
    .unwrap();
    assert_eq!(h.rows("dev")["jobs"], 12);
    assert!(h.backups("dev").contains(&"pre-restore".to_string()));
}

#[test]
fn check_reports_a_healthy_database() {
    let h = harness(Options::default());
    h.seeded("dev", 5);
    let r = h.invoke("check_env", json!({"env": "dev"})).unwrap();
    assert_eq!(r["corrupt"], false, "{r}");
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["check"] == "integrity" && f["ok"] == true));
}

#[test]
fn cancelling_a_seed_from_the_progress_bar_rolls_it_back() {
    let h = harness(Options::default());
    h.seeded("dev", 10);
    let t = h.token("plan_seed", json!({"env": "dev", "jobs": 2000}));
    let (state, id) = (h.state.clone(), t.clone());
    h.window.listen_any("progress", move |e| {
        if e.payload().contains("seeding jobs") {
            // what the progress bar's Cancel does
            state.ops.cancel(&id, &state.tokens).unwrap();
        }
    });
    let e = h
        .invoke(
            "seed_env",
            json!({"env": "dev", "jobs": 2000, "answer": {"token": t}}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
    assert_eq!(h.rows("dev")["jobs"], 10, "rolled back");
}

/// Finding 18: cancel is per operation. A cancel names its operation by the token that starts it:
/// sent before the start it is kept (not reset by the start, not lost); it never stops another
/// operation; an id that names nothing is refused and remembered nowhere.
#[test]
fn a_cancel_reaches_exactly_its_own_operation_even_when_sent_before_it_starts() {
    let h = harness(Options::default());
    h.seeded("dev", 10);
    h.seeded("test", 10);
    let first = h.token("plan_seed", json!({"env": "dev", "jobs": 2000}));
    let second = h.token("plan_seed", json!({"env": "test", "jobs": 2000}));
    // Cancel the dev seed before it starts; the test seed then runs to the end.
    h.invoke("cancel_operation", json!({"id": first})).unwrap();
    let done = h
        .invoke(
            "seed_env",
            json!({"env": "test", "jobs": 2000, "answer": {"token": second}}),
        )
        .unwrap();
    assert!(
        done["counts"]["jobs_inserted"].as_u64().unwrap() > 1900,
        "{done}"
    );
    assert_eq!(h.rows("test")["jobs"], 2000, "ran to the end");
    let e = h
        .invoke(
            "seed_env",
            json!({"env": "dev", "jobs": 2000, "answer": {"token": first}}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
    assert_eq!(h.rows("dev")["jobs"], 10, "nothing was done");
    // Names that are no operation are refused, and nothing is kept for them.
    for id in ["", "not-a-token", &first] {
        let e = h.invoke("cancel_operation", json!({"id": id})).unwrap_err();
        assert_eq!(kind(&e), "refused", "{id}: {e}");
    }
    assert_eq!(h.state.ops.registered(), 0, "no operation left registered");
}

/// Finding 19: bad input is echoed back bounded — a 10 MB env name or date comes back as 64
/// characters and its size, not whole.
#[test]
fn a_huge_argument_is_not_echoed_back_whole() {
    let h = harness(Options::default());
    h.seeded("dev", 5);
    let huge = "x".repeat(10 << 20);
    for (cmd, body) in [
        ("plan_seed", json!({"env": huge, "jobs": 10})),
        ("plan_reset", json!({"env": huge, "sampleData": false})),
        (
            "browse_jobs",
            json!({"env": "dev", "filter": {"from": huge}}),
        ),
    ] {
        let e = h.invoke(cmd, body).unwrap_err();
        let text = e.to_string();
        assert!(text.len() < 1024, "{cmd}: {} bytes back", text.len());
        assert!(text.contains("10485760 bytes in all"), "{cmd}: {text}");
    }
}

/// The backup a plan names is the file the action makes (first impressions: a plan says what will
/// really happen).
#[test]
fn the_backup_a_plan_names_is_the_one_it_makes() {
    let h = harness(Options::default());
    h.seeded("dev", 10);
    let planned = h
        .invoke("plan_seed", json!({"env": "dev", "jobs": 20}))
        .unwrap();
    let named = planned["plan"]["backup"]["path"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let t = planned["issued"]["token"].as_str().unwrap();
    let done = h
        .invoke(
            "seed_env",
            json!({"env": "dev", "jobs": 20, "answer": {"token": t}}),
        )
        .unwrap();
    assert_eq!(done["backup"]["path"], named, "{done}");
    assert!(std::path::Path::new(&named).exists());
}

#[test]
fn prune_previews_what_it_frees_and_deletes_only_with_its_token() {
    let h = harness(Options {
        config: Some("[retention]\nkeep = 1\nmax_total_mib = 0\n"),
        ..Default::default()
    });
    h.seeded("dev", 5);
    for i in 0..2 {
        let t = h.token("plan_backup", json!({"env": "dev", "export": false}));
        let out = h
            .invoke(
                "backup_env",
                json!({"env": "dev", "export": false, "label": null, "answer": {"token": t}}),
            )
            .unwrap();
        // keep = 1: the automatic retention after the second backup deletes the first.
        assert_eq!(
            out["retention"]["deleted"].as_array().unwrap().len(),
            i,
            "{out}"
        );
    }
    assert_eq!(h.backups("dev").len(), 1);
    // Three more under a roomier policy (another config), for prune to apply keep = 1 to.
    let roomy = h.ws.data_dir.join("roomy.toml");
    std::fs::write(&roomy, "[retention]\nkeep = 10\n").unwrap();
    let ws = pipeline_db_core::Workspace::load(&pipeline_db_core::WorkspaceOptions {
        data_dir: Some(h.ws.data_dir.clone()),
        config: Some(roomy),
        ..Default::default()
    })
    .unwrap();
    for _ in 0..3 {
        pipeline_db_core::verbs::backup::run(&ws, "dev", &Default::default()).unwrap();
    }
    let before = h.backups("dev").len();
    assert_eq!(before, 4);
    let planned = h.invoke("plan_prune", json!({"env": "dev"})).unwrap();
    let to_delete = planned["plan"]["delete"].as_array().unwrap().len();
    assert!(to_delete > 0, "{planned}");
    assert!(planned["plan"]["frees_bytes"].as_u64().unwrap() > 0);
    let e = h
        .invoke(
            "prune_backups",
            json!({"env": "dev", "answer": {"token": null}}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "token", "{e}");
    assert_eq!(
        h.backups("dev").len(),
        before,
        "nothing deleted without a token"
    );
    let t = planned["issued"]["token"].as_str().unwrap();
    h.invoke(
        "prune_backups",
        json!({"env": "dev", "answer": {"token": t}}),
    )
    .unwrap();
    assert_eq!(h.backups("dev").len(), before - to_delete);
    let last = h.ws.env("dev").unwrap();
    let kept = pipeline_db_core::backups::record::list(&last).unwrap();
    let r = h
        .invoke("verify_backup", json!({"backup": kept[0].path}))
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
}

/// Collects every `progress` event the window receives.
fn progress_sink(h: &Harness) -> Arc<Mutex<Vec<Value>>> {
    let events = Arc::new(Mutex::new(Vec::<Value>::new()));
    let sink = events.clone();
    h.window.listen_any("progress", move |e| {
        sink.lock()
            .unwrap()
            .push(serde_json::from_str(e.payload()).unwrap())
    });
    events
}

#[test]
fn backup_and_restore_stream_byte_progress_with_an_eta() {
    let h = harness(Options::default());
    h.seeded("dev", 200);
    let events = progress_sink(&h);
    let t = h.token("plan_backup", json!({"env": "dev", "export": false}));
    let rec = h
        .invoke(
            "backup_env",
            json!({"env": "dev", "export": false, "label": null, "answer": {"token": t}}),
        )
        .unwrap();
    let size = rec["size_bytes"].as_u64().unwrap();
    let backup = rec["path"].as_str().unwrap().to_string();
    h.seeded("dev", 300);
    let t = h.token("plan_restore", json!({"env": "dev", "backup": backup}));
    h.invoke(
        "restore_env",
        json!({"env": "dev", "backup": backup, "answer": {"token": t}}),
    )
    .unwrap();
    assert_eq!(h.rows("dev")["jobs"], 200);
    let events = events.lock().unwrap();
    let last = |op: &str, stage: &str| {
        events
            .iter()
            .rfind(|e| e["op"] == op && e["stage"] == stage)
            .unwrap_or_else(|| panic!("no {op}/{stage} among {events:?}"))
            .clone()
    };
    let verified = last("backup", "verifying");
    assert_eq!(verified["unit"], "bytes");
    assert_eq!(verified["done"].as_u64(), Some(size), "{verified}");
    assert_eq!(verified["total"].as_u64(), Some(size), "{verified}");
    assert_eq!(verified["eta_ms"], 0, "{verified}");
    for stage in ["staging", "copying", "verifying", "restoring"] {
        let e = last("restore", stage);
        assert_eq!(e["unit"], "bytes", "{e}");
        assert_eq!(e["done"], e["total"], "{stage} reaches its total: {e}");
    }
}

#[test]
fn cancelling_a_restore_mid_copy_leaves_the_database_unchanged() {
    let h = harness(Options::default());
    h.seeded("dev", 50);
    let b = pipeline_db_core::verbs::backup::run(&h.ws, "dev", &Default::default())
        .unwrap()
        .backup;
    h.seeded("dev", 120);
    let backup = b.path.to_string_lossy();
    let t = h.token("plan_restore", json!({"env": "dev", "backup": backup}));
    let (state, id) = (h.state.clone(), t.clone());
    h.window.listen_any("progress", move |e| {
        if e.payload().contains("\"stage\":\"restoring\"") {
            state.ops.cancel(&id, &state.tokens).unwrap(); // what the Cancel button does
        }
    });
    let e = h
        .invoke(
            "restore_env",
            json!({"env": "dev", "backup": backup, "answer": {"token": t}}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
    assert_eq!(
        h.rows("dev")["jobs"],
        120,
        "the copy's transaction was rolled back"
    );
}

#[test]
fn the_page_can_name_only_listed_backups_for_restore_and_verify() {
    let h = harness(Options::default());
    h.seeded("dev", 5);
    h.seeded("test", 5);
    let before = h.rows("dev");
    // Another env's live database, a system file, a backup of another env: all refused.
    let other_live = h.ws.env("test").unwrap().path;
    for path in [other_live.to_str().unwrap(), "/etc/shadow", "/etc/passwd"] {
        let e = h
            .invoke("plan_restore", json!({"env": "dev", "backup": path}))
            .unwrap_err();
        assert_eq!(kind(&e), "refused", "{path}: {e}");
        let e = h
            .invoke("verify_backup", json!({"backup": path}))
            .unwrap_err();
        assert_eq!(kind(&e), "refused", "{path}: {e}");
    }
    assert!(
        !h.ws.backups_root().join("verifications.jsonl").exists(),
        "no ledger line for a refused probe"
    );
    assert_eq!(h.rows("dev"), before);
}

#[test]
fn the_backups_view_shows_policy_use_and_pins_and_a_pin_survives_retention() {
    let h = harness(Options::default());
    h.seeded("dev", 5);
    let first = pipeline_db_core::verbs::backup::run(&h.ws, "dev", &Default::default())
        .unwrap()
        .backup;
    let view = h.invoke("backups_view", json!({"env": "dev"})).unwrap();
    assert_eq!(view["policy"]["keep"], 10, "{view}");
    assert_eq!(view["backups"][0]["pinned"], false, "{view}");
    assert!(
        view["all_bytes"].as_u64().unwrap() >= first.disk_bytes(),
        "{view}"
    );
    let name = first.path.file_name().unwrap().to_str().unwrap();
    let out = h
        .invoke(
            "pin_backup",
            json!({"env": "dev", "backup": name, "pinned": true}),
        )
        .unwrap();
    assert_eq!(out["changed"], true, "{out}");
    let view = h.invoke("backups_view", json!({"env": "dev"})).unwrap();
    assert_eq!(view["backups"][0]["pinned"], true, "{view}");
    // Only the env's listed backups can be pinned from the page.
    let e = h
        .invoke(
            "pin_backup",
            json!({"env": "dev", "backup": "/etc/passwd", "pinned": true}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "refused", "{e}");
    assert!(!std::path::Path::new("/etc/passwd.pin").exists());
}

/// The cards' buttons follow core's answer: `status` says per action whether it can apply and
/// why not, and the command core refuses is refused through the window too.
#[test]
fn status_says_which_actions_cannot_apply_and_the_commands_refuse_them() {
    let h = harness(Options::default());
    let prod = || {
        let cards = h.invoke("status", json!({})).unwrap();
        let card = cards
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["env"] == "prod");
        card.unwrap().clone()
    };
    let before = prod();
    let a = &before["actions"];
    assert_eq!(a["reset"]["available"], false, "{a}");
    assert!(a["reset"]["reason"]
        .as_str()
        .unwrap()
        .contains("Migrate creates it"));
    assert_eq!(a["undo"]["available"], false, "{a}");
    assert_eq!(a["migrate"]["available"], true, "{a}");
    let e = h
        .invoke("plan_reset", json!({"env": "prod", "sampleData": false}))
        .unwrap_err();
    assert_eq!(kind(&e), "refused", "{e}");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("Migrate creates it"));
    let e = h.invoke("plan_undo", json!({"env": "dev"})).unwrap_err();
    assert!(
        e["message"].as_str().unwrap().contains("nothing to undo"),
        "{e}"
    );
    // The rows the window shows: the user's tables first, the bookkeeping marked.
    with_prod(&h);
    let prod = prod();
    let kinds: Vec<&str> = prod["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "data",
            "data",
            "data",
            "bookkeeping",
            "bookkeeping",
            "bookkeeping"
        ]
    );
    assert_eq!(prod["actions"]["reset"]["available"], true);
}

/// Unpinning a protected env's backup lets retention delete it: core asks for the typed name,
/// which the window gives only through the native dialog (the page cannot click it). Declined,
/// the backup stays pinned; accepted, it is unpinned. Pinning asks nothing.
#[test]
fn unpinning_a_prod_backup_needs_the_native_dialog() {
    for accept in [false, true] {
        let h = harness(Options {
            accept,
            ..Options::default()
        });
        {
            use pipeline_db_core::verbs::migrate;
            let req = migrate::MigrateRequest { env: "prod".into() };
            let p = migrate::plan(&h.ws, &req).unwrap();
            let forced = pipeline_db_core::Confirmed {
                yes: true,
                typed_env: Some("prod".into()),
            };
            migrate::execute(&h.ws, &p, &forced, &pipeline_db_core::progress::Quiet).unwrap();
        }
        let name = prod_backup(&h);
        let pin = |pinned: bool| pin_prod(&h, &name, pinned);
        assert_eq!(pin(true).unwrap()["changed"], true);
        // A name that is no backup of prod is refused before any dialog: the dialog only names
        // a backup core resolved (declined, a dialog would answer "cancelled").
        let bogus = h.invoke(
            "pin_backup",
            json!({"env": "prod", "backup": "no-such.sqlite3.zst", "pinned": false}),
        );
        assert_ne!(kind(&bogus.unwrap_err()), "cancelled");
        match accept {
            false => {
                let e = pin(false).unwrap_err();
                assert_eq!(kind(&e), "cancelled", "{e}");
            }
            true => assert_eq!(pin(false).unwrap()["pinned"], false),
        }
        let view = h.invoke("backups_view", json!({"env": "prod"})).unwrap();
        assert_eq!(view["backups"][0]["pinned"], !accept, "{view}");
    }
}

/// Unpinning a prod backup with its name typed wrong in the native dialog is refused: the pin
/// stays (the adapter no longer takes the dialog's click for the typed name).
#[test]
fn unpinning_a_prod_backup_with_the_name_typed_wrong_is_refused() {
    let h = harness(Options {
        types: Some("Prod"),
        ..Options::default()
    });
    with_prod(&h);
    let name = prod_backup(&h);
    let pin = |pinned: bool| pin_prod(&h, &name, pinned);
    pin(true).unwrap();
    assert_eq!(kind(&pin(false).unwrap_err()), "refused");
    let view = h.invoke("backups_view", json!({"env": "prod"})).unwrap();
    assert_eq!(view["backups"][0]["pinned"], true, "{view}");
}

/// A y/N plan of dev is confirmed in the native dialog too, not by the page: a page that
/// redeems its token without the user (one invoke() away) changes nothing when the dialog is
/// declined.
#[test]
fn dev_denied_in_the_native_dialog_changes_nothing() {
    let h = harness(Options {
        accept: false,
        ..Default::default()
    });
    h.seeded("dev", 5);
    let before = h.rows("dev");
    let t = h.token("plan_reset", json!({"env": "dev", "sampleData": false}));
    let e = h
        .invoke("reset_env", reset_body("dev", Some(&t)))
        .unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
    assert_eq!(h.rows("dev"), before);
    assert!(h.backups("dev").is_empty(), "no backup either");
    // A token for another reset (here: without sample data) is refused before any dialog is
    // raised (declined, a dialog would answer "cancelled").
    let t = h.token("plan_reset", json!({"env": "dev", "sampleData": false}));
    let mut body = reset_body("dev", Some(&t));
    body["sampleData"] = true.into();
    let e = h.invoke("reset_env", body).unwrap_err();
    assert_eq!(kind(&e), "token", "{e}");
    assert_eq!(h.rows("dev"), before);
}

/// A backup of prod taken through core; its file name.
fn prod_backup(h: &Harness) -> String {
    let b = pipeline_db_core::verbs::backup::run(&h.ws, "prod", &Default::default())
        .unwrap()
        .backup;
    b.path.file_name().unwrap().to_str().unwrap().to_string()
}

/// Pins or unpins prod's backup `name` through the window.
fn pin_prod(h: &Harness, name: &str, pinned: bool) -> Result<Value, Value> {
    h.invoke(
        "pin_backup",
        json!({"env": "prod", "backup": name, "pinned": pinned}),
    )
}

/// A lower retention that deletes backups of two protected envs asks for both names in the
/// native dialog: one name alone is refused and nothing is written; both, typed together as the
/// dialog asks, write it.
#[test]
fn lowering_retention_below_two_protected_envs_backups_needs_both_names_typed() {
    for (typed, accepted) in [("prod", false), ("prod staging", true)] {
        let h = harness(Options {
            types: Some(typed),
            config: Some("[envs.staging]\nprotected = true\n"),
            ..Options::default()
        });
        for env in ["prod", "staging"] {
            let p = migrate::plan(&h.ws, &migrate::MigrateRequest { env: env.into() }).unwrap();
            migrate::execute(&h.ws, &p, &Confirmed::forced(), &Quiet).unwrap();
            for _ in 0..3 {
                pipeline_db_core::verbs::backup::run(&h.ws, env, &Default::default()).unwrap();
            }
        }
        let config = || std::fs::read_to_string(h.ws.data_dir.join("pipeline-db.toml")).unwrap();
        let before = config();
        let r = h.invoke("set_retention", json!({"keep": 1, "maxTotalMib": null}));
        match accepted {
            false => {
                let e = r.unwrap_err();
                assert_eq!(kind(&e), "refused", "{e}");
                let m = e["message"].as_str().unwrap();
                assert!(
                    m.contains("retention of prod staging needs their names typed exactly"),
                    "{e}"
                );
                assert_eq!(config(), before, "nothing written");
            }
            true => {
                r.unwrap();
                assert!(config().contains("keep = 1"), "{}", config());
            }
        }
    }
}

/// An env marked protected from a terminal while the app runs is protected in the app's next
/// plan: the typed name, not a y/N (the app reloads a config file that changed since it loaded it).
#[test]
fn an_env_protected_from_a_terminal_meanwhile_needs_its_name_typed() {
    let h = harness(Options::default());
    h.seeded("test", 10);
    let plan = |h: &Harness| {
        h.invoke("plan_reset", json!({"env": "test", "sampleData": false}))
            .unwrap()
    };
    assert_eq!(plan(&h)["confirmation"], "yes_no");
    std::fs::write(
        h.ws.data_dir.join("pipeline-db.toml"),
        "[envs.test]\nprotected = true\n",
    )
    .unwrap();
    assert_eq!(plan(&h)["confirmation"], "type_env_name");
}
