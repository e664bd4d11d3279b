//! `pipeline-db backup` and `backups list`.

use pipeline_db_core::backups::verify;
use pipeline_db_core::verbs::backup::{self, BackupOptions};
use pipeline_db_core::{exit, Confirmation, Confirmed, Plan, Result, Verb, Workspace};

use crate::cli::{BackupArgs, BackupsCmd};
use crate::ui;

pub fn run(ws: &Workspace, a: BackupArgs) -> Result<u8> {
    let bar = ui::Bar::new();
    let rec = backup::run_observed(
        ws,
        &a.env,
        &BackupOptions {
            output: a.output,
            label: a.label,
        },
        &bar,
    );
    bar.finish();
    let out = rec?;
    let rec = &out.backup;
    if a.json {
        // The record (as in the manifest), the retention pass after it, where the time went.
        ui::print_json(&Timed {
            record: &out,
            timings: pipeline_db_core::storage::timing::take(),
        });
    } else {
        let stored = rec
            .stored
            .as_ref()
            .map(|s| format!("; stored zstd-compressed, {}", ui::human_bytes(s.bytes)))
            .unwrap_or_default();
        outln!(
            "Backed up {} to {} ({}, sha256 {}{stored}), verified.",
            a.env,
            rec.path.display(),
            ui::human_bytes(rec.size_bytes),
            rec.sha256
        );
        ui::retention(&out.retention);
    }
    Ok(exit::OK)
}

#[derive(serde::Serialize)]
struct Timed<'a> {
    #[serde(flatten)]
    record: &'a pipeline_db_core::verbs::backup::BackupOutcome,
    timings: Vec<pipeline_db_core::storage::timing::StepTime>,
}

pub fn run_backups(ws: &Workspace, cmd: BackupsCmd) -> Result<u8> {
    match cmd {
        BackupsCmd::List { env, json } => run_list(ws, env, json),
        BackupsCmd::Verify {
            name,
            all,
            env,
            json,
        } => run_verify(ws, name, all, env, json),
        BackupsCmd::Prune {
            env,
            keep,
            confirm,
            plan,
        } => run_prune(ws, env, keep, confirm, plan),
        BackupsCmd::Pin { env, name, json } => {
            run_pin(ws, &env, &name, true, json, &Default::default())
        }
        BackupsCmd::Unpin {
            env,
            name,
            json,
            confirm,
        } => run_pin(ws, &env, &name, false, json, &confirm),
    }
}

fn run_pin(
    ws: &Workspace,
    env: &str,
    name: &str,
    pinned: bool,
    json: bool,
    confirm: &crate::cli::ConfirmArgs,
) -> Result<u8> {
    use pipeline_db_core::verbs::pin;
    let answer = match pin::confirmation(ws, env, pinned)? {
        Confirmation::None => Confirmed::default(),
        needed => ui::confirm(needed, env, Verb::Unpin, confirm)?,
    };
    let out = pin::set(ws, env, name, pinned, &answer)?;
    if json {
        ui::print_json(&out);
        return Ok(exit::OK);
    }
    let what = if pinned { "pinned" } else { "unpinned" };
    match out.changed {
        true => outln!("{} is {what}.", out.backup.display()),
        false => outln!(
            "{} was already {what}; nothing was changed.",
            out.backup.display()
        ),
    }
    Ok(exit::OK)
}

/// One listed backup with how far it can be trusted.
#[derive(serde::Serialize)]
struct Listed {
    #[serde(flatten)]
    record: pipeline_db_core::backups::record::BackupRecord,
    trust: verify::Trust,
    undo_target: bool,
}

fn run_list(ws: &Workspace, env: Option<String>, json: bool) -> Result<u8> {
    let targets = match &env {
        Some(e) => vec![ws.env(e)?],
        None => ws.envs.values().cloned().collect(),
    };
    let log = verify::latest(ws);
    let undo_targets = pipeline_db_core::verbs::undo::target_backups(ws)?;
    let mut all = vec![];
    for t in &targets {
        let undo = undo_targets.get(&t.name).cloned();
        for record in pipeline_db_core::backups::record::list(t)? {
            all.push(Listed {
                trust: verify::trust(ws, &record, &log),
                undo_target: undo.as_ref() == Some(&record.path),
                record,
            });
        }
    }
    if json {
        ui::print_json(&all);
        return Ok(exit::OK);
    }
    let r = &ws.retention;
    let limit = |m: u64| match m {
        0 => "none".to_string(),
        m => ui::human_bytes(m * 1024 * 1024),
    };
    let per_env = match r.max_total_mib {
        0 => "no size bound per env".to_string(),
        m => format!("at most {} per env", limit(m)),
    };
    outln!(
        "retention: keep {} per env, {per_env}, data dir budget {} (all envs use {})",
        r.keep,
        limit(r.budget_mib),
        ui::human_bytes(all_envs_bytes(ws)?)
    );
    for t in &targets {
        let mine: Vec<_> = all.iter().filter(|b| b.record.env == t.name).collect();
        let total: u64 = mine.iter().map(|b| b.record.on_disk_bytes()).sum();
        outln!(
            "{}: {}, {} on disk",
            t.name,
            ui::counted(mine.len() as u64, "backup", "backups"),
            ui::human_bytes(total)
        );
        for b in mine {
            let trust = match &b.trust {
                verify::Trust::VerifiedWhenWritten => "verified".to_string(),
                verify::Trust::Verified { .. } => "re-verified".to_string(),
                verify::Trust::Failed { .. } => "FAILED".to_string(),
                verify::Trust::Unknown { .. } => "unknown".to_string(),
            };
            let size = match &b.record.stored {
                Some(st) => format!(
                    "{} ({} zstd)",
                    ui::human_bytes(b.record.size_bytes),
                    ui::human_bytes(st.bytes)
                ),
                None => ui::human_bytes(b.record.size_bytes),
            };
            outln!(
                "  {}  {:<12} {:>22}  {:<11} {}{}",
                b.record.created_at,
                b.record.reason.as_str(),
                size,
                trust,
                b.record.path.display(),
                match (b.undo_target, b.record.pinned) {
                    (true, true) => "  (undo, pinned)",
                    (true, false) => "  (undo)",
                    (false, true) => "  (pinned)",
                    (false, false) => "",
                }
            );
        }
        for (p, bytes) in pipeline_db_core::backups::record::unrecorded(t) {
            outln!(
                "  not recorded ({} on disk): {} — no manifest (the process making it was stopped before writing one); not restorable by name nor counted by retention; `pipeline-db backups verify {}` checks it as a file from elsewhere",
                ui::human_bytes(bytes),
                p.display(),
                p.display()
            );
        }
    }
    Ok(exit::OK)
}

fn all_envs_bytes(ws: &Workspace) -> Result<u64> {
    let mut total = 0;
    for t in ws.envs.values() {
        total += pipeline_db_core::backups::record::list(t)?
            .iter()
            .map(|b| b.on_disk_bytes())
            .sum::<u64>();
    }
    Ok(total)
}

fn run_verify(
    ws: &Workspace,
    name: Option<String>,
    all: bool,
    env: Option<String>,
    json: bool,
) -> Result<u8> {
    let reports = match (all, name) {
        (true, _) => pipeline_db_core::verbs::verify::all(ws, env.as_deref())?,
        (false, Some(n)) => vec![pipeline_db_core::verbs::verify::named(ws, &n)?],
        (false, None) => {
            return Err(pipeline_db_core::Error::InvalidInput(
                "give a backup name or --all".into(),
            ))
        }
    };
    if json {
        ui::print_json(&reports);
    } else {
        for r in &reports {
            match &r.problem {
                None => outln!(
                    "ok      {}\n        checked: {}{}",
                    r.path.display(),
                    r.checks.join(", "),
                    if r.has_manifest {
                        ""
                    } else {
                        " (no manifest: its sha256 cannot be compared)"
                    }
                ),
                Some(p) if r.inconclusive => outln!(
                    "NOT CHECKED  {}: {p} (nothing is known of the backup itself: its state is left as it was)",
                    r.path.display()
                ),
                Some(p) => outln!("FAILED  {}: {p}", r.path.display()),
            }
        }
        if reports.is_empty() {
            outln!("No backups to verify.");
        }
    }
    Ok(if reports.iter().all(|r| r.ok) {
        exit::OK
    } else {
        exit::FAILED
    })
}

fn run_prune(
    ws: &Workspace,
    env: Option<String>,
    keep: Option<usize>,
    confirm: crate::cli::ConfirmArgs,
    flags: crate::cli::PlanArgs,
) -> Result<u8> {
    use pipeline_db_core::verbs::prune;
    // A name typed for another env than the one pruned is a mistake (review 28: it deleted).
    if let (Some(e), Some(typed)) = (env.as_deref(), confirm.confirm_env.as_deref()) {
        if typed != e {
            return Err(pipeline_db_core::Error::Refused(format!(
                "--confirm-env names `{}`, but this prune is of `{e}`; nothing was changed",
                ui::name(typed)
            )));
        }
    }
    let mut plans = vec![];
    // Every env's answer first: one core will not accept is refused before any env's backups are
    // deleted (review 25: dev's were deleted, then prod's refusal said "nothing was changed").
    let mut todo = vec![];
    for p in prune::plan_all(ws, env.as_deref(), keep)? {
        if flags.dry_run || p.delete.is_empty() {
            plans.push(p);
            continue;
        }
        if !flags.json && !p.confirmation().eq(&pipeline_db_core::Confirmation::None) {
            print_prune(&p);
        }
        let confirmed =
            ui::confirm(p.confirmation(), &p.env, Verb::Prune, &confirm).inspect_err(|e| {
                if matches!(e, pipeline_db_core::Error::Cancelled) {
                    pipeline_db_core::safety::audit::record_refusal(ws, &p.env, Verb::Prune, e);
                }
            })?;
        todo.push((p, confirmed));
    }
    if let Some((p, c)) = todo
        .iter()
        .find(|(p, c)| !c.satisfies(p.confirmation(), &p.env))
    {
        // Core refuses it (and logs the refusal); nothing was deleted yet.
        prune::execute(ws, p, c)?;
    }
    for (p, confirmed) in todo {
        match prune::execute(ws, &p, &confirmed) {
            Ok(p) => plans.push(p),
            Err(e) => return Err(with_earlier_deletions(e, &p.env, &plans)),
        }
    }
    if flags.json {
        ui::print_json(&plans);
        return Ok(exit::OK);
    }
    for p in &plans {
        print_prune(p);
    }
    Ok(exit::OK)
}

/// A prune of several envs that stopped at one: the error also says what the envs before it
/// deleted in this command (done, and audited, but not printed yet).
fn with_earlier_deletions(
    e: pipeline_db_core::Error,
    env: &str,
    done: &[pipeline_db_core::verbs::prune::PrunePlan],
) -> pipeline_db_core::Error {
    let earlier: Vec<String> = done
        .iter()
        .filter(|p| p.deleted && !p.delete.is_empty())
        .map(|p| {
            let names: Vec<String> = p
                .delete
                .iter()
                .map(|d| d.path.display().to_string())
                .collect();
            format!("{}: {}", p.env, names.join(", "))
        })
        .collect();
    match earlier.is_empty() {
        true => e,
        // What `e` says of the database and the backups is of `env` only.
        false => pipeline_db_core::Error::PartlyDone(format!(
            "this command deleted backups of other envs before it stopped at {env} — {}. At {env}: {e}",
            earlier.join("; ")
        )),
    }
}

fn print_prune(p: &pipeline_db_core::verbs::prune::PrunePlan) {
    let verb = if p.deleted { "deleted" } else { "would delete" };
    outln!(
        "{}: {verb} {} of its backups, freeing {} (keep {}{})",
        p.env,
        p.delete.len(),
        ui::human_bytes(p.frees_bytes),
        p.keep,
        p.max_total_bytes
            .map(|m| format!(", at most {}", ui::human_bytes(m)))
            .unwrap_or_default()
            + &p.budget_bytes
                .map(|m| format!(", data dir budget {}", ui::human_bytes(m)))
                .unwrap_or_default()
    );
    for d in &p.delete {
        outln!(
            "  - {} ({}, {}): {}",
            d.path.display(),
            d.created_at,
            ui::human_bytes(d.size_bytes),
            d.why
        );
    }
    for k in &p.protected {
        outln!("  = {}: {}", k.path.display(), k.why);
    }
    if let Some(u) = &p.unmet {
        outln!("  note: {u}");
    }
}
