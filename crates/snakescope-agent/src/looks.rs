//! The pace of `advise`'s operand sampler (`_advise/_operands.py`), and
//! where its looks run.
//!
//! A look reads the program's frames, so it needs the GIL. Taken by the
//! sampler's own Python thread, every look is a GIL handover away from a
//! running program (and back), which on a 2-CPU VM cost the program far more
//! than the look's own work. So while the main thread is on a CPU, the look
//! runs *in* it, as a pending call between two bytecodes
//! (`Py_AddPendingCall`, as the memory censuses do): no handover at all.
//! A main thread that is off the CPU (blocked in a system call: the waiting
//! sampler's evidence is taken then) or that has not reached a bytecode for
//! two intervals (in C code without the GIL) is looked at from the sampler's
//! thread, as before: the GIL is free or cheap to take then.
//!
//! [`looks_wait`] is that thread's loop: it sleeps without the GIL, queues
//! the pending looks, and returns when the thread should look itself (or
//! `false` once [`looks_stop`] was called). A pending look that was
//! overtaken by the thread's own look does nothing.

use pyo3::prelude::*;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The look to run (`() -> None`), and whether looks are over. One lock:
/// once [`looks_stop`] returns, no pending call is queued any more (3.8
/// fails a pending call queued once the interpreter's exit has begun).
struct Looks {
    callback: Option<Py<PyAny>>,
    stopped: bool,
}

static LOOKS: Mutex<Looks> = Mutex::new(Looks {
    callback: None,
    stopped: true,
});
/// Wakes [`looks_wait`] when the looks stop: its thread then leaves before
/// the interpreter's exit (a daemon thread that takes the GIL back during
/// the exit is ended by a forced unwind, which must not cross Rust frames).
static WAKE: Condvar = Condvar::new();
/// A pending look is queued and has not run yet.
static PENDING: AtomicBool = AtomicBool::new(false);
/// Ticks so far, the tick the pending look was queued at, and the last tick
/// the sampler's thread looked itself.
static TICK: AtomicU64 = AtomicU64::new(0);
static QUEUED_AT: AtomicU64 = AtomicU64::new(0);
static THREAD_LOOKED_AT: AtomicU64 = AtomicU64::new(0);
/// Ticks a queued look may wait for the main thread before the sampler's
/// thread looks itself.
const PATIENCE: u64 = 2;

/// Arms the looks: `callback` is what a pending look calls in the main thread.
#[pyfunction]
pub fn looks_arm(callback: Py<PyAny>) {
    let mut looks = LOOKS.lock().unwrap_or_else(|e| e.into_inner());
    looks.callback = Some(callback);
    looks.stopped = false;
    TICK.store(0, Ordering::Relaxed);
    THREAD_LOOKED_AT.store(0, Ordering::Relaxed);
}

/// No more looks (the program's main code returned, or the operands are
/// being written). A look already queued finds no callback.
#[pyfunction]
pub fn looks_stop(py: Python<'_>) {
    let callback = {
        let mut looks = LOOKS.lock().unwrap_or_else(|e| e.into_inner());
        looks.stopped = true;
        looks.callback.take()
    };
    WAKE.notify_all();
    drop(callback); // (the GIL is held: `py`)
    let _ = py;
}

/// Sleeps without the GIL, the first `early` ticks
/// `early_s` apart; each tick queues a look in the main thread (native id
/// `main_tid`) while it runs. Returns `true` when the calling thread should
/// look itself, `false` once the looks are stopped.
#[pyfunction]
pub fn looks_wait(py: Python<'_>, main_tid: i32, early_s: f64, early: u64, later_s: f64) -> bool {
    let state = File::open(format!("/proc/self/task/{main_tid}/stat")).ok();
    py.allow_threads(|| loop {
        let tick = TICK.fetch_add(1, Ordering::Relaxed) + 1;
        let pause = if tick <= early { early_s } else { later_s };
        let pause = Duration::from_secs_f64(pause.max(0.001));
        let looks = LOOKS.lock().unwrap_or_else(|e| e.into_inner());
        let (looks, _) = WAKE
            .wait_timeout_while(looks, pause, |l| !l.stopped)
            .unwrap_or_else(|e| e.into_inner());
        if looks.stopped {
            return false;
        }
        let waited = PENDING.load(Ordering::Acquire)
            && tick.saturating_sub(QUEUED_AT.load(Ordering::Relaxed)) >= PATIENCE;
        if waited || !on_cpu(state.as_ref()) {
            THREAD_LOOKED_AT.store(tick, Ordering::Relaxed);
            return true;
        }
        if !PENDING.swap(true, Ordering::AcqRel) {
            QUEUED_AT.store(tick, Ordering::Relaxed);
            // SAFETY: Py_AddPendingCall may be called from any thread,
            // without the GIL or a thread state (its documented purpose);
            // `pending_look` is a plain function that lives for the process
            // and ignores its argument. The lock held makes it impossible
            // after `looks_stop` (see `Looks`).
            let full =
                unsafe { pyo3::ffi::Py_AddPendingCall(Some(pending_look), std::ptr::null_mut()) };
            if full != 0 {
                PENDING.store(false, Ordering::Release); // the queue was full: next tick
            }
        }
    })
}

/// Whether the thread whose `/proc/self/task/TID/stat` is `state` is
/// running or runnable (`R`). Unknown (no /proc) counts as not: the
/// sampler's thread then looks itself, as it always did.
fn on_cpu(state: Option<&File>) -> bool {
    let Some(file) = state else { return false };
    let mut buf = [0u8; 512];
    let Ok(n) = file.read_at(&mut buf, 0) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')' (comm may hold any).
    let text = &buf[..n];
    match text.iter().rposition(|&b| b == b')') {
        Some(end) => text.get(end + 2) == Some(&b'R'),
        None => false,
    }
}

/// Runs in the main thread with the GIL held (a pending call). Always
/// returns 0: a pending call that fails raises in the program.
extern "C" fn pending_look(_: *mut std::ffi::c_void) -> std::os::raw::c_int {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: pending calls run with the GIL held by the calling thread.
        let py = unsafe { Python::assume_gil_acquired() };
        let overtaken =
            THREAD_LOOKED_AT.load(Ordering::Relaxed) >= QUEUED_AT.load(Ordering::Relaxed);
        let callback = LOOKS
            .lock()
            .ok()
            .and_then(|l| l.callback.as_ref().map(|c| c.clone_ref(py)));
        if let (Some(callback), false) = (callback, overtaken) {
            // A look that fails is a fact less, never the program's failure
            // (the error is dropped, so nothing is left set).
            let _ = callback.call0(py);
        }
    });
    PENDING.store(false, Ordering::Release);
    0
}

#[cfg(test)]
mod tests {
    use super::on_cpu;
    use std::io::Write;

    fn stat_file(text: &str) -> std::fs::File {
        let mut f = tempfile_in_tmp();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn tempfile_in_tmp() -> std::fs::File {
        let path = std::env::temp_dir().join(format!(
            "looks-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let _ = std::fs::remove_file(&path);
        f
    }

    #[test]
    fn state_follows_the_last_paren() {
        assert!(on_cpu(Some(&stat_file("12 (a) b) R 1 2 3"))));
        assert!(!on_cpu(Some(&stat_file("12 (R) S 1 2 3"))));
        assert!(!on_cpu(Some(&stat_file("garbage"))));
        assert!(!on_cpu(None));
    }

    #[test]
    fn this_thread_is_on_a_cpu() {
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() };
        let f = std::fs::File::open(format!("/proc/self/task/{me}/stat")).unwrap();
        assert!(on_cpu(Some(&f)));
    }
}
