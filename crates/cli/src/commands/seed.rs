//! `pipeline-db seed`.

use pipeline_db_core::{exit, verbs::seed, Result, Workspace};

use crate::cli::SeedArgs;
use crate::ui;

pub fn run(ws: &Workspace, a: SeedArgs) -> Result<u8> {
    let opts = super::reset::seed_options(&a.size);
    if a.plan.dry_run {
        let plan = seed::plan(ws, &a.env, &opts)?;
        if a.plan.json {
            ui::print_json(&plan);
        } else {
            outln!("Seed plan for {} ({})", plan.env, plan.path.display());
            outln!(
                "  add:        {} users, {} pipelines, {} jobs (seed {})",
                opts.users,
                opts.pipelines,
                opts.jobs,
                opts.rng_seed
            );
            if let Some(b) = &plan.backup {
                outln!("  backup:     {} ({})", b.path.display(), b.why);
            }
            for n in &plan.notes {
                outln!("  note:       {n}");
            }
        }
        return Ok(exit::OK);
    }
    let bar = ui::Bar::new();
    let out = seed::run(ws, &a.env, &opts, &bar);
    bar.finish();
    let out = out?;
    if a.plan.json {
        ui::print_json(&out);
    } else {
        if let Some(b) = &out.backup {
            outln!("Backed up to {}", b.path.display());
        }
        let c = &out.counts;
        outln!(
            "Seeded {} in {} ms: {} users, {} pipelines, {} jobs added ({} already there).",
            a.env,
            out.duration_ms,
            c.users_inserted,
            c.pipelines_inserted,
            c.jobs_inserted,
            c.skipped_existing
        );
    }
    Ok(exit::OK)
}
