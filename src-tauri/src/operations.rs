//! Cancel per operation. An operation is named by the confirmation token that starts it (the page
//! holds it before it starts, so a cancel can never race the start): each has its own flag, a
//! cancel reaches only the operation it names, and a cancel sent before its operation registered
//! (the token still unused) is kept and honoured when it starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::CmdError;
use crate::tokens::TokenStore;

/// Each operation's flag, and how many calls run under its id (0: cancelled ahead of its start).
/// A second call naming a running operation's id (a replayed token, which then fails) shares the
/// entry, so its end does not forget the operation still running.
type Table = HashMap<String, (Arc<AtomicBool>, usize)>;

#[derive(Default)]
pub struct Operations {
    flags: Mutex<Table>,
}

/// A registered operation; dropping it forgets the operation.
pub struct Running<'a> {
    ops: &'a Operations,
    id: String,
    flag: Arc<AtomicBool>,
}

impl Running<'_> {
    /// The flag core polls through the observer.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// Whether a cancel reached it already (perhaps before it started).
    pub fn cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut t = self.ops.lock();
        if let Some(e) = t.get_mut(&self.id) {
            e.1 = e.1.saturating_sub(1);
            if e.1 == 0 {
                t.remove(&self.id);
            }
        }
    }
}

impl Operations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.flags.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers the operation its token names, before the token is redeemed; a cancel that came
    /// first is kept in its flag. An empty token registers nothing the page could name.
    pub fn begin(&self, token: Option<&str>) -> Running<'_> {
        let id = token.unwrap_or_default().to_string();
        let flag = match id.is_empty() {
            true => Arc::new(AtomicBool::new(false)),
            false => {
                let mut t = self.lock();
                let e = t.entry(id.clone()).or_default();
                e.1 += 1;
                e.0.clone()
            }
        };
        Running {
            ops: self,
            id,
            flag,
        }
    }

    /// Cancels the running operation `id`, or the one its still-unused token will start. Anything
    /// else is refused (the page cannot fill the table with names of its own).
    pub fn cancel(&self, id: &str, tokens: &TokenStore) -> Result<(), CmdError> {
        let mut flags = self.lock();
        // Cancels kept for tokens that expired unused are dropped: the table stays as small as
        // the operations running plus the plans outstanding.
        flags.retain(|k, (_, running)| *running > 0 || tokens.is_outstanding(k));
        if let Some((f, _)) = flags.get(id) {
            f.store(true, Ordering::SeqCst);
            return Ok(());
        }
        if !id.is_empty() && tokens.is_outstanding(id) {
            flags.insert(id.to_string(), (Arc::new(AtomicBool::new(true)), 0));
            return Ok(());
        }
        Err(CmdError::refused(
            "no running or planned operation has this id (it may have finished); nothing was cancelled",
        ))
    }

    /// Registered operations (running or cancelled before they started).
    pub fn registered(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second call under a running operation's id (a replayed token) ends without making the
    /// running one impossible to cancel.
    #[test]
    fn a_second_call_under_a_running_id_does_not_forget_the_first() {
        let ops = Operations::default();
        let tokens = TokenStore::new(std::time::Duration::from_secs(60));
        let first = ops.begin(Some("t1"));
        drop(ops.begin(Some("t1")));
        ops.cancel("t1", &tokens).unwrap();
        assert!(first.cancelled());
        drop(first);
        assert_eq!(ops.registered(), 0);
        assert!(
            ops.cancel("t1", &tokens).is_err(),
            "finished: nothing to cancel"
        );
    }
}
