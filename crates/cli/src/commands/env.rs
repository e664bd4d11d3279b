//! `pipeline-db env set` (retag); `env add`, `env remove` and `env path` are in `settings.rs`.

use pipeline_db_core::{exit, verbs::retag, Result, Verb, Workspace};

use crate::cli::{ConfirmArgs, EnvCmd, PlanArgs};
use crate::ui;

pub fn run(ws: &Workspace, cmd: EnvCmd) -> Result<u8> {
    match cmd {
        EnvCmd::Set { env, confirm, plan } => set(ws, env, confirm, plan),
        other => super::settings::run_env(ws, other),
    }
}

fn set(ws: &Workspace, env: String, confirm: ConfirmArgs, flags: PlanArgs) -> Result<u8> {
    let plan = retag::plan(ws, &env)?;
    if flags.json && flags.dry_run {
        ui::print_json(&plan);
        return Ok(exit::OK);
    }
    if !flags.json {
        outln!(
            "Retag plan: {} will be tagged `{}`",
            plan.path.display(),
            plan.env
        );
        outln!(
            "  currently:  {}",
            serde_json::to_string(&plan.current).unwrap_or_default()
        );
        outln!("  backup:     {}", plan.backup.path.display());
    }
    if flags.dry_run {
        return Ok(exit::OK);
    }
    let confirmed =
        ui::confirm(plan.confirmation, &env, Verb::Retag, &confirm).inspect_err(|e| {
            if matches!(e, pipeline_db_core::Error::Cancelled) {
                pipeline_db_core::safety::audit::record_refusal(ws, &env, Verb::Retag, e);
            }
        })?;
    let out = retag::execute(ws, &plan, &confirmed)?;
    if flags.json {
        ui::print_json(&out);
    } else {
        outln!(
            "Tagged {} as {} (backup {}).",
            out.plan.path.display(),
            env,
            out.backup.path.display()
        );
        ui::retention(&out.retention);
    }
    Ok(exit::OK)
}
