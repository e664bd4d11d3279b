//! `pipeline-db backup` and `backups list`.

use pipeline_db_core::backup::{self, BackupOptions};
use pipeline_db_core::{exit, Result, Workspace};

use crate::cli::{BackupArgs, BackupsCmd};
use crate::ui;

pub fn run(ws: &Workspace, a: BackupArgs) -> Result<u8> {
    let rec = backup::run(
        ws,
        &a.env,
        &BackupOptions {
            output: a.output,
            label: a.label,
        },
    )?;
    if a.json {
        ui::print_json(&rec);
    } else {
        println!(
            "Backed up {} to {} ({}, sha256 {}), verified.",
            a.env,
            rec.path.display(),
            ui::human_bytes(rec.size_bytes),
            rec.sha256
        );
    }
    Ok(exit::OK)
}

pub fn run_list(ws: &Workspace, cmd: BackupsCmd) -> Result<u8> {
    let BackupsCmd::List { env, json } = cmd;
    let targets = match &env {
        Some(e) => vec![ws.env(e)?],
        None => ws.envs.values().cloned().collect(),
    };
    let mut all = vec![];
    for t in &targets {
        all.extend(backup::list(t)?);
    }
    if json {
        ui::print_json(&all);
        return Ok(exit::OK);
    }
    for t in &targets {
        let mine: Vec<_> = all.iter().filter(|b| b.env == t.name).collect();
        let total: u64 = mine.iter().map(|b| b.size_bytes).sum();
        println!(
            "{}: {} backups, {}",
            t.name,
            mine.len(),
            ui::human_bytes(total)
        );
        for b in mine {
            println!(
                "  {}  {:<12} {:>10}  {}",
                b.created_at,
                b.reason.as_str(),
                ui::human_bytes(b.size_bytes),
                b.path.display()
            );
        }
    }
    Ok(exit::OK)
}
