//! The gate every changing command passes before core runs: redeem the single-use token (which
//! gives back the very plan the window showed), then ask what core says that plan needs — for the
//! typed env name, the name the user typed and the native dialog. Core's `execute` then re-makes
//! the plan under the lock and refuses if it changed.

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
    // Core's yes is given where the page cannot give it: the native dialog, for y/N as for the
    // typed name (a page alone, one invoke() away from every command, confirms nothing).
    let summary = plan.summary();
    let action = ProtectedAction {
        verb: verb.as_str(),
        env,
        path: &target.path,
        summary: &summary,
        protected: target.protected,
        first: match plan.backup_step() {
            Some(_) => "A verified backup is taken first.",
            None => "The plan in the window says what it changes.",
        },
    };
    let confirmed = native_answer(st, plan.confirmation(), &action)?;
    Ok((plan, confirmed))
}

/// Asks in a native dialog what core says `needed` takes — the y/N, or the env's name typed
/// there — and returns the answer for core (which checks it again against the plan it makes).
/// Declined: cancelled; a name typed wrong: refused. Nothing needed: nothing asked.
pub fn native_answer(
    st: &AppState,
    needed: Confirmation,
    action: &ProtectedAction<'_>,
) -> CmdResult<Confirmed> {
    let (verb, env) = (action.verb, action.env);
    // "lower the backup retention of" already ends in its "of".
    let of = if verb.ends_with(" of") { "" } else { " of" };
    let answer = match needed {
        Confirmation::None => return Ok(Confirmed::default()),
        Confirmation::YesNo => st.confirmer.confirm(action).then_some(Confirmed {
            yes: true,
            typed_env: None,
        }),
        Confirmation::TypeEnvName => st.confirmer.type_name(action).map(|typed| Confirmed {
            yes: true,
            typed_env: Some(typed),
        }),
    };
    let Some(answer) = answer else {
        tracing::info!(verb, env, "declined in the native dialog");
        return Err(CmdError::cancelled(format!(
            "{verb}{of} {env} was cancelled in the confirmation dialog; nothing was changed"
        )));
    };
    if !answer.satisfies(needed, env) {
        let typed =
            pipeline_db_core::storage::text::echo(answer.typed_env.as_deref().unwrap_or_default());
        // Several protected envs (a retention change) are typed together.
        let names = if env.contains(pipeline_db_core::verbs::settings::PROTECTED_NAMES_SEPARATOR) {
            "their names"
        } else {
            "its name"
        };
        return Err(CmdError::refused(format!(
            "`{typed}` is not `{env}`: {verb}{of} {env} needs {names} typed exactly; nothing was changed"
        )));
    }
    Ok(answer)
}
