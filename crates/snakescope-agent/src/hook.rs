//! The interpreter's C-level profile hook, shared by the deterministic modes.
//!
//! A thread has one profile function; both `--exact` (every call, cProfile's
//! accounting) and, on 3.11, the line profiler (which switches line tracing
//! on only inside the selected functions) need it. One hook serves both and
//! asks each mode that is on.

use crate::{exact, lines};
use pyo3::ffi;
use pyo3::prelude::*;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};

pub const PY_TRACE_CALL: c_int = 0;
pub const PY_TRACE_LINE: c_int = 2;
pub const PY_TRACE_RETURN: c_int = 3;
pub const PY_TRACE_C_CALL: c_int = 4;
pub const PY_TRACE_C_EXCEPTION: c_int = 5;
pub const PY_TRACE_C_RETURN: c_int = 6;

pub type TraceFunc = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *mut ffi::PyFrameObject,
    c_int,
    *mut ffi::PyObject,
) -> c_int;
pub type SetProfile = unsafe extern "C" fn(Option<TraceFunc>, *mut ffi::PyObject);
type SetProfileThread =
    unsafe extern "C" fn(*mut ffi::PyThreadState, Option<TraceFunc>, *mut ffi::PyObject) -> c_int;

// Not in the limited API that pyo3's abi3 bindings cover, but exported by
// every CPython 3.8+ (the extension is loaded into the interpreter itself).
extern "C" {
    pub fn PyFrame_GetCode(frame: *mut ffi::PyFrameObject) -> *mut ffi::PyObject;
    fn PyInterpreterState_Get() -> *mut ffi::PyInterpreterState;
    fn PyInterpreterState_ThreadHead(
        interp: *mut ffi::PyInterpreterState,
    ) -> *mut ffi::PyThreadState;
    fn PyThreadState_Next(tstate: *mut ffi::PyThreadState) -> *mut ffi::PyThreadState;
}

/// `--exact` is recording.
pub static EXACT: AtomicBool = AtomicBool::new(false);
/// The 3.11 line profiler is switching tracing on and off.
pub static LINES: AtomicBool = AtomicBool::new(false);

/// The profile hook: lsprof's accounting and/or the line profiler's switch.
pub unsafe extern "C" fn hook(
    _obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    if EXACT.load(Ordering::Relaxed) {
        // SAFETY: forwarded unchanged from the interpreter (GIL held, live frame and arg).
        unsafe { exact::on_event(frame, what, arg) };
    }
    if LINES.load(Ordering::Relaxed) && (what == PY_TRACE_CALL || what == PY_TRACE_RETURN) {
        // SAFETY: as above.
        return unsafe { lines::on_profile_event(frame, what) };
    }
    0
}

pub fn symbol<T>(name: &str) -> Option<T> {
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: dlsym with RTLD_DEFAULT only looks a name up in the loaded
    // objects; the result is transmuted to the C signature CPython declares
    // for that exported name.
    unsafe {
        let p = libc::dlsym(libc::RTLD_DEFAULT, cname.as_ptr());
        (!p.is_null()).then(|| std::mem::transmute_copy::<*mut libc::c_void, T>(&p))
    }
}

/// The interpreter's thread states.
///
/// # Safety
/// The GIL must be held, so the list cannot change while it is walked.
pub unsafe fn thread_states() -> Vec<*mut ffi::PyThreadState> {
    let mut states = Vec::new();
    // SAFETY: per the contract, the GIL is held; every state in the list is live.
    unsafe {
        let mut tstate = PyInterpreterState_ThreadHead(PyInterpreterState_Get());
        while !tstate.is_null() {
            states.push(tstate);
            tstate = PyThreadState_Next(tstate);
        }
    }
    states
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
    let per_thread = symbol::<SetProfileThread>("_PyEval_SetProfile").ok_or_else(|| {
        pyo3::exceptions::PyRuntimeError::new_err("this interpreter has no profile hook API")
    })?;
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
    let before = EXACT.load(Ordering::Relaxed) || LINES.load(Ordering::Relaxed);
    mode.store(on, Ordering::Relaxed);
    let after = EXACT.load(Ordering::Relaxed) || LINES.load(Ordering::Relaxed);
    if before != after {
        set_everywhere(py, after.then_some(hook as TraceFunc))?;
    }
    Ok(())
}

/// Installs the hook on the calling thread (a thread started after a mode
/// began; `threading.setprofile` calls this on the thread's first event).
#[pyfunction]
pub fn exact_install_current(_py: Python<'_>) {
    if !(EXACT.load(Ordering::Relaxed) || LINES.load(Ordering::Relaxed)) {
        return;
    }
    if let Some(set) = symbol::<SetProfile>("PyEval_SetProfile") {
        // SAFETY: GIL held; the hook lives for the whole process.
        unsafe { set(Some(hook), std::ptr::null_mut()) };
    }
}

/// How many thread states the interpreter has (a built-in call, so asking
/// records no Python-level calls in the profile).
#[pyfunction]
pub fn thread_count(_py: Python<'_>) -> usize {
    // SAFETY: the `Python` token proves the GIL is held.
    unsafe { thread_states() }.len()
}
