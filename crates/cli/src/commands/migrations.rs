//! `pipeline-db migrations list|new|check`.

use pipeline_db_core::schema::migrations::{self, MigrationState};
use pipeline_db_core::{exit, Result, Workspace};

use crate::cli::MigrationsCmd;
use crate::ui;

pub fn run(ws: &Workspace, cmd: MigrationsCmd) -> Result<u8> {
    match cmd {
        MigrationsCmd::List { env, json } => list(ws, env.as_deref(), json),
        MigrationsCmd::New { name, dir } => {
            let path = migrations::new_migration(&dir, &name)?;
            outln!("Created {}", path.display());
            outln!(
                "Migrations are embedded when pipeline-db is built: rebuild it (`cargo build -p pipeline-db-cli`) before `migrate` applies this one."
            );
            Ok(exit::OK)
        }
        MigrationsCmd::Check { env, json } => check(ws, &env, json),
        MigrationsCmd::Repair { env, confirm, plan } => repair(ws, &env, plan, confirm),
    }
}

fn list(ws: &Workspace, env: Option<&str>, json: bool) -> Result<u8> {
    let rows = migrations::list_for(ws, env)?;
    if json {
        ui::print_json(&rows);
        return Ok(exit::OK);
    }
    outln!(
        "{:<8} {:<28} {:<10} {:<22} applied on",
        "version",
        "name",
        "state",
        "checksum"
    );
    for m in &rows {
        let state = match m.state {
            MigrationState::Applied => "applied",
            MigrationState::Pending => "pending",
            MigrationState::Divergent => "DIVERGENT",
            MigrationState::Missing => "MISSING",
        };
        outln!(
            "V{:<7} {:<28} {:<10} {:<22} {}",
            m.version,
            m.name,
            state,
            m.checksum
                .as_deref()
                .or(m.applied_checksum.as_deref())
                .unwrap_or(""),
            m.applied_on.as_deref().unwrap_or("")
        );
    }
    Ok(exit::OK)
}

fn check(ws: &Workspace, env: &str, json: bool) -> Result<u8> {
    let report = migrations::drift_for(ws, env)?;
    if json {
        ui::print_json(&report);
    } else if !report.has_drift() {
        outln!(
            "No drift: {} matches the migrations up to V{}.",
            env,
            report.compared_with_version
        );
    } else {
        outln!(
            "Drift in {} (compared with migrations up to V{}):",
            env,
            report.compared_with_version
        );
        for d in &report.differences {
            outln!(
                "  {:<8} {} {}",
                d.change,
                d.object_type,
                crate::ui::name(&d.name)
            );
            if let Some(e) = &d.expected_sql {
                outln!("           expected: {}", sql_block(e));
            }
            if let Some(a) = &d.actual_sql {
                outln!("           actual:   {}", sql_block(a));
            }
        }
    }
    Ok(if report.has_drift() {
        exit::FAILED
    } else {
        exit::OK
    })
}

fn repair(
    ws: &Workspace,
    env: &str,
    flags: crate::cli::PlanArgs,
    confirm: crate::cli::ConfirmArgs,
) -> Result<u8> {
    use pipeline_db_core::verbs::repair;
    let Some((plan, confirmed)) = super::plan_and_confirm(
        ws,
        env,
        pipeline_db_core::Verb::Repair,
        &flags,
        &confirm,
        repair::plan(ws, env),
        print_repair,
    )?
    else {
        return Ok(exit::OK);
    };
    let out = repair::execute(ws, &plan, &confirmed)?;
    if flags.json {
        ui::print_json(&out);
        return Ok(exit::OK);
    }
    print_repair(&out.plan);
    if let Some(b) = &out.backup {
        outln!(
            "Re-recorded {} checksums of {env}{} (backup {}).",
            out.plan.fixes.len(),
            if out.plan.summary_differences > 0 {
                " and rebuilt its job summary"
            } else {
                ""
            },
            b.path.display()
        );
    }
    ui::retention(&out.retention);
    Ok(exit::OK)
}

fn print_repair(p: &pipeline_db_core::verbs::repair::RepairPlan) {
    if p.fixes.is_empty() && p.summary_differences == 0 {
        outln!(
            "Nothing to repair: the history of {} matches the migrations and its job summary the jobs.",
            p.env
        );
    }
    if p.summary_differences > 0 {
        outln!(
            "  job_daily_stats: {} (day, pipeline, status) groups differ from the jobs; rebuilt from a recount",
            p.summary_differences
        );
    }
    for f in &p.fixes {
        outln!(
            "  V{} {}: recorded {} -> {} (differs only in line endings / BOM / trailing whitespace)",
            f.version, f.name, f.recorded, f.embedded
        );
    }
}

/// SQL read from a file, its lines after the first indented under it (a newline in a name or a
/// comment would print as a line of the report of its own).
fn sql_block(sql: &str) -> String {
    sql.lines()
        .map(|l| crate::ui::name(l.trim_end_matches('\r')))
        .collect::<Vec<_>>()
        .join("\n                     ")
}
