//! The comparison itself: each side's runs pooled, the headline (measured
//! and sampled time, the verdict), functions and lines matched by name, file
//! and number, or across the two main scripts by the pairing, memory per
//! function.

use super::measured::headline;
use super::pairing::Pairing;
use super::scripts::{apply_pairing, script_match};
use super::{
    runs, ByteChange, Change, Diff, DiffError, FunctionBytes, FunctionChange, LineChange,
    MemoryDiff, Side, NO_PYTHON_FRAME,
};
use crate::text::command_line;
use snakescope_model::{Capture, Memory, Stats};
use std::collections::BTreeMap;

/// Compares `before` with `after`.
pub fn diff(before: &Capture, after: &Capture) -> Result<Diff, DiffError> {
    diff_runs(&[before], &[after])
}

/// Compares the runs of `before` with those of `after` (one or more each,
/// taken the same way within a side): their samples pooled, their measured
/// times as medians.
pub fn diff_runs(before: &[&Capture], after: &[&Capture]) -> Result<Diff, DiffError> {
    for (runs, which) in [(before, "before"), (after, "after")] {
        if runs.is_empty() {
            return Err(DiffError::NoSamples(which));
        }
        runs::check_side(runs, which)?;
    }
    let (pb, pa) = (runs::pool(before), runs::pool(after));
    let b = side(&pb, "before", before.len())?;
    let a = side(&pa, "after", after.len())?;
    let (sb, sa) = (Stats::of(&pb), Stats::of(&pa));
    let mut matched = script_match(&pb, &pa);
    let pairing = matched
        .as_ref()
        .map(|m| Pairing::new(&m.before, &m.after, &sb, &sa));
    if let (Some(m), Some(p)) = (&mut matched, &pairing) {
        m.lines_aligned = p.aligned;
    }
    let functions = function_changes(&sb, &sa, &b, &a, pairing.as_ref());
    let lines = line_changes(&sb, &sa, &b, &a, pairing.as_ref());
    let memory = match (&pb.memory, &pa.memory) {
        (Some(mb), Some(ma)) => {
            let paired = pairing.as_ref().map(|p| apply_pairing(&pb, p));
            Some(memory_diff(paired.as_ref().unwrap_or(&pb), mb, &pa, ma))
        }
        _ => None,
    };
    let (headline, flags) = headline(before, after);
    let mut caveats = flags;
    caveats.extend(caveats_of(&b, &a));
    caveats.extend(coverage_caveats(&pb, &pa));
    caveats.extend(memory_caveat(before, after));
    let findings = super::findings::findings_diff(before[0], after[0], matched.as_ref());
    Ok(Diff {
        findings,
        memory,
        caveats,
        headline,
        total: Change::new(b.samples, a.samples, &b, &a),
        before: b,
        after: a,
        matched_scripts: matched,
        functions,
        lines,
    })
}

/// Every function of either side's statistics, biggest change in self time
/// first; the before script's paired functions under their after names.
fn function_changes(
    sb: &Stats,
    sa: &Stats,
    b: &Side,
    a: &Side,
    pairing: Option<&Pairing>,
) -> Vec<FunctionChange> {
    type Key = (String, String);
    let mut functions: BTreeMap<Key, [(u64, u64); 2]> = BTreeMap::new();
    let mut before_key: BTreeMap<Key, Key> = BTreeMap::new();
    for f in &sb.functions {
        let key = match pairing {
            Some(p) => p.function(&f.name, &f.file),
            None => (f.name.clone(), f.file.clone()),
        };
        if key.1 != f.file {
            before_key.insert(key.clone(), (f.name.clone(), f.file.clone()));
        }
        functions.entry(key).or_default()[0] = (f.self_samples, f.total_samples);
    }
    for f in &sa.functions {
        functions
            .entry((f.name.clone(), f.file.clone()))
            .or_default()[1] = (f.self_samples, f.total_samples);
    }
    let mut functions: Vec<FunctionChange> = functions
        .into_iter()
        .map(|(key, [(bs, bt), (a_s, at)])| {
            let was = before_key.get(&key);
            let renamed_from = pairing
                .and_then(|p| p.renamed.get(&key.0))
                .filter(|_| was.is_some())
                .cloned();
            FunctionChange {
                before_file: was.map(|w| w.1.clone()),
                renamed_from,
                name: key.0,
                file: key.1,
                self_time: Change::new(bs, a_s, b, a),
                total: Change::new(bt, at, b, a),
            }
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

/// Where a before line is compared: its aligned after line in the after
/// script (and whether it was edited), else where it was.
type LineKey = (String, u32, String);

fn before_line_key(
    l: &snakescope_model::LineStat,
    pairing: Option<&Pairing>,
) -> (LineKey, Option<bool>) {
    let own = ((l.file.clone(), l.line, l.name.clone()), None);
    let Some(p) = pairing.filter(|p| l.file == p.before_file) else {
        return own;
    };
    match p.lines.get(&l.line) {
        Some(pair) => {
            let (name, _) = p.function(&l.name, &l.file);
            ((p.after_file.clone(), pair.line, name), Some(pair.edited))
        }
        None => own,
    }
}

/// Every line of either side's statistics, biggest change first.
fn line_changes(
    sb: &Stats,
    sa: &Stats,
    b: &Side,
    a: &Side,
    pairing: Option<&Pairing>,
) -> Vec<LineChange> {
    let mut lines: BTreeMap<LineKey, [u64; 2]> = BTreeMap::new();
    let mut was: BTreeMap<LineKey, (String, u32, bool)> = BTreeMap::new();
    for l in &sb.lines {
        let (key, edited) = before_line_key(l, pairing);
        if let Some(edited) = edited {
            was.insert(key.clone(), (l.file.clone(), l.line, edited));
        }
        lines.entry(key).or_default()[0] += l.self_samples;
    }
    for l in &sa.lines {
        lines
            .entry((l.file.clone(), l.line, l.name.clone()))
            .or_default()[1] += l.self_samples;
    }
    let mut lines: Vec<LineChange> = lines
        .into_iter()
        .map(|(key, [bs, a_s])| {
            let before = was.get(&key);
            LineChange {
                before_file: before.map(|w| w.0.clone()),
                before_line: before.map(|w| w.1),
                edited: before.is_some_and(|w| w.2),
                name: key.2,
                file: key.0,
                line: key.1,
                change: Change::new(bs, a_s, b, a),
            }
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
fn memory_caveat(before: &[&Capture], after: &[&Capture]) -> Option<String> {
    let several = before.len() > 1 || after.len() > 1;
    if several && before.iter().chain(after).any(|c| c.memory.is_some()) {
        return Some("memory is compared between single runs only: not compared".into());
    }
    match (&before[0].memory, &after[0].memory) {
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

/// Notes on what makes the two captures hard to compare beyond how they
/// were sampled (`measured.rs` flags that): the interpreters.
fn caveats_of(b: &Side, a: &Side) -> Vec<String> {
    match (&b.python_version, &a.python_version) {
        (Some(bv), Some(av)) if bv != av => {
            vec![format!("different interpreters: python {bv} and {av}")]
        }
        _ => Vec::new(),
    }
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
                 waiting is in its wall time, not in its sampled time (record both with \
                 --idle to see where it waits)",
                100.0 * share
            ))
        })
        .collect()
}

pub(super) fn side(capture: &Capture, which: &'static str, runs: usize) -> Result<Side, DiffError> {
    let samples = capture.total_samples();
    if samples == 0 {
        return Err(DiffError::NoSamples(which));
    }
    let period = capture
        .meta
        .sample_period_s()
        .ok_or(DiffError::NoRate(which))?;
    Ok(Side {
        runs,
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
                after: "/p/set.py".into(),
                lines_aligned: false,
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
        assert!(
            text.contains("  verdict  within noise: no change beyond the noise in wall, sampled\n"),
            "{text}"
        );
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
        assert!(d
            .caveats
            .iter()
            .any(|c| c.contains("only the before capture recorded memory")));
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
        assert_eq!(caveats.len(), 3, "{caveats:?}");
        assert!(caveats[0].contains("only the after capture includes idle"));
        assert!(caveats[1].contains("different rates (1000 Hz and 500 Hz)"));
        assert!(caveats[2].contains("3.11.7 and 3.12.1"));
        // Sampled time measured two ways does not vote; the clocks do.
        let sampled = d.headline.measure("sampled").unwrap();
        assert!(!sampled.compared);
        assert_eq!(d.headline.verdict, Verdict::Faster);
        assert_eq!(d.headline.reason, "wall fell");
    }
}
