//! `env set`: explicitly retag a database file as an environment, after confirmation and a backup.

use rusqlite::Connection;
use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result};
use crate::progress::Observer;
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::plan::{BackupStep, Plan, Promises};
use crate::safety::ritual::{self, Change};
use crate::schema::tag::{self, Identity, APPLICATION_ID};
use crate::storage::db::{self, Access, FileState};
use crate::verb::Verb;
use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RetagPlan {
    #[cfg_attr(feature = "ts", ts(type = "\"env set\""))]
    pub verb: Verb,
    pub env: String,
    pub path: std::path::PathBuf,
    /// Which file was at `path` when the plan was made (device, inode), or `missing`: the plan
    /// re-made under the lock refuses another file there.
    pub file_id: String,
    pub current: Identity,
    pub backup: BackupStep,
    pub confirmation: Confirmation,
}

impl Plan for RetagPlan {
    crate::safety::plan::plan_basics!(Verb::Retag);
    fn summary(&self) -> String {
        format!("tag as {}", self.env)
    }
    fn promises(&self) -> Promises {
        Promises::new(Verb::Retag, &self.env)
            .file("file", &self.file_id)
            .item("confirmation", format!("{:?}", self.confirmation))
            .item("current tag", format!("{:?}", self.current))
            .backup(Some(&self.backup))
    }
    fn backup_step(&self) -> Option<&BackupStep> {
        Some(&self.backup)
    }
    fn backup_step_mut(&mut self) -> Option<&mut BackupStep> {
        Some(&mut self.backup)
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RetagOutcome {
    pub plan: RetagPlan,
    pub backup: BackupRecord,
    /// The automatic retention pass after its backup: what it deleted, kept, and could not meet.
    pub retention: Option<crate::safety::retention::RetentionReport>,
}

pub fn plan(ws: &Workspace, env: &str) -> Result<RetagPlan> {
    let target = ws.env(env)?;
    if db::check_header(&target.path)? == FileState::Missing {
        return Err(Error::Missing {
            path: target.path.clone(),
            next: format!("nothing to tag. Run `pipeline-db migrate {env}` to create it"),
        });
    }
    let conn = db::open(&target.path, Access::ReadOnly, ws.busy_timeout())?;
    describe(ws, &target, &conn)
}

fn describe(ws: &Workspace, target: &EnvTarget, conn: &Connection) -> Result<RetagPlan> {
    let app = tag::application_id(conn)?;
    if app != 0 && app != APPLICATION_ID {
        return Err(Error::ForeignApplication {
            path: target.path.clone(),
            found: app,
        });
    }
    let current = tag::identity(conn)?;
    // Taking a file away from a protected env, or giving it to one, needs the typed confirmation.
    let from_protected = matches!(&current, Identity::Tagged(t) if ws.env(&t.env).map(|e| e.protected).unwrap_or(true));
    let confirmation = if target.protected || from_protected {
        Confirmation::TypeEnvName
    } else {
        Confirmation::YesNo
    };
    Ok(RetagPlan {
        verb: Verb::Retag,
        env: target.name.clone(),
        path: target.path.clone(),
        file_id: crate::safety::plan::file_id(&target.path),
        current,
        backup: BackupStep::new(
            target,
            Reason::PreRetag,
            true,
            "retagging is preceded by a verified backup",
        ),
        confirmation,
    })
}

/// Retags the file of `shown` through the change ritual (verified backup first).
pub fn execute(ws: &Workspace, shown: &RetagPlan, confirmed: &Confirmed) -> Result<RetagOutcome> {
    let ws = &ws.as_configured_now()?;
    let target = ws.env(&shown.env)?;
    let change = Retag {
        ws,
        target: &target,
    };
    let done = ritual::run(ws, &target, shown, confirmed, &crate::Quiet, &change)?;
    let backup = done
        .backup
        .ok_or_else(|| Error::Internal("env set ran without its backup".into()))?;
    Ok(RetagOutcome {
        plan: done.plan,
        backup,
        retention: done.retention,
    })
}

struct Retag<'a> {
    ws: &'a Workspace,
    target: &'a EnvTarget,
}

impl Change for Retag<'_> {
    type Plan = RetagPlan;
    type Out = ();

    fn replan(&self, conn: Option<&Connection>) -> Result<RetagPlan> {
        match conn {
            Some(c) => describe(self.ws, self.target, c),
            None => Err(Error::Missing {
                path: self.target.path.clone(),
                next: format!(
                    "nothing to tag. Run `pipeline-db migrate {}` to create it",
                    self.target.name
                ),
            }),
        }
    }

    fn apply(&self, c: &Connection, _: &RetagPlan, _: &dyn Observer) -> Result<()> {
        tag::write_tag(c, &self.target.name, None, "retag")
    }

    fn requires_tag(&self) -> bool {
        false
    }

    fn check_after(&self, _: &RetagPlan) -> bool {
        false
    }
}
