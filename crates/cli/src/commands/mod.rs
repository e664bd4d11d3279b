//! One module per verb; each `run` parses nothing and decides nothing: it calls core and displays.

mod backup;
mod check;
mod env;
mod log;
mod migrate;
mod migrations;
mod reset;
mod restore;
mod seed;
mod status;
mod undo;

use pipeline_db_core::{Result, Workspace};

use crate::cli::{BackupsCmd, Command, EnvCmd, MigrationsCmd};

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
        Command::Log(a) => log::run(ws, a),
        Command::Restore(a) => restore::run(ws, a),
        Command::Undo(a) => undo::run(ws, a),
        Command::Check(a) => check::run(ws, a),
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
        Command::Migrations(
            MigrationsCmd::List { json, .. } | MigrationsCmd::Check { json, .. },
        ) => *json,
        Command::Migrations(MigrationsCmd::New { .. }) => false,
        Command::Migrations(MigrationsCmd::Repair { plan, .. }) => plan.json,
        Command::Backups(BackupsCmd::List { json, .. } | BackupsCmd::Verify { json, .. }) => *json,
        Command::Backups(BackupsCmd::Prune { plan, .. }) => plan.json,
        Command::Env(EnvCmd::Set { plan, .. }) => plan.json,
    }
}

/// Prints a plan's table list.
fn print_tables(tables: &[pipeline_db_core::plan::TableRows]) {
    if tables.is_empty() {
        outln!("  tables:     none");
    }
    for t in tables {
        outln!("  {:<28} {:>12} rows", t.name, t.rows);
    }
}
