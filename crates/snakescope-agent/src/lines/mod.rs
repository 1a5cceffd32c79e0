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
//! - 3.11: the shared profile hook ([`crate::hook`], whose `line_switch`
//!   keeps these records there) sees calls and returns;
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

mod monitoring;

pub use monitoring::lines_callbacks;

use crate::clock::{now_ticks, Calibration};
use crate::ptrmap::PtrMap;
use pyo3::exceptions::PyRuntimeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::cell::{Cell, UnsafeCell};
use std::os::raw::c_long;
use std::sync::Mutex;

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
pub(crate) fn serialised() -> Gil {
    Gil
}

/// What [`serialised`] holds on a GIL build: nothing.
#[cfg(not(Py_GIL_DISABLED))]
pub(crate) struct Gil;

#[cfg(Py_GIL_DISABLED)]
pub(crate) fn serialised() -> free_threaded::Guard {
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
pub(crate) struct Selection {
    /// Code object address → index in `codes`.
    index: PtrMap<usize>,
    /// Selected code objects (strong references) and their first line.
    pub(crate) codes: Vec<(usize, c_long)>,
    /// 3.11 with patterns: code objects already shown to the matcher (strong
    /// references, so an address is never reused while it is cached).
    checked: PtrMap<()>,
    /// Decides whether a new code object matches the `--lines` patterns (it
    /// selects it itself); 3.11 calls it from the hook.
    matcher: Option<Py<PyAny>>,
    /// `sys.monitoring.DISABLE`, returned for code that does not match.
    disable: Option<Py<PyAny>>,
    pub(crate) on: bool,
    calibration: Option<Calibration>,
}

static SELECTION: GilCell<Option<Selection>> = GilCell(UnsafeCell::new(None));

/// The selection, created on first use.
///
/// # Safety
/// As [`GilCell::get`]: GIL held, one reference at a time.
pub(crate) unsafe fn selection_mut() -> &'static mut Selection {
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
pub(crate) struct Frame {
    /// Index in the selection.
    pub(crate) code: usize,
    /// The frame object (3.11) or the code object (3.12+): what identifies
    /// the innermost selected call when an event arrives.
    pub(crate) key: usize,
    /// The line being timed, or 0 before the first line event.
    pub(crate) line: c_long,
    pub(crate) since: i64,
}

/// One thread's records.
#[derive(Default)]
pub(crate) struct ThreadLines {
    /// 3.11: one entry per Python call on this thread since profiling began
    /// (`None` for calls of unselected functions). 3.12+: selected calls only.
    pub(crate) stack: Vec<Option<Frame>>,
    /// Per selected code object (index in the selection), per line offset
    /// from its first line.
    counts: Vec<Vec<LineCount>>,
    /// 3.11: whether this thread's C trace function is ours and on.
    pub(crate) tracing: bool,
    /// How many selected calls are on `stack`: line tracing stays on while
    /// there is one (unselected frames inside have their line events off).
    pub(crate) selected: usize,
    /// 3.11: the profile hook is off on this thread (while a selected frame
    /// is innermost, calls and returns come through the trace function, and
    /// C calls cost nothing).
    pub(crate) profile_off: bool,
    /// 3.11: a frame whose event the trace function handled just before it
    /// switched the profile hook back on (which then sees the same event).
    pub(crate) skip: usize,
    /// 3.11: the trace function is installed, for our line events or for
    /// the program's own trace function (which it then calls).
    pub(crate) trace_installed: bool,
}

/// Every thread's records (leaked boxes, as addresses), for `lines_stop`.
static ALL: Mutex<Vec<usize>> = Mutex::new(Vec::new());

thread_local! {
    static MINE: Cell<*mut ThreadLines> = const { Cell::new(std::ptr::null_mut()) };
}

/// This thread's records, created on first use.
pub(crate) fn records() -> &'static mut ThreadLines {
    MINE.with(|mine| {
        let mut ptr = mine.get();
        if ptr.is_null() {
            ptr = Box::into_raw(Box::default());
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
    pub(crate) fn line(&mut self, key: usize, code: usize, first: c_long, line: c_long) {
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
    pub(crate) fn leave(&mut self, selection: &Selection) {
        if let Some(Some(frame)) = self.stack.pop() {
            self.selected = self.selected.saturating_sub(1);
            self.close_line(&frame, selection.codes[frame.code].1, now_ticks());
        }
    }

    pub(crate) fn push(&mut self, frame: Option<Frame>) {
        self.selected += usize::from(frame.is_some());
        self.stack.push(frame);
    }
}

/// How many calls this thread's records hold (3.11: every call since the
/// profile hook was installed). GIL held.
pub fn depth() -> usize {
    records().stack.len()
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

/// Starts line timing (see `crate::measure::lines_start`): whether the
/// 3.11 profile hook must be switched on (`disable` is `None`). Inside
/// [`serialised`].
pub(crate) fn begin(
    _py: Python<'_>,
    matcher: Option<Py<PyAny>>,
    disable: Option<Py<PyAny>>,
) -> PyResult<bool> {
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
    Ok(legacy)
}

/// Stops line timing (see `crate::measure::lines_stop`), before the hook's
/// mode is switched off and [`collect`] runs. Inside [`serialised`].
pub(crate) fn end(_py: Python<'_>) -> PyResult<()> {
    // SAFETY: GIL held (the token).
    let selection = unsafe { selection_mut() };
    if !selection.on {
        return Err(PyRuntimeError::new_err("the line profiler is not running"));
    }
    selection.on = false;
    Ok(())
}

/// Once stopped: `[(code, [(line, hits, seconds), …]), …]` for every
/// selected code object that ran, merged over threads; the selection is
/// emptied. Inside [`serialised`].
pub(crate) fn collect(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    // SAFETY: GIL held (the token).
    let selection = unsafe { selection_mut() };
    // Each thread takes its trace function off (or keeps it for the
    // program's own) at its next event: removing another running thread's
    // hook would also remove the program's function there.
    let mut merged: Vec<Vec<LineCount>> = vec![Vec::new(); selection.codes.len()];
    for ptr in ALL.lock().expect("line records").iter() {
        // SAFETY: GIL held and no hook is running, so no thread uses its records.
        let t = unsafe { &mut *(*ptr as *mut ThreadLines) };
        t.tracing = false;
        t.selected = 0;
        t.profile_off = false;
        t.skip = 0;
        t.trace_installed = false;
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
pub(crate) unsafe fn lookup(
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
