//! How a change must be confirmed, and what the user said.

use serde::Serialize;

use crate::error::{Error, Result, UNCHANGED};
use crate::verb::Verb;
use crate::workspace::env::EnvTarget;

/// How a plan must be confirmed.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// Nothing is lost: no question needed.
    None,
    /// dev/test: yes or no.
    YesNo,
    /// protected envs: the user types the env name.
    TypeEnvName,
}

impl Confirmation {
    /// The rule: a change that can lose or rewrite data that exists now needs the typed env name
    /// on a protected env and y/N (or `--force`) elsewhere; anything else needs no question.
    pub fn for_target(target: &EnvTarget, destructive: bool) -> Confirmation {
        match (destructive, target.protected) {
            (false, _) => Confirmation::None,
            (true, false) => Confirmation::YesNo,
            (true, true) => Confirmation::TypeEnvName,
        }
    }
}

/// What the user said, passed from the adapter to core, which enforces the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirmed {
    /// The user answered yes, or passed `--force`.
    pub yes: bool,
    /// The env name the user typed (or passed with `--confirm-env`).
    pub typed_env: Option<String>,
}

impl Confirmed {
    pub fn forced() -> Confirmed {
        Confirmed {
            yes: true,
            typed_env: None,
        }
    }

    /// Whether this answer is enough for `needed` on `env` (adapters ask only when it is not).
    pub fn satisfies(&self, needed: Confirmation, env: &str) -> bool {
        match needed {
            Confirmation::None => true,
            Confirmation::YesNo => self.yes || self.typed_env.as_deref() == Some(env),
            Confirmation::TypeEnvName => self.typed_env.as_deref() == Some(env),
        }
    }

    /// Enforces the confirmation a plan asks for: the one rule for every changing verb.
    pub fn require(&self, needed: Confirmation, target: &EnvTarget, verb: Verb) -> Result<()> {
        let env = &target.name;
        if self.satisfies(needed, env) {
            return Ok(());
        }
        Err(Error::Refused(match needed {
            Confirmation::TypeEnvName => format!(
                "{verb} of {env} needs the env name typed{}, and it was not: type `{env}` when asked on a terminal, or pass --confirm-env {env} (--force alone is never enough); {UNCHANGED}",
                if target.protected { " (it is protected)" } else { "" }
            ),
            _ => format!(
                "{verb} of {env} needs confirmation, and none was given: answer y when asked on a terminal, or pass --force; {UNCHANGED}"
            ),
        }))
    }
}
