//! `pipeline-db import`: core plans (the whole file read and checked), the plan is shown and
//! confirmed as core says, core imports it through the one ritual.

use pipeline_db_core::verbs::import::{self, ImportPlan, ImportRequest, InputFormat, RowIssue};
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
        // The plan is shown even when core would refuse it (bad rows, duplicates, missing
        // references): it lists them and says it cannot run; then the refusal follows, exit 3.
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
            "Imported {} into {}.{} in {} ms.",
            ui::rows(out.inserted),
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
    outln!(
        "  add:        {} to {}",
        ui::counted(p.rows, "row", "rows"),
        p.table
    );
    outln!("  columns:    {}", p.columns.join(", "));
    issues("bad rows:  ", p.bad_row_count, &p.bad_rows, "");
    let policy = format!(" ({})", p.duplicate_policy);
    issues("duplicates:", p.duplicate_count, &p.duplicates, &policy);
    issues(
        "missing references:",
        p.missing_reference_count,
        &p.missing_references,
        "",
    );
    if let Some(b) = &p.backup {
        outln!("  backup:     {} ({})", b.path.display(), b.why);
    }
    for n in &p.notes {
        outln!("  note:       {n}");
    }
    if !p.importable {
        outln!("  cannot run: the file must be fixed first; nothing will be imported");
    }
}

/// One kind of problem: its count, then the rows core listed (and how many more there are).
fn issues(label: &str, count: u64, listed: &[RowIssue], why: &str) {
    outln!("  {label} {}{why}", ui::count(count));
    for d in listed {
        outln!("    {d}");
    }
    if count > listed.len() as u64 {
        outln!("    … and {} more", ui::count(count - listed.len() as u64));
    }
}
