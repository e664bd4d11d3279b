//! Progress of long work, sent to the window as `progress` events (counts and ETA); the window's
//! Cancel sets the operation's own flag, which core polls between batches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use pipeline_db_core::{Observer, Progress};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime};

pub const EVENT: &str = "progress";

/// The payload of a `progress` event.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct ProgressEvent {
    pub op: String,
    pub stage: String,
    /// `rows` or `bytes` (copies and hashes of files).
    #[ts(type = r#""rows" | "bytes""#)]
    pub unit: &'static str,
    pub done: u64,
    pub total: u64,
    /// Time in this stage so far; the ETA is for this stage.
    pub elapsed_ms: u64,
    pub eta_ms: Option<u64>,
}

pub struct EventObserver<R: Runtime> {
    pub app: AppHandle<R>,
    pub op: String,
    pub cancel: Arc<AtomicBool>,
    /// The current stage and when it started (progress of the copy, then of the verification…).
    stage: Mutex<(String, Instant)>,
}

impl<R: Runtime> EventObserver<R> {
    /// An observer for the registered operation `running`; refused at once when a cancel reached
    /// it before it started (nothing has been done yet).
    pub fn for_op(
        app: AppHandle<R>,
        op: &str,
        running: &crate::operations::Running<'_>,
    ) -> Result<Self, crate::error::CmdError> {
        if running.cancelled() {
            return Err(crate::error::CmdError::cancelled(format!(
                "{op} was cancelled before it started; nothing was changed"
            )));
        }
        Ok(EventObserver::new(app, op, running.flag()))
    }

    fn new(app: AppHandle<R>, op: &str, cancel: Arc<AtomicBool>) -> Self {
        EventObserver {
            app,
            op: op.into(),
            cancel,
            stage: Mutex::new((String::new(), Instant::now())),
        }
    }

    fn send(&self, stage: &str, unit: &'static str, done: u64, total: u64) {
        let started = {
            let mut cur = self.stage.lock().unwrap_or_else(|e| e.into_inner());
            if cur.0 != stage {
                *cur = (stage.to_string(), Instant::now());
            }
            cur.1
        };
        let elapsed = started.elapsed().as_millis() as u64;
        let eta_ms = (done > 0 && total >= done).then(|| elapsed * (total - done) / done);
        let ev = ProgressEvent {
            op: self.op.clone(),
            stage: stage.into(),
            unit,
            done,
            total,
            elapsed_ms: elapsed,
            eta_ms,
        };
        if let Err(e) = self.app.emit(EVENT, ev) {
            tracing::warn!("progress event not delivered: {e}");
        }
    }
}

impl<R: Runtime> Observer for EventObserver<R> {
    fn stage(&self, name: &'static str) {
        self.send(name, "rows", 0, 0);
    }

    fn progress(&self, p: &Progress) {
        self.send(p.stage, "rows", p.done, p.total);
    }

    fn bytes(&self, p: &Progress) {
        self.send(p.stage, "bytes", p.done, p.total);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}
