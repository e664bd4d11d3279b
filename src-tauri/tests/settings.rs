//! Settings commands on Tauri's mock runtime with the real `generate_context!` (so the ACL of
//! `capabilities/main.json` applies): the native open dialog and the prod confirmation are test
//! doubles; every refusal leaves the config and the chosen file as they were.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pipeline_db_core::{schema::tag, Workspace};
use pipeline_db_desktop::confirm::{Always, FixedFile};
use pipeline_db_desktop::tokens::{TokenStore, TOKEN_TTL};
use pipeline_db_desktop::AppState;
use serde_json::{json, Value};
use tauri::test::MockRuntime;
use tauri::WebviewWindow;

struct Harness {
    _app: tauri::App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
}

/// `pick`: what the native open dialog answers; `accept`: the native confirmation's answer.
fn harness(dir: tempfile::TempDir, pick: Option<PathBuf>, accept: bool) -> Harness {
    let ws = Workspace::at(dir.path().join("data")).unwrap();
    let state = AppState::with(
        ws,
        Arc::new(Always(accept)),
        Arc::new(FixedFile(pick)),
        TokenStore::new(TOKEN_TTL),
    );
    let (app, window) = common::app_window(state);
    Harness {
        _app: app,
        window,
        dir,
    }
}

impl Harness {
    fn invoke(&self, cmd: &str, body: Value) -> Result<Value, Value> {
        common::invoke(&self.window, cmd, body)
    }

    fn config(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("data/pipeline-db.toml")).ok()
    }

    fn env_names(&self) -> Vec<String> {
        let info = self.invoke("workspace_info", json!({})).unwrap();
        info["envs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// A database with data, tagged `env` (or untagged).
fn database(dir: &Path, name: &str, env: Option<&str>) -> PathBuf {
    let p = dir.join(name);
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("CREATE TABLE legacy (x INTEGER); INSERT INTO legacy VALUES (1);")
        .unwrap();
    if let Some(env) = env {
        tag::write_tag(&c, env, None, "test").unwrap();
    }
    drop(c);
    p
}

fn kind(e: &Value) -> &str {
    e["kind"].as_str().unwrap_or_default()
}

#[test]
fn open_existing_file_adds_an_env_that_every_command_then_sees() {
    let dir = tempfile::tempdir().unwrap();
    let file = database(dir.path(), "legacy.db", None);
    let before = std::fs::read(&file).unwrap();
    let h = harness(dir, Some(file.clone()), true);
    let out = h
        .invoke(
            "open_existing_env",
            json!({"name": "demo", "protected": false}),
        )
        .unwrap();
    assert_eq!(out["written"], true);
    assert_eq!(out["plan"]["file"]["needs_tag"], true, "{out}");
    assert_eq!(std::fs::read(&file).unwrap(), before, "file never written");
    assert!(h.env_names().contains(&"demo".to_string()));
    let status = h.invoke("status", json!({})).unwrap();
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["env"] == "demo"),
        "a card for demo: {status}"
    );
    // The reloaded workspace resolves demo; changing verbs refuse its untagged data.
    let e = h
        .invoke("plan_migrate", json!({"env": "demo"}))
        .unwrap_err();
    assert_eq!(kind(&e), "untagged", "{e}");
}

#[test]
fn refusals_change_nothing_and_carry_cores_message() {
    let dir = tempfile::tempdir().unwrap();
    let staging = database(dir.path(), "staging.db", Some("staging"));
    let text = dir.path().join("notes.db");
    std::fs::write(&text, "not a database at all, just some text ".repeat(10)).unwrap();
    let cases = [
        (Some(staging.clone()), "demo", "refused", "env add staging"),
        (
            Some(text.clone()),
            "demo",
            "not_a_database",
            "not a SQLite database",
        ),
        (None, "demo", "cancelled", "no file chosen"),
        (Some(staging.clone()), "Demo", "invalid_env", "lowercase"),
        (Some(staging.clone()), "dev", "refused", "already exists"),
    ];
    for (pick, name, want, msg) in cases {
        let h = harness(tempfile::tempdir().unwrap(), pick.clone(), true);
        let before = pick.as_ref().map(|p| std::fs::read(p).unwrap());
        let e = h
            .invoke(
                "open_existing_env",
                json!({"name": name, "protected": false}),
            )
            .unwrap_err();
        assert_eq!(kind(&e), want, "{name}: {e}");
        assert!(e["message"].as_str().unwrap().contains(msg), "{e}");
        assert_eq!(h.config(), None, "no config written");
        assert_eq!(pick.as_ref().map(|p| std::fs::read(p).unwrap()), before);
        assert_eq!(h.env_names(), ["dev", "prod", "test"], "no env added");
    }
}

#[test]
fn repointing_or_removing_a_protected_env_needs_the_native_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let p = database(dir.path(), "p.db", Some("prod"));
    let h = harness(tempfile::tempdir().unwrap(), Some(p.clone()), false);
    let body = json!({"env": "prod", "choice": "existing"});
    let e = h.invoke("set_env_path", body.clone()).unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
    assert_eq!(h.config(), None);
    let h = harness(dir, Some(p.clone()), true);
    h.invoke("set_env_path", body).unwrap();
    let info = h.invoke("workspace_info", json!({})).unwrap();
    let prod = info["envs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "prod")
        .unwrap()
        .clone();
    assert_eq!(prod["path"], p.to_str().unwrap());
    assert_eq!(prod["protected"], true);

    let dir = tempfile::tempdir().unwrap();
    let v = database(dir.path(), "v.db", Some("vault"));
    let h = harness(dir, Some(v), false);
    h.invoke(
        "open_existing_env",
        json!({"name": "vault", "protected": true}),
    )
    .unwrap();
    let e = h.invoke("remove_env", json!({"env": "vault"})).unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
    assert!(h.env_names().contains(&"vault".to_string()));
}

#[test]
fn remove_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let file = database(dir.path(), "s.db", Some("staging"));
    let h = harness(dir, Some(file.clone()), true);
    h.invoke(
        "open_existing_env",
        json!({"name": "staging", "protected": false}),
    )
    .unwrap();
    let e = h.invoke("remove_env", json!({"env": "dev"})).unwrap_err();
    assert_eq!(kind(&e), "refused", "{e}");
    h.invoke("remove_env", json!({"env": "staging"})).unwrap();
    assert!(!h.env_names().contains(&"staging".to_string()));
    assert!(file.exists(), "the file stays");
    let e = h
        .invoke("set_retention", json!({"keep": 0, "maxTotalMib": null}))
        .unwrap_err();
    assert_eq!(kind(&e), "invalid_input", "{e}");
    h.invoke("set_retention", json!({"keep": 4, "maxTotalMib": 100}))
        .unwrap();
    let info = h.invoke("workspace_info", json!({})).unwrap();
    assert_eq!(
        info["retention"],
        json!({"keep": 4, "max_total_mib": 100, "budget_mib": 8192})
    );
    assert!(h.config().unwrap().contains("keep = 4"));
}

/// Finding 17: what core says must be confirmed — removing an added env, lowering retention —
/// needs the native dialog even for an unprotected env; declined, nothing is written. Raising
/// retention needs no dialog.
#[test]
fn removing_an_env_or_lowering_retention_needs_the_native_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let file = database(dir.path(), "s.db", Some("staging"));
    let h = harness(dir, Some(file), false);
    h.invoke(
        "open_existing_env",
        json!({"name": "staging", "protected": false}),
    )
    .unwrap();
    let config = h.config();
    let e = h
        .invoke("remove_env", json!({"env": "staging"}))
        .unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
    assert!(h.env_names().contains(&"staging".to_string()));
    for body in [
        json!({"keep": 2, "maxTotalMib": null}),
        json!({"keep": 20, "maxTotalMib": 10}),
    ] {
        let e = h.invoke("set_retention", body.clone()).unwrap_err();
        assert_eq!(kind(&e), "cancelled", "{body}: {e}");
    }
    assert_eq!(h.config(), config, "nothing written");
    h.invoke("set_retention", json!({"keep": 30, "maxTotalMib": null}))
        .unwrap();
    assert!(h.config().unwrap().contains("keep = 30"));
}

#[test]
fn a_token_issued_before_a_repoint_is_rejected_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere.db");
    let h = harness(dir, Some(elsewhere.clone()), true);
    let planned = h.invoke("plan_migrate", json!({"env": "dev"})).unwrap();
    let token = planned["issued"]["token"].as_str().unwrap().to_string();
    let out = h
        .invoke("set_env_path", json!({"env": "dev", "choice": "new"}))
        .unwrap();
    assert_eq!(out["plan"]["file"]["exists"], false, "{out}");
    let answer = json!({"token": token, "typedEnv": null});
    let e = h
        .invoke("migrate_env", json!({"env": "dev", "answer": answer}))
        .unwrap_err();
    assert_eq!(kind(&e), "token", "bound to the old file: {e}");
    assert!(!elsewhere.exists(), "nothing created at the new path");
}

#[test]
fn paths_come_from_native_dialogs_not_from_the_webview() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir, None, true);
    // A typed path is not part of the command: the old shape is rejected before core runs.
    let e = h
        .invoke("set_env_path", json!({"env": "dev", "path": "/tmp/x.db"}))
        .unwrap_err();
    assert!(e.to_string().contains("choice"), "{e}");
    for choice in ["existing", "new"] {
        let e = h
            .invoke("set_env_path", json!({"env": "dev", "choice": choice}))
            .unwrap_err();
        assert_eq!(kind(&e), "cancelled", "{choice}: {e}");
    }
    assert_eq!(h.config(), None);
    h.invoke("set_env_path", json!({"env": "dev", "choice": "default"}))
        .unwrap();
    assert!(h.config().is_some());
}

/// Lowering retention so far that prod's backups would go is confirmed for prod, as core's plan
/// says (the native dialog names prod): accepted, it is written; declined, nothing is. (The
/// dialog once named "all environments", and core then refused the answer every time.)
#[test]
fn lowering_retention_that_deletes_prods_backups_is_confirmed_for_prod() {
    for accept in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::at(dir.path().join("data")).unwrap();
        {
            use pipeline_db_core::verbs::migrate;
            let p = migrate::plan(&ws, &migrate::MigrateRequest { env: "prod".into() }).unwrap();
            let typed = pipeline_db_core::Confirmed {
                yes: true,
                typed_env: Some("prod".into()),
            };
            migrate::execute(&ws, &p, &typed, &pipeline_db_core::progress::Quiet).unwrap();
            for _ in 0..3 {
                pipeline_db_core::verbs::backup::run(&ws, "prod", &Default::default()).unwrap();
            }
        }
        let h = harness(dir, None, accept);
        let done = h.invoke("set_retention", json!({"keep": 1, "maxTotalMib": null}));
        match accept {
            true => {
                done.unwrap();
                assert!(h.config().unwrap().contains("keep = 1"));
            }
            false => {
                assert_eq!(kind(&done.unwrap_err()), "cancelled");
                assert!(!h.config().is_some_and(|c| c.contains("keep = 1")));
            }
        }
    }
}
