//! Where the time of a long verb goes: each step is logged (`RUST_LOG=pipeline_db_core=debug`) and
//! collected per thread, so outcomes can carry their own profile (`--json`, the benchmark).

use std::cell::RefCell;
use std::time::Instant;

use serde::Serialize;

/// One timed step of a verb.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepTime {
    pub step: &'static str,
    pub ms: f64,
}

thread_local! {
    static STEPS: RefCell<Vec<StepTime>> = const { RefCell::new(Vec::new()) };
}

/// The most steps kept per thread (a long-lived desktop worker never grows without bound).
const MAX_STEPS: usize = 256;

/// Runs `f` as the step `name` and records how long it took.
pub fn step<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    record(name, started);
    out
}

/// Records a step that started at `started` and ends now.
pub fn record(name: &'static str, started: Instant) {
    record_duration(name, started.elapsed());
}

/// Records a step measured elsewhere (e.g. on a helper thread).
pub fn record_duration(name: &'static str, took: std::time::Duration) {
    let ms = took.as_secs_f64() * 1000.0;
    tracing::debug!(step = name, ms = format!("{ms:.1}"), "step done");
    STEPS.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < MAX_STEPS {
            s.push(StepTime { step: name, ms });
        }
    });
}

/// Forgets the steps recorded so far on this thread (called when a verb starts).
pub fn reset() {
    STEPS.with(|s| s.borrow_mut().clear());
}

/// The steps recorded on this thread since the last [`reset`]/[`take`], in order.
pub fn take() -> Vec<StepTime> {
    STEPS.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_recorded_in_order_and_taken_once() {
        reset();
        let v = step("a", || 1 + 1);
        step("b", || ());
        assert_eq!(v, 2);
        let got: Vec<_> = take().into_iter().map(|s| s.step).collect();
        assert_eq!(got, ["a", "b"]);
        assert!(take().is_empty());
    }

    #[test]
    fn the_log_is_bounded() {
        reset();
        for _ in 0..(MAX_STEPS + 10) {
            step("x", || ());
        }
        assert_eq!(take().len(), MAX_STEPS);
    }
}
