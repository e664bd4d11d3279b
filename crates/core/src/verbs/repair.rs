//! `migrations repair`: after a verified backup, re-record the checksums of applied migrations
//! whose recorded checksum is the embedded file's modulo line endings, BOM or trailing
//! whitespace (any other difference stays a refusal naming the version), and rebuild the job
//! summary table from the jobs if it drifted (`check` reports both).

use rusqlite::Connection;
use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result, StepExt};
use crate::plan::BackupStep;
use crate::safety::audit::Recorder;
use crate::safety::session::{self, Opened};
use crate::schema::migrations::{self, MigrationState};
use crate::schema::stats;
use crate::schema::tag;
use crate::storage::db;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChecksumFix {
    pub version: i64,
    pub name: String,
    pub recorded: String,
    pub embedded: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepairPlan {
    pub verb: &'static str,
    pub env: String,
    pub path: std::path::PathBuf,
    pub fixes: Vec<ChecksumFix>,
    /// (day, pipeline, status) groups where `job_daily_stats` differs from a recount of the jobs;
    /// non-zero: the table is rebuilt.
    pub summary_differences: usize,
    pub backup: Option<BackupStep>,
}

impl RepairPlan {
    fn is_empty(&self) -> bool {
        self.fixes.is_empty() && self.summary_differences == 0
    }
}

fn summary_differences(c: &Connection) -> Result<usize> {
    Ok(if stats::present(c)? {
        stats::differences(c)?.len()
    } else {
        0
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RepairOutcome {
    pub plan: RepairPlan,
    pub backup: Option<BackupRecord>,
}

/// The fixable differences of the history, or a refusal naming every version that differs in more
/// than whitespace (or is unknown to this pipeline-db).
fn fixes(c: &Connection, target: &EnvTarget) -> Result<Vec<ChecksumFix>> {
    let embedded = migrations::embedded();
    let mut out = vec![];
    let mut refused = vec![];
    for m in migrations::list(Some(c))? {
        match m.state {
            MigrationState::Divergent => {
                let file = embedded.iter().find(|e| e.version() as i64 == m.version);
                let recorded = m.applied_checksum.clone().unwrap_or_default();
                let same_text = match file {
                    Some(f) => migrations::whitespace_variant_checksums(f)?.contains(&recorded),
                    None => false,
                };
                if same_text {
                    out.push(ChecksumFix {
                        version: m.version,
                        name: m.name.clone(),
                        recorded,
                        embedded: m.checksum.clone().unwrap_or_default(),
                    });
                } else {
                    refused.push(format!(
                        "V{} `{}` differs in more than line endings, BOM or trailing whitespace (or its name changed)",
                        m.version, m.name
                    ));
                }
            }
            MigrationState::Missing => refused.push(format!(
                "V{} `{}` is applied but unknown to this pipeline-db",
                m.version, m.name
            )),
            _ => {}
        }
    }
    if !refused.is_empty() {
        return Err(Error::Divergent {
            path: target.path.clone(),
            env: target.name.clone(),
            detail: format!(
                "{}; repair only fixes whitespace differences",
                refused.join("; ")
            ),
        });
    }
    Ok(out)
}

pub fn plan(ws: &Workspace, env: &str) -> Result<RepairPlan> {
    let target = ws.env(env)?;
    let conn = session::inspect_for_change(ws, &target)?.ok_or_else(|| {
        Error::InvalidInput(format!(
            "{} does not exist; nothing to repair",
            target.path.display()
        ))
    })?;
    tag::require_identity(&conn, &target)?;
    let mut p = RepairPlan {
        verb: "migrations repair",
        env: target.name.clone(),
        path: target.path.clone(),
        fixes: fixes(&conn, &target)?,
        summary_differences: summary_differences(&conn)?,
        backup: None,
    };
    if !p.is_empty() {
        p.backup = Some(BackupStep::new(
            &target,
            Reason::PreRepair,
            true,
            "the history or the job summary is rewritten only after a verified backup",
        ));
    }
    Ok(p)
}

pub fn run(ws: &Workspace, env: &str) -> Result<RepairOutcome> {
    let target = ws.env(env)?;
    let rec = Recorder::new(
        ws.audit_path(),
        &target.name,
        &target.path,
        "migrations repair",
    );
    let mut summary = String::from("migrations repair");
    let mut backup_path = None;
    let result = (|| {
        let p = plan(ws, env)?;
        let versions: Vec<String> = p.fixes.iter().map(|f| format!("V{}", f.version)).collect();
        summary = format!("re-record checksums of {}", versions.join(", "));
        if p.summary_differences > 0 {
            summary.push_str(&format!("; rebuild {}", stats::TABLE));
        }
        if p.is_empty() {
            return Ok(RepairOutcome {
                plan: p,
                backup: None,
            });
        }
        let out = execute(ws, &target, p, &rec)?;
        backup_path = out.backup.as_ref().map(|b| b.path.clone());
        Ok(out)
    })();
    rec.finish(&summary, backup_path.as_deref(), &result)?;
    result
}

fn execute(
    ws: &Workspace,
    target: &EnvTarget,
    mut p: RepairPlan,
    rec: &Recorder,
) -> Result<RepairOutcome> {
    let env = target.name.as_str();
    let Opened::Existing(s) = session::open_for_change(ws, target, "migrations repair")? else {
        return Err(Error::InvalidInput(format!(
            "{} does not exist",
            target.path.display()
        )));
    };
    let c = &s.conn;
    session::begin_immediate(c, &target.path, ws.busy_timeout_ms)?;
    let backup = crate::safety::session::commit_or_rollback(c, &target.path, || {
        crate::safety::health::require_healthy(c, target)?;
        p.fixes = fixes(c, target)?;
        p.summary_differences = summary_differences(c)?;
        let counts = db::row_counts(c)?;
        crate::safety::space::preflight_space(target, true)?;
        let b = crate::backups::take::backup_now(
            ws,
            target,
            Reason::PreRepair,
            None,
            Some(&counts),
            None,
            &crate::Quiet,
        )
        .step(
            "migrations repair",
            env,
            "backup",
            "The history is unchanged.",
        )?;
        for f in &p.fixes {
            c.execute(
                "UPDATE refinery_schema_history SET checksum = ?1 WHERE version = ?2 AND CAST(checksum AS TEXT) = ?3",
                rusqlite::params![f.embedded, f.version, f.recorded],
            )
            .map_err(Error::sql(format!("re-recording the checksum of V{}", f.version)))?;
        }
        if p.summary_differences > 0 {
            stats::rebuild(c)?;
        }
        migrations::pending_or_refuse(c, &target.path, env)?;
        tag::write_tag(c, env, None, "migrations repair")?;
        Ok(b)
    })?;
    if let Ok(fp) = crate::storage::fingerprint::of_snapshot(c) {
        rec.set_after(fp);
    }
    Ok(RepairOutcome {
        plan: p,
        backup: Some(backup),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> EnvTarget {
        EnvTarget {
            name: "dev".into(),
            path: "x".into(),
            protected: false,
            backup_dir: "b".into(),
        }
    }

    fn with_recorded(sql: &str) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("BEGIN").unwrap();
        migrations::apply_pending(&c, std::path::Path::new("x"), "dev").unwrap();
        c.execute_batch("COMMIT").unwrap();
        let sum = migrations::checksum_of("V1__initial", sql).unwrap();
        c.execute(
            "UPDATE refinery_schema_history SET checksum = ?1 WHERE version = 1",
            [sum],
        )
        .unwrap();
        c
    }

    #[test]
    fn whitespace_variants_are_fixable_and_edits_are_not() {
        let m = &migrations::embedded()[0];
        let sql = m.sql().unwrap();
        for variant in [
            sql.replace('\n', "\r\n"),
            format!("\u{feff}{sql}"),
            sql.replacen('\n', "  \n", 1),
            format!("{}\n\n", sql.trim_end()),
        ] {
            let c = with_recorded(&variant);
            let f = fixes(&c, &target()).unwrap();
            assert_eq!(f.len(), 1, "{:?}", &variant[..40]);
            assert_eq!(f[0].embedded, m.checksum().to_string());
        }
        let c = with_recorded(&format!("{sql}\n-- edited"));
        let e = fixes(&c, &target()).unwrap_err();
        assert!(e.to_string().contains("V1"), "{e}");
        assert_eq!(e.exit_code(), 3);
    }
}
