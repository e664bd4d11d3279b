//! `pipeline-db status`.

use pipeline_db_core::status::{self, EnvStatus};
use pipeline_db_core::tag::Identity;
use pipeline_db_core::{exit, Result, Workspace};

use crate::cli::StatusArgs;
use crate::ui;

pub fn run(ws: &Workspace, a: StatusArgs) -> Result<u8> {
    let all = status::status(ws, a.env.as_deref())?;
    if a.json {
        ui::print_json(&all);
    } else {
        println!("Data dir: {}", ws.data_dir.display());
        for s in &all {
            print_one(s);
        }
    }
    Ok(exit::OK)
}

fn print_one(s: &EnvStatus) {
    let prot = if s.protected { " [PROTECTED]" } else { "" };
    println!("\n{}{prot}: {}", s.env, s.health);
    println!(
        "  file:        {}{}",
        s.path.display(),
        if s.exists {
            format!(" ({})", ui::human_bytes(s.size_bytes))
        } else {
            " (missing)".into()
        }
    );
    if let Some(e) = &s.error {
        println!("  problem:     {e}");
    }
    match &s.identity {
        Some(Identity::Tagged(t)) => println!(
            "  env tag:     {} (created {}, by pipeline-db {})",
            t.env, t.created_at, t.tool_version
        ),
        Some(Identity::Untagged) => println!("  env tag:     NONE (not created by pipeline-db)"),
        Some(Identity::Empty) => println!("  env tag:     none (empty database)"),
        None => {}
    }
    if !s.exists {
        return;
    }
    println!(
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
        .row_counts
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    println!(
        "  rows:        {}",
        if rows.is_empty() {
            "no tables".into()
        } else {
            rows.join(", ")
        }
    );
    if let Some(sd) = s.sample_data {
        println!("  sample data: {}", if sd { "yes" } else { "no" });
    }
    match &s.last_backup {
        Some(b) => println!(
            "  last backup: {} ({}, {})",
            b.created_at,
            b.reason.as_str(),
            b.path.display()
        ),
        None => println!("  last backup: never"),
    }
    if let Some(a) = &s.last_action {
        println!(
            "  last action: {a} at {}",
            s.last_action_at.as_deref().unwrap_or("?")
        );
    }
}
