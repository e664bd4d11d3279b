//! `migrations repair`: after a verified backup, re-record the checksums of applied migrations
//! whose recorded checksum is the embedded file's modulo line endings, BOM or trailing
//! whitespace (any other difference stays a refusal naming the version), and rebuild the job
//! summary table from the jobs if it drifted (`check` reports both).

use rusqlite::Connection;
use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result};
use crate::progress::Observer;
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{BackupStep, Plan, Promises};
use crate::safety::ritual::{self, Change};
use crate::safety::session;
use crate::schema::migrations::{self, MigrationState};
use crate::schema::{stats, tag};
use crate::storage::db;
use crate::verb::Verb;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChecksumFix {
    pub version: i64,
    pub name: String,
    pub recorded: String,
    pub embedded: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RepairPlan {
    #[cfg_attr(feature = "ts", ts(type = "\"migrations repair\""))]
    pub verb: Verb,
    pub env: String,
    pub path: std::path::PathBuf,
    /// Which file was at `path` when the plan was made (device, inode), or `missing`: the plan
    /// re-made under the lock refuses another file there.
    pub file_id: String,
    pub fixes: Vec<ChecksumFix>,
    /// (day, pipeline, status) groups where `job_daily_stats` differs from a recount of the jobs;
    /// non-zero: the table is rebuilt.
    pub summary_differences: usize,
    pub backup: Option<BackupStep>,
    pub confirmation: Confirmation,
}

impl RepairPlan {
    fn is_empty(&self) -> bool {
        self.fixes.is_empty() && self.summary_differences == 0
    }
}

impl Plan for RepairPlan {
    crate::safety::plan::plan_basics!(Verb::Repair);
    fn summary(&self) -> String {
        if self.is_empty() {
            return "nothing to repair".into();
        }
        let versions: Vec<String> = self
            .fixes
            .iter()
            .map(|f| format!("V{}", f.version))
            .collect();
        let mut s = format!("re-record checksums of {}", versions.join(", "));
        if self.summary_differences > 0 {
            s.push_str(&format!("; rebuild {}", stats::TABLE));
        }
        s
    }
    fn promises(&self) -> Promises {
        Promises::new(Verb::Repair, &self.env)
            .file("file", &self.file_id)
            .item("confirmation", format!("{:?}", self.confirmation))
            .item("fixes", format!("{:?}", self.fixes))
            .item("summary differences", self.summary_differences)
            .backup(self.backup.as_ref())
    }
    fn backup_step(&self) -> Option<&BackupStep> {
        self.backup.as_ref()
    }
    fn backup_step_mut(&mut self) -> Option<&mut BackupStep> {
        self.backup.as_mut()
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RepairOutcome {
    pub plan: RepairPlan,
    pub backup: Option<BackupRecord>,
    /// The automatic retention pass after its backup: what it deleted, kept, and could not meet.
    pub retention: Option<crate::safety::retention::RetentionReport>,
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
    let conn = session::inspect_for_change(ws, &target)?;
    describe(&target, conn.as_ref())
}

fn describe(target: &EnvTarget, conn: Option<&Connection>) -> Result<RepairPlan> {
    let conn = conn.ok_or_else(|| Error::Missing {
        path: target.path.clone(),
        next: "nothing to repair".into(),
    })?;
    tag::require_identity(conn, target)?;
    // Nothing from elsewhere is queried: a `jobs` view could be an endless recount.
    crate::safety::health::require_our_schema(conn, target, true)?;
    let mut p = RepairPlan {
        verb: Verb::Repair,
        env: target.name.clone(),
        path: target.path.clone(),
        file_id: crate::safety::plan::file_id(&target.path),
        fixes: fixes(conn, target)?,
        summary_differences: summary_differences(conn)?,
        backup: None,
        confirmation: Confirmation::None,
    };
    if !p.is_empty() {
        let rows: u64 = db::row_counts(conn)?.values().sum();
        p.confirmation = Confirmation::for_target(target, rows > 0);
        p.backup = Some(BackupStep::new(
            target,
            Reason::PreRepair,
            true,
            "the history or the job summary is rewritten only after a verified backup",
        ));
    }
    Ok(p)
}

/// Repairs what `shown` lists through the change ritual (verified backup first).
pub fn execute(ws: &Workspace, shown: &RepairPlan, confirmed: &Confirmed) -> Result<RepairOutcome> {
    let ws = &ws.as_configured_now()?;
    let target = ws.env(&shown.env)?;
    let done = ritual::run(
        ws,
        &target,
        shown,
        confirmed,
        &crate::Quiet,
        &Repair { target: &target },
    )?;
    Ok(RepairOutcome {
        plan: done.plan,
        backup: done.backup,
        retention: done.retention,
    })
}

struct Repair<'a> {
    target: &'a EnvTarget,
}

impl Change for Repair<'_> {
    fn tolerates_changed_checksums(&self) -> bool {
        true
    }
    type Plan = RepairPlan;
    type Out = ();

    fn replan(&self, conn: Option<&Connection>) -> Result<RepairPlan> {
        describe(self.target, conn)
    }

    fn apply(&self, c: &Connection, p: &RepairPlan, _: &dyn Observer) -> Result<()> {
        if p.is_empty() {
            return Ok(());
        }
        let env = self.target.name.as_str();
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
        migrations::pending_or_refuse(c, &self.target.path, env)?;
        tag::write_tag(c, env, None, "migrations repair")
    }

    fn check_after(&self, p: &RepairPlan) -> bool {
        !p.is_empty()
    }
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
            compress_backups: false,
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
