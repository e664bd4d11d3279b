//! What every command shares: the workspace, the token store, the native dialogs, the running
//! operations (each with its own cancel flag).

use std::sync::{Arc, RwLock};

use pipeline_db_core::Workspace;

use crate::confirm::{Confirmer, FilePicker, NativeDialogs};
use crate::tokens::{TokenStore, TOKEN_TTL};

/// The workspace and the config file's bytes it was loaded from (`None`: no file).
type Loaded = (Arc<Workspace>, Option<Vec<u8>>);

#[derive(Clone)]
pub struct AppState {
    /// Replaced as a whole when the config changes (`ws()` hands out a snapshot).
    ws: Arc<RwLock<Loaded>>,
    pub tokens: Arc<TokenStore>,
    pub confirmer: Arc<dyn Confirmer>,
    pub files: Arc<dyn FilePicker>,
    pub ops: Arc<crate::operations::Operations>,
}

impl AppState {
    /// The real app: native dialogs, 2-minute tokens.
    pub fn new(ws: Workspace) -> AppState {
        AppState::with(
            ws,
            Arc::new(NativeDialogs),
            Arc::new(NativeDialogs),
            TokenStore::new(TOKEN_TTL),
        )
    }

    pub fn with(
        ws: Workspace,
        confirmer: Arc<dyn Confirmer>,
        files: Arc<dyn FilePicker>,
        tokens: TokenStore,
    ) -> AppState {
        let text = pipeline_db_core::verbs::settings::config_bytes(&ws);
        AppState {
            ws: Arc::new(RwLock::new((Arc::new(ws), text))),
            tokens: Arc::new(tokens),
            confirmer,
            files,
            ops: Arc::default(),
        }
    }

    /// The workspace as its config file says now (a command keeps its snapshot for its whole
    /// run): reloaded when the file changed since it was loaded — another program (the CLI) may
    /// have marked an env protected, and a plan made from the old one would take a y/N for it.
    /// A file that no longer loads keeps the last good workspace (and is logged): the command's
    /// own checks in core still run, and Settings shows the file.
    pub fn ws(&self) -> Arc<Workspace> {
        let (ws, text) = self.ws.read().unwrap_or_else(|e| e.into_inner()).clone();
        let now = pipeline_db_core::verbs::settings::config_bytes(&ws);
        if now == text {
            return ws;
        }
        match pipeline_db_core::verbs::settings::reload(&ws) {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                *self.ws.write().unwrap_or_else(|e| e.into_inner()) = (fresh.clone(), now);
                fresh
            }
            Err(e) => {
                tracing::warn!(
                    "the config file changed and does not load ({e}); the last good one is used"
                );
                ws
            }
        }
    }

    /// Swaps in the workspace reloaded after a config change.
    pub fn set_ws(&self, ws: Workspace) {
        let text = pipeline_db_core::verbs::settings::config_bytes(&ws);
        *self.ws.write().unwrap_or_else(|e| e.into_inner()) = (Arc::new(ws), text);
    }
}
