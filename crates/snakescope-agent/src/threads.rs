//! New threads get snakescope's profile hook from their first frame on,
//! without `threading.setprofile` (which stays the program's: its
//! `threading.getprofile()` and `threading.setprofile(None)` mean what they
//! mean without snakescope).
//!
//! `threading` starts a thread through `_thread.start_new_thread` (3.8–3.12,
//! bound as `threading._start_new_thread`) or `start_joinable_thread`
//! (3.13+, `threading._start_joinable_thread`). Each is replaced by a
//! built-in of the same name that passes the thread's function wrapped in a
//! [`Starter`]: called from C on the new thread, it installs the hook (while
//! a measurement runs) and calls the function. Neither adds a Python frame,
//! and the program's profile function sees the same c_call/c_return.

use crate::hook;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use std::os::raw::c_int;
use std::sync::OnceLock;

/// The thread's function, called on the new thread after the hook is set.
#[pyclass(frozen, module = "snakescope._native")]
struct Starter {
    function: Py<PyAny>,
}

#[pymethods]
impl Starter {
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyObject> {
        hook::exact_install_current(py);
        self.function.call(py, args, kwargs)
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
        let wrap = |f: Bound<'_, PyAny>| {
            Py::new(
                py,
                Starter {
                    function: f.unbind(),
                },
            )
        };
        if let Some(first) = items.first_mut() {
            *first = wrap(first.bind(py).clone())?.into_any();
        } else if let Some(k) = &kwargs {
            if let Some(f) = k.get_item("function")? {
                k.set_item("function", wrap(f)?)?;
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
