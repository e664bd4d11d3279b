//! `pipeline-db undo`.

use pipeline_db_core::undo::{self, UndoPlan};
use pipeline_db_core::{exit, Result, Workspace};

use crate::cli::UndoArgs;
use crate::ui;

pub fn run(ws: &Workspace, a: UndoArgs) -> Result<u8> {
    let plan = match undo::plan(ws, &a.env) {
        Ok(p) => p,
        Err(e) => {
            if !a.plan.dry_run {
                pipeline_db_core::audit::record_refusal(ws, &a.env, "undo", &e);
            }
            return Err(e);
        }
    };
    if a.plan.dry_run {
        if a.plan.json {
            ui::print_json(&plan);
        } else {
            print_plan(&plan);
        }
        return Ok(exit::OK);
    }
    if !a.plan.json {
        print_plan(&plan);
    }
    let confirmed =
        ui::confirm(plan.confirmation, &plan.env, "undo", &a.confirm).inspect_err(|e| {
            if matches!(e, pipeline_db_core::Error::Cancelled) {
                pipeline_db_core::audit::record_refusal(ws, &plan.env, "undo", e);
            }
        })?;
    let out = undo::run(ws, &a.env, &confirmed)?;
    super::restore::print_outcome(&out, a.plan.json);
    Ok(exit::OK)
}

fn print_plan(p: &UndoPlan) {
    outln!(
        "Undo the {} of {} at {} ({})",
        p.action.verb,
        p.env,
        p.action.time,
        p.action.summary
    );
    super::restore::print_plan(&p.restore);
    if p.change_unknown {
        outln!("  WARNING:    that action recorded no fingerprint; changes made since cannot be ruled out and would be lost");
    }
    if !p.changed_since.is_empty() {
        outln!("  WARNING:    {} changed since; undoing loses:", p.env);
        for c in &p.changed_since {
            outln!("              {c}");
        }
    }
}
