//! `pipeline-db env add|remove|path` and `pipeline-db config show|set`: core's settings edits, displayed.

use pipeline_db_core::verbs::settings::{self, Apply, Attach, SettingsOutcome};
use pipeline_db_core::{exit, Confirmation, Confirmed, Result, Workspace};

use crate::cli::{ConfigCmd, ConfigSetCmd, ConfirmArgs, EnvCmd, PlanArgs};
use crate::ui;

pub fn run_env(ws: &Workspace, cmd: EnvCmd) -> Result<u8> {
    match cmd {
        EnvCmd::Add {
            name,
            path,
            protected,
            plan,
        } => {
            let req = Attach {
                name,
                path,
                protected,
            };
            show(settings::attach(ws, &req, plan.dry_run)?, &plan)
        }
        EnvCmd::Remove {
            name,
            confirm,
            plan,
        } => confirmed(&plan, &confirm, |apply| settings::detach(ws, &name, apply)),
        EnvCmd::Path {
            env,
            path,
            confirm,
            plan,
            ..
        } => confirmed(&plan, &confirm, |apply| {
            settings::set_env_path(ws, &env, path.as_deref(), apply)
        }),
        EnvCmd::Set { .. } => unreachable!("`env set` is handled in env.rs"),
    }
}

pub fn run_config(ws: &Workspace, cmd: ConfigCmd) -> Result<u8> {
    match cmd {
        ConfigCmd::Show { json } => {
            config_show(ws, json);
            Ok(exit::OK)
        }
        ConfigCmd::Set(ConfigSetCmd::Retention {
            keep,
            max_total_mib,
            confirm,
            plan,
        }) => confirmed(&plan, &confirm, |apply| {
            settings::set_retention(ws, keep, max_total_mib, apply)
        }),
        ConfigCmd::Set(ConfigSetCmd::BusyTimeout { ms, plan }) => {
            show(settings::set_busy_timeout(ws, ms, plan.dry_run)?, &plan)
        }
    }
}

/// A change core may want confirmed: planned first, confirmed as core says (the prompt on a
/// terminal, else `--force` / `--confirm-env`), then written by core, which checks the answer.
fn confirmed(
    flags: &PlanArgs,
    confirm: &ConfirmArgs,
    change: impl Fn(Apply<'_>) -> Result<SettingsOutcome>,
) -> Result<u8> {
    if flags.dry_run {
        return show(change(Apply::DryRun)?, flags);
    }
    let planned = change(Apply::DryRun)?.plan;
    let answer = match planned.confirmation {
        Confirmation::None => Confirmed::default(),
        needed => {
            let env = planned.env.as_deref().unwrap_or(settings::ALL_ENVS);
            ui::confirm(needed, env, planned.verb, confirm)?
        }
    };
    show(change(Apply::Write(&answer))?, flags)
}

/// `--dry-run --json`: the plan; `--json`: the outcome; else the checks, changes and notes.
fn show(out: SettingsOutcome, flags: &PlanArgs) -> Result<u8> {
    if flags.json {
        if flags.dry_run {
            ui::print_json(&out.plan);
        } else {
            ui::print_json(&out);
        }
        return Ok(exit::OK);
    }
    let p = &out.plan;
    for c in &p.checks {
        outln!("  checked  {c}");
    }
    let verb = if out.written { "set" } else { "would set" };
    for c in &p.changes {
        outln!("  {verb:<8} {c}");
    }
    for n in &p.notes {
        outln!("  note     {n}");
    }
    let created = if p.creates_config { " (new file)" } else { "" };
    if out.written {
        outln!("Wrote {}{created}.", p.config_path.display());
    } else {
        outln!(
            "Dry run: {}{created} was not written.",
            p.config_path.display()
        );
    }
    Ok(exit::OK)
}

fn config_show(ws: &Workspace, json: bool) {
    let config_file = settings::config_target(ws);
    if json {
        ui::print_json(&serde_json::json!({
            "workspace": ws,
            "config_file": config_file,
            "config_exists": config_file.exists(),
        }));
        return;
    }
    let exists = if config_file.exists() {
        ""
    } else {
        " (not created yet; `config set` or `env add` creates it)"
    };
    outln!("data dir:      {}", ws.data_dir.display());
    outln!("config file:   {}{exists}", config_file.display());
    outln!("busy timeout:  {} ms", ws.busy_timeout_ms);
    let bound = match ws.retention.max_total_mib {
        0 => "no size bound per env".to_string(),
        m => format!("at most {m} MiB per env"),
    };
    let budget = match ws.retention.budget_mib {
        0 => "no budget for the data dir's backups".to_string(),
        m => format!("data dir budget {m} MiB"),
    };
    outln!(
        "retention:     keep {} backups per env, {bound}, {budget}",
        ws.retention.keep
    );
    outln!("environments:");
    for t in ws.envs.values() {
        let prot = if t.protected { "  [protected]" } else { "" };
        outln!("  {:<12} {}{prot}", t.name, t.path.display());
    }
}
