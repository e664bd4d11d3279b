//! `pipeline-db import`: core plans (the whole file read and checked), the plan is shown and
//! confirmed as core says, core imports it through the one ritual.

use pipeline_db_core::verbs::import::{self, ImportPlan, ImportRequest, InputFormat};
use pipeline_db_core::{exit, Result, Verb, Workspace};

use crate::cli::{ImportArgs, ImportFormat};
use crate::ui;

pub fn run(ws: &Workspace, a: ImportArgs) -> Result<u8> {
    let req = ImportRequest {
        env: a.env.clone(),
        table: a.table.clone(),
        file: a.file.clone(),
        format: a.format.map(|f| match f {
            ImportFormat::Csv => InputFormat::Csv,
            ImportFormat::Ndjson => InputFormat::Ndjson,
        }),
    };
    let planned = import::plan(ws, &req);
    if a.plan.dry_run {
        // The plan is shown even when core would refuse it (duplicates, missing references):
        // then the refusal follows, exit 3.
        let plan = planned?;
        if a.plan.json {
            ui::print_json(&plan);
        } else {
            print_plan(&plan);
        }
        return match plan.refusal() {
            Some(e) => {
                ui::print_error(&e, false);
                Ok(e.exit_code())
            }
            None => Ok(exit::OK),
        };
    }
    let planned = planned.and_then(|p| p.require_importable().map(|()| p));
    let Some((plan, confirmed)) = super::plan_and_confirm(
        ws,
        &a.env,
        Verb::Import,
        &a.plan,
        &a.confirm,
        planned,
        print_plan,
    )?
    else {
        return Ok(exit::OK);
    };
    let out = crate::ui::with_bar(|bar| import::execute(ws, &plan, &confirmed, bar));
    let out = out?;
    if a.plan.json {
        ui::print_json(&out);
    } else {
        if let Some(b) = &out.backup {
            outln!("Backed up to {}", b.path.display());
        }
        ui::retention(&out.retention);
        outln!(
            "Imported {} rows into {}.{} in {} ms.",
            out.inserted,
            a.env,
            out.plan.table,
            out.duration_ms
        );
    }
    Ok(exit::OK)
}

fn print_plan(p: &ImportPlan) {
    outln!("Import plan for {} ({})", p.env, p.path.display());
    outln!(
        "  from:       {} ({:?}, {}, sha256 {})",
        p.file.display(),
        p.format,
        ui::human_bytes(p.file_bytes),
        &p.file_sha256[..12.min(p.file_sha256.len())]
    );
    outln!("  add:        {} rows to {}", p.rows, p.table);
    outln!("  columns:    {}", p.columns.join(", "));
    outln!(
        "  duplicates: {} ({})",
        p.duplicate_count,
        p.duplicate_policy
    );
    for d in &p.duplicates {
        outln!("    {d}");
    }
    outln!("  missing references: {}", p.missing_reference_count);
    for d in &p.missing_references {
        outln!("    {d}");
    }
    if let Some(b) = &p.backup {
        outln!("  backup:     {} ({})", b.path.display(), b.why);
    }
    for n in &p.notes {
        outln!("  note:       {n}");
    }
}
