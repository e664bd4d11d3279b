//! Read work from untrusted SQL (a query, an export) on a thread of its own, answered by its time
//! limit or by a cancel at the latest, even when SQLite cannot stop it yet.
//!
//! SQLite looks at a time limit (and at an interrupt) only between the steps of a statement, and
//! one row's expressions have none: one LIKE over a long text costs seconds, and the SQL of a query
//! may hold thousands. So the work runs on its own thread, and its caller waits for it until the
//! limit + [`GRACE`] once the database is open (a busy database is waited for by the busy
//! timeout), or [`GRACE`] after a cancel. Past that the caller answers without it: the thread is
//! left to end at its row's end (its interrupt is set; it only reads), and it can no longer make
//! anything — [`Work::commit`] says no, and the files it registered with [`Work::leaves`] are
//! removed by the caller at once. At most [`MAX_FINISHING`] such threads: new work is refused
//! until one ends. A process that exits on the answer (the CLI) ends the thread with it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long past its time limit (or its cancel) the caller waits before answering without it.
pub const GRACE: Duration = Duration::from_secs(2);
/// Work given up on that may still be finishing a row in the background.
const MAX_FINISHING: usize = 2;
static FINISHING: AtomicUsize = AtomicUsize::new(0);
/// How often the waiting caller looks at a cancel.
const POLL: Duration = Duration::from_millis(50);

/// Why the caller answered without the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GivenUp {
    /// Past the time limit and [`GRACE`], inside one row.
    Limit,
    /// Cancelled, and the row did not end within [`GRACE`].
    Cancelled,
    /// Cancelled while the open still waited for a busy database (nothing was read yet).
    CancelledWaiting,
}

/// What the work and its caller share.
#[derive(Default)]
struct Shared {
    /// The caller answered without the work: it may make nothing any more.
    abandoned: bool,
    /// The work is making its result (an export's rename): the caller waits for it.
    committing: bool,
    /// The thread has ended (its answer, if any, is in the channel).
    ended: bool,
    /// Files the work is writing, removed by the caller when it gives up.
    leaves: Vec<PathBuf>,
}

enum Msg<T> {
    Opened,
    Done(Result<T>),
}

/// The work's side: says when the database is open, registers the files it writes, asks before
/// making its result.
pub struct Work {
    opened: Box<dyn Fn() + Send + Sync>,
    shared: Arc<Mutex<Shared>>,
}

impl Work {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The database is open: the time limit runs from now. `Err(Cancelled)` when the caller has
    /// already given up (cancelled while the open waited): the work must stop.
    pub fn opened(&self) -> Result<()> {
        (self.opened)();
        match self.shared().abandoned {
            true => Err(Error::Cancelled),
            false => Ok(()),
        }
    }

    /// The work is about to write `path` (a temp file); removed by the caller if it gives up.
    /// `Err(Cancelled)` when it already has: `path` must not be made.
    pub fn leaves(&self, path: &std::path::Path) -> Result<()> {
        let mut s = self.shared();
        if s.abandoned {
            return Err(Error::Cancelled);
        }
        s.leaves.push(path.to_path_buf());
        Ok(())
    }

    /// The work makes its result now (and the caller will wait for it); `false` when the caller
    /// has given up: the work must make nothing.
    pub fn commit(&self) -> bool {
        let mut s = self.shared();
        s.committing = !s.abandoned;
        s.committing
    }
}

/// Marks the thread ended however it ends (a panic too), uncounting it if it was given up.
struct Ended(Arc<Mutex<Shared>>);

impl Drop for Ended {
    fn drop(&mut self) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.ended = true;
        if s.abandoned {
            FINISHING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Runs `work` on a thread of its own and answers by `limit` (none: only a cancel) + [`GRACE`]
/// after the work said the database is open, or [`GRACE`] after `cancelled()`; past that,
/// `given_up` says why the caller answers without it.
pub fn run<T: Send + 'static>(
    limit: Option<Duration>,
    cancelled: &dyn Fn() -> bool,
    work: impl FnOnce(&Work) -> Result<T> + Send + 'static,
    given_up: impl FnOnce(GivenUp) -> Error,
) -> Result<T> {
    let finishing = FINISHING.load(Ordering::SeqCst);
    if finishing >= MAX_FINISHING {
        return Err(Error::Refused(format!(
            "{finishing} queries that passed their time limit or were cancelled are still finishing a row in the background (each stops at the end of its row); nothing was run. Try again when they have ended"
        )));
    }
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Mutex::new(Shared::default()));
    let opened = tx.clone();
    let w = Work {
        opened: Box::new(move || {
            let _ = opened.send(Msg::Opened);
        }),
        shared: shared.clone(),
    };
    std::thread::Builder::new()
        .name("bounded".into())
        .spawn(move || {
            let ended = Ended(w.shared.clone());
            let out = work(&w);
            // Sent before the thread counts as ended: a caller that sees it ended finds the answer.
            let _ = tx.send(Msg::Done(out));
            drop(ended);
        })
        .map_err(|e| Error::Internal(format!("the work's thread could not start: {e}")))?;
    let mut waiter = Waiter {
        rx,
        deadline: None,
        cancel_seen: false,
        opened: false,
    };
    match waiter.wait(cancelled) {
        Waited::Done(out) => return out,
        Waited::Opened => {}
        Waited::Past(why) => return give_up(&waiter.rx, &shared, why, given_up),
    }
    waiter.deadline = match (limit, waiter.deadline) {
        (_, Some(cancel)) => Some(cancel),
        (Some(l), None) => Some(Instant::now() + l + GRACE),
        (None, None) => None,
    };
    match waiter.wait(cancelled) {
        Waited::Done(out) => out,
        Waited::Opened => Err(Error::Internal("the work opened twice".into())),
        Waited::Past(why) => give_up(&waiter.rx, &shared, why, given_up),
    }
}

enum Waited<T> {
    Opened,
    Done(Result<T>),
    Past(GivenUp),
}

/// The caller's side: the next message, or the deadline (set by a cancel, or by the limit).
struct Waiter<T> {
    rx: mpsc::Receiver<Msg<T>>,
    deadline: Option<Instant>,
    cancel_seen: bool,
    opened: bool,
}

impl<T> Waiter<T> {
    fn wait(&mut self, cancelled: &dyn Fn() -> bool) -> Waited<T> {
        loop {
            // The channel first: an answer that came by the deadline is taken (review 28).
            let now = Instant::now();
            let step = self
                .deadline
                .map_or(POLL, |d| d.saturating_duration_since(now).min(POLL));
            match self.rx.recv_timeout(step) {
                Ok(Msg::Opened) => {
                    self.opened = true;
                    return Waited::Opened;
                }
                Ok(Msg::Done(out)) => return Waited::Done(out),
                Err(RecvTimeoutError::Disconnected) => return Waited::Done(Err(gone())),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if !self.cancel_seen && cancelled() {
                self.cancel_seen = true;
                let by = Instant::now() + GRACE;
                self.deadline = Some(self.deadline.map_or(by, |d| d.min(by)));
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return Waited::Past(match (self.cancel_seen, self.opened) {
                    (true, true) => GivenUp::Cancelled,
                    (true, false) => GivenUp::CancelledWaiting,
                    (false, _) => GivenUp::Limit,
                });
            }
        }
    }
}

fn gone() -> Error {
    Error::Internal("the work's thread ended without an answer".into())
}

/// The answer once the deadline has passed: the work's, if it has just ended or is making its
/// result; else it is given up — counted in [`FINISHING`] until it ends, its files removed.
fn give_up<T>(
    rx: &mpsc::Receiver<Msg<T>>,
    shared: &Mutex<Shared>,
    why: GivenUp,
    given_up: impl FnOnce(GivenUp) -> Error,
) -> Result<T> {
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    // An answer sent just now (before the thread marked itself ended) is taken.
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Done(out) = msg {
            return out;
        }
    }
    if s.ended || s.committing {
        drop(s);
        // Its answer is there, or comes once the result is made (bounded by the disk, not a row).
        return loop {
            match rx.recv() {
                Ok(Msg::Done(out)) => break out,
                Ok(Msg::Opened) => continue,
                Err(_) => break Err(gone()),
            }
        };
    }
    s.abandoned = true;
    FINISHING.fetch_add(1, Ordering::SeqCst);
    for path in s.leaves.drain(..) {
        // The work writes on through its handle into a file no longer named; it makes nothing.
        let _ = std::fs::remove_file(&path);
    }
    drop(s);
    Err(given_up(why))
}
