//! Progress of long work, sent to the window as `progress` events (counts and ETA); the window's
//! Cancel sets the flag that core polls between batches.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use pipeline_db_core::{Observer, Progress};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime};

pub const EVENT: &str = "progress";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProgressEvent {
    pub op: String,
    pub stage: String,
    pub done: u64,
    pub total: u64,
    pub elapsed_ms: u64,
    pub eta_ms: Option<u64>,
}

pub struct EventObserver<R: Runtime> {
    pub app: AppHandle<R>,
    pub op: String,
    pub cancel: Arc<AtomicBool>,
    pub started: Instant,
}

impl<R: Runtime> EventObserver<R> {
    pub fn new(app: AppHandle<R>, op: &str, cancel: Arc<AtomicBool>) -> Self {
        cancel.store(false, Ordering::SeqCst);
        EventObserver {
            app,
            op: op.into(),
            cancel,
            started: Instant::now(),
        }
    }

    fn send(&self, stage: &str, done: u64, total: u64) {
        let elapsed = self.started.elapsed().as_millis() as u64;
        let eta_ms = (done > 0 && total >= done).then(|| elapsed * (total - done) / done);
        let ev = ProgressEvent {
            op: self.op.clone(),
            stage: stage.into(),
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
        self.send(name, 0, 0);
    }

    fn progress(&self, p: &Progress) {
        self.send(p.stage, p.done, p.total);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }
}
