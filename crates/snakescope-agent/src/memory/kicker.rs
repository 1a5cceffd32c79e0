//! The census kicker: on CPython 3.9–3.12, a GIL handover that makes the
//! main thread notice a census queued for it.
//!
//! The censuses near the peak ([`super::census`]) and the live ones
//! ([`super::objects`]) are pending calls (`Py_AddPendingCall`) queued by
//! native threads. 3.9–3.12 do not set the main thread's eval breaker for a
//! pending call queued by another thread (python/cpython#95820): it runs
//! only when the main thread next takes the GIL back, which a CPU-bound
//! program that never releases the GIL does when its main code ends — after
//! its peak is freed. So `snakescope run` starts, on those versions only
//! (`snakescope/_handover.py`), a Python thread of its own that waits here
//! ([`census_kicker_run`]) without the GIL and without cost while nothing is
//! queued; a census still pending one [`TICK`] after it was queued makes it
//! take the GIL and release it at once: the main thread, asked to drop the
//! GIL, takes it back, recomputes its eval breaker and runs the pending call
//! at its next bytecode. One handover per queued census: whether the main
//! thread held the GIL then or not, its next `take_gil` sees the call.
//!
//! A thread that takes the GIL once the interpreter's exit has begun is
//! ended by a forced unwind (`pthread_exit`), which aborts the process when
//! it crosses Rust frames. So [`close`] (`memory_close_censuses`: the
//! program's main code returned) forbids further kicks and waits, with the
//! GIL released, until the kicker has left this module's frames: none is in
//! flight when the exit begins.

use super::{census, objects};
use pyo3::prelude::*;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How long a queued census may wait for the main thread before a kick.
const TICK: Duration = Duration::from_millis(10);

/// The kicker's state, under one lock.
struct Kicker {
    /// No more kicks (the program's main code returned).
    closed: bool,
    /// A thread is in [`census_kicker_run`] (set and cleared with the GIL held
    /// by that thread).
    running: bool,
}

static KICKER: Mutex<Kicker> = Mutex::new(Kicker {
    closed: false,
    running: false,
});
/// Wakes the kicker (a census queued, or closing) and [`close`] (the kicker left).
static WAKE: Condvar = Condvar::new();
/// Censuses queued so far (pending calls), counted by [`queued`].
static QUEUED: AtomicU64 = AtomicU64::new(0);

fn lock() -> std::sync::MutexGuard<'static, Kicker> {
    KICKER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether a census queued with the interpreter has not run yet.
fn pending() -> bool {
    census::pending() || objects::pending()
}

/// A census was queued as a pending call (from the timeline or live thread:
/// a native thread; no GIL, no allocation). Costs a lock and a wake-up of
/// the kicker when one waits, nothing else.
pub(super) fn queued() {
    QUEUED.fetch_add(1, Ordering::Release);
    let kicker = lock();
    if kicker.running {
        WAKE.notify_all();
    }
}

/// Runs in the kicker's own Python thread (`_handover.py`) until [`close`]:
/// waits without the GIL, and hands the GIL over once for every census that
/// waits for the main thread longer than a tick.
#[pyfunction]
pub fn census_kicker_run(py: Python<'_>) {
    {
        let mut kicker = lock();
        if kicker.closed {
            return;
        }
        kicker.running = true;
        // SAFETY: getpid has no preconditions.
        KICKER_PID.store(unsafe { libc::getpid() }, Ordering::Release);
    }
    name_this_thread();
    let mut kicked = QUEUED.load(Ordering::Acquire);
    // Each pass out of `allow_threads` takes the GIL (the kick); the next
    // pass releases it at once.
    while let Some(seen) = py.allow_threads(|| next_kick(kicked)) {
        kicked = seen;
    }
    // Cleared with the GIL held: `close` holds it too until it waits, so it
    // never sees this thread between here and its return into Python.
    lock().running = false;
    WAKE.notify_all();
}

/// Waits (GIL released) for a census that is still pending a tick after it
/// was queued: the count of queued censuses then, or `None` once closed.
fn next_kick(kicked: u64) -> Option<u64> {
    let mut kicker = lock();
    let mut kicked = kicked;
    loop {
        kicker = WAKE
            .wait_while(kicker, |k| {
                !k.closed && QUEUED.load(Ordering::Acquire) == kicked
            })
            .unwrap_or_else(|e| e.into_inner());
        if kicker.closed {
            return None;
        }
        let seen = QUEUED.load(Ordering::Acquire);
        let (guard, _) = WAKE
            .wait_timeout_while(kicker, TICK, |k| !k.closed)
            .unwrap_or_else(|e| e.into_inner());
        kicker = guard;
        if kicker.closed {
            return None;
        }
        if pending() {
            return Some(seen);
        }
        kicked = seen; // it ran by itself: no kick
    }
}

/// Names the calling OS thread `snakescope-census`: snakescope's threads are
/// told from the program's by that prefix (`_run._program_threads`).
fn name_this_thread() {
    const NAME: &[u8] = b"snakescope-census\0";
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes
    // (longer ones are cut) from a static buffer; it renames this thread only.
    unsafe { libc::prctl(libc::PR_SET_NAME, NAME.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

/// No more kicks: the program's main code returned (`memory_close_censuses`,
/// GIL held). Returns once the kicker thread, if any, has left
/// [`census_kicker_run`]: it waits with the GIL released (the kicker may be
/// waiting for it to finish a kick). A forked child has no kicker thread and
/// does not touch the lock (another thread may have held it at the fork).
pub(super) fn close(py: Python<'_>) {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let running = {
        let mut kicker = lock_unless_forked(me);
        let Some(kicker) = kicker.as_mut() else {
            return;
        };
        kicker.closed = true;
        kicker.running
    };
    WAKE.notify_all();
    if running {
        py.allow_threads(|| {
            let kicker = lock();
            let _left = WAKE
                .wait_while(kicker, |k| k.running)
                .unwrap_or_else(|e| e.into_inner());
        });
    }
}

/// The kicker's lock, unless this is a forked child of the process the
/// kicker ran in (`None` then; see [`close`]).
fn lock_unless_forked(me: i32) -> Option<std::sync::MutexGuard<'static, Kicker>> {
    let ran_in = KICKER_PID.load(Ordering::Acquire);
    (ran_in == 0 || ran_in == me).then(lock)
}

/// The process a kicker ran in (0: none yet), readable without the lock (a
/// forked child has no kicker thread).
static KICKER_PID: AtomicI32 = AtomicI32::new(0);
