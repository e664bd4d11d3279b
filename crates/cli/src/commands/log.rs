//! `pipeline-db log`.

use pipeline_db_core::{exit, safety::audit, Result, Workspace};

use crate::cli::LogArgs;
use crate::ui;

pub fn run(ws: &Workspace, a: LogArgs) -> Result<u8> {
    if let Some(e) = &a.env {
        ws.env(e)?;
    }
    let (mut entries, bad) = audit::read(&ws.audit_path(), a.env.as_deref())?;
    if let Some(n) = a.limit {
        entries = entries.split_off(entries.len().saturating_sub(n));
    }
    if a.json {
        ui::print_json(&entries);
        return Ok(exit::OK);
    }
    if entries.is_empty() {
        match &a.env {
            Some(env) => outln!(
                "No actions on {env} recorded in {}{}.",
                ws.audit_path().display(),
                if bad > 0 {
                    " (some lines could not be read)"
                } else {
                    ""
                }
            ),
            None => outln!("No actions recorded in {} yet.", ws.audit_path().display()),
        }
    }
    for e in &entries {
        outln!(
            "{}  {:<6} {:<8} {:<9} {:>6} ms  {}  {}{}",
            e.time,
            e.env,
            e.verb,
            e.outcome,
            e.duration_ms,
            e.user,
            e.summary,
            e.error
                .as_ref()
                .map(|x| format!(" — {x}"))
                .unwrap_or_default()
        );
    }
    if bad > 0 {
        errln!(
            "warning: {bad} unreadable lines in {}",
            ws.audit_path().display()
        );
    }
    Ok(exit::OK)
}
