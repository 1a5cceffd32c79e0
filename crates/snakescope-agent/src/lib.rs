//! `snakescope._native`: the agent inside the target process.
//!
//! This first slice is the local sampler: a Rust thread inside the target
//! that reads the process's own interpreter state through the same walker and
//! layouts as `record`, via `process_vm_readv` on its own pid (always
//! permitted, and a stale pointer can never fault the process). It never
//! takes the GIL. The module also exposes the whole command line
//! (`cli_main`), so the Python package's `snakescope` command is the same
//! program as the standalone binary.

mod builtins;
mod capture_py;
mod chain;
mod clock;
mod cpython;
mod exact;
mod exact_section;
mod hook;
mod lines;
mod live;
mod looks;
mod measure;
mod memory;
mod modes;
mod own;
mod ptrmap;
mod rescue;
mod settings;
mod stat;
mod threads;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use snakescope_model::{Capture, CaptureBuilder, Meta};
use snakescope_remote::{Sampler, SamplerSettings, Target};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The agent's own allocations bypass the allocator hooks (see `memory::real`).
#[global_allocator]
static ALLOCATOR: memory::real::LibcAllocator = memory::real::LibcAllocator;

/// The running sampler, if any.
struct Running {
    /// The process that started the sampler: after `fork`, the child has no
    /// sampler thread and must not wait for one.
    pid: u32,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Recording, String>>,
    /// What it counts into, which the live snapshots copy (`live.rs`).
    shared: snakescope_model::SharedBuilder,
    /// The capture's metadata as known at the start.
    meta: Meta,
    /// The sampler's ticks so far (for the live snapshots).
    ticks: Arc<snakescope_remote::TickCounts>,
}

/// What the sampler thread hands back: the sink it filled, still open for
/// the memory data, and the metadata.
pub(crate) struct Recording {
    builder: CaptureBuilder,
    meta: Meta,
    /// With `--opcodes`: the samples per instruction (the opcode table is
    /// added by the bootstrap, which can ask the interpreter).
    opcodes: Option<snakescope_model::Opcodes>,
    /// asyncio's task table, when tasks were followed.
    tasks: Option<snakescope_model::AsyncTasks>,
}

impl Recording {
    pub(crate) fn finish(self) -> Capture {
        let mut capture = self.builder.finish(self.meta);
        capture.opcodes = self.opcodes;
        if let Some(mut tasks) = self.tasks {
            tasks.count_running(&capture.stacks);
            capture.tasks = Some(tasks);
        }
        capture
    }
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// Finds the interpreter in this process, saying once per process when its
/// memory can only be read the slower way (see [`Target::reader_note`]).
/// The line goes to Python's `sys.stderr`, as the bootstrap's own lines do.
pub(crate) fn attach_self(py: Python<'_>) -> PyResult<Target> {
    let target =
        Target::attach(std::process::id()).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    static NOTED: AtomicBool = AtomicBool::new(false);
    if let Some(note) = target.reader_note() {
        if !NOTED.swap(true, Ordering::Relaxed) {
            let stderr = py.import("sys")?.getattr("stderr")?;
            stderr.call_method1("write", (format!("snakescope: {note}\n"),))?;
        }
    }
    Ok(target)
}

/// Starts sampling this process's Python threads on a thread of its own;
/// outermost frames from `hide_files` (the bootstrap) are left out of stacks,
/// and a stack with a frame from `own_files` above the program's frames (the
/// API starting or stopping) is not counted.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (rate_hz = snakescope_cli::defaults::RATE_HZ, idle = false, gil = false, hide_files = Vec::new(), opcodes = false, task_layout = None, own_files = Vec::new()))]
fn start(
    py: Python<'_>,
    rate_hz: f64,
    idle: bool,
    gil: bool,
    hide_files: Vec<String>,
    opcodes: bool,
    task_layout: Option<std::path::PathBuf>,
    own_files: Vec<String>,
) -> PyResult<()> {
    snakescope_remote::check_rate(rate_hz).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let mut running = RUNNING
        .lock()
        .map_err(|_| PyRuntimeError::new_err("sampler state poisoned"))?;
    if running.is_some() {
        return Err(PyRuntimeError::new_err(
            "the snakescope sampler is already running",
        ));
    }
    let target = attach_self(py)?;
    let settings = SamplerSettings {
        rate_hz,
        include_idle: idle,
        gil_only: gil,
        duration: None,
        opcodes,
        native: false,
    };
    let layout = task_layout.map(|path| layout_when_ready(path, target.version.to_string()));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let shared = snakescope_model::SharedBuilder::default();
    let mut sink = shared.clone();
    let meta = Meta {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        mode: "run".to_owned(),
        pid: Some(target.pid),
        python_version: Some(target.version.to_string()),
        requested_rate_hz: rate_hz,
        started_unix_s: unix_now(),
        include_idle: idle,
        gil_only: gil,
        free_threaded: !target.has_gil(),
        ..Meta::default()
    };
    // Published for the live snapshots. The sampler itself is made in its
    // thread, right before it runs: its thread clocks start there, and CPU
    // time the program spent in between would count as samples without ticks.
    let ticks = Arc::new(snakescope_remote::TickCounts::default());
    let published = Arc::clone(&ticks);
    let thread = std::thread::Builder::new()
        .name("snakescope-sampler".into())
        .spawn(move || {
            let started = unix_now();
            let mut sampler = Sampler::new(
                target,
                settings,
                own::AgentHooks {
                    hide_files,
                    own_files,
                },
            );
            sampler.publish_ticks_to(published);
            if let Some(layout) = layout {
                sampler.follow_tasks_from(layout);
            }
            let elapsed = sampler.run(&mut sink, &flag, || true);
            let builder = sink.take();
            let mut meta = sampler.meta(elapsed, started);
            meta.mode = "run".to_owned();
            let opcodes = sampler.take_opcodes();
            let tasks = sampler.take_tasks();
            Ok(Recording {
                builder,
                meta,
                opcodes,
                tasks,
            })
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start the sampler thread: {e}")))?;
    *running = Some(Running {
        pid: std::process::id(),
        stop,
        thread,
        shared,
        meta,
        ticks,
    });
    Ok(())
}

/// asyncio's task layout, once `snakescope run`'s probe has put it in the
/// file at `path` (waited for on a thread of its own; an answer that is not
/// a layout leaves tasks unfollowed).
fn layout_when_ready(
    path: std::path::PathBuf,
    version: String,
) -> std::sync::mpsc::Receiver<snakescope_remote::TaskLayout> {
    let (send, receive) = std::sync::mpsc::channel();
    let _ = std::thread::Builder::new()
        .name("snakescope-tasks".into())
        .spawn(move || {
            if let Ok(layout) = snakescope_cli::wait_for_layout(&path, &version) {
                let _ = send.send(layout);
            }
        });
    receive
}

/// Stops memory tracking (when on) and adds its data to the recording:
/// its allocation sites' frames are interned into the recording's sink.
fn add_memory(recording: &mut Recording, census: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    if !memory::is_on() {
        return Ok(());
    }
    // Taken after the sampler stopped (its cost is not the program's) and
    // before memory tracking stops (so the census sees what tracking saw).
    memory::pause();
    let at_end: Option<memory::CensusRows> = match census {
        Some(f) => {
            // The census at the end also marks what module globals still
            // hold, which is not leaked (`_memory.census_rows`).
            Some(f.call0()?.extract()?)
        }
        None => None,
    };
    let (frames, mut mem) = memory::stop_memory().map_err(PyRuntimeError::new_err)?;
    mem.census.extend(memory::take_peak_census());
    mem.census.extend(at_end.map(memory::into_census));
    put_memory(&mut recording.builder, frames, mem);
    Ok(())
}

/// Puts a memory section into `sink`: its sites' `frames` interned there.
pub(crate) fn put_memory(
    sink: &mut CaptureBuilder,
    frames: Vec<snakescope_model::Frame>,
    mut mem: snakescope_model::Memory,
) {
    let map: Vec<usize> = frames.into_iter().map(|f| sink.intern_frame(f)).collect();
    let sites = std::mem::take(&mut mem.sites);
    sink.set_memory(mem);
    for mut site in sites {
        for f in &mut site.frames {
            *f = map[*f];
        }
        sink.add_memory_site(site);
    }
}

/// What the running sampler counts into, the capture's metadata as known at
/// the start and its ticks so far (for the live snapshots), or `None` when
/// it is not running here.
pub(crate) fn running_source() -> Option<(
    snakescope_model::SharedBuilder,
    Meta,
    Arc<snakescope_remote::TickCounts>,
)> {
    let running = RUNNING.lock().ok()?;
    let r = running.as_ref().filter(|r| r.pid == std::process::id())?;
    Some((r.shared.clone(), r.meta.clone(), Arc::clone(&r.ticks)))
}

/// The CPU time the sampler thread has taken so far, while it runs.
pub(crate) fn sampler_cpu_s() -> Option<f64> {
    use std::os::unix::thread::JoinHandleExt;
    let running = RUNNING.lock().ok()?;
    let thread = running.as_ref()?.thread.as_pthread_t();
    let mut clock: libc::clockid_t = 0;
    // SAFETY: the sampler thread is running (its handle is held, not joined),
    // and `clock` is a valid place for its clock id.
    if unsafe { libc::pthread_getcpuclockid(thread, &mut clock) } != 0 {
        return None;
    }
    // SAFETY: an all-zero timespec is valid; clock_gettime fills it.
    let mut t: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a thread CPU clock of this process, and a valid timespec.
    if unsafe { libc::clock_gettime(clock, &mut t) } != 0 {
        return None;
    }
    Some(t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9)
}

/// Stops the sampler and returns its capture. Needs no GIL: the rescue
/// after a fatal signal calls it too.
pub(crate) fn stop_sampler_unlocked() -> Result<Recording, String> {
    let running = RUNNING
        .lock()
        .map_err(|_| "sampler state poisoned".to_owned())?
        .take()
        .ok_or("the snakescope sampler is not running")?;
    if running.pid != std::process::id() {
        // A forked child: the sampler thread stayed in the parent.
        std::mem::forget(running.thread);
        return Err("the sampler runs in the parent process, not in this fork".into());
    }
    running.stop.store(true, Ordering::Relaxed);
    running
        .thread
        .join()
        .map_err(|_| "the sampler thread panicked".to_owned())?
}

/// Stops the sampler and returns its capture. The sampler never needs the
/// GIL; the rest of the program runs while it stops.
fn stop_sampler(py: Python<'_>) -> PyResult<Recording> {
    py.allow_threads(stop_sampler_unlocked)
        .map_err(PyRuntimeError::new_err)
}

/// The memory data without a census (which needs the GIL), after a fatal signal.
pub(crate) fn add_memory_without_census(recording: &mut Recording) {
    // The only errors are the state's own; the capture is written without memory then.
    let _ = add_memory(recording, None);
}

/// One line to stderr; a closed stderr is not the program's problem.
pub(crate) fn note_raw(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Why a `run` capture can hold no sample (the note that says so).
pub(crate) const EMPTY_RUN: &str = "no thread was running Python code while sampled";

/// Stops the sampler (and memory tracking) and returns the capture, its
/// mode `mode` (`run` for the bootstrap, `api` for `Profiler`).
#[pyfunction]
#[pyo3(signature = (census = None, mode = "api"))]
fn stop_capture(
    py: Python<'_>,
    census: Option<&Bound<'_, PyAny>>,
    mode: &str,
) -> PyResult<capture_py::PyCapture> {
    rescue::disarm();
    py.allow_threads(live::stop);
    let mut recording = stop_sampler(py)?;
    add_memory(&mut recording, census)?;
    let mut capture = recording.finish();
    capture.meta.mode = mode.to_owned();
    Ok(capture_py::PyCapture::new(capture))
}

/// The output formats, as `snakescope_formats::FORMATS` declares them:
/// name, the file-name suffixes that imply it, the default file name
/// (`{pid}` to be replaced), the sections it draws, binary or text, and
/// whether `diff` writes it.
#[pyfunction]
fn formats(py: Python<'_>) -> PyResult<Vec<Bound<'_, pyo3::types::PyDict>>> {
    use pyo3::types::PyDict;
    snakescope_formats::FORMATS
        .iter()
        .map(|spec| {
            let entry = PyDict::new(py);
            entry.set_item("name", spec.name)?;
            entry.set_item("about", spec.about)?;
            entry.set_item("suffixes", spec.suffixes.to_vec())?;
            entry.set_item("default_file", spec.format.default_file_name("{pid}"))?;
            let draws: Vec<&str> = spec.draws.iter().map(|s| s.name()).collect();
            entry.set_item("draws", draws)?;
            entry.set_item("binary", spec.binary)?;
            entry.set_item("compares", spec.compares)?;
            Ok(entry)
        })
        .collect()
}

/// Whether the sampler is running.
#[pyfunction]
fn is_running() -> bool {
    RUNNING.lock().map(|r| r.is_some()).unwrap_or(false)
}

/// Runs the `snakescope` command line with `argv` (program name first); returns the exit status.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<std::ffi::OsString>) -> u8 {
    // OsString: Python's `sys.argv` holds bytes that are not UTF-8 as
    // surrogate escapes, which PyO3 turns back into the bytes.
    py.allow_threads(|| snakescope_cli::main_with_args(argv))
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d: Duration| d.as_secs_f64())
}

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_RATE_HZ", snakescope_cli::defaults::RATE_HZ)?;
    m.add(
        "DEFAULT_MEMORY_INTERVAL",
        snakescope_cli::defaults::MEMORY_INTERVAL_BYTES,
    )?;
    m.add_function(wrap_pyfunction!(formats, m)?)?;
    m.add_function(wrap_pyfunction!(settings::run_settings, m)?)?;
    m.add_class::<settings::RunSettings>()?;
    m.add_function(wrap_pyfunction!(start, m)?)?;
    m.add_function(wrap_pyfunction!(stat::stat_start, m)?)?;
    m.add_function(wrap_pyfunction!(stat::stat_stop, m)?)?;
    m.add_function(wrap_pyfunction!(stop_capture, m)?)?;
    m.add_class::<capture_py::PyCapture>()?;
    m.add_function(wrap_pyfunction!(is_running, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(rescue::rescue_arm, m)?)?;
    m.add_function(wrap_pyfunction!(measure::exact_start, m)?)?;
    m.add_function(wrap_pyfunction!(hook::exact_install_current, m)?)?;
    m.add_function(wrap_pyfunction!(builtins::hooks_install, m)?)?;
    m.add_function(wrap_pyfunction!(builtins::hooks_installed, m)?)?;
    m.add_function(wrap_pyfunction!(builtins::hooks_exact_sees, m)?)?;
    m.add_function(wrap_pyfunction!(builtins::hooks_lines_depth, m)?)?;
    m.add_function(wrap_pyfunction!(measure::exact_stop, m)?)?;
    m.add_function(wrap_pyfunction!(hook::thread_count, m)?)?;
    m.add_function(wrap_pyfunction!(lines::lines_select, m)?)?;
    m.add_function(wrap_pyfunction!(measure::lines_start, m)?)?;
    m.add_function(wrap_pyfunction!(measure::lines_stop, m)?)?;
    m.add_function(wrap_pyfunction!(lines::lines_callbacks, m)?)?;
    m.add_function(wrap_pyfunction!(memory::memory_start, m)?)?;
    m.add_function(wrap_pyfunction!(memory::memory_label, m)?)?;
    m.add_function(wrap_pyfunction!(memory::memory_pause, m)?)?;
    m.add_function(wrap_pyfunction!(memory::memory_hooks, m)?)?;
    m.add_function(wrap_pyfunction!(memory::memory_close_censuses, m)?)?;
    m.add_function(wrap_pyfunction!(memory::census_kicker_run, m)?)?;
    m.add_function(wrap_pyfunction!(memory::heap_census, m)?)?;
    m.add_function(wrap_pyfunction!(live::live_start, m)?)?;
    m.add_function(wrap_pyfunction!(looks::looks_arm, m)?)?;
    m.add_function(wrap_pyfunction!(looks::looks_wait, m)?)?;
    m.add_function(wrap_pyfunction!(looks::looks_stop, m)?)?;
    m.add_function(wrap_pyfunction!(memory::memory_resume, m)?)?;
    m.add_function(wrap_pyfunction!(memory::memory_restore_allocators, m)?)?;
    m.add_function(wrap_pyfunction!(memory::memory_on, m)?)?;
    m.add_function(wrap_pyfunction!(memory::memory_elapsed, m)?)?;
    Ok(())
}
