//! Which actions can apply to an env now, and why not: core's answer, which the window's buttons
//! and `status` show. The verbs still refuse on their own what cannot apply (these texts are
//! their refusals' first words), or do nothing where nothing is to be done.

use serde::Serialize;

use crate::workspace::config::Workspace;
use crate::workspace::env::EnvTarget;

/// Whether one action can apply now; `reason` says why not (and what to do instead).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Availability {
    pub available: bool,
    pub reason: Option<String>,
}

impl Availability {
    fn yes() -> Availability {
        Availability {
            available: true,
            reason: None,
        }
    }

    fn no(reason: String) -> Availability {
        Availability {
            available: false,
            reason: Some(reason),
        }
    }

    /// Available unless `reason` is given.
    fn unless(reason: Option<String>) -> Availability {
        reason.map_or_else(Availability::yes, Availability::no)
    }
}

/// Each action an env card offers.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Actions {
    pub migrate: Availability,
    pub seed: Availability,
    pub reset: Availability,
    /// Reset with sample data.
    pub reset_sample: Availability,
    /// Back up now, and export a backup.
    pub backup: Availability,
    /// Restore from a backup file (any verified backup or export, picked by the user).
    pub restore: Availability,
    pub undo: Availability,
    pub check: Availability,
    /// Prune the env's backups.
    pub prune: Availability,
}

impl Actions {
    /// Each action by name, in the order a card shows them.
    pub fn list(&self) -> [(&'static str, &Availability); 9] {
        [
            ("migrate", &self.migrate),
            ("seed", &self.seed),
            ("reset", &self.reset),
            ("reset with sample data", &self.reset_sample),
            ("backup", &self.backup),
            ("restore", &self.restore),
            ("undo", &self.undo),
            ("check", &self.check),
            ("prune", &self.prune),
        ]
    }
}

/// What [`of`] needs to know about the env (read by `status`).
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub exists: bool,
    /// `Some(version)`: the file is healthy, tagged for this env, at the latest migration and
    /// none divergent (migrate has nothing to apply).
    pub up_to_date: Option<i64>,
    pub backups: usize,
}

/// `ENV does not exist yet: Migrate creates it` — reset's refusal of a missing protected env.
pub fn missing_protected(env: &str) -> String {
    format!("{env} does not exist yet: Migrate creates it (`pipeline-db migrate {env}`); a reset has nothing to drop")
}

/// Sample data is never written to a protected env.
pub fn no_sample_data(env: &str) -> String {
    format!("{env} is protected: sample data is never written to it")
}

/// Which actions can apply to `target` now.
pub fn of(ws: &Workspace, target: &EnvTarget, facts: Facts) -> Actions {
    let env = target.name.as_str();
    let missing = || (!facts.exists).then(|| format!("{env} does not exist yet"));
    let undoable = crate::verbs::undo::last_action(ws, env);
    Actions {
        migrate: Availability::unless(
            facts
                .up_to_date
                .map(|v| format!("nothing to apply: {env} is at V{v}, the latest migration")),
        ),
        seed: Availability::unless(target.protected.then(|| no_sample_data(env))),
        reset: Availability::unless(
            (target.protected && !facts.exists).then(|| missing_protected(env)),
        ),
        reset_sample: Availability::unless(target.protected.then(|| no_sample_data(env))),
        backup: Availability::unless(missing()),
        restore: Availability::yes(),
        undo: match undoable {
            Ok(Some(a)) => match a.backup.filter(|b| !b.exists()) {
                Some(gone) => Availability::no(format!(
                    "the backup of the last {} of {env} no longer exists ({})",
                    a.verb,
                    gone.display()
                )),
                None => Availability::yes(),
            },
            Ok(None) => Availability::no(format!(
                "nothing to undo: no action on {env} took a backup yet"
            )),
            Err(e) => Availability::no(format!("the audit log cannot be read: {e}")),
        },
        check: Availability::unless(missing()),
        prune: Availability::unless(
            (facts.backups == 0).then(|| format!("no backups of {env} to prune")),
        ),
    }
}
