//! The built-ins that replace `sys.setprofile`, `sys.settrace` and 3.12's
//! `sys._setprofileallthreads` (METH_O, like CPython's own): while a
//! measurement runs they keep our hook installed and only swap the
//! program's object ([`crate::chain`]); otherwise they call the
//! interpreter's originals.

use crate::chain::{
    seen_profile, seen_trace, set_fresh, OUR_SETPROFILE, OUR_SETPROFILE_ALL, TRACEBACK_HERE,
};
use crate::cpython::{builtin, symbol, TraceFunc};
use crate::modes::{any_mode, LINES};
use crate::{exact, hook, lines, threads};
use pyo3::ffi;
use pyo3::prelude::*;
use std::os::raw::c_int;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

/// Set once by [`hooks_install`] (GIL held), read under the GIL afterwards.
struct Setup {
    /// The interpreter's own `sys.setprofile`, `sys.settrace`,
    /// `sys._setprofileallthreads` (None before 3.12).
    setprofile: Py<PyAny>,
    getprofile: Py<PyAny>,
    settrace: Py<PyAny>,
    setprofile_all: Option<Py<PyAny>>,
}
static SETUP: OnceLock<Setup> = OnceLock::new();

/// `None`, as a new reference.
fn none() -> *mut ffi::PyObject {
    // SAFETY: a new reference to None (immortal or counted alike).
    unsafe {
        let none = ffi::Py_None();
        ffi::Py_INCREF(none);
        none
    }
}

/// The program's object for `arg`: null for None.
fn program_object(arg: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: comparing addresses only.
    let none = unsafe { ffi::Py_None() };
    if arg == none {
        std::ptr::null_mut()
    } else {
        arg
    }
}

/// Calls the interpreter's own function (no measurement runs).
///
/// # Safety
/// GIL held; `arg` live.
unsafe fn original(function: &Py<PyAny>, arg: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: per the contract; a live callable and argument.
    unsafe {
        ffi::PyObject_CallFunctionObjArgs(
            function.as_ptr(),
            arg,
            std::ptr::null_mut::<ffi::PyObject>(),
        )
    }
}

unsafe extern "C" fn setprofile(
    _module: *mut ffi::PyObject,
    arg: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let Some(setup) = SETUP.get() else {
        return none();
    };
    if !any_mode() {
        // SAFETY: called by the interpreter: GIL held, live argument.
        return unsafe { original(&setup.setprofile, arg) };
    }
    note_fresh(setup);
    seen_profile(program_object(arg));
    hook::reinstall_profile();
    none()
}

/// Remembers whether the calling thread has no profile function now (see
/// `chain::FRESH`).
fn note_fresh(setup: &Setup) {
    // SAFETY: GIL held (called from our built-ins).
    let py = unsafe { Python::assume_gil_acquired() };
    let none = setup
        .getprofile
        .call0(py)
        .map(|f| f.is_none(py))
        .unwrap_or(false);
    set_fresh(none);
}

unsafe extern "C" fn setprofile_all(
    _module: *mut ffi::PyObject,
    arg: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    type All = unsafe extern "C" fn(Option<TraceFunc>, *mut ffi::PyObject);
    let Some(setup) = SETUP.get() else {
        return none();
    };
    let all = symbol::<All>("PyEval_SetProfileAllThreads");
    match (&setup.setprofile_all, all) {
        (Some(_), Some(all)) if any_mode() => {
            let obj = program_object(arg);
            note_fresh(setup);
            seen_profile(obj);
            // SAFETY: GIL held (called by the interpreter); the hook lives
            // for the process. (3.12+, where no line timer uses the hook.)
            unsafe { all(Some(hook::hook), obj) };
            none()
        }
        // SAFETY: called by the interpreter: GIL held, live argument.
        (Some(function), _) => unsafe { original(function, arg) },
        (None, _) => none(),
    }
}

unsafe extern "C" fn settrace(
    _module: *mut ffi::PyObject,
    arg: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let Some(setup) = SETUP.get() else {
        return none();
    };
    if !LINES.load(Ordering::Relaxed) {
        // SAFETY: called by the interpreter: GIL held, live argument.
        return unsafe { original(&setup.settrace, arg) };
    }
    seen_trace(program_object(arg));
    hook::refresh_lines();
    none()
}

type MethO = unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::PyObject) -> *mut ffi::PyObject;
const METH_O: c_int = 0x0008;

/// [`builtin`] for a METH_O function of `sys`.
fn sys_builtin(
    py: Python<'_>,
    sys: &Bound<'_, PyModule>,
    func: MethO,
    original: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let meth = ffi::PyMethodDefPointer { PyCFunction: func };
    builtin(py, sys, meth, METH_O, original)
}

/// Replaces `sys.setprofile`, `sys.settrace` (and on 3.12+
/// `sys._setprofileallthreads`) by built-ins that keep snakescope's hooks
/// installed while a measurement runs, and `threading`'s thread start by one
/// that gives new threads our hook ([`threads`]). Once per process;
/// later calls do nothing.
#[pyfunction]
pub fn hooks_install(py: Python<'_>, traceback_here: bool) -> PyResult<()> {
    if SETUP.get().is_some() {
        return Ok(());
    }
    TRACEBACK_HERE.store(traceback_here, Ordering::Relaxed);
    let sys = py.import("sys")?;
    let original_all = sys.getattr("_setprofileallthreads").ok();
    let setup = Setup {
        setprofile: sys.getattr("setprofile")?.unbind(),
        getprofile: sys.getattr("getprofile")?.unbind(),
        settrace: sys.getattr("settrace")?.unbind(),
        setprofile_all: original_all.as_ref().map(|f| f.clone().unbind()),
    };
    let ours = sys_builtin(py, &sys, setprofile, setup.setprofile.bind(py))?;
    let trace = sys_builtin(py, &sys, settrace, setup.settrace.bind(py))?;
    let all = match &original_all {
        Some(f) => Some(sys_builtin(py, &sys, setprofile_all, f)?),
        None => None,
    };
    let _ = SETUP.set(setup);
    // The built-ins stay alive for the process (their addresses are compared).
    OUR_SETPROFILE.store(ours.clone_ref(py).into_ptr() as usize, Ordering::Relaxed);
    sys.setattr("setprofile", ours)?;
    sys.setattr("settrace", trace)?;
    if let Some(all) = all {
        OUR_SETPROFILE_ALL.store(all.clone_ref(py).into_ptr() as usize, Ordering::Relaxed);
        sys.setattr("_setprofileallthreads", all)?;
    }
    threads::hook_thread_start(py)
}

/// Whether [`hooks_install`] ran (then new threads need no installer).
#[pyfunction]
pub fn hooks_installed() -> bool {
    SETUP.get().is_some()
}

/// Whether `--exact` still saw the calls of the thread that stopped it: its
/// hook recorded `exact_stop`'s own c_call, unless the program replaced it
/// with a C-level profile hook of its own (cProfile before 3.12), which
/// `sys.setprofile` never sees. `None` before any stop.
#[pyfunction]
pub fn hooks_exact_sees() -> Option<bool> {
    exact::saw_stop()
}

/// The 3.11 line timer's call depth on this thread (`None` when it is off):
/// one more inside a Python function while its profile hook is in place.
#[pyfunction]
pub fn hooks_lines_depth() -> Option<usize> {
    LINES.load(Ordering::Relaxed).then(lines::depth)
}
