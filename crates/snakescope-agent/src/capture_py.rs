//! `snakescope._native.Capture`: a finished capture as Python holds it —
//! `Profiler.capture()`, and what `run`'s bootstrap writes at exit. It stays
//! the Rust model: rendering it in a format, saving it or reading it as a
//! dict never goes through JSON text and back.

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use snakescope_cli::write_profile::{write_profile, ProfileOutput};
use snakescope_formats::{Format, Section};
use snakescope_model::{Capture, Frame, LineFunction, LineTiming, LineTimings, SECTION_VERSION};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// One timed function as `_lines.LineStats.rows()` gives it: file, first
/// line, name, qualified name (None before 3.11 when unknown), its lines as
/// (line, hits, seconds), and its source from the first line.
type LineRow = (
    String,
    u32,
    String,
    Option<String>,
    Vec<(u32, u64, f64)>,
    Vec<String>,
);

/// A finished capture: samples, memory, exact statistics, line timings.
#[pyclass(name = "Capture", module = "snakescope._native")]
pub struct PyCapture {
    pub(crate) inner: Capture,
}

impl PyCapture {
    pub(crate) fn new(inner: Capture) -> Self {
        PyCapture { inner }
    }
}

#[pymethods]
impl PyCapture {
    /// How it was recorded: `run`, `api`, `exact`, `record`…
    #[getter]
    fn mode(&self) -> &str {
        &self.inner.meta.mode
    }

    /// Thread-samples recorded (0 for an exact capture).
    #[getter]
    fn total_samples(&self) -> u64 {
        self.inner.total_samples()
    }

    /// What it holds: `samples`, `memory`, `exact`, `lines`.
    #[getter]
    fn sections(&self) -> Vec<&'static str> {
        Section::of(&self.inner).iter().map(|s| s.name()).collect()
    }

    /// The capture's JSON (docs/capture-format.md).
    fn json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The capture as a dict (the JSON's shape).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (self.json()?,))
    }

    /// The exact statistics as cProfile's `Profile.stats` dict (what
    /// `pstats.Stats` reads); empty without an exact section.
    fn pstats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let bytes = self.render(Some("pstats"), None, None)?;
        py.import("marshal")?.call_method1("loads", (bytes,))
    }

    /// The capture in a format of the registry (`_native.formats()`) or
    /// `summary`; without one, the format `path`'s name implies (else a
    /// flame graph). `ValueError` when the format cannot draw what it holds.
    /// `sources`: the text of files that are not on disk, by name (IPython's
    /// cells), for the HTML report's annotated source.
    #[pyo3(signature = (format = None, path = None, sources = None))]
    fn render(
        &self,
        format: Option<&str>,
        path: Option<PathBuf>,
        sources: Option<HashMap<String, String>>,
    ) -> PyResult<Vec<u8>> {
        let mut out = Vec::new();
        let result = if format == Some("summary") {
            snakescope_formats::write_summary(&self.inner, &mut out, false)
        } else {
            let path = path.unwrap_or_default();
            let format = format_named(format, &path, default_format(&self.inner))?;
            match (format, sources) {
                (Format::Html, Some(given)) => {
                    snakescope_formats::write_html_with_sources(&self.inner, &given, &mut out)
                }
                _ => snakescope_formats::write(&self.inner, format, &mut out),
            }
        };
        result.map_err(|e| match e.hint() {
            Some(hint) => PyValueError::new_err(format!("{e} ({hint})")),
            None => PyRuntimeError::new_err(e.to_string()),
        })?;
        Ok(out)
    }

    /// Its line timings in `kernprof -l -v`'s layout ("" without any).
    fn lines_text(&self) -> PyResult<String> {
        let mut out = Vec::new();
        snakescope_formats::write_line_timings(&self.inner, &mut out)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Writes it to `path` in `format` (default: from the name).
    #[pyo3(signature = (path, format = None))]
    fn save(&self, path: PathBuf, format: Option<&str>) -> PyResult<()> {
        let rendered = self.render(format, Some(path.clone()), None)?;
        std::fs::write(&path, rendered)
            .map_err(|e| PyRuntimeError::new_err(format!("cannot write `{}`: {e}", path.display())))
    }

    /// Adds line timings (see [`LineRow`]), replacing any.
    fn set_lines(&mut self, rows: Vec<LineRow>) {
        let mut functions = Vec::with_capacity(rows.len());
        for (file, first, function, qualname, lines, source) in rows {
            let frame = intern(
                &mut self.inner,
                Frame {
                    function,
                    qualname,
                    file,
                    line: first,
                },
            );
            let mut lines: Vec<LineTiming> = lines
                .into_iter()
                .map(|(line, hits, time_s)| LineTiming { line, hits, time_s })
                .collect();
            lines.sort_by_key(|l| l.line);
            functions.push(LineFunction {
                frame,
                lines,
                source,
            });
        }
        self.inner.lines = Some(LineTimings {
            version: SECTION_VERSION,
            functions,
        });
    }

    /// Adds the interpreter's opcode table (`_opcodes.table_json()`) to
    /// the instructions `--opcodes` counted; nothing without them.
    fn set_opcode_table(&mut self, table_json: &str) -> PyResult<()> {
        let table: snakescope_model::OpcodeTable = serde_json::from_str(table_json)
            .map_err(|e| PyValueError::new_err(format!("not an opcode table: {e}")))?;
        if let Some(opcodes) = self.inner.opcodes.as_mut() {
            opcodes.table = Some(table);
        }
        Ok(())
    }

    /// `run`'s last facts: the program's command line and exit status, and
    /// the process's CPU times and peak RSS so far.
    #[pyo3(signature = (command, exit_code = None))]
    fn finish_run(&mut self, command: Vec<OsString>, exit_code: Option<i32>) {
        self.inner.stat = crate::stat::take();
        let meta = &mut self.inner.meta;
        meta.set_usage(snakescope_remote::usage(libc::RUSAGE_SELF));
        // Arguments that are not UTF-8 (surrogate escapes in Python) are recorded with U+FFFD.
        meta.command = command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        meta.exit_code = exit_code;
    }

    /// `run`'s output: writes `output` in `format` (default from the name)
    /// and, unless `quiet`, prints the summary (when `summary`) and
    /// `wrote …` on stderr.
    #[pyo3(signature = (output, format = None, quiet = false, summary = true))]
    fn write(
        &self,
        output: PathBuf,
        format: Option<&str>,
        quiet: bool,
        summary: bool,
    ) -> PyResult<()> {
        let out = ProfileOutput {
            path: &output,
            format: format_named(format, &output, default_format(&self.inner))?,
            quiet,
            summary,
            color: false,
            empty_because: crate::EMPTY_RUN,
        };
        write_profile(&self.inner, &out).map_err(|e| match e.hint {
            Some(hint) => PyRuntimeError::new_err(format!("{} ({hint})", e.message)),
            None => PyRuntimeError::new_err(e.message),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<snakescope Capture mode={:?} samples={} sections={:?}>",
            self.inner.meta.mode,
            self.inner.total_samples(),
            self.sections()
        )
    }
}

/// The id of `frame` in the capture's frames, added when new.
fn intern(capture: &mut Capture, frame: Frame) -> usize {
    match capture.frames.iter().position(|f| *f == frame) {
        Some(i) => i,
        None => {
            capture.frames.push(frame);
            capture.frames.len() - 1
        }
    }
}

/// A capture's format when neither a name nor a file name says one:
/// pstats for exact statistics, else a flame graph.
fn default_format(capture: &Capture) -> Format {
    match capture.exact.is_some() && capture.total_samples() == 0 {
        true => Format::Pstats,
        false => Format::Flamegraph,
    }
}

/// The format called `name` (refused when `path`'s name implies another, as
/// on the command line), else the one `path`'s name implies, else `fallback`.
pub(crate) fn format_named(
    name: Option<&str>,
    path: &std::path::Path,
    fallback: Format,
) -> PyResult<Format> {
    let Some(name) = name else {
        return Ok(Format::from_path(path).unwrap_or(fallback));
    };
    let format = Format::from_name(name)
        .ok_or_else(|| PyValueError::new_err(format!("unknown format `{name}`")))?;
    format.fits_path(path).map(|()| format).map_err(|named| {
        PyValueError::new_err(format!(
            "`{}` names a {named} file, but the format is {format}: name it `{}`",
            path.display(),
            format.renamed(path).display()
        ))
    })
}
