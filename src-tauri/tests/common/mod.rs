//! The mock-runtime harness the command tests share: the real `generate_context!` (so the ACL of
//! `capabilities/main.json` applies), test doubles for the native dialogs, one data dir per test.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pipeline_db_core::verbs::seed::SeedOptions;
use pipeline_db_core::{verbs::seed, verbs::status, Confirmed, Quiet, Workspace};
use pipeline_db_desktop::confirm::{Always, Confirmer, FixedFile, Typist};
use pipeline_db_desktop::tokens::{TokenStore, TOKEN_TTL};
use pipeline_db_desktop::AppState;
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindow;

pub struct Harness {
    pub _app: tauri::App<MockRuntime>,
    pub window: WebviewWindow<MockRuntime>,
    pub ws: Workspace,
    pub state: AppState,
    pub _dir: tempfile::TempDir,
}

pub struct Options {
    pub accept: bool,
    pub ttl: Duration,
    pub save_to: Option<PathBuf>,
    /// Written to `pipeline-db.toml` before the workspace is loaded.
    pub config: Option<&'static str>,
    /// What the user types where a native dialog asks for an env's name (accepting every
    /// dialog); `None`: `accept` decides, and accepting types the name asked for.
    pub types: Option<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            accept: true,
            ttl: TOKEN_TTL,
            save_to: None,
            config: None,
            types: None,
        }
    }
}

pub fn harness(o: Options) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    if let Some(toml) = o.config {
        std::fs::write(dir.path().join("pipeline-db.toml"), toml).unwrap();
    }
    let ws = Workspace::at(dir.path()).unwrap();
    let state = AppState::with(
        ws.clone(),
        match o.types {
            Some(text) => Arc::new(Typist(text.into())) as Arc<dyn Confirmer>,
            None => Arc::new(Always(o.accept)),
        },
        Arc::new(FixedFile(o.save_to)),
        TokenStore::new(o.ttl),
    );
    let (app, window) = app_window(state.clone());
    Harness {
        _app: app,
        window,
        ws,
        state,
        _dir: dir,
    }
}

impl Harness {
    pub fn invoke(&self, cmd: &str, body: Value) -> Result<Value, Value> {
        invoke(&self.window, cmd, body)
    }

    pub fn token(&self, plan_cmd: &str, body: Value) -> String {
        let planned = self.invoke(plan_cmd, body).expect("plan");
        planned["issued"]["token"].as_str().unwrap().to_string()
    }

    /// Creates `env` with a little sample data through core (not through the window).
    pub fn seeded(&self, env: &str, jobs: u64) {
        let opts = SeedOptions {
            users: 2,
            pipelines: 3,
            jobs,
            ..Default::default()
        };
        let req = seed::SeedRequest {
            env: env.into(),
            options: opts,
        };
        let p = seed::plan(&self.ws, &req).unwrap();
        seed::execute(&self.ws, &p, &Confirmed::forced(), &Quiet).unwrap();
    }

    pub fn rows(&self, env: &str) -> std::collections::BTreeMap<String, u64> {
        status::status(&self.ws, Some(env)).unwrap()[0]
            .row_counts
            .clone()
    }

    pub fn backups(&self, env: &str) -> Vec<String> {
        pipeline_db_core::backups::record::list(&self.ws.env(env).unwrap())
            .unwrap()
            .into_iter()
            .map(|b| b.reason.as_str().to_string())
            .collect()
    }
}

pub fn reset_body(env: &str, token: Option<&str>) -> Value {
    json!({"env": env, "sampleData": false, "answer": {"token": token}})
}

pub fn kind(e: &Value) -> &str {
    e["kind"].as_str().unwrap_or_default()
}

/// The window's `invoke(cmd, body)`, through the IPC and the ACL, as the page sends it.
pub fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, body: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

/// The app on the mock runtime with the real context (the ACL applies) and its `main` window.
pub fn app_window(state: AppState) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = pipeline_db_desktop::builder(mock_builder(), state)
        .build(tauri::generate_context!())
        .unwrap();
    let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, window)
}
