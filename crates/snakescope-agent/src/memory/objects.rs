//! Live object counts by type (`run --live-web`): dowser's job, from the
//! same census as at the peak and the exit (`_memory.census_rows("live")`).
//!
//! A census needs the GIL and walks the heap, so it runs in the main thread
//! between two bytecodes, queued with `Py_AddPendingCall` like the census
//! near the peak ([`super::census`]; on 3.9–3.12 the main thread notices it
//! through the census kicker, [`super::kicker`]). The live writer (`crate::live`) asks
//! for one at most once a second, and only while live censuses have taken
//! under [`BUDGET`] of the run so far (a heap of 10^5 objects costs a few
//! milliseconds: one a second; 10^7 objects about 45 ms: one every few
//! seconds); one asked for from the page ([`ask`]) is taken at the next
//! tick whatever the budget. A main thread blocked in a system call runs no
//! bytecode, so the census waits until it returns ([`Series::waiting`]).
//!
//! The last [`KEEP`] censuses are kept, oldest first: the page draws each
//! type's count over them. Their `when` is `live`, or `asked` for one the
//! page asked for.

use super::census::{closed, run_census};
use pyo3::prelude::*;
use snakescope_model::{Census, LiveObjects};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Live censuses may take this share of the run's time so far.
const BUDGET: f64 = 0.02;
/// At most one census this often (unless asked for).
const EVERY: Duration = Duration::from_secs(1);
/// Censuses kept for the growth lines.
const KEEP: usize = 30;

/// `() -> CensusRows`: the live census, from `live_start`.
static CENSUS_FN: Mutex<Option<Py<PyAny>>> = Mutex::new(None);
/// The censuses so far, oldest first.
static SERIES: Mutex<VecDeque<Census>> = Mutex::new(VecDeque::new());
/// A census is queued with the interpreter and has not run yet.
static PENDING: AtomicBool = AtomicBool::new(false);
/// The page asked for a census.
static ASKED: AtomicBool = AtomicBool::new(false);
/// The census queued is the one the page asked for (its `when` says so).
static QUEUED_ASKED: AtomicBool = AtomicBool::new(false);
/// Nanoseconds spent in live censuses.
static SPENT_NS: AtomicU64 = AtomicU64::new(0);
/// When the last census was queued, in nanoseconds from `arm`.
static QUEUED_NS: AtomicU64 = AtomicU64::new(0);

/// Live censuses from now on, taken by `census`.
pub fn arm(census: Py<PyAny>) {
    *CENSUS_FN.lock().unwrap_or_else(|e| e.into_inner()) = Some(census);
    SERIES.lock().unwrap_or_else(|e| e.into_inner()).clear();
    SPENT_NS.store(0, Ordering::Relaxed);
    QUEUED_NS.store(0, Ordering::Relaxed);
    ASKED.store(false, Ordering::Relaxed);
}

/// No more live censuses (a census already queued finds no function and
/// does nothing; pyo3 defers the function's release to the next time a
/// thread holds the GIL when this one does not).
pub fn disarm() {
    let census = CENSUS_FN.lock().unwrap_or_else(|e| e.into_inner()).take();
    drop(census);
}

/// The page asked for a census now.
pub fn ask() {
    ASKED.store(true, Ordering::Relaxed);
}

/// The live writer's tick (`since`: nanoseconds since `arm`): queues a
/// census when one is due or asked for and none is queued.
pub fn tick(since: Duration) {
    let now_ns = since.as_nanos() as u64;
    let asked = ASKED.load(Ordering::Relaxed);
    let last_ns = QUEUED_NS.load(Ordering::Relaxed);
    let wanted = asked || due(now_ns, last_ns, SPENT_NS.load(Ordering::Relaxed));
    let armed = CENSUS_FN.lock().map(|f| f.is_some()).unwrap_or(false);
    if !wanted || !armed || closed() || PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    ASKED.store(false, Ordering::Relaxed);
    QUEUED_ASKED.store(asked, Ordering::Relaxed);
    QUEUED_NS.store(now_ns, Ordering::Relaxed);
    // SAFETY: Py_AddPendingCall may be called from any thread, without the
    // GIL or a thread state (its documented purpose); `live_census` is a
    // plain function that lives for the process and ignores its argument.
    if unsafe { pyo3::ffi::Py_AddPendingCall(Some(live_census), std::ptr::null_mut()) } != 0 {
        // The queue was full: at the next tick.
        ASKED.fetch_or(asked, Ordering::Relaxed);
        PENDING.store(false, Ordering::Release);
    } else {
        super::kicker::queued();
    }
}

/// Whether a live census is queued and has not run yet.
pub(super) fn pending() -> bool {
    PENDING.load(Ordering::Acquire)
}

/// Whether a census is due at `now_ns` without being asked for: a second
/// since the last one was queued (at `last_ns`), and live censuses have
/// taken (`spent_ns`) within the budget of the time so far.
fn due(now_ns: u64, last_ns: u64, spent_ns: u64) -> bool {
    now_ns.saturating_sub(last_ns) >= EVERY.as_nanos() as u64
        && spent_ns as f64 <= BUDGET * now_ns as f64
}

/// The censuses so far, and whether one waits for the main thread.
pub fn series() -> LiveObjects {
    let censuses = SERIES.lock().unwrap_or_else(|e| e.into_inner());
    LiveObjects {
        censuses: censuses.iter().cloned().collect(),
        waiting: PENDING.load(Ordering::Relaxed),
        spent_s: SPENT_NS.load(Ordering::Relaxed) as f64 / 1e9,
    }
}

/// Runs in the main thread with the GIL held (a pending call). Always
/// returns 0: a pending call that fails raises in the program.
extern "C" fn live_census(_: *mut std::ffi::c_void) -> std::os::raw::c_int {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: pending calls run with the GIL held by the calling thread.
        let py = unsafe { Python::assume_gil_acquired() };
        let census = CENSUS_FN
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|f| f.clone_ref(py)));
        if let Some(census) = census {
            let (taken, spent) = run_census(py, &census);
            SPENT_NS.fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
            if let Some(mut taken) = taken {
                if QUEUED_ASKED.swap(false, Ordering::Relaxed) {
                    taken.when = "asked".to_owned();
                }
                let mut series = SERIES.lock().unwrap_or_else(|e| e.into_inner());
                if series.len() == KEEP {
                    series.pop_front();
                }
                series.push_back(taken);
            }
        }
    });
    PENDING.store(false, Ordering::Release);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn one_census_a_second_while_within_the_budget() {
        assert!(due(S, 0, 0));
        assert!(!due(S + S / 2, S, 0));
        assert!(due(2 * S, S, 0));
    }

    #[test]
    fn censuses_that_took_more_than_2_percent_of_the_run_wait() {
        // 10 s in, 0.2 s of censuses: at the budget, still due.
        assert!(due(10 * S, 9 * S, S / 5));
        // 0.3 s of censuses: not due until 15 s.
        assert!(!due(10 * S, 9 * S, 3 * S / 10));
        assert!(due(15 * S, 9 * S, 3 * S / 10));
    }
}
