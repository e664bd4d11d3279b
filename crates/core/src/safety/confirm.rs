//! How a change must be confirmed, and what the user said.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::workspace::env::EnvTarget;

/// How a plan must be confirmed.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
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

    /// Enforces the confirmation a plan asks for.
    pub fn require(&self, needed: Confirmation, target: &EnvTarget, verb: &str) -> Result<()> {
        let env = &target.name;
        match needed {
            Confirmation::None => Ok(()),
            _ if !self.yes => Err(Error::Refused(format!(
                "{verb} of {env} needs confirmation: answer the prompt, or pass --force"
            ))),
            Confirmation::TypeEnvName if self.typed_env.as_deref() != Some(env.as_str()) => {
                Err(Error::Refused(format!(
                    "{env} is protected: --force alone is not enough; type `{env}` at the prompt or pass --confirm-env {env}"
                )))
            }
            _ => Ok(()),
        }
    }
}
