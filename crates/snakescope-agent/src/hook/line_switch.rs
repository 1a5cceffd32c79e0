//! Line timing before 3.12 (the records are [`crate::lines`]'): the shared
//! profile hook sees calls and returns and switches the thread's C trace
//! function on while a selected frame is innermost. The program's own profile and trace functions (see
//! [`crate::chain`]) keep both hooks installed where they need them, and
//! are called from them.

use crate::chain;
use crate::clock::now_ticks;
use crate::cpython::{self, TraceFunc, PY_TRACE_CALL, PY_TRACE_LINE, PY_TRACE_RETURN};
use crate::lines::{lookup, records, selection_mut, Frame, ThreadLines};
use crate::modes::EXACT;
use pyo3::ffi;
use std::os::raw::{c_int, c_long};
use std::sync::atomic::Ordering;

extern "C" {
    fn PyEval_SetTrace(func: Option<TraceFunc>, obj: *mut ffi::PyObject);
    fn PyFrame_GetLineNumber(frame: *mut ffi::PyFrameObject) -> c_int;
}

/// A call or return on 3.11, seen by the profile hook or (while the hook
/// is off) by the trace function.
///
/// # Safety
/// GIL held, `frame` live.
unsafe fn call_or_return(t: &mut ThreadLines, frame: *mut ffi::PyFrameObject, what: c_int) {
    // SAFETY: GIL held (contract).
    let selection = unsafe { selection_mut() };
    if what == PY_TRACE_CALL {
        // SAFETY: live frame; PyFrame_GetCode returns a new reference, released at once.
        let code = unsafe { cpython::frame_code(frame) };
        // SAFETY: GIL held, live code object.
        let found = unsafe { lookup(selection, code, true) };
        // SAFETY: the reference from PyFrame_GetCode.
        unsafe { ffi::Py_DECREF(code) };
        let selected = found.is_some();
        t.push(found.map(|code| Frame {
            code,
            key: frame as usize,
            line: 0,
            since: now_ticks(),
        }));
        if !selected && t.tracing && chain::program_trace().is_null() {
            // Called inside a selected call while line tracing is on: this
            // frame's own lines are not wanted. (Switching tracing off and on
            // around every such call would cost more.)
            // SAFETY: a live frame object, GIL held; `f_trace_lines` is a
            // settable attribute of every frame.
            unsafe {
                if ffi::PyObject_SetAttrString(
                    frame.cast(),
                    c"f_trace_lines".as_ptr(),
                    ffi::Py_False(),
                ) != 0
                {
                    ffi::PyErr_Clear();
                }
            }
        }
    } else {
        t.leave(selection);
    }
}

/// Line tracing on exactly while a selected frame is innermost (always
/// installed while the program has a trace function, which it calls); the
/// profile hook off meanwhile, unless `--exact` or the program's own
/// profile function needs it. `force`: set both even if unchanged (the
/// program's functions changed).
///
/// # Safety
/// GIL held, on the thread `t` belongs to.
unsafe fn switch_hooks(t: &mut ThreadLines, frame: *mut ffi::PyFrameObject, force: bool) {
    let trace_on = t.selected > 0;
    let program_trace = chain::program_trace();
    let program_profile = chain::program_profile();
    let installed = trace_on || !program_trace.is_null();
    let profile_off = trace_on && !EXACT.load(Ordering::Relaxed) && program_profile.is_null();
    t.tracing = trace_on;
    if installed != t.trace_installed || force {
        t.trace_installed = installed;
        // SAFETY: GIL held, on this thread; the trace function lives for the process.
        unsafe { PyEval_SetTrace(installed.then_some(trace as TraceFunc), program_trace) };
    }
    if profile_off != t.profile_off || force {
        if profile_off != t.profile_off && !profile_off {
            // The interpreter calls the profile hook after the trace function
            // for the same event: that one is already counted.
            t.skip = frame as usize;
        }
        t.profile_off = profile_off;
        if let Some(set) = cpython::set_profile() {
            // SAFETY: GIL held, on this thread; the hook lives for the process.
            unsafe {
                set(
                    (!profile_off).then_some(super::hook as TraceFunc),
                    program_profile,
                )
            };
        }
    }
}

/// Puts this thread's hooks in the state the line timer and the program's
/// current functions need (after the program set its own).
pub fn refresh() {
    let t = records();
    // SAFETY: called with the GIL held, on this thread (from our built-ins
    // or hooks); no frame is being switched.
    unsafe { switch_hooks(t, std::ptr::null_mut(), true) };
}

/// The 3.11 profile hook's part (calls and returns only).
///
/// # Safety
/// Called from the profile hook: GIL held, `frame` live.
pub unsafe fn on_profile_event(frame: *mut ffi::PyFrameObject, what: c_int) -> c_int {
    let t = records();
    if t.skip == frame as usize {
        t.skip = 0;
        return 0;
    }
    t.skip = 0;
    // SAFETY: per the contract.
    unsafe {
        call_or_return(t, frame, what);
        switch_hooks(t, frame, false);
    }
    0
}

/// The 3.11 C trace function: on while a selected frame is innermost or
/// the program has a trace function (`obj`), which it then calls.
unsafe extern "C" fn trace(
    obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    chain::seen_trace(obj);
    // SAFETY: called by the interpreter with the GIL held.
    if !unsafe { selection_mut() }.on {
        if obj.is_null() {
            // Left on after `lines_stop`: it takes itself off here.
            // SAFETY: on this thread with the GIL held; the interpreter allows
            // removing the trace function from inside it.
            unsafe { PyEval_SetTrace(None, std::ptr::null_mut()) };
            return 0;
        }
        // SAFETY: as above; the program's function, called as CPython would.
        return unsafe { chain::trace(obj, frame, what, arg, keep_program_trace) };
    }
    // SAFETY: called by the interpreter with the GIL held, live frame.
    unsafe { record_trace_event(frame, what) };
    // SAFETY: as above.
    unsafe { chain::trace(obj, frame, what, arg, refresh) }
}

/// After the program's trace function failed once line timing stopped.
fn keep_program_trace() {
    // SAFETY: GIL held (called from the trace function); CPython removes
    // the trace function there, as here.
    unsafe { PyEval_SetTrace(None, std::ptr::null_mut()) };
}

/// The line timer's part of a trace event.
///
/// # Safety
/// GIL held, `frame` live, on its own thread.
unsafe fn record_trace_event(frame: *mut ffi::PyFrameObject, what: c_int) {
    let t = records();
    if what == PY_TRACE_CALL || what == PY_TRACE_RETURN {
        if t.profile_off {
            // SAFETY: per the contract.
            unsafe {
                call_or_return(t, frame, what);
                switch_hooks(t, frame, false);
            }
        }
        return;
    }
    if what != PY_TRACE_LINE {
        return;
    }
    // SAFETY: per the contract.
    let selection = unsafe { selection_mut() };
    let Some(Some(top)) = t.stack.last() else {
        return;
    };
    if top.key != frame as usize {
        return;
    }
    let code = top.code;
    // SAFETY: live frame, GIL held.
    let line = c_long::from(unsafe { PyFrame_GetLineNumber(frame) });
    t.line(frame as usize, code, selection.codes[code].1, line);
}
