//! `pipeline-db migrate`.

use pipeline_db_core::verbs::migrate::{self, MigratePlan, MigrateRequest};
use pipeline_db_core::{exit, Result, Verb, Workspace};

use crate::cli::MigrateArgs;
use crate::ui;

pub fn run(ws: &Workspace, a: MigrateArgs) -> Result<u8> {
    let req = MigrateRequest { env: a.env.clone() };
    let Some((plan, confirmed)) = super::plan_and_confirm(
        ws,
        &a.env,
        Verb::Migrate,
        &a.plan,
        &a.confirm,
        migrate::plan(ws, &req),
        print_plan,
    )?
    else {
        return Ok(exit::OK);
    };
    let out = crate::ui::with_bar(|bar| migrate::execute(ws, &plan, &confirmed, bar));
    let out = out?;
    if a.plan.json {
        ui::print_json(&out);
        return Ok(exit::OK);
    }
    if let Some(b) = &out.backup {
        outln!("Backed up to {}", b.path.display());
    }
    ui::retention(&out.retention);
    match out.applied.len() {
        0 => outln!(
            "{} is up to date (schema version {}).",
            a.env,
            out.schema_version.unwrap_or(0)
        ),
        n => outln!(
            "Applied {n} migrations to {} ({}); schema version {}.",
            a.env,
            out.applied
                .iter()
                .map(|m| format!("V{} {}", m.version, m.name))
                .collect::<Vec<_>>()
                .join(", "),
            out.schema_version.unwrap_or(0)
        ),
    }
    Ok(exit::OK)
}

fn print_plan(p: &MigratePlan) {
    outln!("Migrate plan for {}", p.env);
    outln!(
        "  file:       {}{}",
        p.path.display(),
        if p.exists {
            ""
        } else {
            " (missing: will be created)"
        }
    );
    outln!(
        "  version:    {} -> {}",
        p.current_version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "none".into()),
        p.target_version
    );
    for m in &p.pending {
        outln!(
            "  apply:      V{} {} (checksum {})",
            m.version,
            m.name,
            m.checksum.as_deref().unwrap_or("?")
        );
    }
    if p.pending.is_empty() {
        outln!("  nothing to apply");
    }
    if let Some(b) = &p.backup {
        outln!("  backup:     {} ({})", b.path.display(), b.why);
    }
    for n in &p.notes {
        outln!("  note:       {n}");
    }
}
