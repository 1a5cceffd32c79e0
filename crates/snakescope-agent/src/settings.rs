//! `run`'s settings for the bootstrap (`python/snakescope/_run.py`): it hands
//! its options over as bytes and gets them back parsed by `run`'s own clap
//! definition (`snakescope_cli::run_settings`), typed, defaults resolved.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// `run`'s settings, as the bootstrap reads them.
#[pyclass(frozen, get_all, module = "snakescope._native")]
pub struct RunSettings {
    rate: f64,
    /// The file to write (the format's default name, with this process's
    /// pid, when `run` was given none), relative to the starting directory.
    output: PathBuf,
    format: String,
    idle: bool,
    gil: bool,
    opcodes: bool,
    quiet: bool,
    exact: bool,
    sort: String,
    lines: Vec<String>,
    memory: String,
    memory_interval: u64,
    stat: bool,
    /// Where the asyncio task layout arrives (`None`: tasks not followed).
    task_layout_file: Option<PathBuf>,
    /// Where to write the capture so far every second (`--live-web`).
    live_snapshot_file: Option<PathBuf>,
    /// Where the messages at the end go instead of stderr (`--live`).
    messages_file: Option<PathBuf>,
    /// Where the capture goes when `run` followed child processes.
    handoff_file: Option<PathBuf>,
}

/// Parses the bootstrap's options (each as bytes: a file name need not be
/// UTF-8). A `ValueError` with clap's one line when they do not parse.
#[pyfunction]
pub fn run_settings(options: Vec<Vec<u8>>) -> PyResult<RunSettings> {
    let options = options.into_iter().map(OsString::from_vec).collect();
    let s = snakescope_cli::run_settings::parse_bootstrap_options(options)
        .map_err(PyValueError::new_err)?;
    let output = s
        .output
        .unwrap_or_else(|| s.format.default_file_name(std::process::id()).into());
    Ok(RunSettings {
        rate: s.rate_hz,
        output,
        format: s.format.name().to_owned(),
        idle: s.idle,
        gil: s.gil,
        opcodes: s.opcodes,
        quiet: s.quiet,
        exact: s.exact,
        sort: s.sort,
        lines: s.lines,
        memory: s.memory.to_owned(),
        memory_interval: s.memory_interval,
        stat: s.stat,
        task_layout_file: s.task_layout_file,
        live_snapshot_file: s.live_snapshot_file,
        messages_file: s.messages_file,
        handoff_file: s.handoff_file,
    })
}
