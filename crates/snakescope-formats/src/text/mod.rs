//! Plain-text views of a capture: the report (`report --format text`) and
//! the shorter summary printed on the terminal after a recording.
//!
//! Shares are of all thread-samples in the capture, except a thread's idle and
//! GIL shares, which are of that thread's own samples. `color` only makes
//! headings bold; the numbers never depend on it.

mod exact;
mod findings;
mod kinds;
mod lines;
mod opcodes;
mod processes;
mod stat;
mod tasks;

use snakescope_model::{Capture, FunctionStat, LineStat, Meta, Stats, ThreadRecord};
use std::io::{self, Write};

/// Rows in each "top" table.
const TOP: usize = 10;
/// Threads listed by the report; the summary lists fewer.
const REPORT_THREADS: usize = 10;
const SUMMARY_THREADS: usize = 5;
/// Lines listed by the summary.
const SUMMARY_LINES: usize = 5;
/// Functions in the exact table of the report and of the summary (pstats'
/// `print_stats(N)`).
const REPORT_EXACT_ROWS: usize = 30;
const SUMMARY_EXACT_ROWS: usize = 10;
/// Function names wider than this overflow their column instead of widening it.
const MAX_NAME_WIDTH: usize = 40;

/// The full report: header, top functions by self and by total time, top
/// lines, threads; then the exact statistics (pstats' table) and the line
/// timings (kernprof's) when the capture has them.
pub(crate) fn write_report(capture: &Capture, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let stats = Stats::of(capture);
    write_header(capture, out, color)?;
    if stats.total_samples > 0 {
        write_sampled(capture, &stats, out, color)?;
    } else if !measured_only(capture) {
        // What else was measured (the findings of `advise`, `--stat`) still shows.
        writeln!(out, "  no samples recorded")?;
    }
    write_measured(capture, REPORT_EXACT_ROWS, out, color)
}

fn write_sampled(
    capture: &Capture,
    stats: &Stats,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    let total = stats.total_samples;
    writeln!(out)?;
    write_top_self(stats, out, color)?;
    writeln!(out)?;
    heading(out, color, "Top functions by total time")?;
    let by_total: Vec<&FunctionStat> = stats.by_total().into_iter().take(TOP).collect();
    let width = name_width(by_total.iter().map(|f| f.name.as_str()));
    writeln!(out, "  {:>6}  {:>6}  function", "total%", "self%")?;
    for f in by_total {
        let (t, s) = (
            percent(f.total_samples, total),
            percent(f.self_samples, total),
        );
        writeln!(out, "  {t}  {s}  {:width$}  {}", f.name, f.file)?;
    }
    writeln!(out)?;
    write_top_lines(&stats.lines, TOP, total, out, color)?;
    opcodes::write_hot_instructions(capture, &stats.lines, total, out, color)?;
    kinds::write_split(capture, TOP, out, color)?;
    writeln!(out)?;
    write_threads(capture, REPORT_THREADS, out, color)?;
    if capture.has_processes() {
        writeln!(out)?;
        processes::write_processes(capture, out, color)?;
    }
    Ok(())
}

/// The terminal summary: header, top functions by self time, and the threads
/// when there is more than one; then the top exact rows and the line timings
/// when the capture has them.
pub(crate) fn write_summary(capture: &Capture, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let stats = Stats::of(capture);
    write_header(capture, out, color)?;
    if stats.total_samples > 0 {
        writeln!(out)?;
        write_top_self(&stats, out, color)?;
        writeln!(out)?;
        write_top_lines(&stats.lines, SUMMARY_LINES, stats.total_samples, out, color)?;
        kinds::write_split(capture, SUMMARY_LINES, out, color)?;
        if capture.threads.len() > 1 {
            writeln!(out)?;
            write_threads(capture, SUMMARY_THREADS, out, color)?;
        }
        if capture.has_processes() {
            writeln!(out)?;
            processes::write_processes(capture, out, color)?;
        }
    } else if !measured_only(capture) {
        // What else was measured (the findings of `advise`, `--stat`) still shows.
        writeln!(out, "  no samples recorded")?;
    }
    write_measured(capture, SUMMARY_EXACT_ROWS, out, color)
}

/// Whether the capture has no samples but exact statistics or line timings
/// (`run --exact`, `Profiler(exact=True)`): its header then says what was
/// measured instead of sampling figures that are all zero.
fn measured_only(capture: &Capture) -> bool {
    capture.total_samples() == 0 && (capture.exact.is_some() || capture.lines.is_some())
}

/// The exact section (its `exact_rows` functions with the most cumulative
/// time), the line timings and the `stat` figures, each under its heading;
/// nothing when the capture has none of them.
fn write_measured(
    capture: &Capture,
    exact_rows: usize,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    if let Some(section) = &capture.exact {
        writeln!(out)?;
        heading(out, color, "Exact calls")?;
        exact::write_exact(capture, section, exact_rows, out)?;
    }
    if let Some(section) = &capture.lines {
        writeln!(out)?;
        heading(out, color, "Line timings")?;
        lines::write_lines(capture, section, out)?;
    }
    if let Some(section) = &capture.tasks {
        writeln!(out)?;
        heading(out, color, "asyncio tasks: time running and waiting")?;
        tasks::write_tasks(capture, section, out)?;
    }
    if let Some(section) = &capture.stat {
        writeln!(out)?;
        heading(out, color, "Stat: times, faults, switches, counters")?;
        stat::write_stat(section, out)?;
    }
    write_findings(capture, out, color)
}

/// The advisor's findings under their heading (nothing when the capture has
/// none): the end of the text report, and what `snakescope advise` prints.
pub(crate) fn write_findings(
    capture: &Capture,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    if let Some(section) = &capture.findings {
        writeln!(out)?;
        heading(out, color, "Findings")?;
        findings::write_findings(section, out)?;
    }
    Ok(())
}

/// The line timings alone, in kernprof's layout (nothing without them):
/// what `run` prints and writes as `OUTPUT.lines.txt`.
pub(crate) fn write_line_timings(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    match &capture.lines {
        Some(section) => lines::write_lines(capture, section, out),
        None => Ok(()),
    }
}

/// The command that was profiled, quoted for a POSIX shell, or the pid
/// attached to.
pub(crate) fn command_line(meta: &Meta) -> String {
    if meta.command.is_empty() {
        return match meta.pid {
            Some(pid) => format!("pid {pid}"),
            None => "unknown command".to_owned(),
        };
    }
    meta.command
        .iter()
        .map(|arg| shell_quote(arg))
        .collect::<Vec<_>>()
        .join(" ")
}

fn write_header(capture: &Capture, out: &mut dyn Write, color: bool) -> io::Result<()> {
    let meta = &capture.meta;
    heading(out, color, &format!("snakescope: {}", command_line(meta)))?;
    let python = meta
        .python_version
        .as_deref()
        .map_or("python version unknown".to_owned(), |v| {
            format!("python {v}")
        });
    // A free-threaded interpreter has no GIL to hold.
    let python = if meta.free_threaded {
        format!("{python} (free-threaded, GIL: n/a)")
    } else {
        python
    };
    if measured_only(capture) {
        writeln!(out, "  {python}, {:.2} s", meta.duration_s)?;
        writeln!(out, "  no stacks sampled: {}", measured_names(capture))?;
    } else {
        write_sampling_header(capture, &python, out)?;
    }
    if let (Some(user), Some(sys), Some(rss)) = (meta.user_s, meta.sys_s, meta.peak_rss_bytes) {
        writeln!(
            out,
            "  wall {:.2} s, user {user:.2} s, sys {sys:.2} s, peak RSS {:.1} MiB",
            meta.duration_s,
            rss as f64 / (1024.0 * 1024.0)
        )?;
    }
    Ok(())
}

/// What a capture without samples measured, for its header.
fn measured_names(capture: &Capture) -> &'static str {
    match (capture.exact.is_some(), capture.lines.is_some()) {
        (true, true) => "every call counted and timed (exact), and line timings",
        (true, false) => "every call counted and timed (exact)",
        _ => "line timings only",
    }
}

/// The ticks, thread-samples and rates of a sampling capture.
fn write_sampling_header(capture: &Capture, python: &str, out: &mut dyn Write) -> io::Result<()> {
    let meta = &capture.meta;
    writeln!(
        out,
        "  {python}, {:.2} s, {} ticks ({} lost, {} torn {})",
        meta.duration_s,
        meta.ticks,
        meta.lost_ticks,
        meta.torn_stacks,
        if meta.torn_stacks == 1 {
            "stack"
        } else {
            "stacks"
        },
    )?;
    let scope = match (meta.include_idle, meta.gil_only) {
        (_, true) => ", GIL holders only",
        (true, false) => ", idle included",
        (false, false) => "",
    };
    writeln!(
        out,
        "  {} thread-samples recorded, effective rate {:.1} Hz (requested {} Hz){scope}",
        capture.total_samples(),
        meta.effective_rate_hz(),
        meta.requested_rate_hz,
    )?;
    if meta.ticks > 0 && meta.lost_ticks as f64 > MANY_LOST * meta.ticks as f64 {
        writeln!(
            out,
            "  note: {:.0}% of the ticks were lost: the sampler could not keep up (a busy machine, or \
             a rate too high for it): fewer samples back the shares",
            100.0 * meta.lost_ticks as f64 / meta.ticks as f64
        )?;
    }
    if let Some(share) = capture.cpu_coverage().filter(|&s| s < LOW_COVERAGE) {
        writeln!(
            out,
            "  note: the program's threads were on a CPU for {:.0}% of the time sampled; the rest \
             (waiting for a CPU, sleep, I/O, locks, child processes) is not in this profile: \
             --idle samples wall time",
            100.0 * share
        )?;
    }
    Ok(())
}

/// Below this share of the sampled time on a CPU, a CPU profile leaves out
/// most of what the program did, and the header says so.
pub(crate) const LOW_COVERAGE: f64 = 0.5;

/// Above this share of ticks lost, the header explains them.
const MANY_LOST: f64 = 0.1;

fn write_top_self(stats: &Stats, out: &mut dyn Write, color: bool) -> io::Result<()> {
    heading(out, color, "Top functions by self time")?;
    let rows: Vec<&FunctionStat> = stats
        .functions
        .iter()
        .filter(|f| f.self_samples > 0)
        .take(TOP)
        .collect();
    let width = name_width(rows.iter().map(|f| f.name.as_str()));
    writeln!(out, "  {:>6}  {:>6}  function", "self%", "total%")?;
    for f in rows {
        let (s, t) = (
            percent(f.self_samples, stats.total_samples),
            percent(f.total_samples, stats.total_samples),
        );
        writeln!(out, "  {s}  {t}  {:width$}  {}", f.name, f.file)?;
    }
    Ok(())
}

fn write_top_lines(
    lines: &[LineStat],
    limit: usize,
    total: u64,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    heading(out, color, "Top lines")?;
    let rows: Vec<(String, &LineStat)> =
        lines.iter().take(limit).map(|l| (location(l), l)).collect();
    let width = rows.iter().map(|(loc, _)| loc.len()).max().unwrap_or(0);
    writeln!(out, "  {:>6}  {:width$}  function", "self%", "line")?;
    for (loc, l) in rows {
        writeln!(
            out,
            "  {}  {loc:width$}  {}",
            percent(l.self_samples, total),
            l.name
        )?;
    }
    Ok(())
}

fn write_threads(
    capture: &Capture,
    limit: usize,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    heading(out, color, "Threads")?;
    let mut rows: Vec<&ThreadRecord> = capture.threads.iter().collect();
    rows.sort_by(|a, b| b.samples.cmp(&a.samples).then(a.tid.cmp(&b.tid)));
    let width = name_width(
        rows.iter()
            .take(limit)
            .map(|t| t.name.as_deref().unwrap_or("-")),
    )
    .max(4);
    writeln!(
        out,
        "  {:>8}  {:width$}  {:>8}  {:>6}  {:>6}",
        "tid", "name", "samples", "idle%", "GIL%"
    )?;
    for t in rows.iter().take(limit) {
        let name = t.name.as_deref().unwrap_or("-");
        let idle = percent(t.idle_samples, t.samples);
        let gil = if capture.meta.free_threaded {
            format!("{:>6}", "n/a")
        } else {
            percent(t.gil_samples, t.samples)
        };
        writeln!(
            out,
            "  {:>8}  {name:width$}  {:>8}  {idle}  {gil}",
            t.tid, t.samples
        )?;
    }
    if rows.len() > limit {
        writeln!(out, "  ... {} more threads", rows.len() - limit)?;
    }
    Ok(())
}

fn heading(out: &mut dyn Write, color: bool, text: &str) -> io::Result<()> {
    if color {
        writeln!(out, "\x1b[1m{text}\x1b[0m")
    } else {
        writeln!(out, "{text}")
    }
}

/// `part` as a share of `whole`, six characters wide (`100.0%`, ` 12.5%`).
fn percent(part: u64, whole: u64) -> String {
    let share = if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    };
    format!("{share:5.1}%")
}

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_NAME_WIDTH)
}

/// `file:line`, or just `file` when the line is unknown.
fn location(line: &LineStat) -> String {
    if line.line == 0 {
        line.file.clone()
    } else {
        format!("{}:{}", line.file, line.line)
    }
}

fn shell_quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests;
