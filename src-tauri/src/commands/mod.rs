//! Every `#[tauri::command]`, each a thin call into core. Listed once, in `list.rs` (read by
//! `generate_handler!` in `lib.rs` and by `build.rs`); `capabilities/main.json` grants the
//! window the ones listed as granted (a test checks it).

pub mod actions;
pub mod backups;
pub mod browse;
pub mod guard;
pub mod import;
pub mod info;
pub mod progress;
pub mod recovery;
pub mod settings;
pub mod workbench;

use crate::error::{CmdError, CmdResult};

/// At most this many commands run core work at once; the others wait their turn without a thread
/// (a page firing thousands of invokes queues them, it does not start thousands of threads).
pub const MAX_RUNNING: usize = 4;

static RUNNING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_RUNNING);

/// Runs core work off the UI thread, on the bounded pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> CmdResult<T> + Send + 'static,
) -> CmdResult<T> {
    let _turn = RUNNING
        .acquire()
        .await
        .map_err(|e| CmdError::internal(format!("the work queue is closed: {e}")))?;
    tauri::async_runtime::spawn_blocking(f)
        .await
        .map_err(|e| CmdError::internal(format!("the background task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::{blocking, MAX_RUNNING};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Six jobs started together: each waits until `MAX_RUNNING` of them run at once, or all six
    /// have started (or 10 s pass, in case another test holds a turn for a while), so without the
    /// bound all six would be seen running together. All six finish.
    #[test]
    fn at_most_max_running_commands_run_core_work_at_once_and_all_finish() {
        const JOBS: usize = MAX_RUNNING + 2;
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let done = tauri::async_runtime::block_on(async {
            let tasks: Vec<_> = (0..JOBS)
                .map(|i| {
                    let (now, peak, started) = (now.clone(), peak.clone(), started.clone());
                    tauri::async_runtime::spawn(blocking(move || {
                        let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(running, Ordering::SeqCst);
                        started.fetch_add(1, Ordering::SeqCst);
                        let deadline = Instant::now() + Duration::from_secs(10);
                        let wait = || {
                            now.load(Ordering::SeqCst) < MAX_RUNNING
                                && started.load(Ordering::SeqCst) < JOBS
                        };
                        while wait() && Instant::now() < deadline {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        // Long enough for an unbounded pool to start every job meanwhile.
                        std::thread::sleep(Duration::from_millis(200));
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok(i)
                    }))
                })
                .collect();
            let mut done = vec![];
            for t in tasks {
                done.push(t.await.expect("the task ran").expect("the job ran"));
            }
            done
        });
        assert_eq!(done, (0..JOBS).collect::<Vec<_>>(), "every job finished");
        assert_eq!(peak.load(Ordering::SeqCst), MAX_RUNNING);
        assert_eq!(now.load(Ordering::SeqCst), 0);
    }
}
