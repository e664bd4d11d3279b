//! `env set`: explicitly retag a database file as an environment, after confirmation and a backup.

use serde::Serialize;

use crate::backups::record::{BackupRecord, Reason};
use crate::error::{Error, Result, StepExt};
use crate::plan::BackupStep;
use crate::safety::audit::Recorder;
use crate::safety::confirm::{Confirmation, Confirmed};
use crate::safety::session;
use crate::schema::tag::{self, Identity, APPLICATION_ID};
use crate::storage::db::{self, Access, FileState};
use crate::workspace::config::Workspace;

#[derive(Debug, Clone, Serialize)]
pub struct RetagPlan {
    pub verb: &'static str,
    pub env: String,
    pub path: std::path::PathBuf,
    pub current: Identity,
    pub backup: BackupStep,
    pub confirmation: Confirmation,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetagOutcome {
    pub plan: RetagPlan,
    pub backup: BackupRecord,
}

pub fn plan(ws: &Workspace, env: &str) -> Result<RetagPlan> {
    let target = ws.env(env)?;
    if db::check_header(&target.path)? == FileState::Missing {
        return Err(Error::InvalidInput(format!(
            "{} does not exist; nothing to tag. Run `pipeline-db migrate {env}` to create it",
            target.path.display()
        )));
    }
    let conn = db::open(&target.path, Access::ReadOnly, ws.busy_timeout())?;
    let app = tag::application_id(&conn)?;
    if app != 0 && app != APPLICATION_ID {
        return Err(Error::ForeignApplication {
            path: target.path.clone(),
            found: app,
        });
    }
    let current = tag::identity(&conn)?;
    // Taking a file away from a protected env, or giving it to one, needs the typed confirmation.
    let from_protected = matches!(&current, Identity::Tagged(t) if ws.env(&t.env).map(|e| e.protected).unwrap_or(true));
    let confirmation = if target.protected || from_protected {
        Confirmation::TypeEnvName
    } else {
        Confirmation::YesNo
    };
    Ok(RetagPlan {
        verb: "env set",
        env: target.name.clone(),
        path: target.path.clone(),
        current,
        backup: BackupStep::new(
            &target,
            Reason::PreRetag,
            true,
            "retagging is preceded by a verified backup",
        ),
        confirmation,
    })
}

pub fn run(ws: &Workspace, env: &str, confirmed: &Confirmed) -> Result<RetagOutcome> {
    let target = ws.env(env)?;
    let rec = Recorder::new(ws.audit_path(), &target.name, &target.path, "env set");
    let mut backup_path = None;
    let result = (|| {
        let plan = plan(ws, env)?;
        confirmed.require(plan.confirmation, &target, "env set")?;
        let lock = crate::safety::lock::acquire(&target.path, ws.busy_timeout(), "env set")?;
        let ro = db::open(&target.path, Access::ReadOnly, ws.busy_timeout())?;
        crate::safety::health::require_healthy(&ro, &target)?;
        drop(ro);
        let c = db::open(&target.path, Access::ReadWrite, ws.busy_timeout())?;
        session::begin_immediate(&c, &target.path, ws.busy_timeout_ms)?;
        let backup = crate::safety::session::commit_or_rollback(&c, &target.path, || {
            let counts = db::row_counts(&c)?;
            crate::safety::space::preflight_space(&target, true)?;
            let b = crate::backups::take::backup_now(
                ws,
                &target,
                Reason::PreRetag,
                None,
                Some(&counts),
                None,
                &crate::Quiet,
            )
            .step("env set", env, "backup", "The tag is unchanged.")?;
            tag::write_tag(&c, env, None, "retag")?;
            Ok(b)
        })?;
        drop(lock);
        backup_path = Some(backup.path.clone());
        Ok(RetagOutcome { plan, backup })
    })();
    rec.finish(&format!("tag as {env}"), backup_path.as_deref(), &result)?;
    result
}
