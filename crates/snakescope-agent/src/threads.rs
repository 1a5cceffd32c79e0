//! New threads get snakescope's profile hook from their first frame on,
//! without `threading.setprofile` (which stays the program's: its
//! `threading.getprofile()` and `threading.setprofile(None)` mean what they
//! mean without snakescope).
//!
//! `threading` starts a thread through `_thread.start_new_thread` (3.8–3.12,
//! bound as `threading._start_new_thread`) or `start_joinable_thread`
//! (3.13+, `threading._start_joinable_thread`). Each is replaced by a
//! built-in of the same name that passes the thread's function wrapped in a
//! built-in ([`starter`]): called from C on the new thread, it installs the hook (while
//! a measurement runs) and calls the function. Neither adds a Python frame,
//! and the program's profile function sees the same c_call/c_return.

use crate::hook;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::os::raw::c_int;
use std::sync::OnceLock;

/// Called from C on the new thread as a built-in whose `self` is the
/// thread's function: sets the hook, then calls the function.
///
/// `C-unwind`, and nothing with a destructor lives across the call: when
/// the interpreter finalises while a daemon thread waits for the GIL, it
/// ends the thread with `pthread_exit`, a forced unwind through this frame.
/// A Rust call wrapper there (pyo3's trampoline catches panics) took that
/// unwind and glibc aborted the program: "FATAL: exception not rethrown".
///
/// # Safety
/// Called by the interpreter: GIL held, `function` alive, `args` a tuple,
/// `kwargs` a dict or null.
unsafe extern "C-unwind" fn starter(
    function: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // Before the call, and every panic caught here: none may unwind into C.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: per the contract, the GIL is held.
        hook::exact_install_current(unsafe { Python::assume_gil_acquired() })
    });
    // SAFETY: per the contract; returns a new reference or NULL with an exception set.
    unsafe { ffi::PyObject_Call(function, args, kwargs) }
}

/// The definition of [`starter`]'s built-ins, made once (leaked: it must
/// outlive every thread), as an address.
static STARTER_DEF: OnceLock<usize> = OnceLock::new();

/// `function` wrapped by [`starter`].
fn wrap(py: Python<'_>, function: Bound<'_, PyAny>) -> PyResult<PyObject> {
    let def = *STARTER_DEF.get_or_init(|| {
        // SAFETY: the two signatures differ only in whether an unwind may
        // pass (C-unwind); the calling convention is the same.
        let meth: ffi::PyCFunctionWithKeywords = unsafe {
            std::mem::transmute::<
                unsafe extern "C-unwind" fn(
                    *mut ffi::PyObject,
                    *mut ffi::PyObject,
                    *mut ffi::PyObject,
                ) -> *mut ffi::PyObject,
                ffi::PyCFunctionWithKeywords,
            >(starter)
        };
        Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: c"thread_start".as_ptr(),
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunctionWithKeywords: meth,
            },
            ml_flags: METH_VARARGS_KEYWORDS,
            ml_doc: std::ptr::null(),
        })) as *mut ffi::PyMethodDef as usize
    });
    // SAFETY: `def` lives for the process; GIL held; `function` is the
    // built-in's self (a new reference is taken); NewEx returns a new
    // reference or NULL with an exception set.
    unsafe {
        let f = ffi::PyCFunction_NewEx(
            def as *mut ffi::PyMethodDef,
            function.as_ptr(),
            std::ptr::null_mut(),
        );
        Ok(Bound::from_owned_ptr_or_err(py, f)?.unbind())
    }
}

/// The interpreter's own start functions, by the name `threading` binds.
static ORIGINALS: OnceLock<[Option<Py<PyAny>>; 2]> = OnceLock::new();
const NAMES: [&str; 2] = ["_start_new_thread", "_start_joinable_thread"];

/// The replacement's body: the original, with its function (the first
/// positional argument, or `function=`) wrapped.
///
/// # Safety
/// Called by the interpreter: GIL held, `args` a tuple, `kwargs` a dict or null.
unsafe fn start(
    which: usize,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: per the contract.
    let py = unsafe { Python::assume_gil_acquired() };
    let result = (|| -> PyResult<PyObject> {
        let original = ORIGINALS
            .get()
            .and_then(|o| o[which].as_ref())
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("thread start not set up"))?;
        // SAFETY: per the contract (borrowed references, live for the call).
        let args = unsafe { Bound::from_borrowed_ptr(py, args) }.downcast_into::<PyTuple>()?;
        let kwargs = (!kwargs.is_null())
            // SAFETY: as above.
            .then(|| unsafe { Bound::from_borrowed_ptr(py, kwargs) }.downcast_into::<PyDict>())
            .transpose()?
            .map(|k| k.copy())
            .transpose()?;
        let mut items: Vec<PyObject> = args.iter().map(Bound::unbind).collect();
        if let Some(first) = items.first_mut() {
            *first = wrap(py, first.bind(py).clone())?;
        } else if let Some(k) = &kwargs {
            if let Some(f) = k.get_item("function")? {
                k.set_item("function", wrap(py, f)?)?;
            }
        }
        original.call(py, PyTuple::new(py, items)?, kwargs.as_ref())
    })();
    match result {
        Ok(v) => v.into_ptr(),
        Err(e) => {
            e.restore(py);
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn start_0(
    _module: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by the interpreter as a METH_VARARGS|METH_KEYWORDS function.
    unsafe { start(0, args, kwargs) }
}

unsafe extern "C" fn start_1(
    _module: *mut ffi::PyObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: as above.
    unsafe { start(1, args, kwargs) }
}

const METH_VARARGS_KEYWORDS: c_int = 0x0001 | 0x0002;

/// Replaces `threading`'s thread start function(s) (see the module docs).
pub fn hook_thread_start(py: Python<'_>) -> PyResult<()> {
    let threading = py.import("threading")?;
    let thread = py.import("_thread")?;
    let found = NAMES.map(|name| threading.getattr(name).ok().map(Bound::unbind));
    let originals = ORIGINALS.get_or_init(|| found);
    for (i, original) in originals.iter().enumerate() {
        let Some(original) = original else { continue };
        let (name, func) = if i == 0 {
            (NAMES[0], start_0 as _)
        } else {
            (NAMES[1], start_1 as _)
        };
        let meth = ffi::PyMethodDefPointer {
            PyCFunctionWithKeywords: func,
        };
        let ours =
            crate::cpython::builtin(py, &thread, meth, METH_VARARGS_KEYWORDS, original.bind(py))?;
        threading.setattr(name, ours)?;
    }
    Ok(())
}
