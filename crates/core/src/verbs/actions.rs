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
pub struct Facts<'a> {
    pub exists: bool,
    /// `Some(version)`: the file is healthy, tagged for this env, at the latest migration and
    /// none divergent (migrate has nothing to apply).
    pub up_to_date: Option<i64>,
    pub backups: usize,
    /// `status`'s health word (`ok`, `missing`, or the kind of what stops changes).
    pub health: &'a str,
    /// Why `migrate` refuses the file's migration history (divergent, a gap, newer), if it does.
    pub migrate_refused: Option<&'a str>,
}

/// Why the changing verbs refuse the file as it is (from `status`'s health), and whether reset
/// is the way out (it drops a schema from elsewhere; it refuses another env's or app's file).
fn blocked(env: &str, health: &str) -> Option<(String, bool)> {
    let why = match health {
        "untagged" => format!("{env}'s file holds data but no env tag: see the problem shown"),
        "tag_mismatch" => format!("{env}'s file is tagged for another env: see the problem shown"),
        "foreign_application" => format!("{env}'s file belongs to another application"),
        "foreign_schema" => {
            let why =
                format!("{env}'s schema is not what the migrations make: only reset rebuilds it");
            return Some((why, true));
        }
        _ => return None,
    };
    Some((why, false))
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
pub fn of(ws: &Workspace, target: &EnvTarget, facts: Facts<'_>) -> Actions {
    let env = target.name.as_str();
    let mut a = by_state(ws, target, facts);
    if let Some((why, reset_ok)) = blocked(env, facts.health) {
        let mut refuse = vec![&mut a.migrate, &mut a.seed, &mut a.restore, &mut a.undo];
        if !reset_ok {
            refuse.extend([&mut a.reset, &mut a.reset_sample]);
        }
        for x in refuse.into_iter().filter(|x| x.available) {
            *x = Availability::no(why.clone());
        }
    }
    a
}

/// What can apply given whether the file exists, is up to date and has backups.
fn by_state(ws: &Workspace, target: &EnvTarget, facts: Facts<'_>) -> Actions {
    let env = target.name.as_str();
    let missing = || (!facts.exists).then(|| format!("{env} does not exist yet"));
    let undoable = crate::verbs::undo::last_action(ws, env);
    Actions {
        migrate: Availability::unless(
            facts
                .up_to_date
                .map(|v| format!("nothing to apply: {env} is at V{v}, the latest migration"))
                .or(facts.migrate_refused.map(str::to_string)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(health: &str) -> Facts<'_> {
        Facts {
            exists: true,
            up_to_date: None,
            backups: 1,
            health,
            migrate_refused: None,
        }
    }

    #[test]
    fn what_the_verbs_refuse_is_unavailable_with_their_reason() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::at(d.path().to_path_buf()).unwrap();
        let dev = ws.env("dev").unwrap();
        let prod = ws.env("prod").unwrap();
        let ok = of(&ws, &dev, facts("ok"));
        assert!(ok.migrate.available && ok.reset.available && ok.seed.available);
        assert_eq!(
            ok.undo.reason.as_deref(),
            Some("nothing to undo: no action on dev took a backup yet")
        );
        // A schema from elsewhere: reset is the way out, the other changes are refused.
        let drift = of(&ws, &dev, facts("foreign_schema"));
        assert!(drift.reset.available && drift.reset_sample.available && drift.check.available);
        assert!(!drift.migrate.available && !drift.seed.available && !drift.restore.available);
        assert!(drift
            .migrate
            .reason
            .unwrap()
            .contains("only reset rebuilds it"));
        // An untagged file: reset refuses it too.
        let untagged = of(&ws, &dev, facts("untagged"));
        assert!(!untagged.reset.available && !untagged.migrate.available);
        assert!(untagged.backup.available && untagged.check.available);
        // A missing prod: Migrate creates it; a reset is refused; nothing to back up or check.
        let missing = Facts {
            exists: false,
            backups: 0,
            ..facts("missing")
        };
        let p = of(&ws, &prod, missing);
        assert!(p.migrate.available);
        assert!(p
            .reset
            .reason
            .unwrap()
            .contains("prod does not exist yet: Migrate creates it"));
        assert!(!p.backup.available && !p.check.available && !p.prune.available);
        assert_eq!(
            p.seed.reason.as_deref(),
            Some("prod is protected: sample data is never written to it")
        );
        let d = of(
            &ws,
            &dev,
            Facts {
                health: "missing",
                ..missing
            },
        );
        assert!(
            d.reset.available && d.reset_sample.available && d.seed.available,
            "dev is created"
        );
        // Up to date: migrate has nothing to apply.
        let current = of(
            &ws,
            &dev,
            Facts {
                up_to_date: Some(2),
                ..facts("ok")
            },
        );
        assert!(current
            .migrate
            .reason
            .unwrap()
            .contains("nothing to apply: dev is at V2"));
    }
}
