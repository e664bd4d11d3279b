//! Progress reporting and cancellation for long work, implemented by each adapter.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Progress {
    pub stage: &'static str,
    pub done: u64,
    /// 0: not known in advance (the rows of a query being exported).
    pub total: u64,
}

/// What a long-running core call tells its caller, and how the caller can stop it.
pub trait Observer: Sync {
    fn stage(&self, _name: &'static str) {}
    fn progress(&self, _p: &Progress) {}
    /// Progress counted in bytes (copies, hashes); adapters may show it as sizes.
    fn bytes(&self, p: &Progress) {
        self.progress(p)
    }
    /// Polled between batches; returning true rolls the work back and ends it with `Cancelled`.
    fn cancelled(&self) -> bool {
        false
    }
}

/// The stage a change reports once it is committed (its checks, undo's fingerprint and its audit
/// line follow): from here a cancel cannot undo anything, and an adapter should not let the user
/// stop the process (the change would stay without its audit line).
pub const COMMITTED: &str = "committed: checking";

/// Observes nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// One observer shared by a caller and the thread doing its work.
impl<O: Observer + Send + ?Sized> Observer for std::sync::Arc<O> {
    fn stage(&self, name: &'static str) {
        (**self).stage(name)
    }
    fn progress(&self, p: &Progress) {
        (**self).progress(p)
    }
    fn bytes(&self, p: &Progress) {
        (**self).bytes(p)
    }
    fn cancelled(&self) -> bool {
        (**self).cancelled()
    }
}

/// Reports `done` of `total` bytes at `stage`, then `Err(Cancelled)` if the observer asks to stop:
/// the one checkpoint of every copy loop (a cancelled copy is undone by its caller).
pub(crate) fn bytes_or_cancel(
    obs: &dyn Observer,
    stage: &'static str,
    done: u64,
    total: u64,
) -> crate::error::Result<()> {
    obs.bytes(&Progress { stage, done, total });
    match obs.cancelled() {
        true => Err(crate::error::Error::Cancelled),
        false => Ok(()),
    }
}
