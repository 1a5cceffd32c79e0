//! Exact line timing of selected functions (line_profiler's job).
//!
//! Only the selected code objects pay for line events:
//! - 3.12+: `sys.monitoring` local events (LINE, PY_START, PY_RESUME,
//!   PY_RETURN, PY_YIELD) are set on those code objects alone; PY_UNWIND and
//!   PY_THROW are global (they only fire on exceptions). The callbacks are
//!   native `METH_FASTCALL` functions made here; `_lines.py` registers them.
//!   With `--lines` patterns a global PY_START asks the matcher once per code
//!   object and returns `DISABLE` for the others, so unmatched code stops
//!   paying after its first call.
//! - 3.11: the shared profile hook ([`crate::hook`]) sees calls and returns;
//!   it switches the thread's C trace function on while the innermost frame
//!   is a selected one and off otherwise, so line events come only from
//!   selected frames.
//!
//! Semantics are line_profiler's: a line's hit is counted when the
//! interpreter reaches it; its time runs from then until the frame reaches
//! its next line or returns (time in callees included).
//!
//! Everything here runs with the GIL held (the interpreter calls the hooks
//! and callbacks; the `#[pyfunction]`s hold it too). Free-threaded builds
//! need another scheme (issue 6).

use crate::clock::{now_ticks, Calibration};
use crate::exact::PtrMap;
use crate::hook::{self, TraceFunc, PY_TRACE_CALL, PY_TRACE_LINE, PY_TRACE_RETURN};
use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::cell::{Cell, UnsafeCell};
use std::os::raw::{c_char, c_int, c_long};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

extern "C" {
    fn PyEval_SetTrace(func: Option<TraceFunc>, obj: *mut ffi::PyObject);
    fn PyFrame_GetLineNumber(frame: *mut ffi::PyFrameObject) -> c_int;
}
type SetTraceThread =
    unsafe extern "C" fn(*mut ffi::PyThreadState, Option<TraceFunc>, *mut ffi::PyObject) -> c_int;

/// State only touched with the GIL held (on a free-threaded build: inside
/// the line profiler's lock, [`serialised`]).
struct GilCell<T>(UnsafeCell<T>);
// SAFETY: every access goes through `get`, whose callers hold the GIL (or
// the lock that stands for it on free-threaded builds), so there is never
// more than one thread inside at a time.
unsafe impl<T> Sync for GilCell<T> {}
impl<T> GilCell<T> {
    /// # Safety
    /// The GIL (or [`serialised`]'s lock) must be held, and the reference
    /// must not outlive the caller's hold of it (nor overlap another `get`
    /// of the same cell).
    #[allow(clippy::mut_from_ref)]
    unsafe fn get(&self) -> &mut T {
        // SAFETY: per the contract.
        unsafe { &mut *self.0.get() }
    }
}

/// On a GIL build, nothing: the GIL already serialises every entry point
/// (the monitoring callbacks and the `#[pyfunction]`s). On a free-threaded
/// build, the lock that stands for it, held until the guard drops.
#[cfg(not(Py_GIL_DISABLED))]
#[inline(always)]
fn serialised() -> Gil {
    Gil
}

/// What [`serialised`] holds on a GIL build: nothing.
#[cfg(not(Py_GIL_DISABLED))]
struct Gil;

#[cfg(Py_GIL_DISABLED)]
fn serialised() -> free_threaded::Guard {
    free_threaded::enter()
}

/// The line profiler's lock on a free-threaded build (3.13t): one thread at
/// a time in its entry points, reentrant because the `--lines` matcher, run
/// from a callback, selects code through `lines_select`. A thread that must
/// wait detaches from the interpreter meanwhile, so that a stop-the-world
/// pause (the collector's) started by the holder never waits for it.
#[cfg(Py_GIL_DISABLED)]
mod free_threaded {
    use pyo3::ffi;
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static OWNER: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static DEPTH: Cell<usize> = const { Cell::new(0) };
        static ME: u8 = const { 0 };
    }

    pub struct Guard(());

    pub fn enter() -> Guard {
        let me = ME.with(|m| m as *const u8 as usize);
        let taken = |o: &AtomicUsize| {
            o.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        };
        if OWNER.load(Ordering::Relaxed) != me && !taken(&OWNER) {
            // SAFETY: the calling thread is attached (it runs a callback or a
            // `#[pyfunction]`); it detaches while it waits and re-attaches
            // before touching any Python object again.
            let state = unsafe { ffi::PyEval_SaveThread() };
            while !taken(&OWNER) {
                std::thread::yield_now();
            }
            // SAFETY: the state saved just above, on the same thread.
            unsafe { ffi::PyEval_RestoreThread(state) };
        }
        DEPTH.with(|d| d.set(d.get() + 1));
        Guard(())
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            DEPTH.with(|d| {
                let depth = d.get() - 1;
                d.set(depth);
                if depth == 0 {
                    OWNER.store(0, Ordering::Release);
                }
            });
        }
    }
}

#[derive(Default)]
struct Selection {
    /// Code object address → index in `codes`.
    index: PtrMap<usize>,
    /// Selected code objects (strong references) and their first line.
    codes: Vec<(usize, c_long)>,
    /// 3.11 with patterns: code objects already shown to the matcher (strong
    /// references, so an address is never reused while it is cached).
    checked: PtrMap<()>,
    /// Decides whether a new code object matches the `--lines` patterns (it
    /// selects it itself); 3.11 calls it from the hook.
    matcher: Option<Py<PyAny>>,
    /// `sys.monitoring.DISABLE`, returned for code that does not match.
    disable: Option<Py<PyAny>>,
    on: bool,
    calibration: Option<Calibration>,
}

static SELECTION: GilCell<Option<Selection>> = GilCell(UnsafeCell::new(None));

/// The selection, created on first use.
///
/// # Safety
/// As [`GilCell::get`]: GIL held, one reference at a time.
unsafe fn selection_mut() -> &'static mut Selection {
    // SAFETY: per the contract.
    unsafe { SELECTION.get() }.get_or_insert_with(Selection::default)
}

#[derive(Default, Clone, Copy)]
struct LineCount {
    hits: u64,
    ticks: i64,
}

/// A running call of a selected function.
#[derive(Clone, Copy)]
struct Frame {
    /// Index in the selection.
    code: usize,
    /// The frame object (3.11) or the code object (3.12+): what identifies
    /// the innermost selected call when an event arrives.
    key: usize,
    /// The line being timed, or 0 before the first line event.
    line: c_long,
    since: i64,
}

/// One thread's records.
#[derive(Default)]
struct ThreadLines {
    /// 3.11: one entry per Python call on this thread since profiling began
    /// (`None` for calls of unselected functions). 3.12+: selected calls only.
    stack: Vec<Option<Frame>>,
    /// Per selected code object (index in the selection), per line offset
    /// from its first line.
    counts: Vec<Vec<LineCount>>,
    /// 3.11: whether this thread's C trace function is ours and on.
    tracing: bool,
    /// How many selected calls are on `stack`: line tracing stays on while
    /// there is one (unselected frames inside have their line events off).
    selected: usize,
    /// 3.11: the profile hook is off on this thread (while a selected frame
    /// is innermost, calls and returns come through the trace function, and
    /// C calls cost nothing).
    profile_off: bool,
    /// 3.11: a frame whose event the trace function handled just before it
    /// switched the profile hook back on (which then sees the same event).
    skip: usize,
    tstate: usize,
}

/// Every thread's records (leaked boxes, as addresses), for `lines_stop`.
static ALL: Mutex<Vec<usize>> = Mutex::new(Vec::new());

thread_local! {
    static MINE: Cell<*mut ThreadLines> = const { Cell::new(std::ptr::null_mut()) };
}

/// This thread's records, created on first use.
fn records() -> &'static mut ThreadLines {
    MINE.with(|mine| {
        let mut ptr = mine.get();
        if ptr.is_null() {
            let lines = ThreadLines {
                // SAFETY: called with the GIL held, so this thread has a thread state.
                tstate: unsafe { ffi::PyThreadState_Get() } as usize,
                ..ThreadLines::default()
            };
            ptr = Box::into_raw(Box::new(lines));
            mine.set(ptr);
            ALL.lock().expect("line records").push(ptr as usize);
        }
        // SAFETY: only used with the GIL held (by the hooks on this thread or
        // by lines_stop), so never from two places at once; never freed.
        unsafe { &mut *ptr }
    })
}

impl ThreadLines {
    fn count(&mut self, code: usize, offset: usize) -> &mut LineCount {
        if self.counts.len() <= code {
            self.counts.resize_with(code + 1, Vec::new);
        }
        let lines = &mut self.counts[code];
        if lines.len() <= offset {
            lines.resize(offset + 1, LineCount::default());
        }
        &mut lines[offset]
    }

    /// The running line of `frame` ends at `now`.
    fn close_line(&mut self, frame: &Frame, first: c_long, now: i64) {
        if frame.line > 0 {
            let offset = (frame.line - first).max(0) as usize;
            self.count(frame.code, offset).ticks += now - frame.since;
        }
    }

    /// The innermost selected call (the top of the stack, which on 3.11 may be
    /// an unselected call instead) reached `line`.
    fn line(&mut self, key: usize, code: usize, first: c_long, line: c_long) {
        let now = now_ticks();
        let top = match self.stack.last_mut() {
            Some(Some(top)) if top.key == key => top,
            _ => {
                // A call already running when it was selected: time it from here.
                self.push(Some(Frame {
                    code,
                    key,
                    line: 0,
                    since: now,
                }));
                self.stack
                    .last_mut()
                    .and_then(Option::as_mut)
                    .expect("just pushed")
            }
        };
        let previous = *top;
        top.line = line;
        top.since = now;
        self.close_line(&previous, first, now);
        let offset = (line - first).max(0) as usize;
        self.count(code, offset).hits += 1;
    }

    /// The innermost call returns (or yields, or unwinds).
    fn leave(&mut self, selection: &Selection) {
        if let Some(Some(frame)) = self.stack.pop() {
            self.selected = self.selected.saturating_sub(1);
            self.close_line(&frame, selection.codes[frame.code].1, now_ticks());
        }
    }

    fn push(&mut self, frame: Option<Frame>) {
        self.selected += usize::from(frame.is_some());
        self.stack.push(frame);
    }
}

/// Adds a code object to the selection (idempotent); returns its index.
///
/// # Safety
/// GIL held; `code` is a live code object.
unsafe fn select(selection: &mut Selection, code: &Bound<'_, PyAny>) -> PyResult<usize> {
    let key = code.as_ptr() as usize;
    if let Some(&i) = selection.index.get(&key) {
        return Ok(i);
    }
    let first: c_long = code.getattr("co_firstlineno")?.extract()?;
    selection
        .codes
        .push((code.clone().into_ptr() as usize, first));
    selection.index.insert(key, selection.codes.len() - 1);
    Ok(selection.codes.len() - 1)
}

/// Selects a code object for line timing.
#[pyfunction]
pub fn lines_select(py: Python<'_>, code: &Bound<'_, PyAny>) -> PyResult<()> {
    let _serialised = serialised();
    if !code.is_instance(&py.import("types")?.getattr("CodeType")?)? {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "expected a code object",
        ));
    }
    // SAFETY: GIL held (the token); `code` is a live code object (checked).
    unsafe { select(selection_mut(), code) }.map(|_| ())
}

/// Starts line timing. `matcher(code) -> bool` (optional) is asked about
/// each new code object and selects the matching ones itself; `disable` is
/// `sys.monitoring.DISABLE` on 3.12+ (where `_lines.py` registers
/// [`lines_callbacks`]), `None` on 3.11 (where the profile hook is used).
#[pyfunction]
#[pyo3(signature = (matcher = None, disable = None))]
pub fn lines_start(
    py: Python<'_>,
    matcher: Option<Py<PyAny>>,
    disable: Option<Py<PyAny>>,
) -> PyResult<()> {
    let _serialised = serialised();
    // SAFETY: GIL held (the token).
    let selection = unsafe { selection_mut() };
    if selection.on {
        return Err(PyRuntimeError::new_err(
            "the line profiler is already running",
        ));
    }
    selection.on = true;
    selection.calibration = Some(Calibration::start());
    selection.matcher = matcher;
    let legacy = disable.is_none();
    selection.disable = disable;
    if legacy {
        hook::set_mode(py, &hook::LINES, true)?;
    }
    Ok(())
}

/// Stops line timing and returns `[(code, [(line, hits, seconds), …]), …]`
/// for every selected code object that ran, merged over threads.
#[pyfunction]
pub fn lines_stop(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let _serialised = serialised();
    // SAFETY: GIL held (the token).
    let selection = unsafe { selection_mut() };
    if !selection.on {
        return Err(PyRuntimeError::new_err("the line profiler is not running"));
    }
    selection.on = false;
    if hook::LINES.load(std::sync::atomic::Ordering::Relaxed) {
        hook::set_mode(py, &hook::LINES, false)?;
    }
    let set_trace = hook::symbol::<SetTraceThread>("_PyEval_SetTrace");
    // SAFETY: GIL held.
    let live: Vec<usize> = unsafe { hook::thread_states() }
        .into_iter()
        .map(|t| t as usize)
        .collect();
    let mut merged: Vec<Vec<LineCount>> = vec![Vec::new(); selection.codes.len()];
    for ptr in ALL.lock().expect("line records").iter() {
        // SAFETY: GIL held and no hook is running, so no thread uses its records.
        let t = unsafe { &mut *(*ptr as *mut ThreadLines) };
        if t.tracing && live.contains(&t.tstate) {
            if let Some(set) = set_trace {
                // SAFETY: GIL held; `tstate` is in the interpreter's live list.
                unsafe {
                    set(
                        t.tstate as *mut ffi::PyThreadState,
                        None,
                        std::ptr::null_mut(),
                    )
                };
            }
        }
        t.tracing = false;
        t.selected = 0;
        t.profile_off = false;
        t.skip = 0;
        t.stack.clear();
        for (code, lines) in t.counts.drain(..).enumerate() {
            let into = &mut merged[code];
            if into.len() < lines.len() {
                into.resize(lines.len(), LineCount::default());
            }
            for (i, c) in lines.iter().enumerate() {
                into[i].hits += c.hits;
                into[i].ticks += c.ticks;
            }
        }
    }
    let secs_per_tick = selection.calibration.map_or(1e-9, |c| c.secs_per_tick());
    let out = PyList::empty(py);
    for ((code, first), lines) in selection.codes.iter().zip(&merged) {
        let rows = PyList::empty(py);
        for (offset, c) in lines.iter().enumerate() {
            if c.hits > 0 || c.ticks > 0 {
                rows.append((
                    first + offset as c_long,
                    c.hits,
                    c.ticks as f64 * secs_per_tick,
                ))?;
            }
        }
        // SAFETY: the selection holds a strong reference to `code`; borrowing
        // it adds one for the list. GIL held.
        let object = unsafe { PyObject::from_borrowed_ptr(py, *code as *mut ffi::PyObject) };
        out.append((object, rows))?;
    }
    for (code, _) in selection.codes.drain(..) {
        // SAFETY: releasing the selection's references; GIL held.
        unsafe { ffi::Py_DECREF(code as *mut ffi::PyObject) };
    }
    for (code, ()) in selection.checked.drain() {
        // SAFETY: as above, for the matcher's cache.
        unsafe { ffi::Py_DECREF(code as *mut ffi::PyObject) };
    }
    selection.index.clear();
    selection.matcher = None;
    selection.disable = None;
    Ok(out)
}

/// The selection index of `code`, asking the matcher about code objects it
/// has not seen (3.11 hook and 3.12 PY_START).
///
/// # Safety
/// GIL held; `code` is a live code object.
unsafe fn lookup(
    selection: &mut Selection,
    code: *mut ffi::PyObject,
    cache: bool,
) -> Option<usize> {
    let key = code as usize;
    if let Some(&i) = selection.index.get(&key) {
        return Some(i);
    }
    let matcher = selection.matcher.as_ref()?;
    if cache {
        if selection.checked.contains_key(&key) {
            return None;
        }
        // SAFETY: GIL held; the cache keeps the code object alive.
        unsafe { ffi::Py_INCREF(code) };
        selection.checked.insert(key, ());
    }
    // SAFETY: GIL held (contract), so a token may be conjured for the call.
    let py = unsafe { Python::assume_gil_acquired() };
    // SAFETY: `code` is live (contract).
    let object = unsafe { Bound::from_borrowed_ptr(py, code) };
    let matched = matcher.bind(py).call1((object,));
    match matched {
        // The matcher selected it (through `lines_select`): look again.
        Ok(v) if v.is_truthy().unwrap_or(false) => selection.index.get(&key).copied(),
        Ok(_) => None,
        Err(e) => {
            e.write_unraisable(py, None);
            None
        }
    }
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
        let code = unsafe { hook::frame_code(frame) };
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
        if !selected && t.tracing {
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

/// Line tracing on exactly while a selected frame is innermost; the profile
/// hook off meanwhile, unless `--exact` needs it.
///
/// # Safety
/// GIL held, on the thread `t` belongs to.
unsafe fn switch_hooks(t: &mut ThreadLines, frame: *mut ffi::PyFrameObject) {
    let trace_on = t.selected > 0;
    let profile_off = trace_on && !hook::EXACT.load(Ordering::Relaxed);
    if trace_on != t.tracing {
        t.tracing = trace_on;
        // SAFETY: GIL held, on this thread; the trace function lives for the process.
        unsafe { PyEval_SetTrace(trace_on.then_some(trace as TraceFunc), std::ptr::null_mut()) };
    }
    if profile_off != t.profile_off {
        t.profile_off = profile_off;
        if !profile_off {
            // The interpreter calls the profile hook after the trace function
            // for the same event: that one is already counted.
            t.skip = frame as usize;
        }
        if let Some(set) = hook::set_profile() {
            // SAFETY: GIL held, on this thread; the hook lives for the process.
            unsafe {
                set(
                    (!profile_off).then_some(hook::hook as TraceFunc),
                    std::ptr::null_mut(),
                )
            };
        }
    }
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
        switch_hooks(t, frame);
    }
    0
}

/// The 3.11 C trace function, on only while a selected frame is innermost.
unsafe extern "C" fn trace(
    _obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    _arg: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: called by the interpreter with the GIL held.
    if !unsafe { selection_mut() }.on {
        // Left on a thread `lines_stop` could not reach (3.8 has no
        // per-thread setter): it takes itself off here.
        // SAFETY: on this thread with the GIL held; the interpreter allows
        // removing the trace function from inside it.
        unsafe { PyEval_SetTrace(None, std::ptr::null_mut()) };
        return 0;
    }
    let t = records();
    if what == PY_TRACE_CALL || what == PY_TRACE_RETURN {
        if t.profile_off {
            // SAFETY: called by the interpreter with the GIL held, live frame.
            unsafe {
                call_or_return(t, frame, what);
                switch_hooks(t, frame);
            }
        }
        return 0;
    }
    if what != PY_TRACE_LINE {
        return 0;
    }
    // SAFETY: called by the interpreter with the GIL held.
    let selection = unsafe { selection_mut() };
    let Some(Some(top)) = t.stack.last() else {
        return 0;
    };
    if top.key != frame as usize {
        return 0;
    }
    let code = top.code;
    // SAFETY: live frame, GIL held.
    let line = c_long::from(unsafe { PyFrame_GetLineNumber(frame) });
    t.line(frame as usize, code, selection.codes[code].1, line);
    0
}

// --- 3.12+: sys.monitoring callbacks (METH_FASTCALL built-ins) ---

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
