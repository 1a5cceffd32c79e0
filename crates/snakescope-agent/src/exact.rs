//! `run --exact`: deterministic function profiling through the interpreter's
//! C-level profile hook, on every thread, with cProfile's accounting.
//!
//! The accounting mirrors `Modules/_lsprof.c` so that call counts, primitive
//! (non-recursive) counts, inline and cumulative times, and the per-caller
//! breakdown mean exactly what they mean in cProfile/pstats: Python functions
//! are keyed by code object, built-ins by their `PyMethodDef`.
//!
//! The hook runs with the GIL held (the interpreter calls it); each thread has
//! its own tables, which `exact_stop` (also under the GIL) gathers. This
//! relies on the GIL: free-threaded builds need another scheme (issue 6).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::raw::c_int;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

const PY_TRACE_CALL: c_int = 0;
const PY_TRACE_RETURN: c_int = 3;
const PY_TRACE_C_CALL: c_int = 4;
const PY_TRACE_C_EXCEPTION: c_int = 5;
const PY_TRACE_C_RETURN: c_int = 6;

type TraceFunc = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *mut ffi::PyFrameObject,
    c_int,
    *mut ffi::PyObject,
) -> c_int;
type SetProfile = unsafe extern "C" fn(Option<TraceFunc>, *mut ffi::PyObject);
type SetProfileThread =
    unsafe extern "C" fn(*mut ffi::PyThreadState, Option<TraceFunc>, *mut ffi::PyObject) -> c_int;

// Not in the limited API that pyo3's abi3 bindings cover, but exported by
// every CPython 3.8+ (the extension is loaded into the interpreter itself).
extern "C" {
    fn PyFrame_GetCode(frame: *mut ffi::PyFrameObject) -> *mut ffi::PyObject;
    fn PyInterpreterState_Get() -> *mut ffi::PyInterpreterState;
    fn PyInterpreterState_ThreadHead(
        interp: *mut ffi::PyInterpreterState,
    ) -> *mut ffi::PyThreadState;
    fn PyThreadState_Next(tstate: *mut ffi::PyThreadState) -> *mut ffi::PyThreadState;
}

/// Hashes pointers: keys are addresses, already well spread above the low bits.
#[derive(Default)]
struct PtrHasher(u64);
impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only usize keys")
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}
type PtrMap<V> = HashMap<usize, V, BuildHasherDefault<PtrHasher>>;

/// What lsprof counts for a function (`ProfilerEntry`) and for a function as
/// called from one caller (`ProfilerSubEntry`). Times are in clock ticks.
#[derive(Default, Clone, Copy)]
struct Counts {
    calls: u64,
    recursive_calls: u64,
    inline_ticks: i64,
    total_ticks: i64,
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
struct Entry {
    /// A strong reference (code object or built-in function), so an address
    /// is never reused while profiling and labels can be made afterwards.
    object: usize,
    counts: Counts,
    /// Per callee, keyed like [`ThreadTables::index`].
    callees: PtrMap<Counts>,
}

struct Context {
    entry: usize,
    /// The caller's entry, when there is one.
    caller: Option<usize>,
    start: i64,
    /// Ticks spent in callees so far.
    sub: i64,
}

/// One thread's tables. Only touched with the GIL held: by the hook on its
/// own thread, and by `exact_stop`.
#[derive(Default)]
struct ThreadTables {
    /// Key (code object or `PyMethodDef` address) → index in `entries`.
    index: PtrMap<usize>,
    entries: Vec<Entry>,
    keys: Vec<usize>,
    stack: Vec<Context>,
}

static EPOCH: OnceLock<Instant> = OnceLock::new();
/// Every thread's tables (leaked boxes, as addresses), for `exact_stop`.
static ALL: Mutex<Vec<usize>> = Mutex::new(Vec::new());

thread_local! {
    static MINE: Cell<*mut ThreadTables> = const { Cell::new(std::ptr::null_mut()) };
}

/// The profile's clock, in ticks: the CPU's time-stamp counter on x86-64
/// (a few nanoseconds to read, against tens for `clock_gettime`, and it is
/// read twice per call), converted to seconds with a rate measured over the
/// whole profile; nanoseconds elsewhere.
#[cfg(target_arch = "x86_64")]
fn now_ticks() -> i64 {
    // SAFETY: RDTSC has no preconditions on x86-64.
    unsafe { core::arch::x86_64::_rdtsc() as i64 }
}

#[cfg(not(target_arch = "x86_64"))]
fn now_ticks() -> i64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as i64
}

/// Where the clock stood when profiling started, to calibrate ticks.
static STARTED: Mutex<Option<(Instant, i64)>> = Mutex::new(None);

/// This thread's tables, created on first use.
fn tables() -> &'static mut ThreadTables {
    MINE.with(|mine| {
        let mut ptr = mine.get();
        if ptr.is_null() {
            ptr = Box::into_raw(Box::default());
            mine.set(ptr);
            ALL.lock().expect("profiler tables").push(ptr as usize);
        }
        // SAFETY: the tables of a thread are only used with the GIL held —
        // by the hook on this thread or by exact_stop — so never from two
        // places at once; the box is never freed while the thread lives
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
    // SAFETY: per the function's contract the object has that layout.
    unsafe { *(object as *const usize).add(2) }
}

/// The profile hook, as lsprof's `profiler_callback`.
unsafe extern "C" fn hook(
    _obj: *mut ffi::PyObject,
    frame: *mut ffi::PyFrameObject,
    what: c_int,
    arg: *mut ffi::PyObject,
) -> c_int {
    match what {
        PY_TRACE_CALL => {
            // SAFETY: the interpreter passes a live frame with the GIL held;
            // PyFrame_GetCode returns a new reference, released at once (the
            // tables keep their own).
            let code = unsafe { PyFrame_GetCode(frame) };
            tables().enter(code as usize, code);
            // SAFETY: releasing the reference PyFrame_GetCode gave us.
            unsafe { ffi::Py_DECREF(code) };
        }
        PY_TRACE_RETURN => tables().leave(),
        // SAFETY: `arg` is the callable for C events; checked to be a PyCFunction.
        PY_TRACE_C_CALL if unsafe { ffi::PyCFunction_Check(arg) } != 0 => {
            // SAFETY: just checked that `arg` is a PyCFunctionObject.
            let key = unsafe { method_def(arg) };
            tables().enter(key, arg);
        }
        // SAFETY: as above.
        PY_TRACE_C_RETURN | PY_TRACE_C_EXCEPTION if unsafe { ffi::PyCFunction_Check(arg) } != 0 => {
            tables().leave()
        }
        _ => {}
    }
    0
}

fn symbol<T>(name: &str) -> Option<T> {
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
unsafe fn thread_states() -> Vec<*mut ffi::PyThreadState> {
    let mut states = Vec::new();
    // SAFETY: per the contract, the GIL is held; every state in the list is live.
    unsafe {
        let mut tstate = PyInterpreterState_ThreadHead(PyInterpreterState_Get());
        while !tstate.is_null() {
            states.push(tstate);
            tstate = PyThreadState_Next(tstate);
        }
    }
    states
}

/// Sets (or, with `None`, removes) the profile hook on every existing thread:
/// one call on 3.12+, each thread state in turn on 3.11.
fn set_hook_everywhere(_py: Python<'_>, func: Option<TraceFunc>) -> PyResult<()> {
    if let Some(all) = symbol::<SetProfile>("PyEval_SetProfileAllThreads") {
        // SAFETY: the `Python` token proves the GIL is held; the hook has the
        // C signature CPython expects and lives for the whole process.
        unsafe { all(func, std::ptr::null_mut()) };
        return Ok(());
    }
    let per_thread = symbol::<SetProfileThread>("_PyEval_SetProfile").ok_or_else(|| {
        pyo3::exceptions::PyRuntimeError::new_err("this interpreter has no profile hook API")
    })?;
    // SAFETY: GIL held (see above); each thread state is live during the walk.
    for tstate in unsafe { thread_states() } {
        // SAFETY: as above.
        unsafe { per_thread(tstate, func, std::ptr::null_mut()) };
    }
    Ok(())
}

/// Installs the hook on every existing thread. New threads call
/// [`exact_install_current`] through `threading.setprofile`.
#[pyfunction]
pub fn exact_start(py: Python<'_>) -> PyResult<()> {
    EPOCH.get_or_init(Instant::now);
    *STARTED.lock().expect("profiler clock") = Some((Instant::now(), now_ticks()));
    set_hook_everywhere(py, Some(hook))
}

/// How many thread states the interpreter has (a built-in call, so asking
/// records no Python-level calls in the profile).
#[pyfunction]
pub fn thread_count(_py: Python<'_>) -> usize {
    // SAFETY: the `Python` token proves the GIL is held.
    unsafe { thread_states() }.len()
}

/// Installs the hook on the calling thread (a thread started after `exact_start`).
#[pyfunction]
pub fn exact_install_current(_py: Python<'_>) {
    if let Some(set) = symbol::<SetProfile>("PyEval_SetProfile") {
        // SAFETY: GIL held; the hook lives for the whole process.
        unsafe { set(Some(hook), std::ptr::null_mut()) };
    }
}

/// Removes the hook everywhere and returns the tables as cProfile's
/// `getstats()` would: `[(object, calls, recursive_calls, inline_s, total_s,
/// [(callee_object, calls, recursive_calls, inline_s, total_s), …]), …]`.
#[pyfunction]
pub fn exact_stop(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    set_hook_everywhere(py, None)?;
    let all: Vec<usize> = ALL.lock().expect("profiler tables").clone();
    // Merged over threads, by key.
    let mut merged: PtrMap<Entry> = PtrMap::default();
    for ptr in all {
        // SAFETY: GIL held and the hook removed, so no thread is using its
        // tables; the boxes are never freed (see `tables`).
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
    let secs_per_tick = match *STARTED.lock().expect("profiler clock") {
        Some((at, ticks)) if now_ticks() > ticks => {
            at.elapsed().as_secs_f64() / (now_ticks() - ticks) as f64
        }
        _ => 1e-9,
    };
    let secs = |ticks: i64| ticks as f64 * secs_per_tick;
    let row = |c: &Counts| {
        (
            c.calls,
            c.recursive_calls,
            secs(c.inline_ticks),
            secs(c.total_ticks),
        )
    };
    let object = |key: &usize| -> PyObject {
        let ptr = merged[key].object as *mut ffi::PyObject;
        // SAFETY: `merged` holds a strong reference to every key's object;
        // borrowing it here adds one more for the returned list.
        unsafe { PyObject::from_borrowed_ptr(py, ptr) }
    };
    let out = PyList::empty(py);
    for (key, e) in &merged {
        if e.counts.calls == 0 {
            continue;
        }
        let calls = PyList::empty(py);
        for (callee, c) in &e.callees {
            if c.calls > 0 && merged.contains_key(callee) {
                let (n, r, i, t) = row(c);
                calls.append((object(callee), n, r, i, t))?;
            }
        }
        let (n, r, i, t) = row(&e.counts);
        out.append((object(key), n, r, i, t, calls))?;
    }
    for e in merged.values() {
        // SAFETY: releasing the references taken in `enter`; GIL held.
        unsafe { ffi::Py_DECREF(e.object as *mut ffi::PyObject) };
    }
    Ok(out)
}
