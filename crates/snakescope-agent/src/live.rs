//! `run --live-web`: the capture so far, written every second to a file
//! that the `snakescope run` process (the program's parent) serves as the
//! live page (`commands/top/web.rs`, `CaptureSource::snapshots`).
//!
//! A thread of the agent's own copies what the sampler counted (its
//! builder is shared: `SharedBuilder`) and, when memory is tracked, the
//! sites and the timeline so far (`memory::snapshot`), and writes them as
//! one capture (JSON) to a temporary file renamed over the last one, so the
//! reader never sees half a file. It never takes the GIL; its allocations
//! are the agent's (`memory::real`), not the program's. It stops before the
//! capture is taken at the end, after one last write.
//!
//! With memory tracked, it also asks for live object counts by type
//! (`memory::objects`: a census now and then, and one when the page asks
//! by creating the [`LiveFile::CensusAsked`] file) and writes them beside
//! the capture ([`LiveFile::Objects`]).

use crate::memory::objects;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use snakescope_model::{LiveFile, Meta, SharedBuilder};
use snakescope_remote::TickCounts;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the capture so far is written.
const EVERY: Duration = Duration::from_secs(1);

struct Writer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

static WRITER: Mutex<Option<Writer>> = Mutex::new(None);

/// Starts writing the capture so far to `path` every second (the sampler
/// must be running); with `census` (`() -> CensusRows`, memory tracked),
/// the live object counts by type too.
#[pyfunction]
#[pyo3(signature = (path, census = None))]
pub fn live_start(path: PathBuf, census: Option<Py<PyAny>>) -> PyResult<()> {
    let (shared, meta, ticks) = crate::running_source()
        .ok_or_else(|| PyRuntimeError::new_err("the snakescope sampler is not running"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let started = Instant::now();
    let counting = census.is_some();
    if let Some(census) = census {
        objects::arm(census);
    }
    let thread = std::thread::Builder::new()
        .name("snakescope-live".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if counting {
                    count_objects(started, &path);
                }
                write(&shared, &meta, &ticks, started, &path);
                std::thread::park_timeout(EVERY);
            }
            write(&shared, &meta, &ticks, started, &path);
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the live writer: {e}")))?;
    *WRITER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Writer { stop, thread });
    Ok(())
}

/// Stops the writer, if any (the file stays: its reader removes it).
pub fn stop() {
    let writer = WRITER.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(w) = writer {
        w.stop.store(true, Ordering::Relaxed);
        w.thread.thread().unpark();
        let _ = w.thread.join();
    }
    objects::disarm();
}

/// Writes the censuses so far, then asks for a census when one is due or
/// the page asked (its file is there): a census still waiting when written
/// has waited a second for the main thread.
fn count_objects(started: Instant, path: &Path) {
    if let Ok(json) = serde_json::to_vec(&objects::series()) {
        replace(LiveFile::Objects, path, &json);
    }
    if std::fs::remove_file(LiveFile::CensusAsked.path(path)).is_ok() {
        objects::ask();
    }
    objects::tick(started.elapsed());
}

/// Writes `file` of the snapshot at `path` whole, or not at all.
fn replace(file: LiveFile, path: &Path, bytes: &[u8]) {
    let tmp = file.temporary(path);
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, file.path(path));
    }
}

/// Writes the capture so far (a failed write is skipped: the next one may
/// succeed, and the page shows the last one read).
fn write(shared: &SharedBuilder, meta: &Meta, ticks: &TickCounts, started: Instant, path: &Path) {
    let mut builder = shared.copy();
    if let Some((frames, memory)) = crate::memory::snapshot() {
        crate::put_memory(&mut builder, frames, memory);
    }
    let capture = builder.finish(Meta {
        duration_s: started.elapsed().as_secs_f64(),
        ticks: ticks.ticks.load(Ordering::Relaxed),
        lost_ticks: ticks.lost.load(Ordering::Relaxed),
        ..meta.clone()
    });
    if let Ok(json) = serde_json::to_vec(&capture) {
        replace(LiveFile::Capture, path, &json);
    }
}
