//! The gate every changing command passes before core runs: redeem the single-use token (which
//! gives back the very plan the window showed), then ask what core says that plan needs — for the
//! typed env name, the name the user typed and the native dialog. Core's `execute` then re-makes
//! the plan under the lock and refuses if it changed.

use std::path::Path;
use std::sync::Arc;

use pipeline_db_core::{Confirmation, Confirmed, Plan, Verb};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::confirm::ProtectedAction;
use crate::error::{CmdError, CmdResult};
use crate::tokens::{Binding, Issued, Want};
use crate::AppState;

/// What the window sends with a changing command.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(optional_fields = nullable)]
pub struct Answer {
    pub token: Option<String>,
    /// The env name the user typed (protected envs).
    pub typed_env: Option<String>,
}

/// A plan with the token that confirms it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Planned<T> {
    pub plan: T,
    pub summary: String,
    pub protected: bool,
    /// Core's answer to "how must this be confirmed".
    pub confirmation: Confirmation,
    pub issued: Issued,
}

/// Issues a token for `plan` (kept on the Rust side) and returns what the window shows.
pub fn issue<P>(st: &AppState, plan: P) -> CmdResult<Planned<P>>
where
    P: Plan + Clone + Send + Sync + 'static,
{
    let target = st.ws().env(plan.env())?;
    let issued = st
        .tokens
        .issue(Binding::new(&target.path, &plan), Arc::new(plan.clone()));
    Ok(Planned {
        summary: plan.summary(),
        protected: target.protected,
        confirmation: plan.confirmation(),
        plan,
        issued,
    })
}

/// Rejects before anything is touched unless the token was issued for `verb` on `env` (its
/// file unchanged), and — when core asks for the typed name — the name matches and the user
/// accepts the native dialog. Returns the plan the window showed and what the user said.
pub fn authorize<P>(
    st: &AppState,
    verb: Verb,
    env: &str,
    answer: &Answer,
) -> CmdResult<(P, Confirmed)>
where
    P: Plan + Clone + Send + Sync + 'static,
{
    authorize_if(st, verb, env, answer, |_| Ok(()))
}

/// [`authorize`], refusing with `matches`'s error — before any dialog is raised — a token whose
/// plan is not for the call's other arguments (another backup, with or without sample data).
pub fn authorize_if<P>(
    st: &AppState,
    verb: Verb,
    env: &str,
    answer: &Answer,
    matches: impl FnOnce(&P) -> CmdResult<()>,
) -> CmdResult<(P, Confirmed)>
where
    P: Plan + Clone + Send + Sync + 'static,
{
    let target = st.ws().env(env)?;
    let shown = st.tokens.redeem(
        answer.token.as_deref(),
        &Want {
            verb,
            env,
            path: &target.path,
        },
    )?;
    let plan = shown
        .downcast_ref::<P>()
        .cloned()
        .ok_or_else(|| CmdError::internal("a token was issued for another kind of plan"))?;
    matches(&plan)?;
    let confirmed = Confirmed {
        yes: true,
        typed_env: answer.typed_env.clone(),
    };
    // Core's yes is given where the page cannot give it: the native dialog, for y/N as for the
    // typed name (a page alone, one invoke() away from every command, confirms nothing).
    match plan.confirmation() {
        Confirmation::TypeEnvName => {
            if answer.typed_env.as_deref() != Some(env) {
                return Err(CmdError::refused(format!(
                    "{verb} of {env} needs the env name typed: type `{env}` to confirm; nothing was changed"
                )));
            }
            native_confirm(st, verb, env, &target.path, &plan)?;
        }
        Confirmation::YesNo => native_confirm(st, verb, env, &target.path, &plan)?,
        Confirmation::None => {}
    }
    Ok((plan, confirmed))
}

fn native_confirm<P: Plan>(
    st: &AppState,
    verb: Verb,
    env: &str,
    path: &Path,
    plan: &P,
) -> CmdResult<()> {
    let summary = plan.summary();
    let action = ProtectedAction {
        verb: verb.as_str(),
        env,
        path,
        summary: &summary,
        protected: st.ws().env(env).map_or(true, |t| t.protected),
        first: match plan.backup_step() {
            Some(_) => "A verified backup is taken first.",
            None => "The plan in the window says what it changes.",
        },
    };
    if st.confirmer.confirm(&action) {
        return Ok(());
    }
    tracing::info!(verb = verb.as_str(), env, "declined in the native dialog");
    Err(CmdError::cancelled(format!(
        "{verb} of {env} was cancelled in the confirmation dialog; nothing was changed"
    )))
}
