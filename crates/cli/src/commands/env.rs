//! `pipeline-db env set`.

use pipeline_db_core::{exit, retag, Result, Workspace};

use crate::cli::EnvCmd;
use crate::ui;

pub fn run(ws: &Workspace, cmd: EnvCmd) -> Result<u8> {
    let EnvCmd::Set {
        env,
        confirm,
        plan: flags,
    } = cmd;
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
    let confirmed = ui::confirm(plan.confirmation, &env, "retag", &confirm).inspect_err(|e| {
        if matches!(e, pipeline_db_core::Error::Cancelled) {
            pipeline_db_core::audit::record_refusal(ws, &env, "env set", e);
        }
    })?;
    let out = retag::run(ws, &env, &confirmed)?;
    if flags.json {
        ui::print_json(&out);
    } else {
        outln!(
            "Tagged {} as {} (backup {}).",
            out.plan.path.display(),
            env,
            out.backup.path.display()
        );
    }
    Ok(exit::OK)
}
