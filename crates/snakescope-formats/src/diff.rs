//! Comparing two captures of the same program (`snakescope diff`): per
//! function and per line, before and after, in samples, in time (samples
//! times each capture's sampling period) and in shares of each capture's own
//! samples; a text table for the terminal, JSON for tools, and a differential
//! flame graph (inferno: grown red, shrunk blue).
//!
//! Functions are matched by qualified name and file, lines by file and
//! number. When the two runs' main scripts differ (say `phonebook_list.py` and
//! `phonebook_set.py`), the before script's functions are matched with the
//! after script's (not its lines), and the comparison says so.
//!
//! When both captures recorded memory, the peak, what was alive at the end and
//! the bytes allocated are compared too, in total and per function (the
//! innermost Python frame of each allocation site).

use crate::collapsed::frame_text;
use crate::text::command_line;
use crate::FormatError;
use inferno::flamegraph::{self as inferno_flamegraph, Options};
use serde::Serialize;
use snakescope_model::{Capture, Frame, Memory, Stats, MAX_TOTAL};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

/// Rows shown per table by the text output unless told otherwise.
pub const DEFAULT_TOP: usize = 10;

/// Why two captures cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("the {0} capture has no samples, so there is nothing to compare")]
    NoSamples(&'static str),
    #[error("the {0} capture has no sampling rate or duration, so its samples have no time")]
    NoRate(&'static str),
}

/// One capture as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
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
    #[serde(flatten)]
    pub change: Change,
}

/// The two runs' main scripts, when they differ and were matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScriptMatch {
    pub before: String,
    pub after: String,
}

/// The comparison of two captures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub before: Side,
    pub after: Side,
    /// Sampled time before and after (shares are 1 on both sides).
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

#[derive(Serialize)]
struct JsonDiff<'a> {
    format: &'static str,
    version: u32,
    #[serde(flatten)]
    diff: &'a Diff,
}

/// Compares `before` with `after`.
pub fn diff(before: &Capture, after: &Capture) -> Result<Diff, DiffError> {
    let b = side(before, "before")?;
    let a = side(after, "after")?;
    let matched = script_match(before, after);
    // Functions of the before script are matched with the after script's;
    // its lines are not (line 12 of one file is not line 12 of another).
    let lines_before = Stats::of(before);
    let renamed = matched
        .as_ref()
        .map(|m| rename_file(before, &m.before, &m.after));
    let before_functions = renamed.as_ref().unwrap_or(before);
    let (sb, sa) = match &renamed {
        Some(r) => (Stats::of(r), Stats::of(after)),
        None => (lines_before.clone(), Stats::of(after)),
    };
    let change = |before_samples: u64, after_samples: u64| {
        Change::new(before_samples, after_samples, &b, &a)
    };

    let mut functions: BTreeMap<(String, String), [(u64, u64); 2]> = BTreeMap::new();
    for (i, stats) in [&sb, &sa].into_iter().enumerate() {
        for f in &stats.functions {
            functions
                .entry((f.name.clone(), f.file.clone()))
                .or_default()[i] = (f.self_samples, f.total_samples);
        }
    }
    let mut functions: Vec<FunctionChange> = functions
        .into_iter()
        .map(|((name, file), [(bs, bt), (a_s, at)])| FunctionChange {
            name,
            file,
            self_time: change(bs, a_s),
            total: change(bt, at),
        })
        .collect();
    functions.sort_by(|x, y| {
        magnitude(&y.self_time)
            .total_cmp(&magnitude(&x.self_time))
            .then(magnitude(&y.total).total_cmp(&magnitude(&x.total)))
            .then_with(|| (&x.name, &x.file).cmp(&(&y.name, &y.file)))
    });

    let mut lines: BTreeMap<(String, u32, String), [u64; 2]> = BTreeMap::new();
    for (i, stats) in [&lines_before, &sa].into_iter().enumerate() {
        for l in &stats.lines {
            lines
                .entry((l.file.clone(), l.line, l.name.clone()))
                .or_default()[i] += l.self_samples;
        }
    }
    let mut lines: Vec<LineChange> = lines
        .into_iter()
        .map(|((file, line, name), [bs, a_s])| LineChange {
            name,
            file,
            line,
            change: change(bs, a_s),
        })
        .collect();
    lines.sort_by(|x, y| {
        magnitude(&y.change)
            .total_cmp(&magnitude(&x.change))
            .then_with(|| (&x.file, x.line).cmp(&(&y.file, y.line)))
    });

    let memory = match (&before_functions.memory, &after.memory) {
        (Some(mb), Some(ma)) => Some(memory_diff(before_functions, mb, after, ma)),
        _ => None,
    };
    let mut caveats = caveats(&b, &a);
    match (&before.memory, &after.memory) {
        (Some(_), None) => {
            caveats.push("only the before capture recorded memory: memory is not compared".into())
        }
        (None, Some(_)) => {
            caveats.push("only the after capture recorded memory: memory is not compared".into())
        }
        _ => {}
    }
    Ok(Diff {
        memory,
        caveats,
        total: change(b.samples, a.samples),
        before: b,
        after: a,
        matched_scripts: matched,
        functions,
        lines,
    })
}

fn memory_diff(before: &Capture, mb: &Memory, after: &Capture, ma: &Memory) -> MemoryDiff {
    let mut functions: BTreeMap<(String, String), [u64; 2]> = BTreeMap::new();
    for (i, (capture, memory)) in [(before, mb), (after, ma)].into_iter().enumerate() {
        for site in &memory.sites {
            let key = match site.frames.last() {
                Some(&f) => {
                    let frame = &capture.frames[f];
                    (frame.display_name().to_owned(), frame.file.clone())
                }
                None => (NO_PYTHON_FRAME.to_owned(), String::new()),
            };
            let bytes = &mut functions.entry(key).or_default()[i];
            *bytes = bytes.saturating_add(site.allocated_bytes);
        }
    }
    let mut functions: Vec<FunctionBytes> = functions
        .into_iter()
        .map(|((name, file), [b, a])| FunctionBytes {
            name,
            file,
            allocated: ByteChange::new(b, a),
        })
        .collect();
    functions.sort_by_key(|f| std::cmp::Reverse(f.allocated.change.unsigned_abs()));
    let allocated = |m: &Memory| m.sites.iter().map(|s| s.allocated_bytes).sum::<u64>();
    MemoryDiff {
        peak_bytes: ByteChange::new(mb.peak_bytes, ma.peak_bytes),
        end_bytes: ByteChange::new(mb.end_bytes, ma.end_bytes),
        allocated_bytes: ByteChange::new(allocated(mb), allocated(ma)),
        functions,
    }
}

impl Change {
    fn new(before_samples: u64, after_samples: u64, before: &Side, after: &Side) -> Change {
        let before_s = before_samples as f64 * before.sample_period_s;
        let after_s = after_samples as f64 * after.sample_period_s;
        let before_share = before_samples as f64 / before.samples as f64;
        let after_share = after_samples as f64 / after.samples as f64;
        Change {
            before_samples,
            after_samples,
            before_s,
            after_s,
            change_s: after_s - before_s,
            change_pct: (before_samples > 0).then(|| 100.0 * (after_s - before_s) / before_s),
            before_share,
            after_share,
            change_share: after_share - before_share,
        }
    }
}

/// How much a change matters for sorting: time first, shares to break ties.
fn magnitude(c: &Change) -> f64 {
    c.change_s.abs() + 1e-9 * c.change_share.abs()
}

/// Notes on what makes the two captures hard to compare, one line each.
fn caveats(b: &Side, a: &Side) -> Vec<String> {
    let mut notes = Vec::new();
    if b.include_idle != a.include_idle {
        notes.push(format!(
            "only the {} capture includes idle threads (--idle): its time counts waiting too",
            if b.include_idle { "before" } else { "after" }
        ));
    }
    if b.gil_only != a.gil_only {
        notes.push(format!(
            "only the {} capture was limited to the GIL holder (--gil)",
            if b.gil_only { "before" } else { "after" }
        ));
    }
    if b.python_version != a.python_version {
        if let (Some(bv), Some(av)) = (&b.python_version, &a.python_version) {
            notes.push(format!("different interpreters: python {bv} and {av}"));
        }
    }
    notes
}

impl Diff {
    /// The relative change of the total sampled time, in percent.
    pub fn total_change_pct(&self) -> f64 {
        self.total.change_pct.unwrap_or(0.0)
    }

    /// The comparison as JSON (`docs/commands/diff.md`).
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let doc = JsonDiff {
            format: "snakescope-diff",
            version: 1,
            diff: self,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)
    }

    /// The comparison for the terminal: totals, then the `top` functions and
    /// lines whose time changed most.
    pub fn write_text(&self, out: &mut dyn Write, top: usize) -> io::Result<()> {
        writeln!(out, "snakescope diff")?;
        for (label, side) in [("before", &self.before), ("after", &self.after)] {
            writeln!(out, "  {label:<6}  {}", side.command)?;
            let python = side
                .python_version
                .as_deref()
                .map_or(String::new(), |v| format!(", python {v}"));
            writeln!(
                out,
                "          {} samples at {} Hz = {:.3} s sampled, {:.2} s recorded{python}",
                side.samples,
                hz(side.sample_period_s),
                side.time_s,
                side.duration_s,
            )?;
        }
        let t = &self.total;
        writeln!(
            out,
            "  total   {:.3} s -> {:.3} s: {} ({}), {}",
            t.before_s,
            t.after_s,
            signed_seconds(t.change_s),
            relative(t),
            if t.change_s > 0.0 {
                "slower"
            } else if t.change_s < 0.0 {
                "faster"
            } else {
                "unchanged"
            }
        )?;
        if let Some(m) = &self.matched_scripts {
            writeln!(
                out,
                "  note    {} is compared with {} (each run's main script)",
                m.before, m.after
            )?;
        }
        for caveat in &self.caveats {
            writeln!(out, "  note    {caveat}")?;
        }

        writeln!(out)?;
        writeln!(out, "Functions by change in self time")?;
        let rows: Vec<(&Change, String)> = self
            .functions
            .iter()
            .filter(|f| changed(&f.self_time))
            .map(|f| (&f.self_time, format!("{}  {}", f.name, f.file)))
            .collect();
        write_table(out, &rows, top, "function")?;

        writeln!(out)?;
        writeln!(out, "Lines by change in time")?;
        let rows: Vec<(&Change, String)> = self
            .lines
            .iter()
            .filter(|l| changed(&l.change))
            .map(|l| {
                let at = if l.line == 0 {
                    l.file.clone()
                } else {
                    format!("{}:{}", l.file, l.line)
                };
                (&l.change, format!("{at}  {}", l.name))
            })
            .collect();
        write_table(out, &rows, top, "line")?;
        if let Some(memory) = &self.memory {
            write_memory(out, memory, top)?;
        }
        Ok(())
    }
}

fn write_memory(out: &mut dyn Write, m: &MemoryDiff, top: usize) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "Memory")?;
    for (label, c) in [
        ("peak", &m.peak_bytes),
        ("at end", &m.end_bytes),
        ("allocated", &m.allocated_bytes),
    ] {
        writeln!(
            out,
            "  {label:<10} {:>10} -> {:<10} {:>11} ({})",
            bytes(c.before),
            bytes(c.after),
            signed_bytes(c.change),
            byte_relative(c)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Functions by change in bytes allocated")?;
    let rows: Vec<&FunctionBytes> = m
        .functions
        .iter()
        .filter(|f| f.allocated.change != 0)
        .collect();
    if rows.is_empty() {
        return writeln!(out, "  no change");
    }
    writeln!(
        out,
        "  {:>10}  {:>10}  {:>11}  {:>7}  function",
        "before", "after", "change", "change%"
    )?;
    for f in rows.iter().take(top) {
        let c = &f.allocated;
        let name = if f.file.is_empty() {
            f.name.clone()
        } else {
            format!("{}  {}", f.name, f.file)
        };
        writeln!(
            out,
            "  {:>10}  {:>10}  {:>11}  {:>7}  {name}",
            bytes(c.before),
            bytes(c.after),
            signed_bytes(c.change),
            byte_relative(c)
        )?;
    }
    if rows.len() > top {
        writeln!(out, "  ... {} more", rows.len() - top)?;
    }
    Ok(())
}

/// `512 B`, `1.5 KiB`, `12.0 MiB`, `2.00 GiB`.
fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let n = n as f64;
    if n < KIB {
        format!("{n} B")
    } else if n < KIB * KIB {
        format!("{:.1} KiB", n / KIB)
    } else if n < KIB * KIB * KIB {
        format!("{:.1} MiB", n / (KIB * KIB))
    } else {
        format!("{:.2} GiB", n / (KIB * KIB * KIB))
    }
}

fn signed_bytes(n: i64) -> String {
    let sign = if n < 0 { '-' } else { '+' };
    format!("{sign}{}", bytes(n.unsigned_abs()))
}

fn byte_relative(c: &ByteChange) -> String {
    match c.change_pct {
        Some(p) => format!("{p:+.1}%"),
        None if c.after > 0 => "new".to_owned(),
        None => "0%".to_owned(),
    }
}

fn changed(c: &Change) -> bool {
    c.before_samples != c.after_samples || c.change_s != 0.0 || c.change_share != 0.0
}

fn write_table(
    out: &mut dyn Write,
    rows: &[(&Change, String)],
    top: usize,
    what: &str,
) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "  no change");
    }
    writeln!(
        out,
        "  {:>10}  {:>10}  {:>10}  {:>7}   {:>6} -> {:<6} {:>8}  {what}",
        "before", "after", "change", "change%", "share", "share", "change"
    )?;
    for (c, label) in rows.iter().take(top) {
        writeln!(
            out,
            "  {:>10}  {:>10}  {:>10}  {:>7}   {:>6} -> {:<6} {:>8}  {label}",
            format!("{:.3} s", c.before_s),
            format!("{:.3} s", c.after_s),
            signed_seconds(c.change_s),
            relative(c),
            format!("{:.1}%", 100.0 * c.before_share),
            format!("{:.1}%", 100.0 * c.after_share),
            format!("{:+.1}pp", 100.0 * c.change_share),
        )?;
    }
    if rows.len() > top {
        writeln!(out, "  ... {} more", rows.len() - top)?;
    }
    Ok(())
}

fn signed_seconds(s: f64) -> String {
    format!("{s:+.3} s")
}

/// `+12.5%`, `-100%` ("gone" reads as -100%), or `new` when it was 0 before.
fn relative(c: &Change) -> String {
    match c.change_pct {
        Some(p) => format!("{p:+.1}%"),
        None if c.after_samples > 0 => "new".to_owned(),
        None => "0%".to_owned(),
    }
}

/// The sampling rate a period stands for, without needless decimals.
fn hz(period_s: f64) -> String {
    let rate = 1.0 / period_s;
    if (rate - rate.round()).abs() < 1e-6 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.1}")
    }
}

fn side(capture: &Capture, which: &'static str) -> Result<Side, DiffError> {
    let samples = capture.total_samples();
    if samples == 0 {
        return Err(DiffError::NoSamples(which));
    }
    let period = capture
        .meta
        .sample_period_s()
        .ok_or(DiffError::NoRate(which))?;
    Ok(Side {
        command: command_line(&capture.meta),
        python_version: capture.meta.python_version.clone(),
        samples,
        sample_period_s: period,
        time_s: samples as f64 * period,
        duration_s: capture.meta.duration_s,
        include_idle: capture.meta.include_idle,
        gil_only: capture.meta.gil_only,
    })
}

/// The file of a capture's main script: per stack the innermost `<module>`
/// frame (imports aside, the script's own top level), weighted by samples.
pub(crate) fn main_script(capture: &Capture) -> Option<String> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for stack in &capture.stacks {
        let module = stack
            .frames
            .iter()
            .rev()
            .map(|&f| &capture.frames[f])
            .find(|f| f.function == "<module>");
        if let Some(frame) = module {
            *counts.entry(frame.file.as_str()).or_default() += stack.count;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(file, _)| file.to_owned())
}

/// The scripts to match, when the two runs' main scripts differ and neither
/// also appears as an ordinary file of the other run.
fn script_match(before: &Capture, after: &Capture) -> Option<ScriptMatch> {
    let (b, a) = (main_script(before)?, main_script(after)?);
    let in_capture = |c: &Capture, file: &str| c.frames.iter().any(|f| f.file == file);
    if b == a || in_capture(after, &b) || in_capture(before, &a) {
        return None;
    }
    Some(ScriptMatch {
        before: b,
        after: a,
    })
}

/// `capture` with the frames of file `from` moved to file `to`.
fn rename_file(capture: &Capture, from: &str, to: &str) -> Capture {
    let mut c = capture.clone();
    for frame in &mut c.frames {
        if frame.file == from {
            frame.file = to.to_owned();
        }
    }
    c
}

/// How the differential flame graph compares the two profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// By time: samples times each capture's period, so a box is red when
    /// its code took longer.
    Time,
    /// By share of each capture's samples (inferno's `--normalize`), so a box
    /// is red when its share grew.
    Share,
}

/// Which profile gives the differential flame graph its widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widths {
    /// The after profile: what runs now, coloured by how it changed (code that
    /// disappeared has no box).
    After,
    /// The before profile: what ran before, coloured by how it changed (code
    /// that is new has no box); the view for checking an optimisation.
    Before,
}

/// Writes a differential flame graph: one profile's stacks, each box
/// coloured by how its self time changed from before to after (red: grew,
/// blue: shrank, white: the same). Threads are merged by name (ids differ
/// between runs).
pub fn write_differential_flamegraph(
    before: &Capture,
    after: &Capture,
    scale: Scale,
    widths: Widths,
    out: &mut dyn Write,
) -> Result<(), FormatError> {
    let (Ok(b), Ok(a)) = (side(before, "before"), side(after, "after")) else {
        return Err(FormatError::NoSamples("differential flamegraph"));
    };
    let matched = script_match(before, after);
    let renamed;
    let before = match &matched {
        Some(m) => {
            renamed = rename_file(before, &m.before, &m.after);
            &renamed
        }
        None => before,
    };
    // The profile giving the widths keeps its sample counts; the other is
    // brought to its units.
    let (base, other, base_side, other_side) = match widths {
        Widths::After => (after, before, &a, &b),
        Widths::Before => (before, after, &b, &a),
    };
    let factor = match scale {
        Scale::Time => other_side.sample_period_s / base_side.sample_period_s,
        Scale::Share => base_side.samples as f64 / other_side.samples as f64,
    };
    let mut stacks: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for (stack, count) in folded(other) {
        stacks.entry(stack).or_default().0 += count as f64 * factor;
    }
    for (stack, count) in folded(base) {
        stacks.entry(stack).or_default().1 += count;
    }
    // inferno draws the second count and colours by second minus first;
    // with the before widths that difference is negated back to after
    // minus before.
    let lines: Vec<String> = stacks
        .iter()
        .map(|(s, (o, b))| format!("{s} {} {b}", o.round().min(MAX_TOTAL as f64) as u64))
        .collect();
    let mut options = Options::default();
    options.negate_differentials = widths == Widths::Before;
    options.title = format!("snakescope diff: {} -> {}", b.command, a.command);
    options.subtitle = Some(format!(
        "widths: {}; red: {} after than before, blue: {}",
        match widths {
            Widths::After => "after",
            Widths::Before => "before",
        },
        match scale {
            Scale::Time => "more self time",
            Scale::Share => "larger share of self time",
        },
        match scale {
            Scale::Time => "less",
            Scale::Share => "smaller",
        },
    ));
    options.count_name = "samples".to_owned();
    inferno_flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), out)?;
    Ok(())
}

/// Collapsed stacks rooted at the thread's name rather than its id, with
/// frames as `function (file)`: lines move when code is edited, so a frame
/// with its line would look new after any change above it.
fn folded(capture: &Capture) -> BTreeMap<String, u64> {
    let frames: Vec<String> = capture
        .frames
        .iter()
        .map(|f| {
            frame_text(&Frame {
                line: 0,
                ..f.clone()
            })
        })
        .collect();
    let mut stacks = BTreeMap::new();
    for stack in &capture.stacks {
        let thread = &capture.threads[stack.thread];
        let mut line = match &thread.name {
            Some(name) => format!("thread: {}", name.replace(';', ":")),
            None => "thread".to_owned(),
        };
        for &f in &stack.frames {
            line.push(';');
            line.push_str(&frames[f]);
        }
        *stacks.entry(line).or_insert(0) += stack.count;
    }
    stacks
}

#[cfg(test)]
mod tests {
    use super::*;
    use snakescope_model::{CaptureBuilder, MemorySite, Meta, ThreadSample};

    fn frame(name: &str, file: &str, line: u32) -> Frame {
        Frame {
            function: name.into(),
            qualname: None,
            file: file.into(),
            line,
        }
    }

    /// A capture at `rate` Hz from (stack of (function, line), count) on one
    /// thread, all functions in `file` except `<module>` frames.
    fn capture(file: &str, rate: f64, stacks: &[(&[(&str, u32)], u64)]) -> Capture {
        let mut b = CaptureBuilder::new();
        b.name_thread(1, Some("MainThread".into()));
        for (stack, count) in stacks {
            let ids: Vec<usize> = stack
                .iter()
                .map(|&(name, line)| b.intern_frame(frame(name, file, line)))
                .collect();
            for _ in 0..*count {
                b.add(ThreadSample {
                    tid: 1,
                    idle: false,
                    gil: true,
                    frames: &ids,
                });
            }
        }
        b.finish(Meta {
            command: vec!["python3".into(), file.into()],
            requested_rate_hz: rate,
            duration_s: 1.0,
            ..Meta::default()
        })
    }

    /// before: 1000 samples at 1 kHz (1 s): lookup 600 at line 10, parse 300, main 100.
    fn before() -> Capture {
        capture(
            "/p/app.py",
            1000.0,
            &[
                (&[("<module>", 50), ("main", 20), ("lookup", 10)], 600),
                (&[("<module>", 50), ("main", 21), ("parse", 30)], 300),
                (&[("<module>", 50), ("main", 22)], 100),
            ],
        )
    }

    /// after: 250 samples at 500 Hz (0.5 s): lookup 25 now at line 11, parse 150, main 50,
    /// cache (new) 25.
    fn after() -> Capture {
        capture(
            "/p/app.py",
            500.0,
            &[
                (&[("<module>", 50), ("main", 20), ("lookup", 11)], 25),
                (&[("<module>", 50), ("main", 21), ("parse", 30)], 150),
                (&[("<module>", 50), ("main", 22)], 50),
                (&[("<module>", 50), ("main", 23), ("cache", 40)], 25),
            ],
        )
    }

    fn function<'a>(d: &'a Diff, name: &str) -> &'a FunctionChange {
        d.functions.iter().find(|f| f.name == name).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn totals_are_in_time_not_samples() {
        let d = diff(&before(), &after()).unwrap();
        assert_eq!((d.total.before_samples, d.total.after_samples), (1000, 250));
        assert!(close(d.total.before_s, 1.0) && close(d.total.after_s, 0.5));
        assert!(close(d.total_change_pct(), -50.0));
        assert!(close(d.total.before_share, 1.0) && close(d.total.after_share, 1.0));
    }

    #[test]
    fn functions_report_exactly_the_known_changes() {
        let d = diff(&before(), &after()).unwrap();
        // lookup: 0.6 s -> 0.05 s self; share 60% -> 10%.
        let lookup = function(&d, "lookup");
        assert_eq!(lookup.self_time.before_samples, 600);
        assert_eq!(lookup.self_time.after_samples, 25);
        assert!(close(lookup.self_time.change_s, -0.55));
        assert!(close(
            lookup.self_time.change_pct.unwrap(),
            -0.55 / 0.6 * 100.0
        ));
        assert!(close(lookup.self_time.change_share, -0.5));
        // parse: 0.3 s -> 0.3 s, share 30% -> 60%.
        let parse = function(&d, "parse");
        assert!(close(parse.self_time.change_s, 0.0));
        assert!(close(parse.self_time.change_share, 0.3));
        // main: self 0.1 s -> 0.1 s, total 1.0 s -> 0.5 s.
        let main = function(&d, "main");
        assert!(close(main.self_time.change_s, 0.0));
        assert!(close(main.total.change_s, -0.5));
        // cache is new: no relative change, 10% share.
        let cache = function(&d, "cache");
        assert_eq!(cache.self_time.before_samples, 0);
        assert_eq!(cache.self_time.change_pct, None);
        assert!(close(cache.self_time.after_share, 0.1));
        // Biggest change in self time first.
        let order: Vec<&str> = d.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(order, ["lookup", "cache", "parse", "main", "<module>"]);
    }

    #[test]
    fn lines_are_compared_by_file_and_number() {
        let d = diff(&before(), &after()).unwrap();
        let line = |n: u32| d.lines.iter().find(|l| l.line == n).unwrap();
        assert_eq!(
            (
                line(10).change.before_samples,
                line(10).change.after_samples
            ),
            (600, 0)
        );
        assert!(close(line(10).change.change_pct.unwrap(), -100.0));
        assert_eq!(
            (
                line(11).change.before_samples,
                line(11).change.after_samples
            ),
            (0, 25)
        );
        assert!(close(line(30).change.change_s, 0.0));
        assert_eq!(d.lines[0].line, 10);
        assert_eq!(d.lines.len(), 5);
    }

    #[test]
    fn different_main_scripts_are_matched() {
        let b = capture(
            "/p/list.py",
            1000.0,
            &[
                (&[("<module>", 5), ("find", 9)], 90),
                (&[("<module>", 6)], 10),
            ],
        );
        let a = capture(
            "/p/set.py",
            1000.0,
            &[
                (&[("<module>", 5), ("find", 9)], 1),
                (&[("<module>", 6)], 10),
            ],
        );
        let d = diff(&b, &a).unwrap();
        assert_eq!(
            d.matched_scripts,
            Some(ScriptMatch {
                before: "/p/list.py".into(),
                after: "/p/set.py".into()
            })
        );
        let find = function(&d, "find");
        assert_eq!(find.file, "/p/set.py");
        assert_eq!(
            (find.self_time.before_samples, find.self_time.after_samples),
            (90, 1)
        );
        assert_eq!(d.functions.len(), 2);
        // Lines keep their own files: each script's line 9 is its own.
        let line9: Vec<(&str, u64, u64)> = d
            .lines
            .iter()
            .filter(|l| l.line == 9)
            .map(|l| {
                (
                    l.file.as_str(),
                    l.change.before_samples,
                    l.change.after_samples,
                )
            })
            .collect();
        assert_eq!(line9, [("/p/list.py", 90, 0), ("/p/set.py", 0, 1)]);
    }

    #[test]
    fn the_same_script_is_not_renamed() {
        let d = diff(&before(), &before()).unwrap();
        assert_eq!(d.matched_scripts, None);
        assert!(d.functions.iter().all(|f| f.self_time.change_s == 0.0));
        let mut text = Vec::new();
        d.write_text(&mut text, DEFAULT_TOP).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("unchanged"), "{text}");
        assert_eq!(text.matches("  no change").count(), 2, "{text}");
    }

    #[test]
    fn empty_or_rateless_captures_are_refused() {
        let empty = capture("/p/a.py", 1000.0, &[]);
        assert!(matches!(
            diff(&empty, &after()),
            Err(DiffError::NoSamples("before"))
        ));
        assert!(matches!(
            diff(&before(), &empty),
            Err(DiffError::NoSamples("after"))
        ));
        let mut rateless = after();
        rateless.meta.requested_rate_hz = 0.0;
        rateless.meta.duration_s = 0.0;
        assert!(matches!(
            diff(&before(), &rateless),
            Err(DiffError::NoRate("after"))
        ));
    }

    #[test]
    fn text_lists_the_biggest_changes_with_times_and_shares() {
        let d = diff(&before(), &after()).unwrap();
        let mut out = Vec::new();
        d.write_text(&mut out, 2).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("  total   1.000 s -> 0.500 s: -0.500 s (-50.0%), faster\n"),
            "{text}"
        );
        let section = text
            .split_once("Functions by change in self time\n")
            .unwrap()
            .1;
        let rows: Vec<Vec<&str>> = section
            .lines()
            .skip(1)
            .take(3)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            [
                "0.600",
                "s",
                "0.050",
                "s",
                "-0.550",
                "s",
                "-91.7%",
                "60.0%",
                "->",
                "10.0%",
                "-50.0pp",
                "lookup",
                "/p/app.py"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "0.000",
                "s",
                "0.050",
                "s",
                "+0.050",
                "s",
                "new",
                "0.0%",
                "->",
                "10.0%",
                "+10.0pp",
                "cache",
                "/p/app.py"
            ]
        );
        assert_eq!(rows[2], ["...", "2", "more"]);
    }

    #[test]
    fn json_has_every_function_and_line() {
        let d = diff(&before(), &after()).unwrap();
        let mut out = Vec::new();
        d.write_json(&mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["format"], "snakescope-diff");
        assert_eq!(v["version"], 1);
        assert_eq!(v["functions"].as_array().unwrap().len(), 5);
        assert_eq!(v["lines"].as_array().unwrap().len(), 5);
        let lookup = &v["functions"][0];
        assert_eq!(lookup["name"], "lookup");
        assert_eq!(lookup["self"]["before_samples"], 600);
        assert_eq!(lookup["total"]["after_samples"], 25);
        assert_eq!(
            v["functions"][1]["self"]["change_pct"],
            serde_json::Value::Null
        );
        assert_eq!(v["lines"][0]["line"], 10);
        assert_eq!(v["total"]["after_s"], 0.5);
        assert_eq!(v["before"]["samples"], 1000);
    }

    fn with_memory(mut c: Capture, sites: &[(&str, u64)], peak: u64) -> Capture {
        let frame = |c: &Capture, name: &str| c.frames.iter().position(|f| f.function == name);
        let sites = sites
            .iter()
            .map(|&(name, bytes)| MemorySite {
                frames: frame(&c, name).map_or(Vec::new(), |f| vec![f]),
                source: "python".into(),
                allocations: bytes / 100,
                allocated_bytes: bytes,
                ..MemorySite::default()
            })
            .collect();
        c.memory = Some(Memory {
            mode: "exact".into(),
            sample_interval_bytes: 1,
            sites,
            peak_bytes: peak,
            end_bytes: peak / 2,
            ..Memory::default()
        });
        c
    }

    #[test]
    fn memory_is_compared_when_both_recorded_it() {
        let b = with_memory(
            before(),
            &[("lookup", 3 << 20), ("parse", 1 << 20)],
            4 << 20,
        );
        let a = with_memory(
            after(),
            &[("lookup", 1 << 20), ("parse", 1 << 20), ("-", 4096)],
            2 << 20,
        );
        let d = diff(&b, &a).unwrap();
        let m = d.memory.as_ref().unwrap();
        assert_eq!(m.peak_bytes, ByteChange::new(4 << 20, 2 << 20));
        assert!(close(m.peak_bytes.change_pct.unwrap(), -50.0));
        assert_eq!(m.end_bytes.after, 1 << 20);
        assert_eq!(m.allocated_bytes.before, 4 << 20);
        let names: Vec<(&str, i64)> = m
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.allocated.change))
            .collect();
        assert_eq!(
            names,
            [
                ("lookup", -(2 << 20)),
                (NO_PYTHON_FRAME, 4096),
                ("parse", 0)
            ]
        );
        let mut out = Vec::new();
        d.write_text(&mut out, 10).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("  peak          4.0 MiB -> 2.0 MiB       -2.0 MiB (-50.0%)\n"),
            "{text}"
        );
        assert!(text.contains("Functions by change in bytes allocated"));
        let mut json = Vec::new();
        d.write_json(&mut json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["memory"]["functions"][0]["change"], -(2 << 20));
        // One side only: not compared, and said so.
        let d = diff(&b, &after()).unwrap();
        assert!(d.memory.is_none());
        assert!(d.caveats[0].contains("only the before capture recorded memory"));
        assert_eq!(diff(&before(), &after()).unwrap().memory, None);
    }

    #[test]
    fn caveats_name_mismatched_settings() {
        let mut a = after();
        a.meta.include_idle = true;
        a.meta.python_version = Some("3.12.1".into());
        let mut b = before();
        b.meta.python_version = Some("3.11.7".into());
        let d = diff(&b, &a).unwrap();
        let caveats = &d.caveats;
        assert_eq!(caveats.len(), 2, "{caveats:?}");
        assert!(caveats[0].contains("only the after capture includes idle"));
        assert!(caveats[1].contains("3.11.7 and 3.12.1"));
    }

    fn svg(scale: Scale, widths: Widths) -> String {
        let mut out = Vec::new();
        write_differential_flamegraph(&before(), &after(), scale, widths, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The fill colour of the box whose title starts with `name`.
    fn fill<'a>(svg: &'a str, name: &str) -> &'a str {
        let at = svg
            .find(&format!("<title>{name}"))
            .unwrap_or_else(|| panic!("no box {name}"));
        let rest = &svg[at..];
        let fill = rest.find("fill=\"").unwrap() + 6;
        &rest[fill..fill + rest[fill..].find('"').unwrap()]
    }

    /// (red, green, blue) of an `rgb(r,g,b)` fill.
    fn rgb(fill: &str) -> (u32, u32, u32) {
        let v: Vec<u32> = fill
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .map(|c| c.trim().parse().unwrap())
            .collect();
        (v[0], v[1], v[2])
    }

    fn is_red(c: (u32, u32, u32)) -> bool {
        c.0 > c.2
    }

    fn is_blue(c: (u32, u32, u32)) -> bool {
        c.2 > c.0
    }

    fn is_white(c: (u32, u32, u32)) -> bool {
        c.0 == c.1 && c.1 == c.2
    }

    #[test]
    fn differential_flame_graph_colours_shrunk_blue_and_grown_red() {
        // By time, after's widths: lookup (0.6 s -> 0.05 s) blue, cache (new)
        // red, parse (0.3 s both) white.
        let g = svg(Scale::Time, Widths::After);
        assert!(g.trim_end().ends_with("</svg>"));
        assert!(is_blue(rgb(fill(&g, "lookup (/p/app.py)"))));
        assert!(is_red(rgb(fill(&g, "cache (/p/app.py)"))));
        assert!(is_white(rgb(fill(&g, "parse (/p/app.py)"))));
        // Threads are matched by name, not id.
        assert!(g.contains("thread: MainThread"));
        // By share parse grew (30% -> 60%): red.
        let g = svg(Scale::Share, Widths::After);
        assert!(is_red(rgb(fill(&g, "parse (/p/app.py)"))));
        assert!(is_blue(rgb(fill(&g, "lookup (/p/app.py)"))));
    }

    #[test]
    fn before_widths_keep_the_colours_and_show_what_went() {
        // Before's widths: lookup is 60% wide and blue; cache, new, has no box.
        let g = svg(Scale::Time, Widths::Before);
        assert!(is_blue(rgb(fill(&g, "lookup (/p/app.py)"))));
        assert!(is_white(rgb(fill(&g, "parse (/p/app.py)"))));
        assert!(!g.contains("<title>cache"));
        // 600 of 1000 samples: lookup's box is 60% as wide as the root.
        assert!(
            g.contains("<title>lookup (/p/app.py) (600 samples, 60.00%"),
            "{g}"
        );
    }
}
