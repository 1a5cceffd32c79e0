//! The exact section (`run --exact`) in the layout of pstats'
//! `Stats.sort_stats("cumulative").print_stats(N)`, so its figures read as
//! the cProfile output people know: the totals line, then one row per
//! function, `ncalls` as `calls/primitive` when they differ and built-ins as
//! `{built-in method builtins.len}` (pstats' `func_std_string`).

use snakescope_model::{Capture, ExactFunction, ExactStats, Frame};
use std::cmp::Ordering;
use std::io::{self, Write};

/// Writes the totals line and the `limit` functions with the most
/// cumulative time.
pub(super) fn write_exact(
    capture: &Capture,
    exact: &ExactStats,
    limit: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "{}", totals_line(exact))?;
    if let Some(note) = threads_note(exact, capture.meta.duration_s) {
        writeln!(out, "{note}")?;
    }
    writeln!(out)?;
    if exact.functions.is_empty() {
        return writeln!(out, "   no function was called");
    }
    writeln!(out, "   Ordered by: cumulative time")?;
    writeln!(out)?;
    let rows = by_cumtime(exact);
    if rows.len() > limit {
        writeln!(
            out,
            "   List reduced from {} to {limit} due to restriction <{limit}>",
            rows.len()
        )?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "   ncalls  tottime  percall  cumtime  percall filename:lineno(function)"
    )?;
    for f in rows.into_iter().take(limit) {
        writeln!(out, "{}", row(f, frame_of(capture, f)))?;
    }
    Ok(())
}

/// `N function calls (M primitive calls) in X.XXX seconds`, indented as
/// pstats indents it (the primitive calls only when they differ).
pub(super) fn totals_line(exact: &ExactStats) -> String {
    let (calls, primitive) = exact.total_calls();
    let primitive = if calls == primitive {
        String::new()
    } else {
        format!(" ({primitive} primitive calls)")
    };
    format!(
        "         {calls} function calls{primitive} in {:.3} seconds",
        exact.total_time_s()
    )
}

/// pstats' total adds up every thread's time, waiting included: when it is
/// more than the run's wall time (several threads), a line says so and gives
/// the wall time, which is what the run took.
fn threads_note(exact: &ExactStats, wall_s: f64) -> Option<String> {
    let total = exact.total_time_s();
    (wall_s > 0.0 && total > 1.05 * wall_s).then(|| {
        format!(
            "         (wall time {wall_s:.3} seconds: the seconds above add up every thread's time, \
             waiting included)"
        )
    })
}

/// The functions, most cumulative time first (then most own time, then by
/// index, so the order is the same on every run).
fn by_cumtime(exact: &ExactStats) -> Vec<&ExactFunction> {
    let mut rows: Vec<&ExactFunction> = exact.functions.iter().collect();
    rows.sort_by(|a, b| {
        b.cumtime_s
            .partial_cmp(&a.cumtime_s)
            .unwrap_or(Ordering::Equal)
            .then(
                b.tottime_s
                    .partial_cmp(&a.tottime_s)
                    .unwrap_or(Ordering::Equal),
            )
            .then(a.frame.cmp(&b.frame))
    });
    rows
}

fn frame_of<'a>(capture: &'a Capture, f: &ExactFunction) -> Option<&'a Frame> {
    capture.frames.get(f.frame)
}

/// One row as pstats' `print_line` writes it.
fn row(f: &ExactFunction, frame: Option<&Frame>) -> String {
    let mut ncalls = f.calls.to_string();
    if f.calls != f.primitive_calls {
        ncalls = format!("{ncalls}/{}", f.primitive_calls);
    }
    let per = |time: f64, n: u64| {
        if n == 0 {
            " ".repeat(8)
        } else {
            format!("{:8.3}", time / n as f64)
        }
    };
    format!(
        "{ncalls:>9} {:8.3} {} {:8.3} {} {}",
        f.tottime_s,
        per(f.tottime_s, f.calls),
        f.cumtime_s,
        per(f.cumtime_s, f.primitive_calls),
        frame.map_or_else(|| "?".to_owned(), std_string),
    )
}

/// pstats' `func_std_string`: `file:line(name)`, a built-in (file `~`,
/// line 0) as its label with braces for angle brackets.
pub(super) fn std_string(frame: &Frame) -> String {
    if frame.file == "~" && frame.line == 0 {
        let name = frame.function.as_str();
        return match name.strip_prefix('<').and_then(|n| n.strip_suffix('>')) {
            Some(inner) => format!("{{{inner}}}"),
            None => name.to_owned(),
        };
    }
    format!("{}:{}({})", frame.file, frame.line, frame.function)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::exact_capture;

    fn table(limit: usize) -> String {
        let capture = exact_capture();
        let mut out = Vec::new();
        write_exact(&capture, capture.exact.as_ref().unwrap(), limit, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn pstats_layout_by_cumulative_time() {
        assert_eq!(
            table(10),
            "         122 function calls (102 primitive calls) in 1.000 seconds\n\
             \n\
             \x20  Ordered by: cumulative time\n\
             \n\
             \x20  ncalls  tottime  percall  cumtime  percall filename:lineno(function)\n\
             \x20       1    0.100    0.100    1.000    1.000 /src/app.py:1(main)\n\
             \x20    21/1    0.600    0.029    0.600    0.600 /src/app.py:5(fib)\n\
             \x20     100    0.300    0.003    0.300    0.003 {built-in method builtins.len}\n"
        );
    }

    #[test]
    fn a_limit_says_the_list_was_reduced() {
        let text = table(2);
        assert!(
            text.contains("   List reduced from 3 to 2 due to restriction <2>\n\n"),
            "{text}"
        );
        assert!(text.contains("(main)") && text.contains("(fib)"));
        assert!(!text.contains("builtins.len"));
    }

    #[test]
    fn equal_calls_show_no_primitive_count_and_no_calls_no_per_call() {
        let f = ExactFunction {
            frame: 0,
            calls: 0,
            primitive_calls: 0,
            tottime_s: 0.0,
            cumtime_s: 0.0,
            callers: Vec::new(),
        };
        let stats = ExactStats {
            version: 1,
            functions: vec![f.clone()],
        };
        assert_eq!(
            totals_line(&stats),
            "         0 function calls in 0.000 seconds"
        );
        let frame = Frame {
            function: "len".into(),
            qualname: None,
            file: "~".into(),
            line: 0,
        };
        assert_eq!(
            row(&f, Some(&frame)),
            "        0    0.000             0.000          len"
        );
    }
}
