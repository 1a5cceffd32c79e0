//! The interpreter's C API as the agent's hooks use it: the profile and
//! trace events, functions looked up at run time (what 3.8 lacks, what is
//! outside the limited API), a frame's code object, the thread states, and
//! built-in functions made from C.
//!
//! A leaf: the profile hook ([`crate::hook`]), the measurements
//! ([`crate::exact`], [`crate::lines`]), the chaining of the program's own
//! functions ([`crate::chain`]) and memory tracking share it.

use pyo3::ffi;
use pyo3::prelude::*;
use std::os::raw::c_int;

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
pub type SetProfileThread =
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
