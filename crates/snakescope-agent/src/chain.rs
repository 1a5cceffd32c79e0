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
//! `sys._setprofileallthreads` are replaced by built-ins made here
//! ([`hooks_install`]) that keep our hook installed and only swap the object.
//! While no measurement runs, they call the interpreter's originals.

use crate::hook::PY_TRACE_C_RETURN;
use crate::hook::{self, TraceFunc, PY_TRACE_CALL, PY_TRACE_C_EXCEPTION};
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
/// CPython's trampoline adds the frame to the traceback of an error its
/// function raises (3.8–3.10, early 3.11: `_hooks.py` asks the interpreter).
static TRACEBACK_HERE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Our replacement of `sys.setprofile` / `_setprofileallthreads` (their
/// c_return events are special, see [`profile_event`]).
static OUR_SETPROFILE: AtomicUsize = AtomicUsize::new(0);
static OUR_SETPROFILE_ALL: AtomicUsize = AtomicUsize::new(0);

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
            old.then(|| hook::symbol::<ToLocals>("PyFrame_FastToLocalsWithError"))
                .flatten(),
            old.then(|| hook::symbol::<ToFast>("PyFrame_LocalsToFast"))
                .flatten(),
            TRACEBACK_HERE
                .load(Ordering::Relaxed)
                .then(|| hook::symbol::<Here>("PyTraceBack_Here"))
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
/// ([`FRESH`], set by our `setprofile`).
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
/// and -1 returned; our hook stays.
///
/// # Safety
/// Called from the profile hook: GIL held, `frame` live.
pub unsafe fn profile(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    if obj.is_null() || !profile_event(what, arg) {
        return 0;
    }
    // SAFETY: per the contract.
    let result = unsafe { call(obj, frame, what, arg) };
    if result.is_null() {
        seen_profile(std::ptr::null_mut());
        hook::reinstall_profile();
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

// --- The built-ins that replace sys.setprofile, sys.settrace and 3.12's
// --- sys._setprofileallthreads (METH_O, like CPython's own).

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
    if !hook::any_mode() {
        // SAFETY: called by the interpreter: GIL held, live argument.
        return unsafe { original(&setup.setprofile, arg) };
    }
    note_fresh(setup);
    seen_profile(program_object(arg));
    hook::reinstall_profile();
    none()
}

/// Remembers whether the calling thread has no profile function now (see
/// [`FRESH`]).
fn note_fresh(setup: &Setup) {
    // SAFETY: GIL held (called from our built-ins).
    let py = unsafe { Python::assume_gil_acquired() };
    let none = setup
        .getprofile
        .call0(py)
        .map(|f| f.is_none(py))
        .unwrap_or(false);
    FRESH.with(|f| f.set(none));
}

unsafe extern "C" fn setprofile_all(
    _module: *mut ffi::PyObject,
    arg: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    type All = unsafe extern "C" fn(Option<TraceFunc>, *mut ffi::PyObject);
    let Some(setup) = SETUP.get() else {
        return none();
    };
    let all = hook::symbol::<All>("PyEval_SetProfileAllThreads");
    match (&setup.setprofile_all, all) {
        (Some(_), Some(all)) if hook::any_mode() => {
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
    if !hook::LINES.load(Ordering::Relaxed) {
        // SAFETY: called by the interpreter: GIL held, live argument.
        return unsafe { original(&setup.settrace, arg) };
    }
    seen_trace(program_object(arg));
    crate::lines::refresh();
    none()
}

type MethO = unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::PyObject) -> *mut ffi::PyObject;
const METH_O: c_int = 0x0008;

/// A built-in of `module` named like `original`, with its documentation
/// and signature (so `help()` and `inspect` show the same), calling `meth`
/// (whose calling convention `flags` gives).
pub(crate) fn builtin(
    py: Python<'_>,
    module: &Bound<'_, PyModule>,
    meth: ffi::PyMethodDefPointer,
    flags: c_int,
    original: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let text = |attr: &str| -> String {
        original
            .getattr(attr)
            .and_then(|v| v.extract::<String>())
            .unwrap_or_default()
    };
    let (name, signature, doc) = (
        text("__name__"),
        text("__text_signature__"),
        text("__doc__"),
    );
    let full = if signature.is_empty() {
        doc
    } else {
        format!("{name}{signature}\n--\n\n{doc}")
    };
    // Leaked: the definition must outlive the function (the process).
    let leak = |s: String| -> &'static std::ffi::CStr {
        Box::leak(
            std::ffi::CString::new(s)
                .unwrap_or_default()
                .into_boxed_c_str(),
        )
    };
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: leak(name).as_ptr(),
        ml_meth: meth,
        ml_flags: flags,
        ml_doc: leak(full).as_ptr(),
    }));
    let module_name = module.name()?;
    // SAFETY: `def` lives for the process; GIL held; NewEx returns a new
    // reference or NULL with an exception set.
    unsafe {
        let f = ffi::PyCFunction_NewEx(def, module.as_ptr(), module_name.as_ptr());
        Ok(Bound::from_owned_ptr_or_err(py, f)?.unbind())
    }
}

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
/// that gives new threads our hook ([`crate::threads`]). Once per process;
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
    crate::threads::hook_thread_start(py)
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
    crate::exact::saw_stop()
}

/// The 3.11 line timer's call depth on this thread (`None` when it is off):
/// one more inside a Python function while its profile hook is in place.
#[pyfunction]
pub fn hooks_lines_depth() -> Option<usize> {
    hook::LINES
        .load(Ordering::Relaxed)
        .then(crate::lines::depth)
}
