//! Turning the deterministic measurements on and off: `--exact`
//! ([`crate::exact`]) and line timing ([`crate::lines`]). Each records on
//! its own; what they share — the profile hook, installed on every thread
//! while one needs it — is switched here through [`hook::set_mode`], so
//! that neither measurement depends on the hook that calls it.

use crate::modes::{EXACT, LINES};
use crate::{exact, hook, lines};
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::sync::atomic::Ordering;

/// Installs the hook on every existing thread. New threads call
/// [`crate::hook::exact_install_current`] through `threading.setprofile`.
#[pyfunction]
pub fn exact_start(py: Python<'_>) -> PyResult<()> {
    exact::begin(py)?;
    hook::set_mode(py, &EXACT, true)
}

/// Removes the hook everywhere and returns the tables as cProfile's
/// `getstats()` would: `[(object, calls, recursive_calls, inline_s, total_s,
/// [(callee_object, calls, recursive_calls, inline_s, total_s), …]), …]`.
#[pyfunction]
pub fn exact_stop(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    if EXACT.load(Ordering::Relaxed) {
        exact::note_stop();
    }
    hook::set_mode(py, &EXACT, false)?;
    exact::collect(py)
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
