//! The capture as stored on disk (see `docs/capture-format.md`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

/// The value of the top-level `format` field.
pub const FORMAT_NAME: &str = "snakescope-capture";
/// The capture version this build writes.
pub const FORMAT_VERSION: u32 = 1;
/// The capture versions this build reads.
pub const READABLE_VERSIONS: [u32; 1] = [FORMAT_VERSION];

/// Why a capture could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("not valid capture JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not a snakescope capture (format field is `{0}`)")]
    WrongFormat(String),
    #[error(
        "capture version `{found}` is not one this snakescope reads (it reads version {})",
        readable_list()
    )]
    UnsupportedVersion { found: String },
    #[error("capture is inconsistent: {0}")]
    Inconsistent(String),
}

/// Refuses a `version` this build cannot read, naming the one found (as written).
fn check_version(version: Option<&serde_json::Value>) -> Result<(), CaptureError> {
    let readable = version
        .and_then(serde_json::Value::as_u64)
        .is_some_and(|v| READABLE_VERSIONS.iter().any(|&r| u64::from(r) == v));
    if readable {
        return Ok(());
    }
    let found = version.map_or_else(|| "missing".to_owned(), ToString::to_string);
    Err(CaptureError::UnsupportedVersion {
        found: found.chars().take(40).collect(),
    })
}

fn readable_list() -> String {
    let list: Vec<String> = READABLE_VERSIONS.iter().map(u32::to_string).collect();
    list.join(", ")
}

/// One source location: a function executing a given line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Frame {
    /// The code object's name (`co_name`).
    pub function: String,
    /// The qualified name (`co_qualname`, 3.11+), when the interpreter has one.
    #[serde(default)]
    pub qualname: Option<String>,
    /// The source file, as the code object names it.
    pub file: String,
    /// The line being executed; 0 when unknown.
    #[serde(default)]
    pub line: u32,
}

impl Frame {
    /// The most specific name known: the qualified name when the interpreter has one.
    pub fn display_name(&self) -> &str {
        self.qualname.as_deref().unwrap_or(&self.function)
    }
}

/// An OS thread seen during the capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThreadRecord {
    /// The OS thread id (what `ps -L` shows).
    pub tid: u64,
    /// The Python `threading` name when known, else the OS name, else null.
    #[serde(default)]
    pub name: Option<String>,
    /// Samples of this thread: the sum of the counts of its stacks.
    pub samples: u64,
    /// Of those, the ones where it was idle.
    #[serde(default)]
    pub idle_samples: u64,
    /// Of those, the ones where it held the GIL.
    #[serde(default)]
    pub gil_samples: u64,
    /// The process it belongs to, in a capture of several processes
    /// (`record --subprocesses`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

/// A distinct (thread, stack, idle, gil) with the number of samples that had it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StackRecord {
    /// Index into the capture's `threads`.
    pub thread: usize,
    /// Indices into the capture's `frames`, root first, leaf last.
    pub frames: Vec<usize>,
    /// The thread was idle (not on a CPU and not holding the GIL).
    pub idle: bool,
    /// The thread held the GIL (never, on a free-threaded build).
    pub gil: bool,
    /// Samples with exactly this thread, stack, idle and GIL state.
    #[schemars(range(min = 1))]
    pub count: u64,
}

/// What was recorded, how and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct Meta {
    /// The version of snakescope that wrote the capture.
    pub tool_version: String,
    /// `record`, `run` or `attach`: the command that wrote the capture
    /// (`api` for `snakescope.Profiler`).
    pub mode: String,
    /// The profiled program's command line.
    #[serde(default)]
    pub command: Vec<String>,
    /// The profiled process.
    #[serde(default)]
    pub pid: Option<u32>,
    /// The interpreter's version, when known.
    #[serde(default)]
    pub python_version: Option<String>,
    /// Sampling instants asked for per second (0 in an exact capture:
    /// nothing was sampled).
    #[schemars(range(min = 0))]
    pub requested_rate_hz: f64,
    /// When recording started, in seconds since the Unix epoch.
    #[serde(default)]
    pub started_unix_s: f64,
    /// How long recording lasted, in seconds.
    #[schemars(range(min = 0))]
    pub duration_s: f64,
    /// Sampling instants in the recording (one per period of `requested_rate_hz`).
    pub ticks: u64,
    /// Instants not sampled: the thread list could not be read, or sampling
    /// was more than a period behind schedule.
    #[serde(default)]
    pub lost_ticks: u64,
    /// Thread stacks discarded because the target changed them while they were read.
    #[serde(default)]
    pub torn_stacks: u64,
    /// Recorded with `--idle`: idle stacks are included.
    #[serde(default)]
    pub include_idle: bool,
    /// Recorded with `--gil`: only stacks holding the GIL are included.
    #[serde(default)]
    pub gil_only: bool,
    /// The target's exit status when snakescope launched it (`-N`: killed by
    /// signal `N`); null otherwise.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The interpreter was a free-threaded build (3.13t): it has no GIL, so
    /// no sample holds one. Written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schemars(extend("const" = true))]
    pub free_threaded: bool,
    /// The program's wall-clock time from its launch to its exit, when
    /// snakescope launched it (`duration_s` starts once the interpreter
    /// was found).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub wall_s: Option<f64>,
    /// The program's CPU time in user mode (from `getrusage`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub user_s: Option<f64>,
    /// The program's CPU time in system mode (from `getrusage`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub sys_s: Option<f64>,
    /// The program's peak resident set size (from `getrusage`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// How the sampler's thread was scheduled while it sampled wall time
    /// (`--idle`, `--gil`); absent when real-time priority was not tried
    /// (counting CPU time; above 20 kHz, where the sampler spins) and in
    /// captures that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler_priority: Option<SamplerPriority>,
}

/// The sampler thread's scheduling, which decides whether its ticks run on
/// time on a busy machine (`Meta::sampler_priority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SamplerPriority {
    /// Real-time (`SCHED_FIFO`): each tick ran when its timer fired.
    Realtime,
    /// Real-time priority was refused (neither root, `CAP_SYS_NICE` nor
    /// `RLIMIT_RTPRIO`): on a busy machine a tick waits for a CPU, which
    /// falls free mostly when a thread blocks.
    Refused,
    /// Real-time until the sampler's own work took more than half of a
    /// second (too many threads for the rate); normal priority from then on.
    GaveUp,
}

/// CPU times and peak RSS, as `getrusage` reports them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub user_s: f64,
    pub sys_s: f64,
    pub peak_rss_bytes: u64,
}

impl Meta {
    /// Records `usage` in the metadata.
    pub fn set_usage(&mut self, usage: Usage) {
        self.user_s = Some(usage.user_s);
        self.sys_s = Some(usage.sys_s);
        self.peak_rss_bytes = Some(usage.peak_rss_bytes);
    }
}

impl Meta {
    /// Sampling instants per second actually achieved.
    pub fn effective_rate_hz(&self) -> f64 {
        if self.duration_s > 0.0 {
            self.ticks.saturating_sub(self.lost_ticks) as f64 / self.duration_s
        } else {
            0.0
        }
    }

    /// The time one sample stands for, in seconds: the requested sampling
    /// period, else the effective one; `None` when neither is known (a
    /// capture without a rate or a duration).
    pub fn sample_period_s(&self) -> Option<f64> {
        [self.requested_rate_hz, self.effective_rate_hz()]
            .into_iter()
            .find(|r| r.is_finite() && *r > 0.0)
            .map(|r| 1.0 / r)
    }
}

/// An aggregated profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Capture {
    /// Always `snakescope-capture`.
    #[schemars(extend("const" = FORMAT_NAME))]
    pub format: String,
    /// The format's version: a new field does not change it, removing a
    /// field or changing its meaning does.
    #[schemars(extend("const" = FORMAT_VERSION))]
    pub version: u32,
    pub meta: Meta,
    /// One entry per OS thread seen.
    pub threads: Vec<ThreadRecord>,
    /// One entry per distinct source location.
    pub frames: Vec<Frame>,
    /// One entry per distinct (thread, stack, idle, GIL state).
    pub stacks: Vec<StackRecord>,
    /// Present when memory was recorded (`snakescope run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<crate::memory::Memory>,
    /// Present after `run --exact` or `Profiler(exact=True)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<crate::exact::ExactStats>,
    /// Present when lines were timed (`@profile`, `run --lines`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<crate::exact::LineTimings>,
    /// Present after `record --opcodes` or `run --opcodes`: each sampled
    /// code object's instructions and their samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opcodes: Option<crate::opcodes::Opcodes>,
    /// Present after `record --stat` or `run --stat`: what `snakescope stat`
    /// measures, for this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<crate::stat::Stat>,
    /// Present after `record --subprocesses`: every process sampled, the
    /// recorded one first (threads name theirs with `pid`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<crate::processes::ProcessRecord>,
    /// Present after `snakescope advise`: the advisor's findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<crate::findings::Findings>,
    /// Present after `record --async` or `run` of a program with asyncio
    /// tasks: the task table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks: Option<crate::tasks::AsyncTasks>,
}

impl Capture {
    /// Reads and validates a capture.
    pub fn read_from(reader: impl Read) -> Result<Capture, CaptureError> {
        let value: serde_json::Value = serde_json::from_reader(reader)?;
        let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
        if format != FORMAT_NAME {
            return Err(CaptureError::WrongFormat(format.to_owned()));
        }
        check_version(value.get("version"))?;
        let capture: Capture = serde_json::from_value(value)?;
        capture.check_indices()?;
        capture.check_totals()?;
        capture.check_measured()?;
        Ok(capture)
    }

    /// Writes the capture as JSON.
    pub fn write_to(&self, writer: impl Write) -> Result<(), CaptureError> {
        serde_json::to_writer(writer, self)?;
        Ok(())
    }

    /// Total thread-samples in the capture.
    pub fn total_samples(&self) -> u64 {
        self.stacks.iter().map(|s| s.count).sum()
    }

    /// Thread-samples per tick sampled (lost ticks left out) of a CPU-time
    /// capture: the CPUs the program's threads kept busy, 1.0 for one thread
    /// that never waited. `None` for wall-time or GIL captures (which count
    /// waiting) and captures without ticks.
    pub fn cpu_coverage(&self) -> Option<f64> {
        let meta = &self.meta;
        let sampled = meta.ticks.saturating_sub(meta.lost_ticks);
        (!meta.include_idle && !meta.gil_only && sampled > 0)
            .then(|| self.total_samples() as f64 / sampled as f64)
    }

    /// Whether nothing was measured: no sample, no exact statistics, no line
    /// timing and no memory.
    pub fn is_empty(&self) -> bool {
        self.total_samples() == 0
            && self.exact.as_ref().map_or(true, |e| e.functions.is_empty())
            && self.lines.as_ref().map_or(true, |l| l.functions.is_empty())
            && self.memory.is_none()
    }

    /// Refuses exact and line sections of an unknown version or naming
    /// frames the capture does not have.
    fn check_measured(&self) -> Result<(), CaptureError> {
        let frames = self.frames.len();
        if let Some(exact) = &self.exact {
            crate::exact::check_exact(exact, frames).map_err(CaptureError::Inconsistent)?;
        }
        if let Some(lines) = &self.lines {
            crate::exact::check_lines(lines, frames).map_err(CaptureError::Inconsistent)?;
        }
        if let Some(opcodes) = &self.opcodes {
            crate::opcodes::check_opcodes(opcodes).map_err(CaptureError::Inconsistent)?;
        }
        if let Some(tasks) = &self.tasks {
            tasks.check(frames).map_err(CaptureError::Inconsistent)?;
        }
        Ok(())
    }
}

/// The most samples (or, for memory, bytes) a capture may add up to: 2^53,
/// so that every total is exact as an `f64` and stays far from overflowing
/// when an output scales it (nanoseconds per sample, colour arithmetic).
pub const MAX_TOTAL: u64 = 1 << 53;

impl Capture {
    /// Refuses counts that add up beyond [`MAX_TOTAL`]: no recording has
    /// them, and outputs would overflow computing with them.
    fn check_totals(&self) -> Result<(), CaptureError> {
        let too_big = |what: &str, values: &mut dyn Iterator<Item = u64>| {
            let mut total = 0u64;
            for v in values {
                total = total.saturating_add(v);
                if total > MAX_TOTAL {
                    return Err(CaptureError::Inconsistent(format!(
                        "{what} add up to more than 2^53"
                    )));
                }
            }
            Ok(())
        };
        too_big("stack counts", &mut self.stacks.iter().map(|s| s.count))?;
        for t in &self.threads {
            too_big(
                "thread sample counts",
                &mut [t.samples, t.idle_samples, t.gil_samples].into_iter(),
            )?;
        }
        if let Some(memory) = &self.memory {
            type Field = fn(&crate::memory::MemorySite) -> u64;
            let fields: [(&str, Field); 4] = [
                ("allocated bytes", |s| s.allocated_bytes),
                ("freed bytes", |s| s.freed_bytes),
                ("peak bytes", |s| s.peak_bytes),
                ("bytes alive at the end", |s| s.end_bytes),
            ];
            for (what, field) in fields {
                too_big(what, &mut memory.sites.iter().map(field))?;
            }
        }
        Ok(())
    }
}

impl Capture {
    fn check_indices(&self) -> Result<(), CaptureError> {
        for (i, stack) in self.stacks.iter().enumerate() {
            if stack.thread >= self.threads.len() {
                return Err(CaptureError::Inconsistent(format!(
                    "stack {i} names thread {} of {}",
                    stack.thread,
                    self.threads.len()
                )));
            }
            if let Some(&bad) = stack.frames.iter().find(|&&f| f >= self.frames.len()) {
                return Err(CaptureError::Inconsistent(format!(
                    "stack {i} names frame {bad} of {}",
                    self.frames.len()
                )));
            }
        }
        if let Some(memory) = &self.memory {
            for (i, site) in memory.sites.iter().enumerate() {
                if let Some(&bad) = site.frames.iter().find(|&&f| f >= self.frames.len()) {
                    return Err(CaptureError::Inconsistent(format!(
                        "memory site {i} names frame {bad} of {}",
                        self.frames.len()
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Meta;

    #[test]
    fn sample_period_prefers_the_requested_rate() {
        let meta = |rate, duration_s, ticks| Meta {
            requested_rate_hz: rate,
            duration_s,
            ticks,
            ..Meta::default()
        };
        assert_eq!(meta(1000.0, 1.0, 900).sample_period_s(), Some(0.001));
        assert_eq!(meta(0.0, 2.0, 100).sample_period_s(), Some(0.02));
        assert_eq!(meta(0.0, 0.0, 100).sample_period_s(), None);
        assert_eq!(meta(f64::NAN, 0.0, 0).sample_period_s(), None);
    }
}
