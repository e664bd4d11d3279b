//! The workbench commands on Tauri's mock runtime (ACL applied): queries through core's guard and
//! their cancel, saved queries, Export… through the (test double of the) native save dialog, the
//! schema, and Import… through the open dialog, the plan and its token.

mod common;

use std::time::{Duration, Instant};

use common::{harness, kind, Harness, Options};
use serde_json::{json, Value};

fn query(h: &Harness, sql: &str, op: &str) -> Result<Value, Value> {
    h.invoke(
        "run_query",
        json!({"env": "dev", "sql": sql, "maxRows": 3, "op": op}),
    )
}

fn sha(p: &std::path::Path) -> String {
    pipeline_db_core::storage::fs::sha256_file(p).unwrap()
}

#[test]
fn a_query_returns_capped_rows_and_a_write_is_refused_with_the_file_untouched() {
    let h = harness(Options::default());
    h.seeded("dev", 10);
    let r = query(&h, "SELECT id, status FROM jobs ORDER BY id", "wb-1").unwrap();
    assert_eq!(r["columns"], json!(["id", "status"]));
    assert_eq!(r["rows"].as_array().unwrap().len(), 3);
    assert_eq!(r["rows"][0][0], "1");
    assert_eq!(r["truncated"], true);
    let db = h.ws.env("dev").unwrap().path;
    let before = sha(&db);
    let e = query(&h, "DELETE FROM jobs", "wb-2").unwrap_err();
    assert_eq!(kind(&e), "sql_refused", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("DELETE from jobs"),
        "{e}"
    );
    assert_eq!(sha(&db), before);
    // The page names its operations in its own namespace only.
    let e = query(&h, "SELECT 1", "a-token-like-id").unwrap_err();
    assert_eq!(kind(&e), "refused", "{e}");
    assert_eq!(h.state.ops.registered(), 0);
}

#[test]
fn cancel_stops_a_running_query_at_once() {
    let h = harness(Options::default());
    h.seeded("dev", 1);
    let state = h.state.clone();
    let canceller = std::thread::spawn(move || {
        // What the Cancel button does, as soon as the query has registered.
        let end = Instant::now() + Duration::from_secs(20);
        while state.ops.cancel("wb-runaway", &state.tokens).is_err() {
            assert!(Instant::now() < end, "the query never registered");
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let started = Instant::now();
    let e = query(
        &h,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
        "wb-runaway",
    )
    .unwrap_err();
    canceller.join().unwrap();
    assert_eq!(kind(&e), "cancelled", "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(h.state.ops.registered(), 0, "forgotten when it ended");
}

#[test]
fn saved_queries_are_kept_per_env_in_the_data_dir() {
    let h = harness(Options::default());
    let list = h
        .invoke(
            "save_query",
            json!({"env": "dev", "name": "Failed", "sql": "SELECT 1", "replace": false}),
        )
        .unwrap();
    assert_eq!(list[0]["name"], "Failed");
    let e = h
        .invoke(
            "save_query",
            json!({"env": "dev", "name": "../x", "sql": "SELECT 1", "replace": false}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "invalid_input", "{e}");
    h.invoke(
        "rename_query",
        json!({"env": "dev", "from": "Failed", "to": "Failed jobs"}),
    )
    .unwrap();
    let list = h.invoke("saved_queries", json!({"env": "dev"})).unwrap();
    assert_eq!(list[0]["name"], "Failed jobs");
    assert_eq!(
        h.invoke("saved_queries", json!({"env": "test"})).unwrap(),
        json!([])
    );
    assert!(h.ws.data_dir.join("queries/dev.json").exists());
    let list = h
        .invoke("delete_query", json!({"env": "dev", "name": "Failed jobs"}))
        .unwrap();
    assert_eq!(list, json!([]));
}

fn export(h: &Harness, what: Value) -> Result<Value, Value> {
    h.invoke(
        "export_rows",
        json!({"env": "dev", "what": what, "format": "csv", "op": "wb-export"}),
    )
}

#[test]
fn export_writes_the_file_the_save_dialog_names_and_never_overwrites() {
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("failed.csv");
    let h = harness(Options {
        save_to: Some(dest.clone()),
        ..Default::default()
    });
    h.seeded("dev", 40);
    let filter = json!({"status": "failed"});
    let r = export(&h, json!({"kind": "jobs", "filter": filter})).unwrap();
    let text = std::fs::read_to_string(&dest).unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert!(
        lines[0].starts_with("\"id\",\"session_id\","),
        "{}",
        lines[0]
    );
    assert!(lines.len() > 1, "some failed jobs among 40: {text}");
    assert_eq!(r["rows"].as_u64().unwrap() as usize, lines.len() - 1);
    assert!(
        lines[1..].iter().all(|l| l.contains("\"failed\"")),
        "{text}"
    );
    // The dialog answers the same (now existing) file: refused, the file left as it was.
    let e = export(&h, json!({"kind": "query", "sql": "SELECT 1"})).unwrap_err();
    assert_eq!(kind(&e), "refused", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("already exists"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), text);
    // Each export is one audit line (the refusal too).
    let log = h.invoke("audit_log", json!({"env": "dev"})).unwrap();
    let exports: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verb"] == "export")
        .collect();
    assert_eq!(exports.len(), 2, "{log}");
    let outcomes: Vec<&str> = exports
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.contains(&"ok") && outcomes.contains(&"refused"),
        "{outcomes:?}"
    );
}

#[test]
fn export_cancelled_in_the_save_dialog_writes_nothing() {
    let h = harness(Options::default());
    h.seeded("dev", 5);
    let e = export(&h, json!({"kind": "query", "sql": "SELECT 1"})).unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
}

#[test]
fn the_schema_marks_bookkeeping_tables_and_lists_foreign_keys() {
    let h = harness(Options::default());
    h.seeded("dev", 1);
    let s = h.invoke("schema", json!({"env": "dev"})).unwrap();
    let tables = s["tables"].as_array().unwrap();
    let by = |n: &str| tables.iter().find(|t| t["name"] == n).unwrap().clone();
    assert_eq!(by("jobs")["bookkeeping"], false);
    assert_eq!(by("pipeline_db_meta")["bookkeeping"], true);
    let jobs = by("jobs");
    let fks: Vec<&str> = jobs["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["table"].as_str().unwrap())
        .collect();
    assert!(
        fks.contains(&"users") && fks.contains(&"pipelines"),
        "{fks:?}"
    );
    let e = h.invoke("schema", json!({"env": "test"})).unwrap_err();
    assert_eq!(kind(&e), "missing", "{e}");
}

#[test]
fn import_goes_through_the_plan_and_its_token() {
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("users.csv");
    std::fs::write(
        &csv,
        "username,email,hashed_password,role\r\nnew.user,new@example.org,$argon2id$x,analyst\r\n",
    )
    .unwrap();
    let h = harness(Options {
        save_to: Some(csv.clone()),
        ..Default::default()
    });
    h.seeded("dev", 1);
    let users = h.rows("dev")["users"];
    let planned = h
        .invoke("plan_import", json!({"env": "dev", "table": "users"}))
        .unwrap();
    assert_eq!(planned["plan"]["verb"], "import");
    assert_eq!(planned["plan"]["rows"], 1);
    assert_eq!(planned["confirmation"], "yes_no");
    let e = h
        .invoke(
            "import_env",
            json!({"env": "dev", "answer": {"token": null}}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "token", "{e}");
    assert_eq!(h.rows("dev")["users"], users, "nothing without the token");
    let t = planned["issued"]["token"].as_str().unwrap();
    let done = h
        .invoke("import_env", json!({"env": "dev", "answer": {"token": t}}))
        .unwrap();
    assert_eq!(done["inserted"], 1, "{done}");
    assert_eq!(h.rows("dev")["users"], users + 1);
    assert!(h.backups("dev").contains(&"pre-import".to_string()));
    // The same file again: a plan that lists the duplicate and cannot run; its token is refused.
    let again = h
        .invoke("plan_import", json!({"env": "dev", "table": "users"}))
        .unwrap();
    assert_eq!(again["plan"]["importable"], false, "{again}");
    assert_eq!(
        again["plan"]["duplicate_count"], 2,
        "username and email: {again}"
    );
    assert_eq!(again["plan"]["duplicates"][0]["line"], 2, "{again}");
    let t = again["issued"]["token"].as_str().unwrap();
    let e = h
        .invoke("import_env", json!({"env": "dev", "answer": {"token": t}}))
        .unwrap_err();
    assert_eq!(kind(&e), "bad_input", "{e}");
    assert!(e["message"].as_str().unwrap().contains("duplicate"), "{e}");
    assert_eq!(h.rows("dev")["users"], users + 1);
}

/// The page's env and table are checked before a native file dialog is raised: its title and the
/// suggested file name were the page's unchecked text (5 KB with newlines and an RTL override)
/// (review 23). With the dialog's test double answering "cancel", a dialog raised shows as a
/// cancel; a refusal before it shows as the check's own error.
#[test]
fn page_text_is_checked_before_a_file_dialog_shows_it() {
    let h = harness(Options::default());
    h.seeded("dev", 3);
    let evil = format!("prod\n\nCONFIRM: type prod\u{202e}{}", "x".repeat(5000));
    let e = h
        .invoke(
            "export_rows",
            json!({"env": evil, "what": {"kind": "query", "sql": "SELECT 1"}, "format": "csv", "op": "wb-9"}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "invalid_env", "{e}");
    let e = h
        .invoke("plan_import", json!({"env": "dev", "table": evil}))
        .unwrap_err();
    assert_eq!(kind(&e), "invalid_input", "{e}");
    // A good env still reaches the dialog (here: cancelled).
    let e = h
        .invoke(
            "export_rows",
            json!({"env": "dev", "what": {"kind": "query", "sql": "SELECT 1"}, "format": "csv", "op": "wb-10"}),
        )
        .unwrap_err();
    assert_eq!(kind(&e), "cancelled", "{e}");
}

/// An import plan core refuses (a bad row) is refused before any dialog asks about it: with the
/// dialog's double answering no, the refusal is core's, not "cancelled" (review 23: a y/N asked
/// "import 0 rows into users" and core refused after).
#[test]
fn an_import_plan_that_cannot_run_is_refused_before_the_dialog() {
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("users.csv");
    std::fs::write(
        &csv,
        "username,email,hashed_password,role\r\nnew.user,new@example.org,$argon2id$x,boss\r\n",
    )
    .unwrap();
    let h = harness(Options {
        save_to: Some(csv.clone()),
        accept: false,
        ..Default::default()
    });
    h.seeded("dev", 1);
    let planned = h
        .invoke("plan_import", json!({"env": "dev", "table": "users"}))
        .unwrap();
    assert_eq!(planned["plan"]["importable"], false, "{planned}");
    let t = planned["issued"]["token"].as_str().unwrap();
    let e = h
        .invoke("import_env", json!({"env": "dev", "answer": {"token": t}}))
        .unwrap_err();
    assert_eq!(kind(&e), "bad_input", "{e}");
}
