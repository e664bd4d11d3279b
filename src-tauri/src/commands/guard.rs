//! The gate every changing command passes before core runs: redeem the single-use token against
//! a freshly computed plan, then (protected envs) the typed env name and the native dialog.

use std::path::Path;

use pipeline_db_core::Confirmed;
use serde::{Deserialize, Serialize};

use crate::confirm::ProtectedAction;
use crate::error::{CmdError, CmdResult};
use crate::tokens::{Binding, Issued};
use crate::AppState;

/// What the window sends with a changing command.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub token: Option<String>,
    /// The env name the user typed (protected envs).
    pub typed_env: Option<String>,
}

/// The action a plan describes.
pub struct Gate<'a> {
    pub verb: &'static str,
    pub env: &'a str,
    pub path: &'a Path,
    pub protected: bool,
    pub summary: String,
}

/// A plan with the token that confirms it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned<T> {
    pub plan: T,
    pub summary: String,
    pub protected: bool,
    /// `yes_no` or `type_env_name`.
    pub confirmation: &'static str,
    pub issued: Issued,
}

pub fn issue<T: Serialize + Clone>(st: &AppState, gate: Gate<'_>, plan: &T) -> Planned<T> {
    let issued = st
        .tokens
        .issue(Binding::new(gate.verb, gate.env, gate.path, plan));
    Planned {
        plan: plan.clone(),
        summary: gate.summary,
        protected: gate.protected,
        confirmation: if gate.protected {
            "type_env_name"
        } else {
            "yes_no"
        },
        issued,
    }
}

/// Rejects before anything is touched unless the token matches this plan, and (protected) the
/// typed name matches and the user accepts the native dialog.
pub fn authorize(
    st: &AppState,
    gate: &Gate<'_>,
    plan: &impl Serialize,
    answer: &Answer,
) -> CmdResult<Confirmed> {
    let want = Binding::new(gate.verb, gate.env, gate.path, plan);
    st.tokens.redeem(answer.token.as_deref(), &want)?;
    if gate.protected {
        if answer.typed_env.as_deref() != Some(gate.env) {
            return Err(CmdError::refused(format!(
                "{env} is protected: type `{env}` to confirm; nothing was changed",
                env = gate.env
            )));
        }
        let action = ProtectedAction {
            verb: gate.verb,
            env: gate.env,
            path: gate.path,
            summary: &gate.summary,
        };
        if !st.confirmer.confirm(&action) {
            tracing::info!(
                verb = gate.verb,
                env = gate.env,
                "declined in the native dialog"
            );
            return Err(CmdError::cancelled(format!(
                "{} of {} was cancelled in the confirmation dialog; nothing was changed",
                gate.verb, gate.env
            )));
        }
    }
    Ok(Confirmed {
        yes: true,
        typed_env: answer.typed_env.clone(),
    })
}
