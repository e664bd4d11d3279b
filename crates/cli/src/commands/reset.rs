//! `pipeline-db reset`.

use pipeline_db_core::schema::tag::Identity;
use pipeline_db_core::verbs::reset::{self, ResetPlan, ResetRequest};
use pipeline_db_core::verbs::seed::SeedOptions;
use pipeline_db_core::{exit, Result, Verb, Workspace};

use crate::cli::{ResetArgs, SeedSizeArgs};
use crate::ui;

pub fn seed_options(s: &SeedSizeArgs) -> SeedOptions {
    SeedOptions {
        users: s.users,
        pipelines: s.pipelines,
        jobs: s.jobs,
        rng_seed: s.rng_seed,
        as_of: s.as_of.clone(),
    }
}

/// The sample-data sizes given on this command line (not defaults): without `--with-sample-data`
/// they would be dropped without a word.
fn seed_sizes_given() -> Vec<String> {
    use clap::parser::ValueSource;
    let Ok(m) = crate::generate::command().try_get_matches_from(std::env::args_os()) else {
        return vec![];
    };
    let Some(r) = m.subcommand_matches("reset") else {
        return vec![];
    };
    ["users", "pipelines", "jobs", "rng_seed", "as_of"]
        .into_iter()
        .filter(|id| r.value_source(id) == Some(ValueSource::CommandLine))
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect()
}

pub fn run(ws: &Workspace, a: ResetArgs) -> Result<u8> {
    let given = seed_sizes_given();
    if !a.with_sample_data && !given.is_empty() {
        return Err(pipeline_db_core::Error::InvalidInput(format!(
            "{} size the sample data, which a reset adds only with --with-sample-data; nothing was changed",
            given.join(", ")
        )));
    }
    let req = ResetRequest {
        env: a.env.clone(),
        sample_data: a.with_sample_data.then(|| seed_options(&a.seed)),
        keep_evidence: a.keep_evidence,
    };
    let Some((plan, confirmed)) = super::plan_and_confirm(
        ws,
        &a.env,
        Verb::Reset,
        &a.plan,
        &a.confirm,
        reset::plan(ws, &req),
        print_plan,
    )?
    else {
        return Ok(exit::OK);
    };
    let out = crate::ui::with_bar(|bar| reset::execute(ws, &plan, &confirmed, bar));
    let out = out?;
    if a.plan.json {
        ui::print_json(&out);
    } else {
        if let Some(b) = &out.backup {
            outln!(
                "Backed up to {} ({}, sha256 {}…)",
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
            "Reset {} in {} ms: {} now.",
            out.plan.env,
            out.duration_ms,
            pipeline_db_core::plan::summarize(&out.row_counts_after)
        );
    }
    Ok(exit::OK)
}

fn print_plan(p: &ResetPlan) {
    let prot = if p.protected { "  [PROTECTED]" } else { "" };
    outln!("Reset plan for {}{prot}", p.env);
    outln!(
        "  file:       {}{}",
        p.path.display(),
        if p.exists {
            format!(" ({})", ui::human_bytes(p.size_bytes))
        } else {
            " (missing: will be created)".into()
        }
    );
    if let Some(id) = &p.identity {
        outln!(
            "  env tag:    {}",
            match id {
                Identity::Tagged(t) => t.env.as_str(),
                _ => "none (empty database)",
            }
        );
    }
    // A damaged file that could be read (rows breaking CHECK constraints): what it holds, too.
    if p.exists && (p.damaged.is_none() || !p.tables.is_empty()) {
        outln!(
            "  will drop:  {}",
            pipeline_db_core::plan::summarize(&p.tables)
        );
        super::print_tables(&p.tables);
        if !p.other_objects.is_empty() {
            outln!(
                "  and {} other objects ({})",
                p.other_objects.len(),
                p.other_objects
                    .iter()
                    .map(|o| crate::ui::name(o))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    match (&p.backup, &p.damaged) {
        (Some(b), _) => outln!(
            "  backup:     {} (verified before anything is dropped)",
            b.path.display()
        ),
        (None, Some(_)) => outln!(
            "  backup:     none possible (the file is damaged): a byte-identical evidence copy is kept instead"
        ),
        (None, None) => outln!("  backup:     none needed (nothing exists yet)"),
    }
    let migs: Vec<String> = p
        .migrations
        .iter()
        .map(|m| format!("V{} {}", m.version, m.name))
        .collect();
    outln!("  rebuild:    {}", migs.join(", "));
    if let Some(s) = &p.sample_data {
        outln!(
            "  sample:     {}, {}, {} (seed {})",
            crate::ui::counted(s.users.into(), "user", "users"),
            crate::ui::counted(s.pipelines.into(), "pipeline", "pipelines"),
            crate::ui::counted(s.jobs, "job", "jobs"),
            s.rng_seed
        );
    }
    for n in &p.notes {
        outln!("  note:       {n}");
    }
}
