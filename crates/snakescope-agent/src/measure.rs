//! Turning the deterministic measurements on and off: `--exact`
//! ([`crate::exact`]) and line timing ([`crate::lines`]). Each records on
//! its own; what they share — the profile hook, installed on every thread
//! while one needs it — is switched here through [`hook::set_mode`], so
//! that neither measurement depends on the hook that calls it.

use crate::capture_py::PyCapture;
use crate::modes::{EXACT, LINES};
use crate::{exact, exact_section, hook, lines};
use pyo3::prelude::*;
use pyo3::types::PyList;
use snakescope_model::{CaptureBuilder, Meta};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

/// When `exact_start` ran: the monotonic clock and the Unix time.
static EXACT_STARTED: Mutex<Option<(Instant, f64)>> = Mutex::new(None);

/// Installs the hook on every existing thread. New threads call
/// [`crate::hook::exact_install_current`] through `threading.setprofile`.
#[pyfunction]
pub fn exact_start(py: Python<'_>) -> PyResult<()> {
    exact::begin(py)?;
    *EXACT_STARTED.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((Instant::now(), crate::unix_now()));
    hook::set_mode(py, &EXACT, true)
}

/// Removes the hook everywhere and returns what it measured as a capture
/// (mode `exact`) with an exact section; code from `hide_files` (the
/// caller's own) is left out.
#[pyfunction]
#[pyo3(signature = (hide_files = Vec::new(), mode = "exact"))]
pub fn exact_stop(py: Python<'_>, hide_files: Vec<String>, mode: &str) -> PyResult<PyCapture> {
    if EXACT.load(Ordering::Relaxed) {
        exact::note_stop();
    }
    hook::set_mode(py, &EXACT, false)?;
    let (merged, secs_per_tick) = exact::drain();
    let mut builder = CaptureBuilder::new();
    let section = exact_section::build(py, &merged, secs_per_tick, &hide_files, &mut builder);
    exact::release(py, merged);
    builder.set_exact(section?);
    let mut capture = builder.finish(exact_meta(py, mode)?);
    capture.meta.pid = Some(std::process::id());
    Ok(PyCapture::new(capture))
}

/// An exact capture's metadata: the interpreter, when and how long.
fn exact_meta(py: Python<'_>, mode: &str) -> PyResult<Meta> {
    let started = *EXACT_STARTED.lock().unwrap_or_else(|e| e.into_inner());
    let (duration_s, started_unix_s) =
        started.map_or((0.0, 0.0), |(t, unix)| (t.elapsed().as_secs_f64(), unix));
    let v = py.version_info();
    Ok(Meta {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        mode: mode.to_owned(),
        python_version: Some(format!("{}.{}.{}", v.major, v.minor, v.patch)),
        started_unix_s,
        duration_s,
        free_threaded: crate::cpython::FREE_THREADED,
        ..Meta::default()
    })
}

/// Starts line timing. `matcher(code) -> bool` (optional) is asked about
/// each new code object and selects the matching ones itself; `disable` is
/// `sys.monitoring.DISABLE` on 3.12+ (where `_lines.py` registers
/// `lines_callbacks`), `None` on 3.11 (where the profile hook is used).
#[pyfunction]
#[pyo3(signature = (matcher = None, disable = None))]
pub fn lines_start(
    py: Python<'_>,
    matcher: Option<Py<PyAny>>,
    disable: Option<Py<PyAny>>,
) -> PyResult<()> {
    let _serialised = lines::serialised();
    if lines::begin(py, matcher, disable)? {
        hook::set_mode(py, &LINES, true)?;
    }
    Ok(())
}

/// Stops line timing and returns `[(code, [(line, hits, seconds), …]), …]`
/// for every selected code object that ran, merged over threads.
#[pyfunction]
pub fn lines_stop(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let _serialised = lines::serialised();
    lines::end(py)?;
    if LINES.load(Ordering::Relaxed) {
        hook::set_mode(py, &LINES, false)?;
    }
    lines::collect(py)
}
