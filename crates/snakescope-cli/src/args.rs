//! Command-line arguments, as clap parses them. Doc comments are the help text.

use crate::defaults;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use snakescope_formats::{Format, FORMATS};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// snakescope: find where a Python program spends its time.
#[derive(Debug, Parser)]
#[command(name = "snakescope", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sample a Python program from outside, without stopping it, and write a profile.
    Record(RecordArgs),
    /// Print the current Python stack of every thread of a running process.
    Dump(DumpArgs),
    /// Render a saved capture (JSON) into another format.
    Report(ReportArgs),
    /// Run a Python program with the in-process agent (sampling), like `python` would.
    Run(RunArgs),
    /// Compare captures (or runs) of a program before and after a change: what got faster, what got slower, and how sure that is.
    Diff(DiffArgs),
    /// Time small statements like `python -m timeit`, in separate processes, and compare them.
    Timeit(TimeitArgs),
    /// Run a command and report its time, memory, faults and performance counters (`time -v` + `perf stat`).
    Stat(StatArgs),
    /// Show a function's bytecode with each instruction's share of its samples (captures recorded with --opcodes).
    Dis(DisArgs),
    /// Load the in-process agent into a running CPython for a while (memory, exact calls, line timing), then take it out.
    Attach(AttachArgs),
    /// Name the remedy for each hotspot, with its runtime evidence (runs the program under `run`, or reads a capture); `--verify` measures it.
    Advise(AdviseArgs),
    /// Watch a running Python program live: its hottest functions and its threads, refreshed every second.
    Top(TopArgs),
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// The running Python process (CPython 3.8 to 3.15).
    #[arg(short, long)]
    pub pid: u32,

    /// How long the agent profiles, in seconds (0.001 to one year).
    #[arg(short, long, value_name = "SECONDS", value_parser = parse_duration,
          allow_negative_numbers = true)]
    pub duration: Duration,

    /// Output file (format from its name, as `record`'s; JSON keeps the capture).
    #[arg(short, long)]
    pub output: PathBuf,

    /// Output format (default: from the output file's name, else flamegraph; with --exact, pstats).
    #[arg(short, long, value_parser = format_parser(|_| true))]
    pub format: Option<Format>,

    /// Also track memory from the attach on: `sampled` (the default when
    /// given alone: every --memory-interval bytes on average) or `exact`
    /// (every allocation).
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "sampled", value_name = "MODE")]
    pub memory: Option<MemoryMode>,

    /// Mean bytes between memory samples.
    #[arg(long, default_value_t = defaults::MEMORY_INTERVAL_BYTES, value_name = "BYTES")]
    pub memory_interval: u64,

    /// Every call, cProfile's accounting, instead of sampling.
    #[arg(long, conflicts_with = "memory")]
    pub exact: bool,

    /// Time every line of the functions matching PATTERN (`module:function`,
    /// `*` wildcards; repeatable), as `run --lines` does.
    #[arg(long = "lines", value_name = "PATTERN")]
    pub lines: Vec<String>,

    /// Samples per second (1 to 1000000).
    #[arg(short, long, default_value_t = defaults::RATE_HZ, value_name = "HZ",
          value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: f64,

    /// Include threads that are idle (sleeping, blocked on I/O or a lock).
    #[arg(short, long)]
    pub idle: bool,

    /// Only record samples of the thread that holds the GIL.
    #[arg(short, long)]
    pub gil: bool,

    /// Do not print the summary.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct AdviseArgs {
    /// Only hotspots with at least this share (in %) of the samples, or of
    /// the peak heap, are examined.
    #[arg(long, default_value_t = 5.0, value_name = "PERCENT",
          value_parser = crate::args::parse_percent_arg)]
    pub threshold: f64,

    /// Apply each mechanical remedy to a copy of the program, run both with
    /// the same arguments (interleaved) and report the measured speed-up,
    /// or reject a rewrite whose output differs. The program is never modified.
    #[arg(long)]
    pub verify: bool,

    /// With --verify: runs of each program.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(3..=100))]
    pub repeat: u32,

    /// With --verify: write the verified rewrites as a unified diff here.
    #[arg(long, value_name = "FILE", requires = "verify")]
    pub write_patch: Option<PathBuf>,

    /// Also write the capture with its findings here (format from the name:
    /// .json, .html, .txt, …).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The interpreter to run the program and the advisor with (as `run --python`).
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,

    /// Advise on a library module run as a script, like `python -m`.
    #[arg(short = 'm', value_name = "MODULE", conflicts_with = "code")]
    pub module: Option<String>,

    /// Advise on a program passed as a string, like `python -c` (the rules
    /// that read the source have none to read).
    #[arg(short = 'c', value_name = "CODE")]
    pub code: Option<String>,

    /// A capture (.json, ideally from `run --opcodes`), or the script and its
    /// arguments (or the arguments of -m / -c).
    #[arg(
        required_unless_present_any = ["module", "code"],
        allow_hyphen_values = true,
        value_name = "CAPTURE | SCRIPT ARGS"
    )]
    pub args: Vec<OsString>,
}

/// A percentage in (0, 100].
pub(crate) fn parse_percent_arg(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('%').trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 100.0 => Ok(v),
        _ => Err(format!("`{s}` is not a percentage between 0 and 100")),
    }
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// Attach to this running process instead of launching a command.
    #[arg(short, long, conflicts_with = "command")]
    pub pid: Option<u32>,

    /// Samples per second (1 to 1000000).
    #[arg(short, long, default_value_t = defaults::RATE_HZ, value_name = "HZ",
          value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: f64,

    /// Include threads that are idle (sleeping, blocked on I/O or a lock).
    #[arg(short, long)]
    pub idle: bool,

    /// Only count samples of the thread that holds the GIL.
    #[arg(short, long)]
    pub gil: bool,

    /// The sliding window: the last this many seconds.
    #[arg(short, long, default_value = "10", value_name = "SECONDS",
          value_parser = parse_duration, allow_negative_numbers = true)]
    pub window: Duration,

    /// Print one frame as text and exit (for scripts), after sampling --duration.
    #[arg(long)]
    pub once: bool,

    /// With --once: seconds to sample before printing (default 2; less if the program ends).
    #[arg(short, long, value_name = "SECONDS", requires = "once",
          value_parser = parse_duration, allow_negative_numbers = true)]
    pub duration: Option<Duration>,

    /// With --once: functions to print (default 20; the full-screen view shows as many as fit).
    #[arg(short = 'n', long, value_name = "N")]
    pub top: Option<usize>,

    /// Also serve a live page (flame graph of the last --window seconds and
    /// since the start, updated every second) on ADDR (HOST:PORT or a port;
    /// default 127.0.0.1 and a free port); its URL, with a random token
    /// every request must carry, is printed on stderr.
    #[arg(long, value_name = "ADDR", num_args = 0..=1)]
    pub live_web: Option<Option<String>>,

    /// Where the `s` key writes the capture so far (format from its name;
    /// default snakescope-top-PID-N.json, N counting up).
    #[arg(short, long)]
    pub output: Option<std::path::PathBuf>,

    /// The command to launch and watch, after `--`.
    #[arg(last = true, num_args = 1.., value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct DisArgs {
    /// A capture written by `record --opcodes` or `run --opcodes` (JSON).
    pub capture: PathBuf,

    /// The function: its qualified name (`Class.method`), its name, or
    /// FILE:LINE (the innermost function holding that line).
    pub function: String,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct StatArgs {
    /// Run the command this many times and report mean, spread, min and median.
    #[arg(short, long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Write the report here instead of standard error.
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// The command to run (as after `time`: its own options are its own; `--`
    /// before it is accepted too).
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct TimeitArgs {
    /// Statements to time (Python code; several lines in one argument with
    /// newlines). With two or more, each is compared with the first.
    #[arg(required = true, value_name = "STMT")]
    pub stmts: Vec<String>,

    /// Setup code, run once in each worker before timing (repeatable: the
    /// pieces are joined with newlines).
    #[arg(short, long, value_name = "CODE")]
    pub setup: Vec<String>,

    /// Interpreter to time with (repeatable: every statement on every
    /// interpreter). Default: $SNAKESCOPE_PYTHON, else the environment's
    /// own when the wheel installed snakescope there, else `python3`.
    #[arg(short = 'p', long = "python", value_name = "PYTHON")]
    pub pythons: Vec<String>,

    /// Loops per measurement (default: as timeit's autorange, enough loops
    /// for 0.2 s, found by each statement's first worker).
    #[arg(short, long, value_parser = clap::value_parser!(u64).range(1..))]
    pub number: Option<u64>,

    /// Measurements per worker process, after one untimed warm-up.
    #[arg(short, long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,

    /// Worker processes per statement (fresh interpreters, taking turns).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub processes: u32,

    /// Print the measurements and figures as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What and how to sample: shared by `record` and `run`.
#[derive(Debug, Args)]
pub struct SamplingArgs {
    /// Output file (format from its name: see `--format`).
    #[arg(short, long, help = output_help())]
    pub output: Option<PathBuf>,

    /// Output format (default: from the output file's name, else flamegraph; with `run --exact`, pstats).
    #[arg(short, long, value_parser = format_parser(|_| true))]
    pub format: Option<Format>,

    /// Samples per second (1 to 1000000).
    #[arg(short, long, default_value_t = defaults::RATE_HZ, value_name = "HZ",
          value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: f64,

    /// Include threads that are idle (sleeping, blocked on I/O or a lock).
    #[arg(short, long)]
    pub idle: bool,

    /// Only record samples of the thread that holds the GIL.
    #[arg(short, long)]
    pub gil: bool,

    /// Do not print the summary.
    #[arg(short, long)]
    pub quiet: bool,

    /// Also count samples per bytecode instruction and keep each sampled
    /// function's bytecode (3.11+: specialised), for `snakescope dis`.
    #[arg(long)]
    pub opcodes: bool,

    /// Merge C, C++ and Rust frames with the Python frames (`record` only):
    /// each sampled thread is stopped for a few microseconds per sample.
    #[arg(long)]
    pub native: bool,
    /// Also measure what `snakescope stat` does (wall, user and sys time, peak RSS,
    /// faults, context switches, hardware counters) and keep it in the capture.
    #[arg(long)]
    pub stat: bool,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Attach to this running process instead of launching a command.
    #[arg(short, long, conflicts_with = "command")]
    pub pid: Option<u32>,

    #[command(flatten)]
    pub sampling: SamplingArgs,

    /// Also sample every Python process the program starts (multiprocessing
    /// workers, subprocesses, their children), each under its own pid.
    #[arg(long)]
    pub subprocesses: bool,
    /// Follow asyncio tasks: a task's stack starts at its own root frame,
    /// and a task table says how long each ran and waited, and where.
    #[arg(long = "async")]
    pub async_tasks: bool,

    /// Stop recording after this many seconds (0.001 to one year).
    #[arg(short, long, value_name = "SECONDS", value_parser = parse_duration,
          allow_negative_numbers = true)]
    pub duration: Option<Duration>,

    /// Also serve a live page while recording (as `top --live-web`: the
    /// last 10 s and since the start, updated every second) on ADDR (HOST:PORT
    /// or a port; default 127.0.0.1 and a free port), its URL with a random
    /// token printed on stderr.
    #[arg(long, value_name = "ADDR", num_args = 0..=1)]
    pub live_web: Option<Option<String>>,

    /// The command to launch and profile, after `--` (any bytes: a file
    /// name need not be UTF-8).
    #[arg(last = true, num_args = 1.., value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The process to inspect.
    #[arg(short, long)]
    pub pid: u32,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,

    /// Also print the asyncio task tree: each pending task, running or
    /// suspended at which `await`, awaiting what.
    #[arg(long = "async")]
    pub async_tasks: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A capture written by `record` (JSON).
    pub capture: PathBuf,

    /// Output format (default: from the output file's extension, else text).
    #[arg(short, long, value_parser = format_parser(|_| true))]
    pub format: Option<Format>,

    /// Write here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Draw memory instead of CPU (captures of `run`): stacks weighted by the
    /// bytes `allocated`, alive at the `peak`, or `leaked` (alive at the end).
    #[arg(long, value_parser = ["allocated", "peak", "leaked"], value_name = "WHAT")]
    pub memory: Option<String>,

    /// Only this process's samples (captures of `record --subprocesses`:
    /// the text report's process table lists them).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
}

/// The sort keys `python -m cProfile -s` accepts (`pstats.Stats.sort_arg_dict_default`,
/// the same from 3.8 to 3.15), which `snakescope._exact.print_table` passes to pstats.
const PSTATS_SORT_KEYS: [&str; 13] = [
    "calls",
    "cumtime",
    "cumulative",
    "filename",
    "line",
    "module",
    "name",
    "ncalls",
    "nfl",
    "pcalls",
    "stdname",
    "time",
    "tottime",
];

/// How `run` tracks memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MemoryMode {
    Sampled,
    Exact,
    Off,
}

#[derive(Debug, Args)]
#[command(trailing_var_arg = true)]
pub struct RunArgs {
    #[command(flatten)]
    pub sampling: SamplingArgs,

    /// Deterministic function profile (every call, all threads, cProfile's
    /// accounting) instead of sampling; writes a pstats file.
    #[arg(long)]
    pub exact: bool,

    /// Time every line of the functions matching PATTERN (`module:function`,
    /// `file.py:Class.method`, `*` wildcards; repeatable), as `kernprof -l -v`
    /// shows them. Functions decorated with `@profile` are timed without it.
    #[arg(long = "lines", value_name = "PATTERN")]
    pub lines: Vec<String>,

    /// Memory tracking (sampling mode): `sampled` (default: allocations
    /// sampled every --memory-interval bytes on average, unbiased estimates),
    /// `exact` (every allocation) or `off`.
    #[arg(long, value_enum, default_value = "sampled", value_name = "MODE")]
    pub memory: MemoryMode,

    /// Mean bytes between memory samples.
    #[arg(long, default_value_t = defaults::MEMORY_INTERVAL_BYTES, value_name = "BYTES")]
    pub memory_interval: u64,

    /// With --exact: the table's sort key, one of `python -m cProfile -s`'s.
    #[arg(short = 's', long, default_value = "cumulative", value_name = "KEY",
          value_parser = PSTATS_SORT_KEYS)]
    pub sort: String,

    /// Do not follow asyncio tasks (followed by default, as `record --async`
    /// does: stacks rooted at their task, and a task table).
    #[arg(long = "no-async")]
    pub no_async: bool,

    /// Set by `snakescope run` for its bootstrap: the file where the task
    /// layout its probe found arrives.
    #[arg(long, hide = true, value_name = "PATH")]
    pub task_layout_file: Option<PathBuf>,

    /// Watch the program live while it runs, full screen (as `top`: its
    /// functions over the last 10 s and since the start, its threads, its
    /// heap and the allocation sites holding the most); needs a terminal.
    /// The profile is still written at the end.
    #[arg(long)]
    pub live: bool,

    /// Also serve a live page while the program runs (as `record
    /// --live-web`: the last 10 s and since the start, updated every second,
    /// with the memory timeline, allocation sites and object counts by
    /// type) on ADDR (HOST:PORT or
    /// a port, given as `--live-web=ADDR`: the script follows; default
    /// 127.0.0.1 and a free port), its URL with a random token printed on
    /// stderr.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, require_equals = true)]
    pub live_web: Option<Option<String>>,

    /// Do not follow the program's child processes (followed by default:
    /// `multiprocessing` workers, `subprocess`es of Python, their children,
    /// each sampled from outside under its own pid, as `record
    /// --subprocesses`).
    #[arg(long = "no-subprocesses")]
    pub no_subprocesses: bool,

    /// Set by `snakescope run` for its bootstrap (child processes followed):
    /// where the bootstrap writes its capture (JSON) instead of the output,
    /// when `run` has created the file beside it saying a child process was
    /// followed; `run` then merges the children's and writes the output.
    #[arg(long, hide = true, value_name = "PATH")]
    pub handoff_file: Option<PathBuf>,

    /// Set by `snakescope run` for its bootstrap (`--live`): where its own
    /// messages at the end (the summary, "wrote …") go instead of stderr,
    /// which the live view holds; `run` prints them once the view is closed.
    #[arg(long, hide = true, value_name = "PATH")]
    pub messages_file: Option<PathBuf>,

    /// Set by `snakescope run` for its bootstrap (`--live-web`): the file
    /// the agent writes the capture so far to, every second.
    #[arg(long, hide = true, value_name = "PATH")]
    pub live_snapshot_file: Option<PathBuf>,

    /// Set by `snakescope advise`: the operand sampler runs in the program
    /// and writes its facts here (`_advise/_operands.py`).
    #[arg(long, hide = true, value_name = "PATH")]
    pub advise_operands: Option<PathBuf>,

    /// The interpreter to run (default: $SNAKESCOPE_PYTHON, set by the Python
    /// package to its own interpreter, else the environment's own when the
    /// wheel installed snakescope there, else `python3`): CPython 3.8 to 3.15
    /// or the free-threaded 3.13t, with the snakescope package installed or
    /// lent by snakescope (from `python -m snakescope`, the environment the
    /// wheel installed the binary into, or
    /// $SNAKESCOPE_PACKAGE).
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,

    /// Run a library module as a script, like `python -m`.
    #[arg(short = 'm', value_name = "MODULE", conflicts_with = "code")]
    pub module: Option<String>,

    /// Run a program passed as a string, like `python -c`.
    #[arg(short = 'c', value_name = "CODE")]
    pub code: Option<String>,

    /// The script and its arguments (or the arguments of -m / -c), as bytes
    /// (a file name need not be UTF-8).
    #[arg(allow_hyphen_values = true, value_name = "SCRIPT ARGS")]
    pub args: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The captures before the change (JSON, from `record -o before.json`),
    /// then the ones after: `BEFORE AFTER`, or several of each side as
    /// `B1 B2 B3 -- A1 A2 A3` (two captures of `run --exact` are compared by
    /// their exact calls). With --repeat: nothing here.
    #[arg(value_name = "BEFORE")]
    pub before: Vec<PathBuf>,

    /// With several captures per side: the after captures, after `--`. With
    /// --repeat: the two commands to run, `-- BEFORE-CMD -- AFTER-CMD`.
    #[arg(last = true, value_name = "AFTER", allow_hyphen_values = true)]
    pub after: Vec<OsString>,

    /// Run the two commands (after `--`, separated by `--`) N times each,
    /// interleaved, recording each run, and compare the medians.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: Option<u32>,

    /// A short summary in Markdown (headline, verdict, the functions that
    /// changed most), for a pull request comment or $GITHUB_STEP_SUMMARY.
    #[arg(long, conflicts_with = "format")]
    pub markdown: bool,

    /// Output format of the comparison.
    #[arg(short, long, default_value = "text", value_parser = format_parser(|f| f.spec().compares))]
    pub format: Format,

    /// Write the comparison here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,

    /// Also write a differential flame graph (SVG): boxes red where self time
    /// grew, blue where it shrank (sampled captures only).
    #[arg(long, value_name = "SVG")]
    pub flamegraph: Option<PathBuf>,

    /// Which profile the flame graph draws: `after` (what runs now) or
    /// `before` (what ran before, so code that went away still shows, in blue).
    #[arg(long, value_enum, default_value = "after", requires = "flamegraph")]
    pub flamegraph_widths: WidthsArg,

    /// Colour the flame graph by change in share of samples instead of in time.
    #[arg(long, requires = "flamegraph")]
    pub by_share: bool,

    /// Exit with status 1 when the verdict is `slower` and every measure
    /// that moved (wall, CPU, sampled time; of exact captures: the measured
    /// time) grew by more than PCT percent (`5` or `5%`).
    #[arg(long, value_name = "PCT", value_parser = percentage, allow_hyphen_values = true)]
    pub fail_if_slower: Option<f64>,

    /// Rows per table in the text output.
    #[arg(short = 'n', long, default_value_t = 10, value_name = "N")]
    pub top: usize,
}

/// `5` or `5%`: a number, checked by the command (so that a negative or
/// non-finite one gets its own error line and hint).
fn percentage(s: &str) -> Result<f64, String> {
    let number = s.strip_suffix('%').unwrap_or(s).trim();
    number
        .parse::<f64>()
        .map_err(|_| format!("`{s}` is not a percentage (e.g. 5 or 5%)"))
}

/// The profile whose stacks a differential flame graph draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WidthsArg {
    Before,
    After,
}

/// `--output`'s help: the file names that imply a format, from the registry.
fn output_help() -> String {
    format!(
        "Output file (format from its name: {})",
        Format::suffixes_shown()
    )
}

/// `--format`: the formats of the registry (`snakescope_formats::FORMATS`)
/// that `offered` keeps, each with its help line.
fn format_parser(offered: fn(Format) -> bool) -> impl TypedValueParser<Value = Format> {
    let values = FORMATS
        .iter()
        .filter(move |s| offered(s.format))
        .map(|s| PossibleValue::new(s.name).help(s.about).aliases(s.aliases));
    PossibleValuesParser::new(values)
        .try_map(|name| Format::from_name(&name).ok_or_else(|| format!("unknown format `{name}`")))
}

/// `--rate`: a number within the sampler's range (`snakescope_remote::check_rate`).
fn parse_rate(text: &str) -> Result<f64, String> {
    let hz = parse_number(text)?;
    snakescope_remote::check_rate(hz).map_err(|e| e.to_string())
}

/// `--duration`: seconds within the sampler's range (`snakescope_remote::check_duration`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let seconds = parse_number(text)?;
    snakescope_remote::check_duration(seconds).map_err(|e| e.to_string())
}

fn parse_number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))
}
