//! `pipeline-db restore`.

use pipeline_db_core::verbs::restore::{self, RestoreOutcome, RestorePlan, RestoreRequest};
use pipeline_db_core::{exit, Result, Verb, Workspace};

use crate::cli::RestoreArgs;
use crate::ui;

pub fn run(ws: &Workspace, a: RestoreArgs) -> Result<u8> {
    let req = RestoreRequest {
        env: a.env.clone(),
        backup: a.backup.clone(),
    };
    let Some((plan, confirmed)) = super::plan_and_confirm(
        ws,
        &a.env,
        Verb::Restore,
        &a.plan,
        &a.confirm,
        restore::plan(ws, &req),
        print_plan,
    )?
    else {
        return Ok(exit::OK);
    };
    let out = crate::ui::with_bar(|bar| restore::execute(ws, &plan, &confirmed, bar));
    let out = out?;
    print_outcome(&out, a.plan.json);
    Ok(exit::OK)
}

pub fn print_plan(p: &RestorePlan) {
    let prot = if p.protected { "  [PROTECTED]" } else { "" };
    outln!("Restore plan for {}{prot}", p.env);
    let s = &p.source;
    outln!("  from:       {}", s.path.display());
    outln!("  read now:   {}", s.verification.checks.join(", "));
    outln!(
        "  backup holds: {}",
        pipeline_db_core::plan::summarize(&s.tables)
    );
    super::print_tables(&s.tables);
    if p.exists {
        outln!(
            "  will replace {} in {}",
            pipeline_db_core::plan::summarize(&p.tables),
            p.path.display()
        );
    }
    match (&p.backup, &p.current_damaged) {
        (Some(b), _) if b.existing => outln!(
            "  backup:     none new: {} already holds exactly this database (a verified backup; checked again just before the copy, else a new one is taken)",
            b.path.display()
        ),
        (Some(b), _) => outln!(
            "  backup:     {} (verified before anything is replaced)",
            b.path.display()
        ),
        (None, Some(_)) => outln!(
            "  backup:     none possible (the current file is damaged): a byte-identical evidence copy is kept instead"
        ),
        (None, None) => outln!("  backup:     none needed (nothing exists yet)"),
    }
    for n in &p.notes {
        outln!("  note:       {n}");
    }
}

pub fn print_outcome(out: &RestoreOutcome, json: bool) {
    if json {
        ui::print_json(out);
        return;
    }
    let reused = out.plan.backup.as_ref().is_some_and(|s| s.existing);
    if let Some(b) = out.backup.as_ref().filter(|_| reused) {
        outln!(
            "The replaced database is in {} (a verified backup that already held it, read back before the copy: no new backup was taken)",
            b.path.display()
        );
    } else if let Some(b) = &out.backup {
        outln!(
            "Backed up the replaced database to {} ({}, sha256 {}…)",
            b.path.display(),
            ui::human_bytes(b.size_bytes),
            &b.sha256[..12]
        );
    }
    ui::retention(&out.retention);
    for e in &out.evidence {
        outln!(
            "Kept the damaged database as evidence: {} (byte-identical)",
            e.display()
        );
    }
    outln!(
        "Restored {} from {} in {} ms: {}, tagged {}.",
        out.plan.env,
        out.plan.source.path.display(),
        out.duration_ms,
        pipeline_db_core::plan::summarize(&out.row_counts_after),
        out.plan.env
    );
    if out.plan.migrate_after {
        outln!(
            "The restored schema is older than this pipeline-db's: run `pipeline-db migrate {}`.",
            out.plan.env
        );
    }
}
