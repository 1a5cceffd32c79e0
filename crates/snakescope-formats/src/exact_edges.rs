//! An exact capture's statistics as caller → function edges, the shape the
//! stack-based formats (pprof, speedscope) draw it in: each function's own
//! time (tottime) and calls split by the function that called it.
//!
//! cProfile's per-caller figures add up to the function's own, so the edges
//! of a function carry all of its calls and time. When they do not (a
//! function with no callers, the outermost one; or callers whose figures
//! fall short of the function's, as a capture edited by hand may have), the
//! rest is one more edge without a caller, so that every function's edges
//! add up to its own figures.

use snakescope_model::{Capture, ExactStats};

/// Seconds below which a function's remainder is rounding, not time.
const REMAINDER_EPSILON_S: f64 = 1e-9;

/// Calls and own time of a function as called from one caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Edge {
    /// The function's frame (index into [`Capture::frames`]).
    pub frame: usize,
    /// The caller's frame; `None` for the part with no caller.
    pub caller: Option<usize>,
    pub calls: u64,
    pub tottime_s: f64,
}

/// The exact statistics of `capture` when it is an exact capture: one with
/// an exact section and no samples (a capture with samples is drawn from them).
pub(crate) fn exact_of(capture: &Capture) -> Option<&ExactStats> {
    capture
        .exact
        .as_ref()
        .filter(|_| capture.total_samples() == 0)
}

/// Every edge of `exact`, function by function in the section's order,
/// each function's callers in their order, its remainder (if any) last.
pub(crate) fn edges(exact: &ExactStats) -> Vec<Edge> {
    let mut edges = Vec::new();
    for f in &exact.functions {
        let mut calls = 0u64;
        let mut time = 0.0;
        for c in &f.callers {
            edges.push(Edge {
                frame: f.frame,
                caller: Some(exact.functions[c.function].frame),
                calls: c.calls,
                tottime_s: c.tottime_s,
            });
            calls = calls.saturating_add(c.calls);
            time += c.tottime_s;
        }
        let rest_calls = f.calls.saturating_sub(calls);
        let rest_s = f.tottime_s - time;
        if f.callers.is_empty() || rest_calls > 0 || rest_s > REMAINDER_EPSILON_S {
            edges.push(Edge {
                frame: f.frame,
                caller: None,
                calls: rest_calls,
                tottime_s: rest_s.max(0.0),
            });
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{capture, exact_capture};

    #[test]
    fn fixture_edges_add_up_to_each_function() {
        let c = exact_capture();
        let exact = exact_of(&c).unwrap();
        let e = edges(exact);
        let edge = |frame, caller, calls, tottime_s| Edge {
            frame,
            caller,
            calls,
            tottime_s,
        };
        assert_eq!(
            e,
            [
                edge(0, None, 1, 0.1),
                edge(1, Some(0), 1, 0.03),
                edge(1, Some(1), 20, 0.57),
                edge(2, Some(0), 100, 0.3),
            ]
        );
        for f in &exact.functions {
            let mine = e.iter().filter(|x| x.frame == f.frame);
            let calls: u64 = mine.clone().map(|x| x.calls).sum();
            let time: f64 = mine.map(|x| x.tottime_s).sum();
            assert_eq!(calls, f.calls);
            assert!((time - f.tottime_s).abs() < 1e-12);
        }
    }

    #[test]
    fn callers_short_of_the_function_leave_a_remainder() {
        let mut c = exact_capture();
        let fib = &mut c.exact.as_mut().unwrap().functions[1];
        fib.calls = 25;
        fib.tottime_s = 0.8;
        let e = edges(c.exact.as_ref().unwrap());
        let rest = e
            .iter()
            .find(|x| x.frame == 1 && x.caller.is_none())
            .unwrap();
        assert_eq!(rest.calls, 4);
        assert!((rest.tottime_s - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_sampled_capture_is_not_exact() {
        assert!(exact_of(&capture()).is_none());
    }
}
