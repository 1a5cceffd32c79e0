//! The heap census near the peak.
//!
//! A census (objects by type, the garbage collector's view) needs the GIL and
//! walks every object (about 1 µs each: 0.5 s for 600,000 objects), so it
//! cannot run inside an allocation hook, nor often. The timeline thread asks
//! for one when the peak has stood still for 100 ms with the heap still
//! within 2 % of it (two sample weights when sampling) (a plateau: the usual
//! shape of "load, work, free"), above 16 MiB, at least a tenth above the
//! heap of the last census, and while automatic censuses have taken under
//! 5 % of the run so far. It then asks the interpreter, with
//! `Py_AddPendingCall`, to run `peak_census` in the main thread between two
//! bytecodes (on 3.9–3.12 the census kicker makes the main thread notice it:
//! [`super::kicker`]). Each census replaces the previous one, so the capture keeps
//! the last, with its time and the heap size then.

use super::kicker;
use super::live::LIVE;
use super::recording::{pause_this_thread, resume_this_thread, INTERVAL};
use super::ACTIVE;
use pyo3::prelude::*;
use snakescope_model::{Census, CensusRow};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PEAK_CENSUS_MIN_BYTES: f64 = 16.0 * 1024.0 * 1024.0;
/// Automatic censuses may take this share of the run's time so far.
const PEAK_CENSUS_BUDGET: f64 = 0.05;
/// Nanoseconds spent in automatic censuses.
static CENSUS_SPENT_NS: AtomicU64 = AtomicU64::new(0);
/// The peak has grown enough for another census.
static CENSUS_WANTED: AtomicBool = AtomicBool::new(false);
/// A census is running (the sampler takes no samples meanwhile).
pub static CENSUS_RUNNING: AtomicBool = AtomicBool::new(false);
/// A census is queued with the interpreter and has not run yet.
static CENSUS_PENDING: AtomicBool = AtomicBool::new(false);
/// The tracked peak so far (an `f64`'s bits), for the timeline thread.
static PEAK: AtomicU64 = AtomicU64::new(0);
/// Tracked live bytes at the last census (an `f64`'s bits).
static CENSUS_LEVEL: AtomicU64 = AtomicU64::new(0);
/// `() -> (when, t, [(type name, count, bytes)])`: the census
/// (`_memory.census_rows`), from `memory_start`.
static CENSUS_FN: Mutex<Option<Py<PyAny>>> = Mutex::new(None);
/// The last census taken near the peak (JSON from `CENSUS_FN`).
static PEAK_CENSUS: Mutex<Option<Census>> = Mutex::new(None);

/// No more censuses near the peak: the program's main code has returned and
/// the interpreter is about to exit. On 3.8, `Py_AddPendingCall` once
/// finalization has begun (which is before the `atexit` functions, ours
/// included) sets and prints a `SystemError` on the thread state of
/// whichever thread holds the GIL — from our timeline thread, the main
/// thread's, in the middle of the exit census: its next call fails ("returned
/// a result with an error set") or the process crashes.
static CENSUS_CLOSED: AtomicBool = AtomicBool::new(false);

/// A new peak of `bytes` (from the record path, state lock held).
#[inline]
pub(super) fn note_peak(bytes: f64) {
    PEAK.store(bytes.to_bits(), Ordering::Relaxed);
}

/// A new tracking session: `census` (`() -> str`) takes the censuses near
/// the peak (none when `None`); nothing censused yet.
pub(super) fn reset(census: Option<Py<PyAny>>) {
    *CENSUS_FN.lock().expect("census function") = census;
    *PEAK_CENSUS.lock().expect("peak census") = None;
    CENSUS_LEVEL.store(0f64.to_bits(), Ordering::Relaxed);
    PEAK.store(0f64.to_bits(), Ordering::Relaxed);
    CENSUS_SPENT_NS.store(0, Ordering::Relaxed);
    CENSUS_WANTED.store(false, Ordering::Relaxed);
    CENSUS_CLOSED.store(false, Ordering::Relaxed);
}

/// Closes the automatic census near the peak for the rest of this tracking
/// (see [`CENSUS_CLOSED`]).
pub(super) fn close() {
    CENSUS_CLOSED.store(true, Ordering::Relaxed);
}

/// What the plateau rule looks at, at one tick of the timeline thread.
#[derive(Clone, Copy, Debug)]
struct Levels {
    /// The tracked peak so far.
    peak: f64,
    /// Tracked live bytes now.
    live: f64,
    /// Tracked live bytes at the last census.
    censused: f64,
    /// Nanoseconds spent in automatic censuses so far.
    spent_ns: f64,
    /// Mean bytes between samples (0: exact).
    interval: f64,
}

impl Levels {
    fn now() -> Levels {
        Levels {
            peak: f64::from_bits(PEAK.load(Ordering::Relaxed)),
            live: LIVE.load(Ordering::Relaxed) as f64,
            censused: f64::from_bits(CENSUS_LEVEL.load(Ordering::Relaxed)),
            spent_ns: CENSUS_SPENT_NS.load(Ordering::Relaxed) as f64,
            interval: INTERVAL.load(Ordering::Relaxed) as f64,
        }
    }
}

/// The timeline thread's view of the peak: `(peak, since when it stands)`.
pub(super) struct PeakWatch(f64, Instant);

impl PeakWatch {
    pub(super) fn new(now: Instant) -> PeakWatch {
        PeakWatch(0.0, now)
    }

    /// A plateau at the peak, not yet censused, asks for a census
    /// (`started`: when tracking started, for the time budget).
    pub(super) fn check(&mut self, now: Instant, started: Instant) {
        if self.wants_census(Levels::now(), now, started) {
            CENSUS_WANTED.store(true, Ordering::Relaxed);
        }
    }

    /// The plateau rule: whether the levels at `now` ask for a census.
    fn wants_census(&mut self, l: Levels, now: Instant, started: Instant) -> bool {
        if l.peak != self.0 {
            *self = PeakWatch(l.peak, now);
            return false;
        }
        // "Still at the peak": within 2 %, or, when sampling, within two
        // sample weights (one sampled block freed moves the estimate by
        // about an interval, 512 KiB by default).
        l.peak >= PEAK_CENSUS_MIN_BYTES
            && now.duration_since(self.1) >= Duration::from_millis(100)
            && l.live >= l.peak - (0.02 * l.peak).max(2.0 * l.interval)
            && l.censused < l.peak / 1.1
            && l.spent_ns <= PEAK_CENSUS_BUDGET * now.duration_since(started).as_nanos() as f64
    }
}

/// Queues a census with the interpreter when the peak asked for one.
pub(super) fn request_census() {
    if !CENSUS_WANTED.load(Ordering::Relaxed)
        || CENSUS_CLOSED.load(Ordering::Relaxed)
        || CENSUS_PENDING.swap(true, Ordering::AcqRel)
    {
        return;
    }
    // SAFETY: Py_AddPendingCall may be called from any thread, without the
    // GIL or a thread state (its documented purpose); `peak_census` is a
    // plain function that lives for the process and ignores its argument.
    if unsafe { pyo3::ffi::Py_AddPendingCall(Some(peak_census), std::ptr::null_mut()) } != 0 {
        CENSUS_PENDING.store(false, Ordering::Release); // the queue was full: next tick
    } else {
        kicker::queued();
    }
}

/// Whether a census near the peak is queued and has not run yet.
pub(super) fn pending() -> bool {
    CENSUS_PENDING.load(Ordering::Acquire)
}

/// Runs in the main thread with the GIL held (a pending call). Always
/// returns 0: a pending call that fails raises in the program.
extern "C" fn peak_census(_: *mut std::ffi::c_void) -> std::os::raw::c_int {
    let taken = std::panic::catch_unwind(|| {
        // SAFETY: pending calls run with the GIL held by the calling thread.
        let py = unsafe { Python::assume_gil_acquired() };
        take_census(py);
    });
    CENSUS_PENDING.store(false, Ordering::Release);
    if taken.is_err() {
        // A panic mid-census: tracking goes off (as after any failure
        // inside the agent), but the CPU sampler must not stay paused.
        ACTIVE.store(false, Ordering::Relaxed);
        CENSUS_RUNNING.store(false, Ordering::Relaxed);
        CENSUS_WANTED.store(false, Ordering::Relaxed);
    }
    0
}

/// The census near the peak (GIL held), kept as the last one.
fn take_census(py: Python<'_>) {
    CENSUS_WANTED.store(false, Ordering::Relaxed);
    let Some(census) = CENSUS_FN
        .lock()
        .ok()
        .and_then(|f| f.as_ref().map(|f| f.clone_ref(py)))
    else {
        return;
    };
    let heap = LIVE.load(Ordering::Relaxed).max(0) as u64;
    CENSUS_LEVEL.store((heap as f64).to_bits(), Ordering::Relaxed);
    let (taken, spent) = run_census(py, &census);
    CENSUS_SPENT_NS.fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
    if let (Some(taken), Ok(mut last)) = (taken, PEAK_CENSUS.lock()) {
        *last = Some(taken);
    }
}

/// Runs `census` (`() -> CensusRows`, GIL held) while tracking is on: the
/// census and the time it took (none when tracking is off, or it failed:
/// the program is not disturbed). The census's own objects are not the
/// program's: this thread's allocations are not recorded meanwhile (frees,
/// and other threads' allocations, still are), and the CPU sampler takes
/// no sample of the pause ([`CENSUS_RUNNING`]).
pub(super) fn run_census(py: Python<'_>, census: &Py<PyAny>) -> (Option<Census>, Duration) {
    if !ACTIVE.load(Ordering::Relaxed) || CENSUS_CLOSED.load(Ordering::Relaxed) {
        return (None, Duration::ZERO);
    }
    let heap = LIVE.load(Ordering::Relaxed).max(0) as u64;
    let previous = pause_this_thread();
    CENSUS_RUNNING.store(true, Ordering::Relaxed);
    let began = Instant::now();
    let taken = census
        .call0(py)
        .and_then(|v| v.extract::<CensusRows>(py))
        .map(into_census);
    let spent = began.elapsed();
    CENSUS_RUNNING.store(false, Ordering::Relaxed);
    resume_this_thread(previous);
    let taken = taken.ok().map(|mut c| {
        c.heap_bytes = Some(heap);
        c
    });
    (taken, spent)
}

/// Whether censuses may no longer be queued (see [`CENSUS_CLOSED`]).
pub(super) fn closed() -> bool {
    CENSUS_CLOSED.load(Ordering::Relaxed)
}

/// The last census taken near the peak, with the tracked heap then.
pub fn take_peak_census() -> Option<Census> {
    PEAK_CENSUS.lock().ok().and_then(|mut c| c.take())
}

/// A census as `_memory.census_rows` gives it: when, seconds from the
/// start, (type name, count, bytes) per type, whether it is an estimate,
/// and for the native census the references visited and one in how many
/// untracked objects was counted.
pub type CensusRows = (
    String,
    f64,
    Vec<(String, i64, i64)>,
    bool,
    Option<(u64, u64)>,
);

/// The capture's census of `rows` (the tracked heap unknown).
pub fn into_census((when, t, rows, estimated, native): CensusRows) -> Census {
    let types = rows
        .into_iter()
        .map(|(type_name, count, bytes)| CensusRow {
            type_name,
            count,
            bytes,
        })
        .collect();
    Census {
        when,
        t,
        heap_bytes: None,
        types,
        estimated,
        visited: native.map(|n| n.0),
        sampled_one_in: native.map(|n| n.1).filter(|&k| k > 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    fn levels(peak: f64, live: f64) -> Levels {
        Levels {
            peak,
            live,
            censused: 0.0,
            spent_ns: 0.0,
            interval: 0.0,
        }
    }

    /// A watch that has seen `peak` stand since `since`.
    fn watching(peak: f64, since: Instant) -> PeakWatch {
        let mut w = PeakWatch::new(since);
        assert!(!w.wants_census(levels(peak, peak), since, since));
        w
    }

    #[test]
    fn a_plateau_of_100_ms_at_the_peak_asks_for_a_census() {
        let t0 = Instant::now();
        let mut w = watching(64.0 * MIB, t0);
        let l = levels(64.0 * MIB, 64.0 * MIB);
        assert!(!w.wants_census(l, t0 + Duration::from_millis(99), t0));
        assert!(w.wants_census(l, t0 + Duration::from_millis(100), t0));
    }

    #[test]
    fn a_peak_that_moves_starts_the_plateau_again() {
        let t0 = Instant::now();
        let mut w = watching(64.0 * MIB, t0);
        let later = t0 + Duration::from_millis(150);
        assert!(!w.wants_census(levels(65.0 * MIB, 65.0 * MIB), later, t0));
        let l = levels(65.0 * MIB, 65.0 * MIB);
        assert!(!w.wants_census(l, later + Duration::from_millis(99), t0));
        assert!(w.wants_census(l, later + Duration::from_millis(100), t0));
    }

    #[test]
    fn the_heap_must_still_be_within_2_percent_of_the_peak() {
        let t0 = Instant::now();
        let at = t0 + Duration::from_millis(200);
        let peak = 100.0 * MIB;
        let mut w = watching(peak, t0);
        assert!(w.wants_census(levels(peak, 0.985 * peak), at, t0));
        assert!(!w.wants_census(levels(peak, 0.97 * peak), at, t0));
    }

    #[test]
    fn when_sampling_two_sample_weights_below_the_peak_still_count() {
        let t0 = Instant::now();
        let at = t0 + Duration::from_millis(200);
        let peak = 20.0 * MIB;
        let mut w = watching(peak, t0);
        let mut l = levels(peak, peak - 1.0 * MIB);
        l.interval = 512.0 * 1024.0;
        assert!(w.wants_census(l, at, t0));
        l.live = peak - 1.1 * MIB;
        assert!(!w.wants_census(l, at, t0));
    }

    #[test]
    fn small_heaps_are_not_censused() {
        let t0 = Instant::now();
        let at = t0 + Duration::from_secs(1);
        let mut w = watching(15.0 * MIB, t0);
        assert!(!w.wants_census(levels(15.0 * MIB, 15.0 * MIB), at, t0));
        let mut w = watching(16.0 * MIB, t0);
        assert!(w.wants_census(levels(16.0 * MIB, 16.0 * MIB), at, t0));
    }

    #[test]
    fn a_new_census_needs_a_tenth_more_than_the_last() {
        let t0 = Instant::now();
        let at = t0 + Duration::from_secs(1);
        let peak = 110.0 * MIB;
        let mut w = watching(peak, t0);
        let mut l = levels(peak, peak);
        l.censused = 101.0 * MIB;
        assert!(!w.wants_census(l, at, t0));
        l.censused = 99.0 * MIB;
        assert!(w.wants_census(l, at, t0));
    }

    #[test]
    fn censuses_stay_within_5_percent_of_the_run() {
        let t0 = Instant::now();
        let at = t0 + Duration::from_secs(10);
        let mut w = watching(64.0 * MIB, t0);
        let mut l = levels(64.0 * MIB, 64.0 * MIB);
        l.spent_ns = 0.49e9;
        assert!(w.wants_census(l, at, t0));
        l.spent_ns = 0.51e9;
        assert!(!w.wants_census(l, at, t0));
    }
}
