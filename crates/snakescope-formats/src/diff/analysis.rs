//! The comparison itself: each capture's side, functions and lines matched
//! by name, file and number, the main scripts matched, memory per function.

use super::{
    ByteChange, Change, Diff, DiffError, FunctionBytes, FunctionChange, LineChange, MemoryDiff,
    ScriptMatch, Side, NO_PYTHON_FRAME,
};
use crate::text::command_line;
use snakescope_model::{Capture, Memory, Stats};
use std::collections::{BTreeMap, HashMap};

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
    let functions = function_changes(&sb, &sa, &b, &a);
    let lines = line_changes(&lines_before, &sa, &b, &a);
    let memory = match (&before_functions.memory, &after.memory) {
        (Some(mb), Some(ma)) => Some(memory_diff(before_functions, mb, after, ma)),
        _ => None,
    };
    let mut caveats = caveats(&b, &a);
    caveats.extend(coverage_caveats(before, after));
    caveats.extend(memory_caveat(before, after));
    Ok(Diff {
        memory,
        caveats,
        total: Change::new(b.samples, a.samples, &b, &a),
        before: b,
        after: a,
        matched_scripts: matched,
        functions,
        lines,
    })
}

/// Every function of either side's statistics, biggest change in self time
/// first.
fn function_changes(sb: &Stats, sa: &Stats, b: &Side, a: &Side) -> Vec<FunctionChange> {
    let mut functions: BTreeMap<(String, String), [(u64, u64); 2]> = BTreeMap::new();
    for (i, stats) in [sb, sa].into_iter().enumerate() {
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
            self_time: Change::new(bs, a_s, b, a),
            total: Change::new(bt, at, b, a),
        })
        .collect();
    functions.sort_by(|x, y| {
        magnitude(&y.self_time)
            .total_cmp(&magnitude(&x.self_time))
            .then(magnitude(&y.total).total_cmp(&magnitude(&x.total)))
            .then_with(|| (&x.name, &x.file).cmp(&(&y.name, &y.file)))
    });
    functions
}

/// Every line of either side's statistics, biggest change first.
fn line_changes(sb: &Stats, sa: &Stats, b: &Side, a: &Side) -> Vec<LineChange> {
    let mut lines: BTreeMap<(String, u32, String), [u64; 2]> = BTreeMap::new();
    for (i, stats) in [sb, sa].into_iter().enumerate() {
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
            change: Change::new(bs, a_s, b, a),
        })
        .collect();
    lines.sort_by(|x, y| {
        magnitude(&y.change)
            .total_cmp(&magnitude(&x.change))
            .then_with(|| (&x.file, x.line).cmp(&(&y.file, y.line)))
    });
    lines
}

/// The note when only one side recorded memory.
fn memory_caveat(before: &Capture, after: &Capture) -> Option<String> {
    match (&before.memory, &after.memory) {
        (Some(_), None) => {
            Some("only the before capture recorded memory: memory is not compared".into())
        }
        (None, Some(_)) => {
            Some("only the after capture recorded memory: memory is not compared".into())
        }
        _ => None,
    }
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

/// A CPU profile that covers less than half its time sampled leaves most of
/// what the program did out of the comparison (waiting, child processes).
fn coverage_caveats(before: &Capture, after: &Capture) -> Vec<String> {
    [("before", before), ("after", after)]
        .into_iter()
        .filter_map(|(which, c)| {
            let share = c
                .cpu_coverage()
                .filter(|&s| s < crate::text::LOW_COVERAGE)?;
            Some(format!(
                "the {which} run's threads were on a CPU for {:.0}% of the time sampled: its \
                 waiting is not compared (record both with --idle to compare wall time)",
                100.0 * share
            ))
        })
        .collect()
}

pub(super) fn side(capture: &Capture, which: &'static str) -> Result<Side, DiffError> {
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
pub(super) fn script_match(before: &Capture, after: &Capture) -> Option<ScriptMatch> {
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
pub(super) fn rename_file(capture: &Capture, from: &str, to: &str) -> Capture {
    let mut c = capture.clone();
    for frame in &mut c.frames {
        if frame.file == from {
            frame.file = to.to_owned();
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::super::*;

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
}
