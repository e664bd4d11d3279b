//! `pipeline-db seed`.

use pipeline_db_core::{exit, verbs::seed, Result, Verb, Workspace};

use crate::cli::SeedArgs;
use crate::ui;

pub fn run(ws: &Workspace, a: SeedArgs) -> Result<u8> {
    let opts = super::reset::seed_options(&a.size);
    let req = seed::SeedRequest {
        env: a.env.clone(),
        options: opts.clone(),
    };
    let Some((plan, confirmed)) = super::plan_and_confirm(
        ws,
        &a.env,
        Verb::Seed,
        &a.plan,
        &Default::default(),
        seed::plan(ws, &req),
        |plan: &seed::SeedPlan| {
            outln!("Seed plan for {} ({})", plan.env, plan.path.display());
            outln!(
                "  add:        {}, {}, {} (seed {})",
                crate::ui::counted(opts.users.into(), "user", "users"),
                crate::ui::counted(opts.pipelines.into(), "pipeline", "pipelines"),
                crate::ui::counted(opts.jobs, "job", "jobs"),
                opts.rng_seed
            );
            if let Some(b) = &plan.backup {
                outln!("  backup:     {} ({})", b.path.display(), b.why);
            }
            for n in &plan.notes {
                outln!("  note:       {n}");
            }
        },
    )?
    else {
        return Ok(exit::OK);
    };
    let out = crate::ui::with_bar(|bar| seed::execute(ws, &plan, &confirmed, bar));
    let out = out?;
    if a.plan.json {
        ui::print_json(&out);
    } else {
        if let Some(b) = &out.backup {
            outln!("Backed up to {}", b.path.display());
        }
        ui::retention(&out.retention);
        let c = &out.counts;
        outln!(
            "Seeded {} in {} ms: {}, {}, {} added ({} already there).",
            a.env,
            out.duration_ms,
            crate::ui::counted(c.users_inserted, "user", "users"),
            crate::ui::counted(c.pipelines_inserted, "pipeline", "pipelines"),
            crate::ui::counted(c.jobs_inserted, "job", "jobs"),
            crate::ui::count(c.skipped_existing)
        );
    }
    Ok(exit::OK)
}
