//! One module per verb; each `run` parses nothing and decides nothing: it calls core and displays.

mod backup;
mod check;
mod env;
mod export;
mod import;
mod log;
mod migrate;
mod migrations;
mod query;
mod reset;
mod restore;
mod seed;
mod settings;
mod status;
mod undo;

use pipeline_db_core::{Confirmation, Confirmed, Plan, Result, Verb, Workspace};

use crate::cli::{BackupsCmd, Command, ConfigCmd, ConfigSetCmd, EnvCmd, MigrationsCmd};

pub fn run(ws: &Workspace, cmd: Command) -> Result<u8> {
    match cmd {
        Command::Reset(a) => reset::run(ws, a),
        Command::Migrate(a) => migrate::run(ws, a),
        Command::Migrations(m) => migrations::run(ws, m),
        Command::Seed(a) => seed::run(ws, a),
        Command::Status(a) => status::run(ws, a),
        Command::Backup(a) => backup::run(ws, a),
        Command::Backups(b) => backup::run_backups(ws, b),
        Command::Env(e) => env::run(ws, e),
        Command::Config(c) => settings::run_config(ws, c),
        Command::Log(a) => log::run(ws, a),
        Command::Restore(a) => restore::run(ws, a),
        Command::Undo(a) => undo::run(ws, a),
        Command::Check(a) => check::run(ws, a),
        Command::Query(a) => query::run(ws, a),
        Command::Export(a) => export::run(ws, a),
        Command::Import(a) => import::run(ws, a),
        // Answered before a workspace is loaded (main.rs); kept here so the match is total.
        Command::Completions(a) => Ok(crate::generate::completions(&a)),
        Command::Manpages(a) => Ok(crate::generate::manpages(&a)),
    }
}

pub fn wants_json(cmd: &Command) -> bool {
    match cmd {
        Command::Reset(a) => a.plan.json,
        Command::Migrate(a) => a.plan.json,
        Command::Seed(a) => a.plan.json,
        Command::Status(a) => a.json,
        Command::Backup(a) => a.json,
        Command::Log(a) => a.json,
        Command::Restore(a) => a.plan.json,
        Command::Undo(a) => a.plan.json,
        Command::Check(a) => a.json,
        Command::Query(_) => false,
        Command::Export(a) => a.json,
        Command::Import(a) => a.plan.json,
        Command::Completions(_) | Command::Manpages(_) => false,
        Command::Migrations(
            MigrationsCmd::List { json, .. } | MigrationsCmd::Check { json, .. },
        ) => *json,
        Command::Migrations(MigrationsCmd::New { .. }) => false,
        Command::Migrations(MigrationsCmd::Repair { plan, .. }) => plan.json,
        Command::Backups(
            BackupsCmd::List { json, .. }
            | BackupsCmd::Verify { json, .. }
            | BackupsCmd::Pin { json, .. }
            | BackupsCmd::Unpin { json, .. },
        ) => *json,
        Command::Backups(BackupsCmd::Prune { plan, .. }) => plan.json,
        Command::Env(
            EnvCmd::Set { plan, .. }
            | EnvCmd::Add { plan, .. }
            | EnvCmd::Remove { plan, .. }
            | EnvCmd::Path { plan, .. },
        ) => plan.json,
        Command::Config(ConfigCmd::Show { json }) => *json,
        Command::Config(ConfigCmd::Set(
            ConfigSetCmd::Retention { plan, .. } | ConfigSetCmd::BusyTimeout { plan, .. },
        )) => plan.json,
    }
}

/// The one front half of every changing verb: plan (a refusal is audit-logged unless it is a dry
/// run); a dry run prints the plan and stops (`None`); otherwise a plan that needs confirmation is
/// shown and the user is asked what core says it needs (a cancel is audit-logged). The verb's
/// `execute` then re-makes the plan under the lock and refuses if it changed.
fn plan_and_confirm<P: Plan>(
    ws: &Workspace,
    env: &str,
    verb: Verb,
    flags: &crate::cli::PlanArgs,
    confirm: &crate::cli::ConfirmArgs,
    plan: Result<P>,
    print: impl Fn(&P),
) -> Result<Option<(P, Confirmed)>> {
    let record = |e: &pipeline_db_core::Error| {
        pipeline_db_core::safety::audit::record_refusal(ws, env, verb, e)
    };
    let plan = plan.inspect_err(|e| {
        if !flags.dry_run {
            record(e)
        }
    })?;
    if flags.dry_run {
        if flags.json {
            crate::ui::print_json(&plan)
        } else {
            crate::ui::print_data_dir(ws);
            print(&plan)
        }
        return Ok(None);
    }
    if !flags.json && plan.confirmation() != Confirmation::None {
        crate::ui::print_data_dir(ws);
        print(&plan);
    }
    // With --json, stdout is the outcome's JSON alone: a plan someone is asked about is shown
    // on stderr first (review 27: only "reset dev? [y/N]" was shown).
    let given = Confirmed {
        yes: confirm.force,
        typed_env: confirm.confirm_env.clone(),
    };
    let asks = plan.confirmation() != Confirmation::None
        && !given.satisfies(plan.confirmation(), env)
        && std::io::IsTerminal::is_terminal(&std::io::stdin());
    if flags.json && asks {
        crate::ui::on_stderr(|| {
            crate::ui::print_data_dir(ws);
            print(&plan);
        });
    }
    let confirmed =
        crate::ui::confirm(plan.confirmation(), env, verb, confirm).inspect_err(|e| {
            if matches!(e, pipeline_db_core::Error::Cancelled) {
                record(e)
            }
        })?;
    Ok(Some((plan, confirmed)))
}

/// Prints a plan's table list: the user's tables, then the bookkeeping on one line.
fn print_tables(tables: &[pipeline_db_core::plan::TableRows]) {
    use pipeline_db_core::schema::tables::TableKind;
    if tables.is_empty() {
        outln!("  tables:     none");
    }
    for t in tables.iter().filter(|t| t.kind == TableKind::Data) {
        outln!(
            "  {:<28} {:>14}",
            crate::ui::name(&t.name),
            crate::ui::counted(t.rows, "row", "rows")
        );
    }
    if let Some(line) = bookkeeping(tables) {
        outln!("  {line}");
    }
}

/// "bookkeeping: 3 tables, 5 rows (pipeline_db_meta, …)", or `None` without bookkeeping tables.
fn bookkeeping(tables: &[pipeline_db_core::plan::TableRows]) -> Option<String> {
    use pipeline_db_core::schema::tables::TableKind;
    let (n, rows) = pipeline_db_core::plan::totals(tables, TableKind::Bookkeeping);
    let names: Vec<String> = tables
        .iter()
        .filter(|t| t.kind == TableKind::Bookkeeping)
        .map(|t| crate::ui::name(&t.name))
        .collect();
    (n > 0).then(|| {
        format!(
            "bookkeeping: {}, {} ({})",
            crate::ui::counted(n as u64, "table", "tables"),
            crate::ui::counted(rows, "row", "rows"),
            names.join(", ")
        )
    })
}
