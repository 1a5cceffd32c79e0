//! `run --exact`: deterministic function profiling through the interpreter's
//! C-level profile hook, on every thread, with cProfile's accounting.
//!
//! The accounting mirrors `Modules/_lsprof.c` so that call counts, primitive
//! (non-recursive) counts, inline and cumulative times, and the per-caller
//! breakdown mean exactly what they mean in cProfile/pstats: Python functions
//! are keyed by code object, built-ins by their `PyMethodDef`.
//!
//! The hook runs with the GIL held (the interpreter calls it); each thread has
//! its own tables, which `exact_stop` ([`crate::measure`], also under the GIL)
//! gathers. This
//! relies on the GIL: free-threaded builds need another scheme (issue 6).

use crate::clock::{now_ticks, Calibration};
use crate::cpython::{
    self, FREE_THREADED, PY_TRACE_CALL, PY_TRACE_C_CALL, PY_TRACE_C_EXCEPTION, PY_TRACE_C_RETURN,
    PY_TRACE_RETURN,
};
use crate::modes::EXACT;
use crate::ptrmap::PtrMap;
use pyo3::ffi;
use pyo3::prelude::*;
use std::cell::Cell;
use std::os::raw::c_int;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// What lsprof counts for a function (`ProfilerEntry`) and for a function as
/// called from one caller (`ProfilerSubEntry`). Times are in clock ticks.
#[derive(Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) calls: u64,
    pub(crate) recursive_calls: u64,
    pub(crate) inline_ticks: i64,
    pub(crate) total_ticks: i64,
    /// Calls currently open on this thread's stack (recursion depth).
    level: u32,
}

impl Counts {
    /// A call that took `total` ticks, `inline` of them outside its callees,
    /// returns; cumulative time counts only the outermost of recursive calls.
    fn close(&mut self, total: i64, inline: i64) {
        self.level = self.level.saturating_sub(1);
        if self.level == 0 {
            self.total_ticks += total;
        } else {
            self.recursive_calls += 1;
        }
        self.inline_ticks += inline;
        self.calls += 1;
    }

    fn add(&mut self, other: &Counts) {
        self.calls += other.calls;
        self.recursive_calls += other.recursive_calls;
        self.inline_ticks += other.inline_ticks;
        self.total_ticks += other.total_ticks;
    }
}

/// lsprof's `ProfilerEntry`: one function.
pub(crate) struct Entry {
    /// A strong reference (code object or built-in function), so an address
    /// is never reused while profiling and labels can be made afterwards.
    pub(crate) object: usize,
    pub(crate) counts: Counts,
    /// Per callee, keyed like [`ThreadTables::index`].
    pub(crate) callees: PtrMap<Counts>,
}

struct Context {
    entry: usize,
    /// The caller's entry, when there is one.
    caller: Option<usize>,
    start: i64,
    /// Ticks spent in callees so far.
    sub: i64,
}

/// One thread's tables. Only touched by the hook on its own thread, and by
/// `exact_stop` once no hook uses them: with the GIL held on GIL builds; on a
/// free-threaded build the hook marks them `busy` while it runs (see
/// [`on_event_free_threaded`]).
#[derive(Default)]
struct ThreadTables {
    busy: std::sync::atomic::AtomicBool,
    /// Key (code object or `PyMethodDef` address) → index in `entries`.
    index: PtrMap<usize>,
    entries: Vec<Entry>,
    keys: Vec<usize>,
    stack: Vec<Context>,
}

/// Every thread's tables (leaked boxes, as addresses), for `exact_stop`.
static ALL: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// The clocks when `exact_start` ran.
static STARTED: Mutex<Option<Calibration>> = Mutex::new(None);

thread_local! {
    static MINE: Cell<*mut ThreadTables> = const { Cell::new(std::ptr::null_mut()) };
}

/// This thread's tables, created on first use.
fn tables() -> &'static mut ThreadTables {
    MINE.with(|mine| {
        let mut ptr = mine.get();
        if ptr.is_null() {
            ptr = Box::into_raw(Box::default());
            mine.set(ptr);
            ALL.lock().expect("profiler tables").push(ptr as usize);
        }
        // SAFETY: the tables of a thread are only used by the hook on this
        // thread or by exact_stop, never at once (the GIL, or on a
        // free-threaded build the `busy` handshake); the box is never freed
        // (exact_stop drains it but leaves it allocated).
        unsafe { &mut *ptr }
    })
}

impl ThreadTables {
    fn enter(&mut self, key: usize, object: *mut ffi::PyObject) {
        let entry = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                // SAFETY: called by the interpreter with the GIL held; `object`
                // is a live object it passed us. Released in exact_stop.
                unsafe { ffi::Py_INCREF(object) };
                self.entries.push(Entry {
                    object: object as usize,
                    counts: Counts::default(),
                    callees: PtrMap::default(),
                });
                self.keys.push(key);
                self.index.insert(key, self.entries.len() - 1);
                self.entries.len() - 1
            }
        };
        self.entries[entry].counts.level += 1;
        let caller = self.stack.last().map(|c| c.entry);
        if let Some(c) = caller {
            self.entries[c].callees.entry(key).or_default().level += 1;
        }
        self.stack.push(Context {
            entry,
            caller,
            start: now_ticks(),
            sub: 0,
        });
    }

    fn leave(&mut self) {
        let Some(ctx) = self.stack.pop() else { return };
        let total = now_ticks() - ctx.start;
        let inline = total - ctx.sub;
        if let Some(parent) = self.stack.last_mut() {
            parent.sub += total;
        }
        self.entries[ctx.entry].counts.close(total, inline);
        if let Some(c) = ctx.caller {
            let key = self.keys[ctx.entry];
            self.entries[c]
                .callees
                .entry(key)
                .or_default()
                .close(total, inline);
        }
    }
}

/// The `PyMethodDef` of a built-in function object, its identity for cProfile.
///
/// # Safety
/// `object` must be a live `PyCFunctionObject` (checked by the caller).
unsafe fn method_def(object: *mut ffi::PyObject) -> usize {
    // PyCFunctionObject: PyObject_HEAD, then `PyMethodDef *m_ml` (3.8–3.14).
    // The header is this build's `PyObject` (16 bytes; 32 free-threaded).
    // SAFETY: per the function's contract the object has that layout.
    unsafe {
        *object
            .cast::<u8>()
            .add(std::mem::size_of::<ffi::PyObject>())
            .cast::<usize>()
    }
}

/// One profile event, as lsprof's `profiler_callback`.
///
/// # Safety
/// Called from the profile hook: the GIL is held, `frame` is live and `arg`
/// is the event's argument (the callable for C events).
pub unsafe fn on_event(frame: *mut ffi::PyFrameObject, what: c_int, arg: *mut ffi::PyObject) {
    // SAFETY: per the contract.
    unsafe { record(tables(), frame, what, arg) }
}

/// [`on_event`] into this thread's tables `t`.
///
/// # Safety
/// As [`on_event`].
unsafe fn record(
    t: &mut ThreadTables,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) {
    match what {
        PY_TRACE_CALL => {
            // SAFETY: per the contract; PyFrame_GetCode returns a new
            // reference, released at once (the tables keep their own).
            let code = unsafe { cpython::frame_code(frame) };
            t.enter(code as usize, code);
            // SAFETY: releasing the reference PyFrame_GetCode gave us.
            unsafe { ffi::Py_DECREF(code) };
        }
        PY_TRACE_RETURN => t.leave(),
        // SAFETY: `arg` is the callable for C events; checked to be a PyCFunction.
        PY_TRACE_C_CALL if unsafe { ffi::PyCFunction_Check(arg) } != 0 => {
            // SAFETY: just checked that `arg` is a PyCFunctionObject.
            let key = unsafe { method_def(arg) };
            t.enter(key, arg);
        }
        // SAFETY: as above.
        PY_TRACE_C_RETURN | PY_TRACE_C_EXCEPTION if unsafe { ffi::PyCFunction_Check(arg) } != 0 => {
            t.leave()
        }
        _ => {}
    }
}

/// [`on_event`] on a free-threaded build, where `exact_stop` may run while
/// this thread is inside the hook: the thread marks its tables busy, then
/// checks that profiling is still on; `exact_stop` turns it off, then waits
/// for every table to be idle. Both sides use sequentially consistent
/// operations, so either the hook sees it off or the stop sees it busy.
///
/// # Safety
/// As [`on_event`].
pub unsafe fn on_event_free_threaded(
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) {
    let t = tables();
    t.busy.store(true, Ordering::SeqCst);
    if EXACT.load(Ordering::SeqCst) {
        // SAFETY: per the contract.
        unsafe { record(t, frame, what, arg) };
    }
    t.busy.store(false, Ordering::SeqCst);
}

/// Before the hook is installed (see `crate::measure::exact_start`): the
/// clocks, and `exact_stop`'s key.
pub(crate) fn begin(py: Python<'_>) -> PyResult<()> {
    *STARTED.lock().expect("profiler clock") = Some(Calibration::start());
    let stop = py.import("snakescope._native")?.getattr("exact_stop")?;
    // SAFETY: checked to be a PyCFunction first; GIL held (the token).
    if unsafe { ffi::PyCFunction_Check(stop.as_ptr()) } != 0 {
        // SAFETY: just checked.
        STOP_KEY.store(unsafe { method_def(stop.as_ptr()) }, Ordering::Relaxed);
    }
    Ok(())
}

/// `exact_stop`'s key (its `PyMethodDef`), to see whether the hook recorded
/// its own c_call.
static STOP_KEY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// 0: `exact_stop` has not run; 1: the hook still saw the stopping thread's
/// calls; 2: it did not (a C-level hook of the program's replaced it).
static SAW_STOP: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Whether the last `exact_stop`'s thread was still profiled when it
/// stopped (`None` before any stop): the program may have replaced the hook
/// with a C-level one of its own (cProfile before 3.12), which
/// `sys.setprofile` never sees.
pub fn saw_stop() -> Option<bool> {
    match SAW_STOP.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n == 1),
    }
}

/// Once the hook is off (see `crate::measure::exact_stop`): every thread's
/// tables merged by key, each entry holding one strong reference to its
/// object (give them back with [`release`]), and the seconds per tick.
pub(crate) fn drain() -> (PtrMap<Entry>, f64) {
    let all: Vec<usize> = ALL.lock().expect("profiler tables").clone();
    if FREE_THREADED {
        wait_until_idle(&all);
    }
    let secs_per_tick = STARTED
        .lock()
        .expect("profiler clock")
        .map_or(1e-9, |c| c.secs_per_tick());
    (merge_tables(all), secs_per_tick)
}

/// Releases the references [`drain`]'s entries hold. GIL held.
pub(crate) fn release(_py: Python<'_>, merged: PtrMap<Entry>) {
    for e in merged.values() {
        // SAFETY: releasing the references taken in `enter`; GIL held (the token).
        unsafe { ffi::Py_DECREF(e.object as *mut ffi::PyObject) };
    }
}

/// Remembers whether the stopping thread's hook recorded `exact_stop`'s own
/// c_call (see [`saw_stop`]). GIL held, profiling still on.
pub(crate) fn note_stop() {
    let key = STOP_KEY.load(Ordering::Relaxed);
    let t = tables();
    let saw = t.stack.last().is_some_and(|c| t.keys[c.entry] == key);
    SAW_STOP.store(if saw { 1 } else { 2 }, Ordering::Relaxed);
}

/// Free-threaded build, profiling off: waits until no thread is inside the
/// hook with its tables (see [`on_event_free_threaded`]).
fn wait_until_idle(all: &[usize]) {
    for &ptr in all {
        // SAFETY: the boxes are never freed (see `tables`); only the
        // atomic is read while its thread may still be in the hook.
        let busy = unsafe { &(*(ptr as *const ThreadTables)).busy };
        while busy.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    }
}

/// Every thread's tables (emptied) merged by key, each entry holding one
/// strong reference to its object.
fn merge_tables(all: Vec<usize>) -> PtrMap<Entry> {
    let mut merged: PtrMap<Entry> = PtrMap::default();
    for ptr in all {
        // SAFETY: the hook is off and no thread is inside it (the GIL, or
        // `wait_until_idle`), so no thread is using its tables; the boxes
        // are never freed (see `tables`).
        let t = unsafe { &mut *(ptr as *mut ThreadTables) };
        t.stack.clear();
        t.index.clear();
        for (key, e) in t.keys.drain(..).zip(t.entries.drain(..)) {
            match merged.get_mut(&key) {
                Some(m) => {
                    m.counts.add(&e.counts);
                    for (callee, c) in &e.callees {
                        m.callees.entry(*callee).or_default().add(c);
                    }
                    // SAFETY: a second strong reference to the same key's object; GIL held.
                    unsafe { ffi::Py_DECREF(e.object as *mut ffi::PyObject) };
                }
                None => {
                    merged.insert(key, e);
                }
            }
        }
    }
    merged
}
