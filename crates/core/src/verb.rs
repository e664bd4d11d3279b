//! The verbs a user can ask for, by name: what the audit log, plans and tokens call them.

use serde::{Deserialize, Serialize};

/// Every action pipeline-db records. The audit log stores [`Verb::as_str`] (older logs stay readable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Verb {
    #[serde(rename = "reset")]
    Reset,
    #[serde(rename = "migrate")]
    Migrate,
    #[serde(rename = "seed")]
    Seed,
    #[serde(rename = "backup")]
    Backup,
    #[serde(rename = "restore")]
    Restore,
    #[serde(rename = "undo")]
    Undo,
    #[serde(rename = "env set")]
    Retag,
    #[serde(rename = "migrations repair")]
    Repair,
    #[serde(rename = "backups prune")]
    Prune,
    #[serde(rename = "env add")]
    EnvAdd,
    #[serde(rename = "env remove")]
    EnvRemove,
    #[serde(rename = "env path")]
    EnvPath,
    #[serde(rename = "config set")]
    ConfigSet,
    #[serde(rename = "import")]
    Import,
    #[serde(rename = "backups pin")]
    Pin,
    #[serde(rename = "backups unpin")]
    Unpin,
    /// Rows written to a file or stdout (`export`, the desktop's Export…): read-only, audit-logged.
    #[serde(rename = "export")]
    Export,
}

impl Verb {
    /// Every verb, in declaration order.
    pub const ALL: [Verb; 17] = [
        Verb::Reset,
        Verb::Migrate,
        Verb::Seed,
        Verb::Backup,
        Verb::Restore,
        Verb::Undo,
        Verb::Retag,
        Verb::Repair,
        Verb::Prune,
        Verb::EnvAdd,
        Verb::EnvRemove,
        Verb::EnvPath,
        Verb::ConfigSet,
        Verb::Import,
        Verb::Pin,
        Verb::Unpin,
        Verb::Export,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Verb::Reset => "reset",
            Verb::Migrate => "migrate",
            Verb::Seed => "seed",
            Verb::Backup => "backup",
            Verb::Restore => "restore",
            Verb::Undo => "undo",
            Verb::Retag => "env set",
            Verb::Repair => "migrations repair",
            Verb::Prune => "backups prune",
            Verb::EnvAdd => "env add",
            Verb::EnvRemove => "env remove",
            Verb::EnvPath => "env path",
            Verb::ConfigSet => "config set",
            Verb::Import => "import",
            Verb::Pin => "backups pin",
            Verb::Unpin => "backups unpin",
            Verb::Export => "export",
        }
    }
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_audit_names() {
        for v in Verb::ALL {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
    }
}
