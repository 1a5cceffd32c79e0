//! The interpreter's C-level profile hook, shared by the deterministic modes.
//!
//! A thread has one profile function; both `--exact` (every call, cProfile's
//! accounting) and, on 3.11, the line profiler (which switches line tracing
//! on only inside the selected functions) need it. One hook serves both and
//! asks each mode that is on. Before 3.12 the line timer also switches the
//! thread's trace hook, and this one, on and off ([`line_switch`]).

mod line_switch;

pub use line_switch::refresh as refresh_lines;

use crate::cpython::{
    set_profile, symbol, thread_states, SetProfile, SetProfileThread, TraceFunc, FREE_THREADED,
    PY_TRACE_CALL, PY_TRACE_C_CALL, PY_TRACE_C_RETURN, PY_TRACE_RETURN,
};
use crate::modes::{any_mode, EXACT, LINES};
use crate::{chain, exact};
use pyo3::ffi;
use pyo3::prelude::*;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// A frame whose 'call' event the program's profile function failed:
    /// its 'return' (which not every version sends) is not recorded again.
    static FAILED_CALL: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The profile hook: lsprof's accounting and/or the line profiler's switch,
/// then the program's own profile function `obj` (see [`crate::chain`]).
/// Time in the program's function counts as time of the function whose
/// event it handles (entered before it runs, left after).
pub unsafe extern "C" fn hook(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    if !any_mode() {
        if obj.is_null() {
            // Left on after a stop (other threads are not touched then: that
            // would remove the program's functions too, and 3.13t crashes when
            // a running thread's profile function is removed under it): it
            // takes itself off at its next event.
            if let Some(set) = set_profile() {
                // SAFETY: on the interpreter's own thread with the GIL held (it
                // called us); removing the hook from inside it is what
                // `sys.setprofile(None)` in a profile function does.
                unsafe { set(None, std::ptr::null_mut()) };
            }
            return 0;
        }
        // SAFETY: forwarded unchanged from the interpreter.
        return unsafe { chain::profile(obj, frame, what, arg, reinstall_profile) };
    }
    if LINES.load(Ordering::Relaxed) {
        // The 3.11 line timer reinstalls this hook with the program's object.
        chain::seen_profile(obj);
    }
    if obj.is_null() {
        // No program function: the measurements only.
        // SAFETY: forwarded unchanged from the interpreter (GIL held, live frame and arg).
        unsafe { measure(frame, what, arg) };
        return 0;
    }
    if what == PY_TRACE_CALL || what == PY_TRACE_C_CALL {
        FAILED_CALL.with(|f| f.set(0));
        // SAFETY: forwarded unchanged from the interpreter (GIL held, live frame and arg).
        unsafe { measure(frame, what, arg) };
        // SAFETY: as above.
        let status = unsafe { chain::profile(obj, frame, what, arg, reinstall_profile) };
        if status != 0 && what == PY_TRACE_CALL {
            // The frame ends here; not every version sends its return.
            // SAFETY: as above.
            unsafe { measure(frame, PY_TRACE_RETURN, arg) };
            FAILED_CALL.with(|f| f.set(frame as usize));
        } else if status != 0 {
            // The C function is not called, and no c_return follows.
            // SAFETY: as above.
            unsafe { measure(frame, PY_TRACE_C_RETURN, arg) };
        }
        return status;
    }
    // SAFETY: as above.
    let status = unsafe { chain::profile(obj, frame, what, arg, reinstall_profile) };
    if what == PY_TRACE_RETURN && FAILED_CALL.with(|f| f.replace(0)) == frame as usize {
        return status;
    }
    // SAFETY: as above.
    unsafe { measure(frame, what, arg) };
    status
}

/// The measurements' part of a profile event.
///
/// # Safety
/// As [`hook`]'s arguments.
unsafe fn measure(frame: *mut ffi::PyFrameObject, what: c_int, arg: *mut ffi::PyObject) {
    if EXACT.load(Ordering::Relaxed) {
        if FREE_THREADED {
            // SAFETY: forwarded unchanged from the interpreter (this thread's
            // live frame and arg).
            unsafe { exact::on_event_free_threaded(frame, what, arg) };
        } else {
            // SAFETY: forwarded unchanged from the interpreter (GIL held, live frame and arg).
            unsafe { exact::on_event(frame, what, arg) };
        }
    }
    if LINES.load(Ordering::Relaxed) && (what == PY_TRACE_CALL || what == PY_TRACE_RETURN) {
        // SAFETY: as above.
        unsafe { line_switch::on_profile_event(frame, what) };
    }
}

/// Sets this thread's profile hook for the program's current function
/// ([`chain::program_profile`]): ours while a measurement runs (the
/// 3.11 line timer decides with its own state), else none (the program's
/// function failed, as CPython then removes it).
pub fn reinstall_profile() {
    if LINES.load(Ordering::Relaxed) {
        line_switch::refresh();
        return;
    }
    if let Some(set) = set_profile() {
        let obj = chain::program_profile();
        // SAFETY: on this thread (called from our hooks or built-ins, GIL
        // held); the hook lives for the whole process.
        unsafe {
            if any_mode() {
                set(Some(hook), obj);
            } else {
                set(None, std::ptr::null_mut());
            }
        }
    }
}

/// Sets (or, with `None`, removes) the profile hook on every existing thread:
/// one call on 3.12+, each thread state in turn on 3.11.
fn set_everywhere(_py: Python<'_>, func: Option<TraceFunc>) -> PyResult<()> {
    if let Some(all) = symbol::<SetProfile>("PyEval_SetProfileAllThreads") {
        // SAFETY: the `Python` token proves the GIL is held; the hook has the
        // C signature CPython expects and lives for the whole process.
        unsafe { all(func, std::ptr::null_mut()) };
        return Ok(());
    }
    let Some(per_thread) = symbol::<SetProfileThread>("_PyEval_SetProfile") else {
        // 3.8: only the calling thread can be reached; the others get it at
        // their next event through `threading.setprofile` (new threads) or
        // not at all (threads already running, as with cProfile there).
        let set = set_profile().ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("this interpreter has no profile hook API")
        })?;
        // SAFETY: GIL held (the token); the hook lives for the whole process.
        unsafe { set(func, std::ptr::null_mut()) };
        return Ok(());
    };
    // SAFETY: GIL held (see above); each thread state is live during the walk.
    for tstate in unsafe { thread_states() } {
        // SAFETY: as above.
        unsafe { per_thread(tstate, func, std::ptr::null_mut()) };
    }
    Ok(())
}

/// Turns a mode's use of the hook on or off, installing the hook on every
/// thread when the first mode needs it and removing it when the last stops.
pub fn set_mode(py: Python<'_>, mode: &AtomicBool, on: bool) -> PyResult<()> {
    if on && FREE_THREADED && std::ptr::eq(mode, &LINES) {
        // The 3.11 line switch relies on the GIL serialising the hooks (no
        // free-threaded build lacks sys.monitoring, which lines use instead).
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "line timing through the trace hook needs a GIL",
        ));
    }
    let before = EXACT.load(Ordering::Relaxed) || LINES.load(Ordering::Relaxed);
    mode.store(on, Ordering::SeqCst);
    let after = EXACT.load(Ordering::Relaxed) || LINES.load(Ordering::Relaxed);
    if after && !before {
        chain::seen_profile(std::ptr::null_mut());
        set_everywhere(py, Some(hook as TraceFunc))?;
    }
    // Off: each thread takes the hook off itself at its next event (or keeps
    // it to call the program's own profile function), see `hook`.
    Ok(())
}

/// Installs the hook on the calling thread (a thread started after a mode
/// began; `threading.setprofile` calls this on the thread's first event).
#[pyfunction]
pub fn exact_install_current(_py: Python<'_>) {
    if !(EXACT.load(Ordering::Relaxed) || LINES.load(Ordering::Relaxed)) {
        return;
    }
    if let Some(set) = set_profile() {
        // SAFETY: GIL held; the hook lives for the whole process.
        unsafe { set(Some(hook), std::ptr::null_mut()) };
    }
}

/// How many thread states the interpreter has (a built-in call, so asking
/// records no Python-level calls in the profile).
#[pyfunction]
pub fn thread_count(py: Python<'_>) -> usize {
    if FREE_THREADED {
        // No GIL guards the interpreter's list of thread states there (its
        // lock is internal): count the threads `threading` knows, read as
        // attributes (no Python-level call either).
        return py
            .import("sys")
            .and_then(|sys| sys.getattr("modules"))
            .and_then(|m| m.get_item("threading"))
            .and_then(|t| t.getattr("_active"))
            .and_then(|a| a.len())
            .unwrap_or(1);
    }
    // SAFETY: the `Python` token proves the GIL is held.
    unsafe { thread_states() }.len()
}
