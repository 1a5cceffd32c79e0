//! The deterministic measurements of a capture (see `docs/capture-format.md`):
//! exact function statistics (`run --exact`, cProfile's accounting) and line
//! timings (`@profile`, `run --lines`, kernprof's). Each is a section with a
//! version of its own, so a reader can refuse a section it does not know
//! while reading the rest.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version of the `exact` and `lines` sections this build writes.
pub const SECTION_VERSION: u32 = 1;

fn section_version() -> u32 {
    SECTION_VERSION
}

/// Every call of every function, with cProfile's accounting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct ExactStats {
    /// The section's own version: a reader refuses one it does not read.
    #[serde(default = "section_version")]
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// One per function called, in no particular order.
    pub functions: Vec<ExactFunction>,
}

/// One function's calls and times. A function is keyed as pstats keys it:
/// its file, first line and name; a built-in is file `~`, line 0 and
/// cProfile's label (`<built-in method builtins.len>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct ExactFunction {
    /// Index into [`crate::Capture::frames`]: the function, its line the first line.
    pub frame: usize,
    /// Calls, recursive ones included (pstats' `nc`).
    pub calls: u64,
    /// Calls that were not recursive (pstats' `cc`).
    pub primitive_calls: u64,
    /// Seconds in the function itself, outside its callees.
    #[schemars(range(min = 0))]
    pub tottime_s: f64,
    /// Seconds from call to return, callees included, outermost calls only.
    #[schemars(range(min = 0))]
    pub cumtime_s: f64,
    /// The same figures split by caller.
    #[serde(default)]
    pub callers: Vec<ExactCaller>,
}

/// A function's calls and times as called from one caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct ExactCaller {
    /// Index into [`ExactStats::functions`]: the caller.
    pub function: usize,
    /// Calls from this caller, recursive ones included.
    pub calls: u64,
    /// Calls from this caller that were not recursive.
    pub primitive_calls: u64,
    /// Seconds in the function itself during these calls.
    #[schemars(range(min = 0))]
    pub tottime_s: f64,
    /// Seconds from call to return during these calls, callees included.
    #[schemars(range(min = 0))]
    pub cumtime_s: f64,
}

impl ExactStats {
    /// Calls of all functions, and the primitive ones among them.
    pub fn total_calls(&self) -> (u64, u64) {
        self.functions.iter().fold((0, 0), |(n, p), f| {
            (
                n.saturating_add(f.calls),
                p.saturating_add(f.primitive_calls),
            )
        })
    }

    /// Seconds measured: the sum of every function's own time (as pstats
    /// reports "in N seconds").
    pub fn total_time_s(&self) -> f64 {
        self.functions.iter().map(|f| f.tottime_s).sum()
    }
}

/// Calls and times added over several functions or callers (two objects
/// that pstats, or a comparison, cannot tell apart).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ExactTotals {
    pub calls: u64,
    pub primitive_calls: u64,
    pub tottime_s: f64,
    pub cumtime_s: f64,
}

impl ExactTotals {
    /// Adds one function's figures.
    pub fn add_function(&mut self, f: &ExactFunction) {
        self.add(f.calls, f.primitive_calls, f.tottime_s, f.cumtime_s);
    }

    /// Adds one caller's figures.
    pub fn add_caller(&mut self, c: &ExactCaller) {
        self.add(c.calls, c.primitive_calls, c.tottime_s, c.cumtime_s);
    }

    fn add(&mut self, calls: u64, primitive_calls: u64, tottime_s: f64, cumtime_s: f64) {
        self.calls = self.calls.saturating_add(calls);
        self.primitive_calls = self.primitive_calls.saturating_add(primitive_calls);
        self.tottime_s += tottime_s;
        self.cumtime_s += cumtime_s;
    }
}

/// Time spent on each line of selected functions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct LineTimings {
    /// The section's own version: a reader refuses one it does not read.
    #[serde(default = "section_version")]
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// One per selected function that ran.
    pub functions: Vec<LineFunction>,
}

/// One function's lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct LineFunction {
    /// Index into [`crate::Capture::frames`]: the function, its line the first line.
    pub frame: usize,
    /// The lines that ran, by line number.
    pub lines: Vec<LineTiming>,
    /// The function's source from its first line, when it could be read
    /// while recording (reports show it without the file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<String>,
}

/// One line's hits and time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct LineTiming {
    /// The line number.
    pub line: u32,
    /// How often the line ran.
    pub hits: u64,
    /// Seconds spent on the line (wall clock), its callees included.
    #[schemars(range(min = 0))]
    pub time_s: f64,
}

impl LineFunction {
    /// Seconds over all its lines.
    pub fn total_s(&self) -> f64 {
        self.lines.iter().map(|l| l.time_s).sum()
    }
}

/// Refuses a section version this build cannot read.
pub(crate) fn check_section(name: &str, version: u32) -> Result<(), String> {
    if version == SECTION_VERSION {
        return Ok(());
    }
    Err(format!(
        "its `{name}` section is version {version}; this snakescope reads version {SECTION_VERSION}"
    ))
}

/// Refuses indices out of range and figures that are not finite or negative.
pub(crate) fn check_exact(exact: &ExactStats, frames: usize) -> Result<(), String> {
    check_section("exact", exact.version)?;
    let n = exact.functions.len();
    for (i, f) in exact.functions.iter().enumerate() {
        if f.frame >= frames {
            return Err(format!(
                "exact function {i} names frame {} of {frames}",
                f.frame
            ));
        }
        check_times(&format!("exact function {i}"), &[f.tottime_s, f.cumtime_s])?;
        if f.primitive_calls > f.calls {
            return Err(format!(
                "exact function {i} has more primitive calls than calls"
            ));
        }
        for c in &f.callers {
            if c.function >= n {
                return Err(format!(
                    "exact function {i} names caller {} of {n}",
                    c.function
                ));
            }
            check_times(
                &format!("exact function {i}'s caller"),
                &[c.tottime_s, c.cumtime_s],
            )?;
        }
    }
    Ok(())
}

pub(crate) fn check_lines(lines: &LineTimings, frames: usize) -> Result<(), String> {
    check_section("lines", lines.version)?;
    for (i, f) in lines.functions.iter().enumerate() {
        if f.frame >= frames {
            return Err(format!(
                "line function {i} names frame {} of {frames}",
                f.frame
            ));
        }
        let times: Vec<f64> = f.lines.iter().map(|l| l.time_s).collect();
        check_times(&format!("line function {i}"), &times)?;
    }
    Ok(())
}

fn check_times(what: &str, times: &[f64]) -> Result<(), String> {
    match times.iter().find(|t| !t.is_finite() || **t < 0.0) {
        Some(bad) => Err(format!("{what} has a time of {bad} s")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(frame: usize, calls: u64, primitive_calls: u64) -> ExactFunction {
        ExactFunction {
            frame,
            calls,
            primitive_calls,
            tottime_s: 0.5,
            cumtime_s: 1.0,
            callers: Vec::new(),
        }
    }

    #[test]
    fn totals_add_calls_and_own_time() {
        let exact = ExactStats {
            version: SECTION_VERSION,
            functions: vec![function(0, 3, 1), function(1, 2, 2)],
        };
        assert_eq!(exact.total_calls(), (5, 3));
        assert_eq!(exact.total_time_s(), 1.0);
    }

    #[test]
    fn checks_refuse_what_no_recording_has() {
        let mut exact = ExactStats {
            version: SECTION_VERSION,
            functions: vec![function(0, 3, 1)],
        };
        assert!(check_exact(&exact, 1).is_ok());
        assert!(check_exact(&exact, 0).unwrap_err().contains("frame 0 of 0"));
        exact.functions[0].callers.push(ExactCaller {
            function: 4,
            ..ExactCaller::default()
        });
        assert!(check_exact(&exact, 1)
            .unwrap_err()
            .contains("caller 4 of 1"));
        exact.functions[0].callers.clear();
        exact.functions[0].tottime_s = f64::NAN;
        assert!(check_exact(&exact, 1).is_err());
        exact.functions[0].tottime_s = 0.0;
        exact.functions[0].primitive_calls = 9;
        assert!(check_exact(&exact, 1).is_err());
        exact.functions[0].primitive_calls = 1;
        exact.version = 2;
        assert!(check_exact(&exact, 1).unwrap_err().contains("version 2"));
    }

    #[test]
    fn line_checks() {
        let mut lines = LineTimings {
            version: SECTION_VERSION,
            functions: vec![LineFunction {
                frame: 0,
                lines: vec![LineTiming {
                    line: 3,
                    hits: 2,
                    time_s: 0.25,
                }],
                source: Vec::new(),
            }],
        };
        assert!(check_lines(&lines, 1).is_ok());
        assert_eq!(lines.functions[0].total_s(), 0.25);
        lines.functions[0].lines[0].time_s = -1.0;
        assert!(check_lines(&lines, 1).is_err());
        assert!(check_lines(&lines, 0).is_err());
    }
}
