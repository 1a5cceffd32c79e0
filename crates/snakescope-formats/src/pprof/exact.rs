//! pprof of an exact capture (`run --exact`): cProfile's figures as a call
//! graph pprof can show.
//!
//! Two sample types, `calls`/`count` and `time`/`nanoseconds` (the default):
//! one sample per caller → function edge (`crate::exact_edges`), its stack
//! [function, caller] (leaf first, pprof's order), valued by the calls made
//! from that caller and the function's own time (tottime) in them. The
//! outermost function, which has no caller, is a one-frame sample with its
//! own figures; so is the remainder of a function whose callers' figures
//! fall short of its own. So `go tool pprof -top` shows each function's flat
//! calls and time as cProfile's ncalls and tottime, and the graph (`-web`,
//! `-peek`) its callers. pprof's `cum` counts one level of callees only
//! (each sample is one edge), so it is not cProfile's cumtime: pstats is.

use super::{locations, mapping, seconds_to_ns, Strings};
use crate::exact_edges::{edges, Edge};
use crate::pprof_proto as pb;
use crate::text::command_line;
use snakescope_model::{Capture, ExactStats};

/// The sample types, in value order; the last is the default.
const COLUMNS: [(&str, &str); 2] = [("calls", "count"), ("time", "nanoseconds")];

/// The profile message for an exact capture.
pub(super) fn profile(capture: &Capture, stats: &ExactStats) -> pb::Profile {
    let mut strings = Strings::new();
    let sample_type = COLUMNS
        .iter()
        .map(|&(kind, unit)| pb::ValueType {
            r#type: strings.intern(kind),
            unit: strings.intern(unit),
        })
        .collect();
    let (locations, functions) = locations(capture, &mut strings);
    let sample = edges(stats).iter().map(sample).collect();
    let mapping = mapping(&mut strings);
    let meta = &capture.meta;
    let comment = vec![
        strings.intern(&format!("snakescope: {}", command_line(meta))),
        strings.intern("exact calls (cProfile's accounting): own time (tottime) by caller"),
    ];
    let default_sample_type = strings.intern(COLUMNS[1].0);
    pb::Profile {
        sample_type,
        sample,
        mapping: vec![mapping],
        location: locations,
        function: functions,
        string_table: strings.table,
        time_nanos: seconds_to_ns(meta.started_unix_s),
        duration_nanos: seconds_to_ns(meta.duration_s),
        comment,
        default_sample_type,
        ..pb::Profile::default()
    }
}

/// The sample of one edge: [function, caller] (or [function]), its calls
/// and its own time.
fn sample(edge: &Edge) -> pb::Sample {
    let location = |frame: usize| frame as u64 + 1;
    pb::Sample {
        location_id: std::iter::once(edge.frame)
            .chain(edge.caller)
            .map(location)
            .collect(),
        value: vec![
            i64::try_from(edge.calls).unwrap_or(i64::MAX),
            seconds_to_ns(edge.tottime_s),
        ],
        label: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{round_trip, stacks, string, types};
    use crate::fixture::exact_capture;
    use std::collections::BTreeMap;

    const MS: i64 = 1_000_000;

    #[test]
    fn one_sample_per_caller_edge_with_calls_and_own_time() {
        let p = round_trip(&exact_capture());
        assert_eq!(types(&p), [("calls", "count"), ("time", "nanoseconds")]);
        assert_eq!(string(&p, p.default_sample_type), "time");
        assert_eq!(p.period, 0);
        assert!(p.period_type.is_none());
        let len = "<built-in method builtins.len>:0";
        // Root first, sorted.
        let want: Vec<(Vec<String>, Vec<i64>)> = vec![
            (
                vec!["Worker.fib:5".into(), "Worker.fib:5".into()],
                vec![20, 570 * MS],
            ),
            (vec!["main:1".into()], vec![1, 100 * MS]),
            (vec!["main:1".into(), len.into()], vec![100, 300 * MS]),
            (
                vec!["main:1".into(), "Worker.fib:5".into()],
                vec![1, 30 * MS],
            ),
        ];
        assert_eq!(stacks(&p), want);
        let comments: Vec<&str> = p.comment.iter().map(|&c| string(&p, c)).collect();
        assert!(comments[1].contains("tottime"), "{comments:?}");
    }

    /// What `go tool pprof -top` shows as flat: the values of the samples
    /// whose leaf is the function.
    #[test]
    fn flat_figures_are_calls_and_tottime() {
        let p = round_trip(&exact_capture());
        let mut flat: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for s in &p.sample {
            let location = p.location.iter().find(|l| l.id == s.location_id[0]);
            let function_id = location.unwrap().line[0].function_id;
            let f = p.function.iter().find(|f| f.id == function_id).unwrap();
            let entry = flat.entry(string(&p, f.name).to_owned()).or_default();
            entry.0 += s.value[0];
            entry.1 += s.value[1];
        }
        let flat: Vec<(String, (i64, i64))> = flat.into_iter().collect();
        assert_eq!(
            flat,
            [
                ("<built-in method builtins.len>".into(), (100, 300 * MS)),
                ("Worker.fib".into(), (21, 600 * MS)),
                ("main".into(), (1, 100 * MS)),
            ]
        );
        let files: Vec<&str> = p.function.iter().map(|f| string(&p, f.filename)).collect();
        assert_eq!(files, ["/src/app.py", "/src/app.py", "~"]);
    }

    #[test]
    fn a_function_without_callers_is_a_root_sample() {
        let mut c = exact_capture();
        c.exact.as_mut().unwrap().functions[2].callers.clear();
        let p = round_trip(&c);
        let len = "<built-in method builtins.len>:0".to_owned();
        assert!(stacks(&p).contains(&(vec![len], vec![100, 300 * MS])));
    }
}
