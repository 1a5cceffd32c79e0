//! Comparing captures of the same program (`snakescope diff`), one or
//! several per side: a headline of the measured wall and CPU time beside the
//! sampled time, with a verdict only when they agree beyond noise
//! (`measured`); per function and per line, before and after, in samples,
//! in time (samples times each capture's sampling period) and in shares of
//! each capture's own samples; a text table for the terminal, JSON for
//! tools, Markdown for a pull request, and a differential flame graph
//! (inferno: grown red, shrunk blue).
//!
//! Functions are matched by qualified name and file, lines by file and
//! number. When the two runs' main scripts differ (`before.py` and
//! `after.py`, named by each capture's command line: `scripts`), functions
//! are paired across them by name and then by body, lines by content
//! (`pairing`); what has no pair keeps its own place.
//!
//! Several captures of a side are pooled (`runs`): the tables show the mean
//! per run, the headline medians with a rank test.
//!
//! When both captures recorded memory, the peak, what was alive at the end and
//! the bytes allocated are compared too, in total and per function (the
//! innermost Python frame of each allocation site).
//!
//! When both captures hold the advisor's findings (`snakescope advise -o`),
//! they are matched (`findings`): resolved, remaining, new.
//!
//! Two exact captures (`run --exact`) are compared per function instead,
//! with cProfile's figures (`exact`): calls, own time and time with callees,
//! before and after. An exact capture is not compared with a sampled one.
//!
//! The analysis is in `analysis` (and `exact`); each writer has its own
//! module: `text` and `headline_text` (the terminal), `json`, `markdown`,
//! `flamegraph` (the differential flame graph) and `exact_text` (both
//! outputs of an exact comparison).

mod analysis;
mod exact;
mod exact_text;
mod findings;
mod flamegraph;
mod headline_text;
mod json;
mod markdown;
mod measured;
mod pairing;
mod runs;
mod scripts;
mod text;

#[cfg(test)]
mod fixture;

pub use analysis::{diff, diff_runs};
pub use exact::{CallChange, ExactDiff, ExactFunctionChange, ExactSide, TimeChange};
pub use findings::{FindingChange, FindingsDiff};
pub use flamegraph::{write_differential_flamegraph, Scale, Widths};
pub use measured::{Direction, Headline, Measure, Verdict};
pub use runs::pool as pool_runs;

use crate::exact_edges::exact_of;
use serde::Serialize;
use snakescope_model::Capture;

/// Rows shown per table by the text output unless told otherwise.
pub const DEFAULT_TOP: usize = 10;

/// Why two captures cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("the {0} capture has no samples, so there is nothing to compare")]
    NoSamples(&'static str),
    #[error("the {0} capture has no sampling rate or duration, so its samples have no time")]
    NoRate(&'static str),
    #[error("the {0} capture has no exact calls, so there is nothing to compare")]
    NoCalls(&'static str),
    #[error("the {which} captures were not all taken the same way: capture {index} differs from the first in mode, --idle, --gil, --rate or how its program was started")]
    MixedRuns { which: &'static str, index: usize },
    #[error("several captures per side are compared by their samples, and exact captures (`run --exact`) have none")]
    ExactRuns,
    #[error("the {exact} capture holds exact calls (`run --exact`) and the {sampled} capture sampled stacks: they cannot be compared")]
    Mixed {
        exact: &'static str,
        sampled: &'static str,
    },
}

/// The comparison of two sampled captures, or of two exact ones.
#[derive(Debug, Clone, PartialEq)]
// One comparison per command: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Comparison {
    Samples(Diff),
    Exact(ExactDiff),
}

/// Compares `before` with `after`: their samples ([`diff`]), or, when both
/// are exact captures, their exact statistics. Refuses an exact capture
/// against a sampled one.
pub fn compare(before: &Capture, after: &Capture) -> Result<Comparison, DiffError> {
    compare_runs(&[before], &[after])
}

/// [`compare`] for one capture or several per side (several are sampled
/// captures, pooled: [`diff_runs`]).
pub fn compare_runs(before: &[&Capture], after: &[&Capture]) -> Result<Comparison, DiffError> {
    if before.len() != 1 || after.len() != 1 {
        if before.iter().chain(after).any(|c| exact_of(c).is_some()) {
            return Err(DiffError::ExactRuns);
        }
        return diff_runs(before, after).map(Comparison::Samples);
    }
    let (before, after) = (before[0], after[0]);
    match (exact_of(before), exact_of(after)) {
        (Some(b), Some(a)) => exact::exact_diff((before, b), (after, a)).map(Comparison::Exact),
        (Some(_), None) => Err(DiffError::Mixed {
            exact: "before",
            sampled: "after",
        }),
        (None, Some(_)) => Err(DiffError::Mixed {
            exact: "after",
            sampled: "before",
        }),
        (None, None) => diff(before, after).map(Comparison::Samples),
    }
}

impl Comparison {
    /// The relative change `--fail-if-slower` checks, in percent: for
    /// samples, the least of the changes that made the verdict `slower`
    /// (none when the verdict is not `slower`); for exact captures, the
    /// measured own time's.
    pub fn slower_by_pct(&self) -> Option<f64> {
        match self {
            Comparison::Samples(d) => {
                (d.headline.verdict == Verdict::Slower).then(|| d.headline.least_moved_pct())
            }
            Comparison::Exact(d) => Some(d.total_change_pct()),
        }
    }
}

/// One capture as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// Captures pooled on this side (their times are means per run).
    pub runs: usize,
    pub command: String,
    pub python_version: Option<String>,
    pub samples: u64,
    /// Seconds one sample stands for.
    pub sample_period_s: f64,
    /// Sampled time: samples times the period (thread-seconds).
    pub time_s: f64,
    /// Wall-clock length of the recording.
    pub duration_s: f64,
    pub include_idle: bool,
    pub gil_only: bool,
}

/// Before and after of one quantity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change {
    pub before_samples: u64,
    pub after_samples: u64,
    pub before_s: f64,
    pub after_s: f64,
    /// `after_s - before_s`.
    pub change_s: f64,
    /// Relative change of the time in percent; `None` when it was 0 before.
    pub change_pct: Option<f64>,
    /// Shares of each capture's own samples, 0 to 1.
    pub before_share: f64,
    pub after_share: f64,
    /// `after_share - before_share`.
    pub change_share: f64,
}

/// A function's self time (it was running) and total time (it was on the stack).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionChange {
    pub name: String,
    pub file: String,
    /// The before script, when the function was paired across the two
    /// main scripts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_file: Option<String>,
    /// The before name, when the pairing is a guess by body similarity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    #[serde(rename = "self")]
    pub self_time: Change,
    pub total: Change,
}

/// Samples whose leaf executed one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineChange {
    pub name: String,
    pub file: String,
    pub line: u32,
    /// Where the line was in the before script, when aligned with an
    /// after line by content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_line: Option<u32>,
    /// The aligned line's text changed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub edited: bool,
    #[serde(flatten)]
    pub change: Change,
}

/// The two runs' main scripts, when they differ and were matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptMatch {
    pub before: String,
    pub after: String,
    /// Both texts were read and their lines aligned by content.
    pub lines_aligned: bool,
}

/// The comparison of two captures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub before: Side,
    pub after: Side,
    /// Measured and sampled time, and the verdict.
    pub headline: Headline,
    /// Sampled time before and after (shares are 1 on both sides; means per
    /// run with several).
    pub total: Change,
    pub matched_scripts: Option<ScriptMatch>,
    /// What makes the two captures hard to compare, one line each.
    pub caveats: Vec<String>,
    /// Every function seen in either capture, biggest change in self time first.
    pub functions: Vec<FunctionChange>,
    /// Every line seen in either capture, biggest change first.
    pub lines: Vec<LineChange>,
    /// Present when both captures recorded memory.
    pub memory: Option<MemoryDiff>,
    /// Present when both captures hold the advisor's findings (`advise -o`).
    pub findings: Option<FindingsDiff>,
}

/// A number of bytes before and after.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ByteChange {
    pub before: u64,
    pub after: u64,
    /// `after - before`.
    pub change: i64,
    /// Relative change in percent; `None` when it was 0 before.
    pub change_pct: Option<f64>,
}

impl ByteChange {
    fn new(before: u64, after: u64) -> ByteChange {
        let change = after as i64 - before as i64;
        ByteChange {
            before,
            after,
            change,
            change_pct: (before > 0).then(|| 100.0 * change as f64 / before as f64),
        }
    }
}

/// Bytes allocated where a function was the innermost Python frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionBytes {
    pub name: String,
    pub file: String,
    #[serde(flatten)]
    pub allocated: ByteChange,
}

/// Memory before and after (estimates when recorded in `sampled` mode).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryDiff {
    /// The highest live total seen.
    pub peak_bytes: ByteChange,
    /// Live when recording stopped.
    pub end_bytes: ByteChange,
    /// Allocated in all (freed or not).
    pub allocated_bytes: ByteChange,
    /// Every allocating function, biggest change first.
    pub functions: Vec<FunctionBytes>,
}

/// The function name given to allocations made with no Python frame.
const NO_PYTHON_FRAME: &str = "(no Python frame)";

impl Diff {
    /// The relative change of the total sampled time, in percent.
    pub fn total_change_pct(&self) -> f64 {
        self.total.change_pct.unwrap_or(0.0)
    }
}
