//! `pipeline-db undo`.

use pipeline_db_core::verbs::undo::{self, UndoPlan};
use pipeline_db_core::{exit, Result, Verb, Workspace};

use crate::cli::UndoArgs;

pub fn run(ws: &Workspace, a: UndoArgs) -> Result<u8> {
    let Some((plan, confirmed)) = super::plan_and_confirm(
        ws,
        &a.env,
        Verb::Undo,
        &a.plan,
        &a.confirm,
        undo::plan(ws, &a.env),
        print_plan,
    )?
    else {
        return Ok(exit::OK);
    };
    let out = crate::ui::with_bar(|bar| undo::execute(ws, &plan, &confirmed, bar));
    let out = out?;
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
