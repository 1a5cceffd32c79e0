//! Line timing on 3.12+: `sys.monitoring` callbacks (METH_FASTCALL
//! built-ins) that `_lines.py` registers for snakescope's own tool id, so
//! the program's `sys.setprofile` / `sys.settrace` are never involved.

use super::{lookup, records, selection_mut, serialised, Frame, Selection};
use crate::clock::now_ticks;
use pyo3::ffi;
use pyo3::prelude::*;
use std::os::raw::{c_char, c_int};

type FastCall = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
) -> *mut ffi::PyObject;
const METH_FASTCALL: c_int = 0x0080;

/// `None`, as a new reference.
fn none() -> *mut ffi::PyObject {
    // SAFETY: Py_None is immortal or reference counted; either way a new reference is returned.
    unsafe {
        let none = ffi::Py_None();
        ffi::Py_INCREF(none);
        none
    }
}

/// The selection and the code object a monitoring callback was called
/// with, or `None` when line timing is off (or no code object was passed).
///
/// # Safety
/// Called from a monitoring callback: GIL held, `args` holds `nargs` live
/// arguments, the code object first.
unsafe fn callback_code(
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> Option<(&'static mut Selection, *mut ffi::PyObject)> {
    if nargs < 1 {
        return None;
    }
    // SAFETY: per the contract.
    let (selection, code) = unsafe { (selection_mut(), *args) };
    selection.on.then_some((selection, code))
}

/// PY_START (global with patterns, else local) and PY_RESUME / PY_THROW:
/// a selected call begins or resumes.
unsafe extern "C" fn on_start(
    _slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    let _serialised = serialised();
    // SAFETY: called by the interpreter as a monitoring callback.
    let Some((selection, code)) = (unsafe { callback_code(args, nargs) }) else {
        return none();
    };
    // SAFETY: GIL held, live code object.
    match unsafe { lookup(selection, code, false) } {
        Some(index) => {
            records().push(Some(Frame {
                code: index,
                key: code as usize,
                line: 0,
                since: now_ticks(),
            }));
            none()
        }
        None => match &selection.disable {
            Some(disable) => disable.clone_ref_ptr(),
            None => none(),
        },
    }
}

/// PY_RESUME and PY_THROW: like a start, but never disabled.
unsafe extern "C" fn on_resume(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    let _serialised = serialised();
    // SAFETY: called by the interpreter as a monitoring callback.
    let selected = unsafe { callback_code(args, nargs) }
        .is_some_and(|(selection, code)| selection.index.contains_key(&(code as usize)));
    if selected {
        // SAFETY: forwarded arguments; the code is selected so it is not disabled.
        let r = unsafe { on_start(slf, args, nargs) };
        // SAFETY: dropping the None it returned.
        unsafe { ffi::Py_DECREF(r) };
    }
    none()
}

/// LINE (local to selected code).
unsafe extern "C" fn on_line(
    _slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    let _serialised = serialised();
    if nargs < 2 {
        return none();
    }
    // SAFETY: as in on_start; the second argument is the line number (an int).
    let (selection, code, line) =
        unsafe { (selection_mut(), *args, ffi::PyLong_AsLong(*args.add(1))) };
    if !selection.on {
        return none();
    }
    let t = records();
    let index = match t.stack.last() {
        // The usual case: the innermost selected call is this code's.
        Some(Some(top)) if top.key == code as usize => top.code,
        _ => match selection.index.get(&(code as usize)) {
            Some(&index) => index,
            None => return none(),
        },
    };
    t.line(code as usize, index, selection.codes[index].1, line);
    none()
}

/// PY_RETURN, PY_YIELD (local) and PY_UNWIND (global): a call ends or pauses.
unsafe extern "C" fn on_leave(
    _slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    let _serialised = serialised();
    // SAFETY: called by the interpreter as a monitoring callback.
    let Some((selection, code)) = (unsafe { callback_code(args, nargs) }) else {
        return none();
    };
    let t = records();
    if matches!(t.stack.last(), Some(Some(top)) if top.key == code as usize) {
        t.leave(selection);
    }
    none()
}

trait ClonePtr {
    fn clone_ref_ptr(&self) -> *mut ffi::PyObject;
}
impl ClonePtr for Py<PyAny> {
    fn clone_ref_ptr(&self) -> *mut ffi::PyObject {
        let p = self.as_ptr();
        // SAFETY: a new reference to a live object, with the GIL held by the caller.
        unsafe { ffi::Py_INCREF(p) };
        p
    }
}

macro_rules! method_def {
    ($name:literal, $func:expr) => {
        ffi::PyMethodDef {
            ml_name: concat!($name, "\0").as_ptr() as *const c_char,
            ml_meth: ffi::PyMethodDefPointer {
                // SAFETY: a METH_FASTCALL function stored in the PyCFunction
                // slot, as C does; the flags tell CPython how to call it.
                PyCFunction: unsafe {
                    std::mem::transmute::<FastCall, ffi::PyCFunction>($func as FastCall)
                },
            },
            ml_flags: METH_FASTCALL,
            ml_doc: std::ptr::null(),
        }
    };
}

struct Defs([ffi::PyMethodDef; 4]);
// SAFETY: the definitions are immutable after creation and only read by
// CPython; their pointers are to 'static strings and functions.
unsafe impl Sync for Defs {}
// SAFETY: as above: nothing in them is tied to a thread.
unsafe impl Send for Defs {}
static DEFS: std::sync::OnceLock<Defs> = std::sync::OnceLock::new();

/// The monitoring callbacks, as `{"start", "resume", "line", "leave"}` built-ins.
#[pyfunction]
pub fn lines_callbacks(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let defs = DEFS.get_or_init(|| {
        Defs([
            method_def!("_snakescope_start", on_start),
            method_def!("_snakescope_resume", on_resume),
            method_def!("_snakescope_line", on_line),
            method_def!("_snakescope_leave", on_leave),
        ])
    });
    let out = pyo3::types::PyDict::new(py);
    for (name, def) in ["start", "resume", "line", "leave"]
        .iter()
        .zip(defs.0.iter())
    {
        // SAFETY: `def` is 'static; GIL held; PyCFunction_NewEx returns a new
        // reference or NULL with an exception set.
        let f = unsafe {
            let p = ffi::PyCFunction_NewEx(
                def as *const ffi::PyMethodDef as *mut ffi::PyMethodDef,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            Bound::from_owned_ptr_or_err(py, p)?
        };
        out.set_item(name, f)?;
    }
    Ok(out)
}
