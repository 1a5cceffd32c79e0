//! Comparing two exact captures (`run --exact`): per function, cProfile's
//! figures before and after — calls, own time (tottime) and time with callees
//! (cumtime) — ranked by the change in own time.
//!
//! Functions are matched by file and qualified name, not by first line (which
//! moves when code above the function is edited); built-ins (file `~`) by
//! cProfile's label. Functions of one capture with the same file and name
//! (two nested functions of one name, say) are added together.

use super::DiffError;
use crate::text::command_line;
use serde::Serialize;
use snakescope_model::{Capture, ExactStats, ExactTotals};
use std::collections::BTreeMap;

/// One exact capture as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExactSide {
    pub command: String,
    pub python_version: Option<String>,
    /// Calls of all functions, and the primitive (not recursive) ones.
    pub calls: u64,
    pub primitive_calls: u64,
    /// Seconds measured: the sum of every function's own time.
    pub time_s: f64,
    /// Wall-clock length of the recording.
    pub duration_s: f64,
}

/// A number of calls before and after.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CallChange {
    pub before: u64,
    pub after: u64,
    /// `after - before`.
    pub change: i64,
    /// Relative change in percent; `None` when it was 0 before.
    pub change_pct: Option<f64>,
}

/// Seconds before and after.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeChange {
    pub before_s: f64,
    pub after_s: f64,
    /// `after_s - before_s`.
    pub change_s: f64,
    /// Relative change in percent; `None` when it was 0 before.
    pub change_pct: Option<f64>,
}

/// One function's figures before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExactFunctionChange {
    /// Qualified name, or cProfile's label of a built-in.
    pub name: String,
    /// `~` for a built-in.
    pub file: String,
    pub calls: CallChange,
    pub primitive_calls: CallChange,
    /// Own time, outside callees.
    pub tottime: TimeChange,
    /// Time from call to return, callees included, outermost calls only.
    pub cumtime: TimeChange,
}

/// The comparison of two exact captures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExactDiff {
    pub before: ExactSide,
    pub after: ExactSide,
    /// Calls of all functions before and after.
    pub calls: CallChange,
    /// Measured time (every function's own time added) before and after.
    pub total: TimeChange,
    /// What makes the two captures hard to compare, one line each.
    pub caveats: Vec<String>,
    /// Every function seen in either capture, biggest change in own time first.
    pub functions: Vec<ExactFunctionChange>,
}

impl ExactDiff {
    /// The relative change of the total measured time, in percent.
    pub fn total_change_pct(&self) -> f64 {
        self.total.change_pct.unwrap_or(0.0)
    }
}

/// Compares the exact statistics of `before` with those of `after`.
pub(super) fn exact_diff(
    before: (&Capture, &ExactStats),
    after: (&Capture, &ExactStats),
) -> Result<ExactDiff, DiffError> {
    let b = side(before, "before")?;
    let a = side(after, "after")?;
    let functions = function_changes(before, after);
    let mut caveats = Vec::new();
    if let (Some(bv), Some(av)) = (&b.python_version, &a.python_version) {
        if bv != av {
            caveats.push(format!("different interpreters: python {bv} and {av}"));
        }
    }
    Ok(ExactDiff {
        calls: CallChange::new(b.calls, a.calls),
        total: TimeChange::new(b.time_s, a.time_s),
        before: b,
        after: a,
        caveats,
        functions,
    })
}

fn side(
    (capture, stats): (&Capture, &ExactStats),
    which: &'static str,
) -> Result<ExactSide, DiffError> {
    if stats.functions.is_empty() {
        return Err(DiffError::NoCalls(which));
    }
    let (calls, primitive_calls) = stats.total_calls();
    Ok(ExactSide {
        command: command_line(&capture.meta),
        python_version: capture.meta.python_version.clone(),
        calls,
        primitive_calls,
        time_s: stats.total_time_s(),
        duration_s: capture.meta.duration_s,
    })
}

/// Every function of either side, keyed by (file, name), biggest change in
/// own time first (then in cumtime, then in calls).
fn function_changes(
    before: (&Capture, &ExactStats),
    after: (&Capture, &ExactStats),
) -> Vec<ExactFunctionChange> {
    let mut by_key: BTreeMap<(String, String), [ExactTotals; 2]> = BTreeMap::new();
    for (i, (capture, stats)) in [before, after].into_iter().enumerate() {
        for f in &stats.functions {
            let frame = &capture.frames[f.frame];
            let key = (frame.file.clone(), frame.display_name().to_owned());
            by_key.entry(key).or_default()[i].add_function(f);
        }
    }
    let mut functions: Vec<ExactFunctionChange> = by_key
        .into_iter()
        .map(|((file, name), [b, a])| ExactFunctionChange {
            name,
            file,
            calls: CallChange::new(b.calls, a.calls),
            primitive_calls: CallChange::new(b.primitive_calls, a.primitive_calls),
            tottime: TimeChange::new(b.tottime_s, a.tottime_s),
            cumtime: TimeChange::new(b.cumtime_s, a.cumtime_s),
        })
        .collect();
    functions.sort_by(|x, y| {
        let size = |f: &ExactFunctionChange| (f.tottime.change_s.abs(), f.cumtime.change_s.abs());
        let (xt, xc) = size(x);
        let (yt, yc) = size(y);
        yt.total_cmp(&xt)
            .then(yc.total_cmp(&xc))
            .then(
                y.calls
                    .change
                    .unsigned_abs()
                    .cmp(&x.calls.change.unsigned_abs()),
            )
            .then_with(|| (&x.name, &x.file).cmp(&(&y.name, &y.file)))
    });
    functions
}

impl CallChange {
    fn new(before: u64, after: u64) -> CallChange {
        let change = i64::try_from(after)
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(before).unwrap_or(i64::MAX));
        CallChange {
            before,
            after,
            change,
            change_pct: (before > 0).then(|| 100.0 * change as f64 / before as f64),
        }
    }
}

impl TimeChange {
    fn new(before_s: f64, after_s: f64) -> TimeChange {
        let change_s = after_s - before_s;
        TimeChange {
            before_s,
            after_s,
            change_s,
            change_pct: (before_s > 0.0).then(|| 100.0 * change_s / before_s),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{compare, Comparison, DiffError};
    use super::*;
    use crate::fixture::{capture, exact_capture};
    use snakescope_model::{ExactCaller, ExactFunction, Frame};

    /// After the fix: `fib` (now defined two lines lower) is called once and
    /// remembers its results, through a new `Worker.cached`; `len` as before.
    ///
    /// | function   | calls     | tottime       | cumtime       |
    /// |------------|-----------|---------------|---------------|
    /// | main       | 1 -> 1    | 0.1 -> 0.1    | 1.0 -> 0.45   |
    /// | Worker.fib | 21 -> 1   | 0.6 -> 0.03   | 0.6 -> 0.05   |
    /// | cached     | new: 1    | 0 -> 0.02     | 0 -> 0.02     |
    /// | len        | 100 -> 100| 0.3 -> 0.3    | 0.3 -> 0.3    |
    ///
    /// Total own time 1.0 s -> 0.45 s; calls 122 -> 103.
    pub(in crate::diff) fn after_fix() -> Capture {
        let mut c = exact_capture();
        c.frames[1].line = 7;
        c.frames.push(Frame {
            function: "cached".into(),
            qualname: Some("Worker.cached".into()),
            file: "/src/app.py".into(),
            line: 3,
        });
        let caller = |function, calls, tottime_s, cumtime_s| ExactCaller {
            function,
            calls,
            primitive_calls: calls,
            tottime_s,
            cumtime_s,
        };
        let exact = c.exact.as_mut().unwrap();
        exact.functions[0].cumtime_s = 0.45;
        let fib = &mut exact.functions[1];
        (fib.calls, fib.primitive_calls) = (1, 1);
        (fib.tottime_s, fib.cumtime_s) = (0.03, 0.05);
        fib.callers = vec![caller(0, 1, 0.03, 0.05)];
        exact.functions.push(ExactFunction {
            frame: 3,
            calls: 1,
            primitive_calls: 1,
            tottime_s: 0.02,
            cumtime_s: 0.02,
            callers: vec![caller(1, 1, 0.02, 0.02)],
        });
        c
    }

    pub(in crate::diff) fn exact_pair() -> ExactDiff {
        match compare(&exact_capture(), &after_fix()).unwrap() {
            Comparison::Exact(d) => d,
            Comparison::Samples(_) => panic!("compared as samples"),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn functions_carry_calls_and_times_before_and_after() {
        let d = exact_pair();
        let names: Vec<&str> = d.functions.iter().map(|f| f.name.as_str()).collect();
        // By change in own time: fib -0.57, cached +0.02, then main and len
        // (own time unchanged): main's cumtime changed.
        assert_eq!(
            names,
            [
                "Worker.fib",
                "Worker.cached",
                "main",
                "<built-in method builtins.len>"
            ]
        );
        let fib = &d.functions[0];
        assert_eq!(fib.file, "/src/app.py");
        assert_eq!(
            (fib.calls.before, fib.calls.after, fib.calls.change),
            (21, 1, -20)
        );
        assert!(close(fib.calls.change_pct.unwrap(), -100.0 * 20.0 / 21.0));
        assert_eq!(
            (fib.primitive_calls.before, fib.primitive_calls.after),
            (1, 1)
        );
        assert!(close(fib.tottime.before_s, 0.6) && close(fib.tottime.after_s, 0.03));
        assert!(close(fib.tottime.change_s, -0.57));
        assert!(close(fib.tottime.change_pct.unwrap(), -95.0));
        assert!(close(fib.cumtime.change_s, -0.55));
        let cached = &d.functions[1];
        assert_eq!((cached.calls.before, cached.calls.after), (0, 1));
        assert_eq!(cached.tottime.change_pct, None);
        let len = &d.functions[3];
        assert_eq!(len.file, "~");
        assert_eq!(len.calls.change, 0);
        assert!(close(len.tottime.change_s, 0.0));
    }

    #[test]
    fn totals_are_own_time_and_calls() {
        let d = exact_pair();
        assert!(close(d.total.before_s, 1.0) && close(d.total.after_s, 0.45));
        assert!(close(d.total_change_pct(), -55.0));
        assert_eq!(
            (d.calls.before, d.calls.after, d.calls.change),
            (122, 103, -19)
        );
        assert_eq!(
            (d.before.primitive_calls, d.after.primitive_calls),
            (102, 103)
        );
        assert!(d.caveats.is_empty());
    }

    #[test]
    fn exact_and_sampled_captures_are_not_compared() {
        let err = compare(&exact_capture(), &capture()).unwrap_err();
        assert!(matches!(
            err,
            DiffError::Mixed {
                exact: "before",
                sampled: "after"
            }
        ));
        let message = compare(&capture(), &exact_capture())
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "the after capture holds exact calls (`run --exact`) and the before capture sampled stacks: they cannot be compared"
        );
    }

    #[test]
    fn an_exact_capture_without_calls_is_refused() {
        let mut empty = exact_capture();
        empty.exact.as_mut().unwrap().functions.clear();
        let err = compare(&exact_capture(), &empty).unwrap_err();
        assert!(matches!(err, DiffError::NoCalls("after")), "{err}");
    }
}
