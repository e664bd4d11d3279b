//! What every command shares: the workspace, the token store, the native dialogs, the running
//! operations (each with its own cancel flag).

use std::sync::{Arc, RwLock};

use pipeline_db_core::Workspace;

use crate::confirm::{Confirmer, FilePicker, NativeDialogs};
use crate::tokens::{TokenStore, TOKEN_TTL};

#[derive(Clone)]
pub struct AppState {
    /// Replaced as a whole when Settings change the config (`ws()` hands out a snapshot).
    ws: Arc<RwLock<Arc<Workspace>>>,
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
        AppState {
            ws: Arc::new(RwLock::new(Arc::new(ws))),
            tokens: Arc::new(tokens),
            confirmer,
            files,
            ops: Arc::default(),
        }
    }

    /// The workspace as it is now (a command keeps its snapshot for its whole run).
    pub fn ws(&self) -> Arc<Workspace> {
        self.ws.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Swaps in the workspace reloaded after a config change.
    pub fn set_ws(&self, ws: Workspace) {
        *self.ws.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ws);
    }
}
