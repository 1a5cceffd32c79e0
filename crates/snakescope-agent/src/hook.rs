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
// Functions some supported versions lack (`PyFrame_GetCode` and the public
// `PyInterpreterState_Get` are 3.9+) are looked up at run time instead, so
// that the module loads on 3.8 too.
extern "C" {
    fn PyInterpreterState_ThreadHead(
        interp: *mut ffi::PyInterpreterState,
    ) -> *mut ffi::PyThreadState;
    fn PyThreadState_Next(tstate: *mut ffi::PyThreadState) -> *mut ffi::PyThreadState;
}

type GetCode = unsafe extern "C" fn(*mut ffi::PyFrameObject) -> *mut ffi::PyObject;
type GetInterpreter = unsafe extern "C" fn() -> *mut ffi::PyInterpreterState;

/// `PyFrame_GetCode` (3.9+), looked up once.
static GET_CODE: std::sync::OnceLock<Option<GetCode>> = std::sync::OnceLock::new();

/// Offset of `f_code` in 3.8's `PyFrameObject`: after `PyObject_VAR_HEAD`
/// (refcount, type, size) and `f_back` (Include/frameobject.h of 3.8).
const F_CODE_3_8: usize = 3 * std::mem::size_of::<usize>() + std::mem::size_of::<usize>();

/// The code object of a running frame, as a new reference (as `PyFrame_GetCode`).
///
/// # Safety
/// GIL held (or the frame's own thread on a free-threaded build); `frame` live.
pub unsafe fn frame_code(frame: *mut ffi::PyFrameObject) -> *mut ffi::PyObject {
    match *GET_CODE.get_or_init(|| symbol::<GetCode>("PyFrame_GetCode")) {
        // SAFETY: per the contract; the function CPython exports for this.
        Some(get) => unsafe { get(frame) },
        None => {
            // 3.8: the struct is public there and `f_code` never NULL in a live frame.
            // SAFETY: per the contract, `frame` is a live 3.8 frame object;
            // the reference is taken as PyFrame_GetCode would.
            unsafe {
                let code = *frame
                    .cast::<u8>()
                    .add(F_CODE_3_8)
                    .cast::<*mut ffi::PyObject>();
                ffi::Py_INCREF(code);
                code
            }
        }
    }
}

/// The current interpreter: `PyInterpreterState_Get` (3.9+) or 3.8's
/// `_PyInterpreterState_Get`.
fn current_interpreter() -> *mut ffi::PyInterpreterState {
    static GET: std::sync::OnceLock<Option<GetInterpreter>> = std::sync::OnceLock::new();
    let get = GET.get_or_init(|| {
        symbol::<GetInterpreter>("PyInterpreterState_Get")
            .or_else(|| symbol::<GetInterpreter>("_PyInterpreterState_Get"))
    });
    // SAFETY: both names take no argument and return the calling thread's
    // interpreter (the callers hold the GIL, so there is one).
    get.map_or(std::ptr::null_mut(), |get| unsafe { get() })
}

/// A free-threaded build (`Py_GIL_DISABLED`): known when the module is built
/// (an abi3 module cannot load on one, so `make ft-module` builds its own).
pub const FREE_THREADED: bool = cfg!(Py_GIL_DISABLED);

/// `--exact` is recording.
pub static EXACT: AtomicBool = AtomicBool::new(false);
/// The 3.11 line profiler is switching tracing on and off.
pub static LINES: AtomicBool = AtomicBool::new(false);

/// A measurement uses the hook.
pub fn any_mode() -> bool {
    EXACT.load(Ordering::Relaxed) || LINES.load(Ordering::Relaxed)
}

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
        return unsafe { crate::chain::profile(obj, frame, what, arg) };
    }
    if LINES.load(Ordering::Relaxed) {
        // The 3.11 line timer reinstalls this hook with the program's object.
        crate::chain::seen_profile(obj);
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
        let status = unsafe { crate::chain::profile(obj, frame, what, arg) };
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
    let status = unsafe { crate::chain::profile(obj, frame, what, arg) };
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
        unsafe { lines::on_profile_event(frame, what) };
    }
}

/// Sets this thread's profile hook for the program's current function
/// ([`crate::chain::program_profile`]): ours while a measurement runs (the
/// 3.11 line timer decides with its own state), else none (the program's
/// function failed, as CPython then removes it).
pub fn reinstall_profile() {
    if LINES.load(Ordering::Relaxed) {
        lines::refresh();
        return;
    }
    if let Some(set) = set_profile() {
        let obj = crate::chain::program_profile();
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

/// `PyEval_SetProfile` (sets the calling thread's hook), looked up once.
pub fn set_profile() -> Option<SetProfile> {
    static SET_PROFILE: std::sync::OnceLock<Option<SetProfile>> = std::sync::OnceLock::new();
    *SET_PROFILE.get_or_init(|| symbol::<SetProfile>("PyEval_SetProfile"))
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
        let interp = current_interpreter();
        if interp.is_null() {
            return states;
        }
        let mut tstate = PyInterpreterState_ThreadHead(interp);
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
        crate::chain::seen_profile(std::ptr::null_mut());
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
