//! Ctrl-C. While a change runs, the first press asks core to stop at its next safe point (it rolls
//! the transaction back and the audit log records "cancelled"); at a prompt, outside a change, or
//! pressed a second time, it ends the process at once with exit 130 — which SQLite's atomic
//! commit makes as safe as any crash. Once the change is committed it does not: the change would
//! stay without its checks and its audit line (and undo would not find it).

use std::sync::atomic::{AtomicBool, Ordering};

static RUNNING: AtomicBool = AtomicBool::new(false);
static REQUESTED: AtomicBool = AtomicBool::new(false);
static COMMITTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once, at start-up). A failure leaves the default: Ctrl-C ends the process.
pub fn install() {
    let installed = ctrlc::set_handler(|| {
        if RUNNING.load(Ordering::SeqCst) && COMMITTED.load(Ordering::SeqCst) {
            // Quitting now would leave the committed change without its checks and audit line.
            eprintln!("\nthe change is committed: its checks, its audit line and what follows it (compaction, retention) are being finished; Ctrl-C cannot stop them now");
        } else if RUNNING.load(Ordering::SeqCst) && !REQUESTED.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopping at the next safe point… (Ctrl-C again to quit at once)");
        } else {
            std::process::exit(i32::from(pipeline_db_core::exit::CANCELLED));
        }
    });
    if let Err(e) = installed {
        tracing::warn!("Ctrl-C handler not installed: {e}");
    }
}

/// The running change is committed (core's `progress::COMMITTED` stage): Ctrl-C no longer quits.
pub fn committed() {
    COMMITTED.store(true, Ordering::SeqCst);
}

/// Whether Ctrl-C was pressed while a change was running.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Marks a change as running for as long as it lives.
pub struct Running(());

impl Running {
    pub fn start() -> Running {
        RUNNING.store(true, Ordering::SeqCst);
        Running(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.store(false, Ordering::SeqCst);
        COMMITTED.store(false, Ordering::SeqCst);
    }
}
