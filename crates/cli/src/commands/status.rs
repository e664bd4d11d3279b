//! `pipeline-db status`.

use pipeline_db_core::schema::tables::TableKind;
use pipeline_db_core::schema::tag::Identity;
use pipeline_db_core::verbs::status::{self, EnvStatus};
use pipeline_db_core::{exit, Result, Workspace};

use crate::cli::StatusArgs;
use crate::ui;

pub fn run(ws: &Workspace, a: StatusArgs) -> Result<u8> {
    let all = status::status(ws, a.env.as_deref())?;
    if a.json {
        ui::print_json(&all);
    } else {
        outln!("Data dir: {}", ws.data_dir.display());
        for s in &all {
            print_one(s);
        }
    }
    Ok(exit::OK)
}

fn print_one(s: &EnvStatus) {
    let prot = if s.protected { " [PROTECTED]" } else { "" };
    outln!("\n{}{prot}: {}", s.env, s.health);
    outln!(
        "  file:        {}{}",
        s.path.display(),
        if s.exists {
            format!(" ({})", ui::human_bytes(s.size_bytes))
        } else {
            " (missing)".into()
        }
    );
    if let Some(e) = &s.error {
        outln!("  problem:     {e}");
    }
    match &s.identity {
        Some(Identity::Tagged(t)) => outln!(
            "  env tag:     {} (created {}, by pipeline-db {})",
            t.env,
            t.created_at,
            t.tool_version
        ),
        Some(Identity::Untagged) => outln!("  env tag:     NONE (not created by pipeline-db)"),
        Some(Identity::Empty) => outln!("  env tag:     none (empty database)"),
        None => {}
    }
    if !s.exists {
        print_unavailable(s);
        return;
    }
    outln!(
        "  schema:      V{}{}{}",
        s.schema_version.unwrap_or(0),
        if s.pending_migrations.is_empty() {
            String::new()
        } else {
            format!(", pending {:?}", s.pending_migrations)
        },
        if s.divergent_migrations.is_empty() {
            String::new()
        } else {
            format!(", DIVERGENT {:?}", s.divergent_migrations)
        }
    );
    let rows: Vec<String> = s
        .tables
        .iter()
        .filter(|t| t.kind == TableKind::Data)
        .map(|t| format!("{} {}", crate::ui::name(&t.name), crate::ui::count(t.rows)))
        .collect();
    let (_, data_rows) = pipeline_db_core::plan::totals(&s.tables, TableKind::Data);
    outln!(
        "  rows:        {}",
        match (rows.is_empty(), data_rows) {
            (true, _) => "no tables".to_string(),
            (false, 0) => format!("{} (empty)", rows.join(", ")),
            (false, _) => rows.join(", "),
        }
    );
    if let Some(line) = super::bookkeeping(&s.tables) {
        outln!("  {line}");
    }
    if let Some(sd) = s.sample_data {
        outln!("  sample data: {}", if sd { "yes" } else { "no" });
    }
    match &s.last_backup {
        Some(b) => outln!(
            "  last backup: {} ({}, {})",
            b.created_at,
            b.reason.as_str(),
            b.path.display()
        ),
        None => match &s.backups_error {
            Some(e) => outln!("  last backup: unknown ({})", e),
            None => outln!("  last backup: never"),
        },
    }
    print_last_action(s);
    print_unavailable(s);
}

/// Core's reasons why an action cannot apply now: one line per reason, naming its actions.
fn print_unavailable(s: &EnvStatus) {
    let mut lines: Vec<(Vec<&str>, &str)> = vec![];
    for (name, a) in s.actions.list() {
        let Some(why) = a.reason.as_deref().filter(|_| !a.available) else {
            continue;
        };
        match lines.iter_mut().find(|(_, w)| *w == why) {
            Some((names, _)) => names.push(name),
            None => lines.push((vec![name], why)),
        }
    }
    for (names, why) in lines {
        outln!("  not now:     {}: {why}", names.join(", "));
    }
}

fn print_last_action(s: &EnvStatus) {
    if let Some(a) = &s.last_action {
        outln!(
            "  last action: {a} at {}",
            s.last_action_at.as_deref().unwrap_or("?")
        );
    }
}
