//! The program's own `sys.setprofile` / `sys.settrace` functions, kept
//! working while `--exact` and the pre-3.12 line timer hold the thread's
//! C-level profile and trace hooks.
//!
//! A thread has one profile hook and one trace hook, each a C function with
//! an object argument. CPython's `sys.setprofile(f)` installs its own C
//! trampoline with `f` as that object; ours does the same with our hook in
//! the trampoline's place: [`crate::hook::hook`] and the line timer's trace
//! function record what they need, then call the object the way CPython's
//! trampolines do (`call_trampoline` in `Python/sysmodule.c`). So
//! `sys.getprofile()` / `sys.gettrace()` (which return the object) need no
//! change; `sys.setprofile`, `sys.settrace` and 3.12's
//! `sys._setprofileallthreads` are replaced by built-ins
//! ([`crate::builtins`]) that keep our hook installed and only swap the
//! object. While no measurement runs, they call the interpreter's originals.

use crate::cpython::{symbol, PY_TRACE_CALL, PY_TRACE_C_EXCEPTION, PY_TRACE_C_RETURN};
use pyo3::ffi;
use pyo3::prelude::*;
use std::cell::Cell;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// What the interpreter passes as `what`, as the strings CPython gives the
/// program's functions (interned: the same objects as CPython's own).
const EVENTS: [&std::ffi::CStr; 8] = [
    c"call",
    c"exception",
    c"line",
    c"return",
    c"c_call",
    c"c_exception",
    c"c_return",
    c"opcode",
];

/// The interpreter's minor version (3.x) and the interned event names
/// (strong references kept for the process), made on first use.
struct Names {
    minor: u32,
    events: [usize; 8],
}
static NAMES: OnceLock<Names> = OnceLock::new();

/// [`NAMES`]. GIL held.
fn names() -> &'static Names {
    NAMES.get_or_init(|| {
        // SAFETY: GIL held by every caller (our hooks and built-ins).
        let py = unsafe { Python::assume_gil_acquired() };
        let minor = py.version_info().minor.into();
        let mut events = [0usize; 8];
        for (slot, name) in events.iter_mut().zip(EVENTS) {
            // SAFETY: GIL held; a new reference kept for the process (NULL
            // only when out of memory, then the event is passed as None).
            *slot = unsafe { ffi::PyUnicode_InternFromString(name.as_ptr()) } as usize;
        }
        Names { minor, events }
    })
}

/// CPython's trampoline adds the frame to the traceback of an error its
/// function raises (3.8–3.10, early 3.11: `_hooks.py` asks the interpreter).
pub(crate) static TRACEBACK_HERE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
/// Our replacement of `sys.setprofile` / `_setprofileallthreads` (their
/// c_return events are special, see [`profile_event`]).
pub(crate) static OUR_SETPROFILE: AtomicUsize = AtomicUsize::new(0);
pub(crate) static OUR_SETPROFILE_ALL: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The program's profile and trace objects on this thread, as last set
    /// through our built-ins or seen by our hooks (strong references): what
    /// the 3.11 line timer reinstalls when it switches the hooks.
    static PROFILE: Cell<usize> = const { Cell::new(0) };
    static TRACE: Cell<usize> = const { Cell::new(0) };
    /// The program had no profile function when it called our `setprofile`
    /// (or `_setprofileallthreads`): CPython gives the new one no c_return
    /// for that call.
    static FRESH: Cell<bool> = const { Cell::new(false) };
}

/// Replaces a thread-local strong reference. GIL held.
fn store(cell: &'static std::thread::LocalKey<Cell<usize>>, obj: *mut ffi::PyObject) {
    cell.with(|c| {
        let old = c.get() as *mut ffi::PyObject;
        if old != obj {
            // SAFETY: GIL held by every caller; the cell owns one reference.
            unsafe {
                if !obj.is_null() {
                    ffi::Py_INCREF(obj);
                }
                c.set(obj as usize);
                if !old.is_null() {
                    ffi::Py_DECREF(old);
                }
            }
        }
    });
}

/// The program's profile object on this thread (borrowed), or null.
pub fn program_profile() -> *mut ffi::PyObject {
    PROFILE.with(Cell::get) as *mut ffi::PyObject
}

/// The program's trace object on this thread (borrowed), or null.
pub fn program_trace() -> *mut ffi::PyObject {
    TRACE.with(Cell::get) as *mut ffi::PyObject
}

/// Our hooks saw the interpreter pass `obj`: remember it (GIL held).
pub fn seen_profile(obj: *mut ffi::PyObject) {
    store(&PROFILE, obj);
}

/// Whether the program had no profile function when it called our
/// `setprofile` (see [`FRESH`]).
pub(crate) fn set_fresh(fresh: bool) {
    FRESH.with(|f| f.set(fresh));
}

/// As [`seen_profile`], for the trace object.
pub fn seen_trace(obj: *mut ffi::PyObject) {
    store(&TRACE, obj);
}

/// `callback(frame, event, arg)` as CPython's `call_trampoline` calls it:
/// with the frame's locals synchronised around the call before 3.13, and
/// the frame added to the traceback of an error where CPython's does that
/// ([`TRACEBACK_HERE`]).
///
/// # Safety
/// GIL held, `frame` live, `arg` live or null.
unsafe fn call(
    callback: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    type ToLocals = unsafe extern "C" fn(*mut ffi::PyFrameObject) -> c_int;
    type ToFast = unsafe extern "C" fn(*mut ffi::PyFrameObject, c_int);
    type Here = unsafe extern "C" fn(*mut ffi::PyFrameObject) -> c_int;
    static SYNC: OnceLock<(Option<ToLocals>, Option<ToFast>, Option<Here>)> = OnceLock::new();
    let names = names();
    let (to_locals, to_fast, here) = *SYNC.get_or_init(|| {
        let old = names.minor < 13;
        (
            old.then(|| symbol::<ToLocals>("PyFrame_FastToLocalsWithError"))
                .flatten(),
            old.then(|| symbol::<ToFast>("PyFrame_LocalsToFast"))
                .flatten(),
            TRACEBACK_HERE
                .load(Ordering::Relaxed)
                .then(|| symbol::<Here>("PyTraceBack_Here"))
                .flatten(),
        )
    });
    let event = names.events[what.clamp(0, 7) as usize] as *mut ffi::PyObject;
    // SAFETY: per the contract; the functions are CPython's own, with their
    // declared signatures; every argument is a live object.
    unsafe {
        if let Some(sync) = to_locals {
            if sync(frame) < 0 {
                return std::ptr::null_mut();
            }
        }
        let arg = if arg.is_null() { ffi::Py_None() } else { arg };
        let result = ffi::PyObject_CallFunctionObjArgs(
            callback,
            frame.cast::<ffi::PyObject>(),
            event,
            arg,
            std::ptr::null_mut::<ffi::PyObject>(),
        );
        if let Some(sync) = to_fast {
            // As CPython: keeps a pending exception (it saves and restores it).
            sync(frame, 1);
        }
        if result.is_null() {
            if let Some(here) = here {
                here(frame);
            }
        }
        result
    }
}

/// Whether the program's profile function gets this event: a c_return (or
/// c_exception) of the `setprofile` call that installed it does not reach it
/// in CPython unless a profile function was already set at its c_call
/// ([`FRESH`], set by our `setprofile`, see [`crate::builtins`]).
fn profile_event(what: c_int, arg: *mut ffi::PyObject) -> bool {
    if what != PY_TRACE_C_RETURN && what != PY_TRACE_C_EXCEPTION {
        return true;
    }
    let a = arg as usize;
    let ours = a == OUR_SETPROFILE.load(Ordering::Relaxed)
        || a == OUR_SETPROFILE_ALL.load(Ordering::Relaxed);
    !(ours && FRESH.with(|f| f.replace(false)))
}

/// CPython's `profile_trampoline` for the program's function `obj` (null:
/// none). On an error the program's function is removed (as CPython does)
/// and -1 returned; `reinstall` puts back what the measurements still need
/// (our hook stays).
///
/// # Safety
/// Called from the profile hook: GIL held, `frame` live.
pub unsafe fn profile(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
    reinstall: fn(),
) -> c_int {
    if obj.is_null() || !profile_event(what, arg) {
        return 0;
    }
    // SAFETY: per the contract.
    let result = unsafe { call(obj, frame, what, arg) };
    if result.is_null() {
        seen_profile(std::ptr::null_mut());
        reinstall();
        return -1;
    }
    // SAFETY: the new reference the call returned.
    unsafe { ffi::Py_DECREF(result) };
    0
}

/// CPython's `trace_trampoline` for the program's trace function `obj`
/// (null: none): the 'call' event goes to `obj`, whose result becomes the
/// frame's local tracer (`f_trace`), which gets the other events. On an
/// error both are cleared and -1 returned; `reinstall` puts back what the
/// line timer still needs.
///
/// # Safety
/// Called from the trace hook: GIL held, `frame` live.
pub unsafe fn trace(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
    reinstall: fn(),
) -> c_int {
    if obj.is_null() {
        return 0;
    }
    let f = frame.cast::<ffi::PyObject>();
    // SAFETY: per the contract: a live frame, GIL held.
    unsafe {
        let callback = if what == PY_TRACE_CALL {
            ffi::Py_INCREF(obj);
            obj
        } else {
            let local = ffi::PyObject_GetAttrString(f, c"f_trace".as_ptr());
            if local.is_null() {
                ffi::PyErr_Clear();
                return 0;
            }
            if local == ffi::Py_None() {
                ffi::Py_DECREF(local);
                return 0;
            }
            local
        };
        let result = call(callback, frame, what, arg);
        ffi::Py_DECREF(callback);
        if result.is_null() {
            seen_trace(std::ptr::null_mut());
            reinstall();
            // Clearing f_trace keeps the program's exception pending.
            let py = Python::assume_gil_acquired();
            let pending = PyErr::take(py);
            if ffi::PyObject_SetAttrString(f, c"f_trace".as_ptr(), ffi::Py_None()) != 0 {
                ffi::PyErr_Clear();
            }
            if let Some(e) = pending {
                e.restore(py);
            }
            return -1;
        }
        if result != ffi::Py_None()
            && ffi::PyObject_SetAttrString(f, c"f_trace".as_ptr(), result) != 0
        {
            ffi::PyErr_Clear();
        }
        ffi::Py_DECREF(result);
    }
    0
}
