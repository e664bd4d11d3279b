//! Pipeline DB desktop: a Tauri v2 window over `pipeline-db-core`. This file is builder wiring
//! only; commands live in `commands/` (listed once in `commands/list.rs`), tokens in `tokens.rs`,
//! native dialogs in `confirm.rs`, the TypeScript of what crosses invoke() in `ts.rs`.

// `app_commands!`: the one list of commands (`build.rs` includes it too).
include!("commands/list.rs");

pub mod commands;
pub mod confirm;
pub mod error;
#[cfg(target_os = "linux")]
pub mod file_dialog;
pub mod operations;
pub mod state;
pub mod tokens;
pub mod ts;
#[cfg(target_os = "linux")]
mod typed_dialog;

pub use state::AppState;

/// Registers the state and every command of `commands/list.rs` (shared by `run` and the
/// mock-runtime tests).
pub fn builder<R: tauri::Runtime>(
    builder: tauri::Builder<R>,
    state: AppState,
) -> tauri::Builder<R> {
    use commands::{actions, backups, browse, import, info, recovery, settings, workbench};
    macro_rules! handler {
        (granted: [$($g:ident::$gc:ident),* $(,)?], not_granted: [$($n:ident::$nc:ident),* $(,)?] $(,)?) => {
            tauri::generate_handler![$($g::$gc,)* $($n::$nc,)*]
        };
    }
    builder.manage(state).invoke_handler(app_commands!(handler))
}

/// Opens the window on the workspace from `PIPELINE_DB_HOME` / `PIPELINE_DB_CONFIG` (or the
/// default data dir).
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let opts = pipeline_db_core::WorkspaceOptions::default().with_env_vars();
    let ws = match pipeline_db_core::Workspace::load(&opts) {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("pipeline-db-desktop: {e}");
            std::process::exit(i32::from(e.exit_code()));
        }
    };
    builder(tauri::Builder::default(), AppState::new(ws))
        .run(tauri::generate_context!())
        .expect("error while running the Pipeline DB window");
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    macro_rules! names {
        (granted: [$($g:ident::$gc:ident),* $(,)?], not_granted: [$($n:ident::$nc:ident),* $(,)?] $(,)?) => {
            (vec![$(stringify!($gc)),*], vec![$(stringify!($nc)),*])
        };
    }

    /// `capabilities/main.json` grants the window exactly the `granted` commands of
    /// `commands/list.rs` (and Tauri's ACL denies the others: `tests/commands.rs`).
    #[test]
    fn the_capability_grants_exactly_the_granted_commands() {
        let (granted, not_granted): (Vec<&str>, Vec<&str>) = app_commands!(names);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/capabilities/main.json");
        let cap: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let app: BTreeSet<String> = cap["permissions"]
            .as_array()
            .expect("a permissions array")
            .iter()
            .map(|p| p.as_str().or_else(|| p["identifier"].as_str()).unwrap())
            .filter(|p| !p.contains(':'))
            .map(String::from)
            .collect();
        let allow = |c: &&str| format!("allow-{}", c.replace('_', "-"));
        let want: BTreeSet<String> = granted.iter().map(allow).collect();
        assert_eq!(
            app,
            want,
            "{path} must grant exactly the `granted` commands of src/commands/list.rs\n\
             missing: {:?}\nnot in the list: {:?}",
            want.difference(&app).collect::<Vec<_>>(),
            app.difference(&want).collect::<Vec<_>>(),
        );
        for c in &not_granted {
            assert!(!app.contains(&allow(c)), "{c} is listed as not granted");
        }
    }
}
