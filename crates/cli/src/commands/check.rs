//! `pipeline-db check`.

use pipeline_db_core::{verbs::check, Result, Workspace};

use crate::cli::CheckArgs;
use crate::ui;

pub fn run(ws: &Workspace, a: CheckArgs) -> Result<u8> {
    let r = check::run(ws, &a.env)?;
    if a.json {
        ui::print_json(&r);
        return Ok(r.exit_code());
    }
    outln!("Check of {} ({})", r.env, r.path.display());
    for f in &r.findings {
        outln!(
            "  {:<5} {:<13} {}",
            if f.ok { "ok" } else { "FAIL" },
            f.check,
            f.detail
        );
    }
    if let Some(age) = r.last_verified_backup_age_secs {
        outln!("  newest verified backup is {}", human_age(age));
    }
    if r.corrupt {
        outln!("  {} IS CORRUPT.", r.env);
    }
    for a in &r.advice {
        outln!("  -> {a}");
    }
    Ok(r.exit_code())
}

fn human_age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s old"),
        s if s < 7200 => format!("{} min old", s / 60),
        s if s < 172_800 => format!("{} h old", s / 3600),
        s => format!("{} days old", s / 86_400),
    }
}
