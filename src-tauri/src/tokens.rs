//! Single-use confirmation tokens: a `plan_*` command issues one bound to (verb, env, canonical
//! path, plan hash); the matching action redeems it before any backup or DDL. Missing, unknown
//! (never issued or already used), expired or mismatched tokens are rejected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::CmdError;

/// How long a plan stays confirmable.
pub const TOKEN_TTL: Duration = Duration::from_secs(120);

/// What a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub verb: &'static str,
    pub env: String,
    pub path: PathBuf,
    pub plan_hash: String,
}

impl Binding {
    pub fn new(verb: &'static str, env: &str, path: &Path, plan: &impl Serialize) -> Binding {
        Binding {
            verb,
            env: env.to_string(),
            path: path.to_path_buf(),
            plan_hash: plan_hash(plan),
        }
    }
}

/// What a `plan_*` command returns to the window.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub token: String,
    pub expires_in_ms: u64,
    pub plan_hash: String,
}

pub struct TokenStore {
    ttl: Duration,
    grants: Mutex<HashMap<String, (Binding, Instant)>>,
}

impl TokenStore {
    pub fn new(ttl: Duration) -> TokenStore {
        TokenStore {
            ttl,
            grants: Mutex::new(HashMap::new()),
        }
    }

    pub fn issue(&self, binding: Binding) -> Issued {
        let token = random_token();
        let plan_hash = binding.plan_hash.clone();
        let mut g = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        g.retain(|_, (_, expires)| *expires > now);
        g.insert(token.clone(), (binding, now + self.ttl));
        Issued {
            token,
            expires_in_ms: self.ttl.as_millis() as u64,
            plan_hash,
        }
    }

    /// Consumes `token` (whatever the outcome: a token is never usable twice) and checks it
    /// against what the action is about to do.
    pub fn redeem(&self, token: Option<&str>, want: &Binding) -> Result<(), CmdError> {
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
            CmdError::token(format!(
                "{} of {} needs a confirmed plan: open the plan first; nothing was changed",
                want.verb, want.env
            ))
        })?;
        let grant = self
            .grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
        let (got, expires) = grant.ok_or_else(|| {
            CmdError::token("this confirmation was already used or never issued; open the plan again; nothing was changed")
        })?;
        if Instant::now() >= expires {
            return Err(CmdError::token(
                "the plan expired (plans are valid for 2 minutes); open it again; nothing was changed",
            ));
        }
        if got.verb != want.verb || got.env != want.env || got.path != want.path {
            return Err(CmdError::token(format!(
                "this confirmation was for {} of {} ({}), not {} of {} ({}); nothing was changed",
                got.verb,
                got.env,
                got.path.display(),
                want.verb,
                want.env,
                want.path.display()
            )));
        }
        if got.plan_hash != want.plan_hash {
            return Err(CmdError::token(format!(
                "{} changed since the plan was shown; review the new plan; nothing was changed",
                want.env
            )));
        }
        Ok(())
    }

    /// Outstanding (unexpired, unused) tokens.
    pub fn outstanding(&self) -> usize {
        let now = Instant::now();
        let g = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        g.values().filter(|(_, e)| *e > now).count()
    }
}

/// SHA-256 of the plan's JSON without the parts that move on their own (the timestamped backup
/// name, free-space figures, file sizes that a WAL checkpoint changes).
pub fn plan_hash(plan: &impl Serialize) -> String {
    let mut v = serde_json::to_value(plan).unwrap_or(serde_json::Value::Null);
    strip_volatile(&mut v);
    hex::encode(Sha256::digest(v.to_string().as_bytes()))
}

fn strip_volatile(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.remove("space");
            m.remove("size_bytes");
            m.remove("available_bytes");
            m.remove("verified_at");
            if let Some(serde_json::Value::Object(b)) = m.get_mut("backup") {
                b.remove("path");
            }
            m.values_mut().for_each(strip_volatile);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_volatile),
        _ => {}
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is unavailable");
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(verb: &'static str, env: &str, hash: &str) -> Binding {
        Binding {
            verb,
            env: env.into(),
            path: PathBuf::from(format!("/data/{env}.sqlite3")),
            plan_hash: hash.into(),
        }
    }

    #[test]
    fn a_token_works_once() {
        let s = TokenStore::new(TOKEN_TTL);
        let t = s.issue(binding("reset", "dev", "h")).token;
        assert!(s.redeem(Some(&t), &binding("reset", "dev", "h")).is_ok());
        let again = s
            .redeem(Some(&t), &binding("reset", "dev", "h"))
            .unwrap_err();
        assert!(again.message.contains("already used"), "{again}");
    }

    #[test]
    fn mismatches_are_rejected_and_consume_the_token() {
        let s = TokenStore::new(TOKEN_TTL);
        for (want, needle) in [
            (binding("reset", "test", "h"), "not reset of test"),
            (binding("migrate", "dev", "h"), "not migrate of dev"),
            (binding("reset", "dev", "other"), "changed since the plan"),
        ] {
            let t = s.issue(binding("reset", "dev", "h")).token;
            let e = s.redeem(Some(&t), &want).unwrap_err();
            assert_eq!(e.kind, "token");
            assert!(e.message.contains(needle), "{e}");
            assert!(s.redeem(Some(&t), &binding("reset", "dev", "h")).is_err());
        }
    }

    #[test]
    fn expired_and_missing_tokens_are_rejected() {
        let s = TokenStore::new(Duration::ZERO);
        let t = s.issue(binding("reset", "dev", "h")).token;
        let e = s
            .redeem(Some(&t), &binding("reset", "dev", "h"))
            .unwrap_err();
        assert!(
            e.message.contains("expired") || e.message.contains("never issued"),
            "{e}"
        );
        let e = s.redeem(None, &binding("reset", "dev", "h")).unwrap_err();
        assert!(e.message.contains("open the plan first"), "{e}");
        let e = s
            .redeem(Some(""), &binding("reset", "dev", "h"))
            .unwrap_err();
        assert!(e.message.contains("open the plan first"), "{e}");
    }

    #[test]
    fn plan_hash_ignores_backup_name_and_space_but_not_rows() {
        let a = serde_json::json!({"tables":[{"name":"jobs","rows":5}],"space":[1],"size_bytes":10,"backup":{"path":"/b/1","reason":"pre-reset"}});
        let b = serde_json::json!({"tables":[{"name":"jobs","rows":5}],"space":[2],"size_bytes":99,"backup":{"path":"/b/2","reason":"pre-reset"}});
        let c = serde_json::json!({"tables":[{"name":"jobs","rows":6}],"space":[1],"size_bytes":10,"backup":{"path":"/b/1","reason":"pre-reset"}});
        assert_eq!(plan_hash(&a), plan_hash(&b));
        assert_ne!(plan_hash(&a), plan_hash(&c));
    }
}
