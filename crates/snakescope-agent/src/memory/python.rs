//! The memory tracker's functions for the Python side (`snakescope._memory`,
//! `snakescope run`): start, label, pause and resume, close the census,
//! and what is on.

use super::live::LIVE;
use super::recording::{self, INTERVAL};
use super::state::{is_on, State, STATE};
use super::{census, kicker};
use super::{dlsym, got, pymem, real, timeline, ACTIVE};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Stops recording the calling thread's allocations. Returns whether this
/// call paused it (false: it already was, by an outer pause), to be passed
/// to [`memory_resume`] — a bool, so that the census's pause creates no
/// object the census could count. One thread at a time: a pause on another
/// thread takes the slot over.
#[pyfunction]
pub fn memory_pause() -> bool {
    recording::pause_this_thread()
}

/// Which hooks the interpreter's allocators have: `"sampled"` (allocations
/// only, frees of sampled blocks seen in the raw domain: sampling over
/// pymalloc), `"full"` (every allocation and free: exact mode, or another
/// allocator than pymalloc) or `"none"` (memory never tracked).
#[pyfunction]
pub fn memory_hooks() -> &'static str {
    pymem::installed_hooks()
}

/// Puts the interpreter's own allocators back once tracking has stopped
/// (`snakescope attach`, leaving a program); the native allocation hooks
/// stay, recording nothing. Returns whether the `PyMem` hooks were taken out.
#[pyfunction]
pub fn memory_restore_allocators(py: Python<'_>) -> PyResult<bool> {
    if is_on() {
        return Err(PyRuntimeError::new_err("memory tracking is on"));
    }
    pymem::restore_pymem_allocators(py).map_err(PyRuntimeError::new_err)
}

/// Ends a [`memory_pause`] that returned `paused`.
#[pyfunction]
pub fn memory_resume(paused: bool) {
    recording::resume_this_thread(paused);
}

/// Closes the automatic census near the peak for the rest of this tracking
/// (see `census::CENSUS_CLOSED`); `snakescope run` calls it when the
/// program's main code returns. Returns once no census kick is in flight
/// (see `kicker`): none may take the GIL during the interpreter's exit.
#[pyfunction]
pub fn memory_close_censuses(py: Python<'_>) {
    census::close();
    kicker::close(py);
}

/// Starts tracking memory: `interval_bytes` between samples (0 records every
/// allocation; no default here: the callers pass the one in
/// `snakescope_cli::defaults`, `DEFAULT_MEMORY_INTERVAL` in Python); frames
/// of `hide_files` at the root of stacks are left out.
#[pyfunction]
#[pyo3(signature = (interval_bytes, hide_files = Vec::new(), timeline_ms = 10.0, census = None))]
pub fn memory_start(
    py: Python<'_>,
    interval_bytes: u64,
    hide_files: Vec<String>,
    timeline_ms: f64,
    census: Option<Py<PyAny>>,
) -> PyResult<()> {
    let mut guard = STATE
        .lock()
        .map_err(|_| PyRuntimeError::new_err("memory state poisoned"))?;
    if guard.is_some() {
        return Err(PyRuntimeError::new_err("memory tracking is already on"));
    }
    // Tracking is off (ACTIVE false) here: no hook records or forgets, so
    // none waits for the state lock held meanwhile.
    pymem::install_pymem_hooks(py, interval_bytes).map_err(PyRuntimeError::new_err)?;
    let target = crate::attach_self(py)?;
    let started = Instant::now();
    *guard = Some(State::new(
        target.walker,
        hide_files.into_iter().collect(),
        started,
    ));
    drop(guard);
    INTERVAL.store(interval_bytes, Ordering::Relaxed);
    LIVE.store(0, Ordering::Relaxed);
    // No automatic census on a free-threaded build: there other threads
    // keep running Python code while the census walks every object (the
    // census's view would not be one moment), and it has not been tested there.
    census::reset(census.filter(|_| !crate::cpython::FREE_THREADED));
    start_recording();
    timeline::start(
        started,
        Duration::from_secs_f64(timeline_ms.max(1.0) / 1000.0),
    );
    Ok(())
}

/// Turns the hooks' recording on, once the state is ready, and patches
/// every loaded library's allocator calls.
fn start_recording() {
    static ATFORK: std::sync::Once = std::sync::Once::new();
    ATFORK.call_once(|| {
        // SAFETY: registers a handler that only stores an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(super::in_forked_child)) };
    });
    real::resolve();
    dlsym::resolve();
    ACTIVE.store(true, Ordering::Relaxed);
    // After tracking is on: the sampled hooks' slow path parks the countdown
    // at IDLE while it is off.
    recording::rearm_python_countdown();
    got::patch_everything();
}

/// Opens (`start=True`) or closes a labelled span of the timeline.
#[pyfunction]
pub fn memory_label(name: String, start: bool) {
    let Ok(mut guard) = STATE.lock() else { return };
    let Some(state) = guard.as_mut() else { return };
    state.label(name, start);
}

/// Whether memory tracking is on (for the Python side).
#[pyfunction]
pub fn memory_on() -> bool {
    is_on()
}

/// Seconds since memory tracking started (0 when it is off).
#[pyfunction]
pub fn memory_elapsed() -> f64 {
    STATE
        .lock()
        .ok()
        .and_then(|g| g.as_ref().map(|s| s.started.elapsed().as_secs_f64()))
        .unwrap_or(0.0)
}
