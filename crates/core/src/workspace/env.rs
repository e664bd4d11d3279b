//! Environment names: validation, and the resolved target (name, canonical path, protection).

use std::path::PathBuf;

use serde::Serialize;

/// The environments every workspace has. `prod` is always protected.
pub const BUILTIN_ENVS: [&str; 3] = ["dev", "test", "prod"];
pub const ALWAYS_PROTECTED: &str = "prod";
pub const MAX_ENV_NAME: usize = 32;

/// Checks an environment name against `[a-z][a-z0-9_-]{0,31}`; says why it is not valid.
pub fn check_env_name(name: &str) -> Result<(), &'static str> {
    let bytes = name.as_bytes();
    match bytes.first() {
        None => return Err("it is empty"),
        Some(b) if !b.is_ascii_lowercase() => return Err("it must start with a lowercase letter"),
        _ => {}
    }
    if bytes.len() > MAX_ENV_NAME {
        return Err("it is longer than 32 characters");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
    {
        return Err("only a-z, 0-9, `_` and `-` are allowed");
    }
    Ok(())
}

/// One environment, resolved: where its database lives and whether it is protected.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EnvTarget {
    pub name: String,
    /// Canonical path of the database file (parent resolved; the file may not exist yet).
    pub path: PathBuf,
    pub protected: bool,
    /// Where this env's backups go.
    pub backup_dir: PathBuf,
    /// Whether its backups are stored zstd-compressed (`[backups] compress`, default true).
    pub compress_backups: bool,
}

impl EnvTarget {
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builtin_names_are_valid() {
        for n in BUILTIN_ENVS {
            assert!(check_env_name(n).is_ok());
        }
    }

    #[test]
    fn rejects_odd_names() {
        for bad in [
            "",
            "Dev",
            "1dev",
            "-x",
            "dev/..",
            "../prod",
            "dev prod",
            "dév",
            &"a".repeat(33),
        ] {
            assert!(check_env_name(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(check_env_name(&"a".repeat(32)).is_ok());
    }

    proptest! {
        #[test]
        fn accepts_exactly_the_pattern(s in "\\PC{0,40}") {
            let re_ok = {
                let b = s.as_bytes();
                !b.is_empty() && b.len() <= 32 && b[0].is_ascii_lowercase()
                    && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
            };
            prop_assert_eq!(check_env_name(&s).is_ok(), re_ok);
        }

        #[test]
        fn valid_names_are_safe_file_stems(s in "[a-z][a-z0-9_-]{0,31}") {
            prop_assert!(check_env_name(&s).is_ok());
            prop_assert!(!s.contains('/') && !s.contains("..") && !s.contains('\0'));
        }
    }
}
