//! Single-use confirmation tokens: a `plan_*` command issues one bound to (verb, env, canonical
//! path, core's plan digest) and keeps the plan itself; the matching action redeems the token and
//! hands exactly that plan to core's `execute`, which re-makes it under the lock and refuses if its
//! digest changed. Missing, unknown (never issued or already used), expired or mismatched tokens
//! are rejected.

use std::any::Any;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline_db_core::{Plan, Verb};
use serde::Serialize;

use crate::error::CmdError;

/// How long a plan stays confirmable.
pub const TOKEN_TTL: Duration = Duration::from_secs(120);

/// What a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub verb: Verb,
    pub env: String,
    pub path: PathBuf,
    pub plan_hash: String,
}

impl Binding {
    /// Bound to the plan's verb, env and core's digest of what it promises.
    pub fn new(path: &Path, plan: &impl Plan) -> Binding {
        Binding {
            verb: plan.verb(),
            env: plan.env().to_string(),
            path: path.to_path_buf(),
            plan_hash: plan.digest(),
        }
    }
}

/// What an action is about to do, checked against the token's binding.
pub struct Want<'a> {
    pub verb: Verb,
    pub env: &'a str,
    pub path: &'a Path,
}

/// The plan a token was issued for, kept on the Rust side (the page never sends it back).
pub type Shown = Arc<dyn Any + Send + Sync>;

/// What a `plan_*` command returns to the window.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Issued {
    pub token: String,
    pub expires_in_ms: u64,
    pub plan_hash: String,
}

pub struct TokenStore {
    ttl: Duration,
    grants: Mutex<HashMap<String, (Binding, Shown, Instant)>>,
}

impl TokenStore {
    pub fn new(ttl: Duration) -> TokenStore {
        TokenStore {
            ttl,
            grants: Mutex::new(HashMap::new()),
        }
    }

    /// How many plans may wait for their confirmation at once (far more than a window shows).
    pub const MAX_OUTSTANDING: usize = 256;

    pub fn issue(&self, binding: Binding, shown: Shown) -> Issued {
        let token = random_token();
        let plan_hash = binding.plan_hash.clone();
        let mut g = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        g.retain(|_, (_, _, expires)| *expires > now);
        // A page issuing plans in a loop kept 100,000 tokens (each issue swept them all under the
        // lock redeem takes): past the cap the oldest plan's token goes (its confirm then asks to
        // open the plan again).
        while g.len() >= Self::MAX_OUTSTANDING {
            let Some(oldest) = g
                .iter()
                .min_by_key(|(_, (_, _, e))| *e)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            g.remove(&oldest);
        }
        g.insert(token.clone(), (binding, shown, now + self.ttl));
        Issued {
            token,
            expires_in_ms: self.ttl.as_millis() as u64,
            plan_hash,
        }
    }

    /// Consumes `token` (whatever the outcome: a token is never usable twice), checks it against
    /// the action's verb, env and file, and returns the plan it was issued for.
    pub fn redeem(&self, token: Option<&str>, want: &Want<'_>) -> Result<Shown, CmdError> {
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
        let (got, shown, expires) = grant.ok_or_else(|| {
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
        Ok(shown)
    }

    /// Whether `token` was issued and is still unused and unexpired.
    pub fn is_outstanding(&self, token: &str) -> bool {
        let now = Instant::now();
        let g = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        g.get(token).is_some_and(|(_, _, e)| *e > now)
    }

    /// Outstanding (unexpired, unused) tokens.
    pub fn outstanding(&self) -> usize {
        let now = Instant::now();
        let g = self.grants.lock().unwrap_or_else(|p| p.into_inner());
        g.values().filter(|(_, _, e)| *e > now).count()
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

    fn binding(verb: Verb, env: &str, hash: &str) -> Binding {
        Binding {
            verb,
            env: env.into(),
            path: PathBuf::from(format!("/data/{env}.sqlite3")),
            plan_hash: hash.into(),
        }
    }

    fn want(verb: Verb, env: &str) -> (Verb, String, PathBuf) {
        (
            verb,
            env.into(),
            PathBuf::from(format!("/data/{env}.sqlite3")),
        )
    }

    fn redeem(
        s: &TokenStore,
        t: Option<&str>,
        w: &(Verb, String, PathBuf),
    ) -> Result<Shown, CmdError> {
        s.redeem(
            t,
            &Want {
                verb: w.0,
                env: &w.1,
                path: &w.2,
            },
        )
    }

    fn shown() -> Shown {
        Arc::new(42u32)
    }

    #[test]
    fn a_token_works_once_and_gives_back_the_plan_it_was_issued_for() {
        let s = TokenStore::new(TOKEN_TTL);
        let t = s.issue(binding(Verb::Reset, "dev", "h"), shown()).token;
        let got = redeem(&s, Some(&t), &want(Verb::Reset, "dev")).unwrap();
        assert_eq!(got.downcast_ref::<u32>(), Some(&42));
        let again = redeem(&s, Some(&t), &want(Verb::Reset, "dev")).unwrap_err();
        assert!(again.message.contains("already used"), "{again}");
    }

    #[test]
    fn mismatches_are_rejected_and_consume_the_token() {
        let s = TokenStore::new(TOKEN_TTL);
        for (w, needle) in [
            (want(Verb::Reset, "test"), "not reset of test"),
            (want(Verb::Migrate, "dev"), "not migrate of dev"),
        ] {
            let t = s.issue(binding(Verb::Reset, "dev", "h"), shown()).token;
            let e = redeem(&s, Some(&t), &w).unwrap_err();
            assert_eq!(e.kind, "token");
            assert!(e.message.contains(needle), "{e}");
            assert!(redeem(&s, Some(&t), &want(Verb::Reset, "dev")).is_err());
        }
    }

    #[test]
    fn expired_and_missing_tokens_are_rejected() {
        let s = TokenStore::new(Duration::ZERO);
        let t = s.issue(binding(Verb::Reset, "dev", "h"), shown()).token;
        let e = redeem(&s, Some(&t), &want(Verb::Reset, "dev")).unwrap_err();
        assert!(
            e.message.contains("expired") || e.message.contains("never issued"),
            "{e}"
        );
        let e = redeem(&s, None, &want(Verb::Reset, "dev")).unwrap_err();
        assert!(e.message.contains("open the plan first"), "{e}");
        let e = redeem(&s, Some(""), &want(Verb::Reset, "dev")).unwrap_err();
        assert!(e.message.contains("open the plan first"), "{e}");
    }

    /// A page issuing plans in a loop keeps at most `MAX_OUTSTANDING` tokens: the oldest go, the
    /// newest still work (review 23: 100,000 were kept, each issue sweeping them all).
    #[test]
    fn outstanding_tokens_are_capped_and_the_oldest_go_first() {
        let s = TokenStore::new(TOKEN_TTL);
        let first = s.issue(binding(Verb::Reset, "dev", "h"), shown()).token;
        let mut last = String::new();
        for _ in 0..TokenStore::MAX_OUTSTANDING + 50 {
            last = s.issue(binding(Verb::Reset, "dev", "h"), shown()).token;
        }
        let held = s.grants.lock().unwrap().len();
        assert_eq!(held, TokenStore::MAX_OUTSTANDING);
        assert!(redeem(&s, Some(&first), &want(Verb::Reset, "dev")).is_err());
        assert!(redeem(&s, Some(&last), &want(Verb::Reset, "dev")).is_ok());
    }
}
