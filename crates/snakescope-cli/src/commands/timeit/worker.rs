//! One worker process: a fresh interpreter that runs the setup once, then
//! times the statement the way `timeit` does (`timeit.Timer`: the garbage
//! collector off while timing), `warmups` untimed measurements first.
//! Separate processes spread what one process cannot average away (memory
//! layout, hash seeds, a noisy neighbour at one moment).
//!
//! The results go to a file named on the command line, not to stdout, so a
//! statement that prints does not garble them.

use crate::UserError;
use serde::Deserialize;
use std::path::Path;
use std::process::{Command, Stdio};

/// The worker, run with `python -c`: argv is stmt, setup, number (0:
/// autorange), repeat, warm-ups, result file.
const WORKER: &str = r#"
import json, sys, timeit
stmt, setup, number, repeat, warmups, out = sys.argv[1:7]
number, repeat, warmups = int(number), int(repeat), int(warmups)
timer = timeit.Timer(stmt, setup)
if number == 0:
    number = timer.autorange()[0]
for _ in range(warmups):
    timer.timeit(number)
times = [timer.timeit(number) / number for _ in range(repeat)]
with open(out, "w") as f:
    json.dump({"number": number, "times": times, "version": sys.version.split()[0]}, f)
"#;

/// What one worker measured.
#[derive(Debug, Deserialize)]
pub struct Measured {
    /// Loops per measurement.
    pub number: u64,
    /// Seconds per loop, one per measurement.
    pub times: Vec<f64>,
    /// The interpreter's version.
    pub version: String,
}

/// What to time in one worker.
pub struct Job<'a> {
    pub python: &'a str,
    pub stmt: &'a str,
    pub setup: &'a str,
    /// Loops per measurement; `None`: autorange (at least 0.2 s a measurement).
    pub number: Option<u64>,
    pub repeat: u32,
    pub warmups: u32,
}

/// Runs one worker; `dir` holds its result file.
pub fn run(job: &Job<'_>, dir: &Path, index: usize) -> Result<Measured, UserError> {
    let out = dir.join(format!("worker-{index}.json"));
    let output = Command::new(job.python)
        .args(["-c", WORKER, job.stmt, job.setup])
        .arg(job.number.unwrap_or(0).to_string())
        .arg(job.repeat.to_string())
        .arg(job.warmups.to_string())
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            UserError::new(format!(
                "cannot run `{}`: {}",
                job.python,
                crate::launch::describe(&e)
            ))
            .with_hint("give an interpreter with -p/--python (a path or a name on PATH)")
        })?;
    if !output.status.success() {
        return Err(failed(job, &String::from_utf8_lossy(&output.stderr)));
    }
    let text = std::fs::read_to_string(&out)
        .map_err(|e| UserError::new(format!("the worker wrote no result ({e})")))?;
    let _ = std::fs::remove_file(&out);
    serde_json::from_str(&text)
        .map_err(|e| UserError::new(format!("cannot read the worker's result: {e}")))
}

/// The error for a statement (or setup) that raised: its last line, which
/// names the exception, and a hint for the usual cause.
fn failed(job: &Job<'_>, stderr: &str) -> UserError {
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("it exited with an error");
    let error = UserError::new(format!(
        "`{}` failed in `{}`: {}",
        shown(job.stmt),
        job.python,
        last.trim()
    ));
    if last.contains("NameError") {
        error.with_hint(
            "names the statement uses are defined by setup code: -s/--setup 'import x; y = ...'",
        )
    } else if last.contains("SyntaxError") {
        error.with_hint(
            "each statement is Python code; give several lines as one argument with newlines",
        )
    } else {
        error
    }
}

/// A statement on one line for messages and tables: newlines as `\n`, at
/// most 40 characters.
pub fn shown(stmt: &str) -> String {
    let flat = stmt.trim().replace('\n', "\\n");
    match flat.char_indices().nth(39) {
        Some((at, _)) => format!("{}...", &flat[..at]),
        None => flat,
    }
}
