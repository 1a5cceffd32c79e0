//! The lines section (`@profile`, `run --lines`) in `kernprof -l -v`'s
//! layout, as `python/snakescope/_lines.py`'s `LineStats.text()` writes it:
//! the timer unit, then per function its total time, file and first line,
//! and a row per line with hits, time and time per hit in timer units and
//! the share of the function's time. The source comes from the capture (the
//! lines recorded with the function), not from the file.

use snakescope_model::{Capture, LineFunction, LineTimings};
use std::collections::HashMap;
use std::io::{self, Write};

/// Seconds per unit of the Time and Per Hit columns (kernprof's default).
const UNIT_S: f64 = 1e-6;

/// Writes every function of the section, ordered by file, first line and
/// name as `LineStats.text()` orders them.
pub(super) fn write_lines(
    capture: &Capture,
    lines: &LineTimings,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "Timer unit: {} s", fmt_g(UNIT_S, 6))?;
    writeln!(out)?;
    let mut functions: Vec<(&str, u32, &str, &LineFunction)> = lines
        .functions
        .iter()
        .map(|f| match capture.frames.get(f.frame) {
            Some(frame) => (
                frame.file.as_str(),
                frame.line,
                frame.qualname.as_deref().unwrap_or(&frame.function),
                f,
            ),
            None => ("?", 0, "?", f),
        })
        .collect();
    functions.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    for (file, first, name, function) in functions {
        write_function(file, first, name, function, out)?;
    }
    Ok(())
}

fn write_function(
    file: &str,
    first: u32,
    name: &str,
    function: &LineFunction,
    out: &mut dyn Write,
) -> io::Result<()> {
    let total = function.total_s();
    writeln!(out, "Total time: {} s", fmt_g(total, 6))?;
    writeln!(out, "File: {file}")?;
    writeln!(out, "Function: {name} at line {first}")?;
    writeln!(out)?;
    let timed: HashMap<u32, (u64, f64)> = function
        .lines
        .iter()
        .map(|l| (l.line, (l.hits, l.time_s)))
        .collect();
    let numbers = line_numbers(first, function);
    if function.source.is_empty() {
        writeln!(out, "Could not find file {file}")?;
    }
    let header = format!(
        "{:>6} {:>9} {:>12} {:>8} {:>8}  {}",
        "Line #", "Hits", "Time", "Per Hit", "% Time", "Line Contents"
    );
    writeln!(out, "{header}")?;
    writeln!(out, "{}", "=".repeat(header.chars().count()))?;
    for number in numbers {
        let content = number
            .checked_sub(first)
            .and_then(|i| function.source.get(i as usize))
            .map_or("", |s| s.trim_end());
        let cells = match timed.get(&number) {
            Some(&(hits, time)) => {
                let per = if hits == 0 { 0.0 } else { time / hits as f64 };
                let share = if total > 0.0 {
                    100.0 * time / total
                } else {
                    0.0
                };
                [
                    hits.to_string(),
                    num(time / UNIT_S),
                    num(per / UNIT_S),
                    format!("{share:5.1}"),
                ]
            }
            None => Default::default(),
        };
        let [hits, time, per, share] = &cells;
        writeln!(
            out,
            "{number:>6} {hits:>9} {time:>12} {per:>8} {share:>8}  {content}"
        )?;
    }
    writeln!(out)
}

/// The lines listed: those of the recorded source (from the first line), and
/// any timed line beyond it; without source, the timed lines only.
fn line_numbers(first: u32, function: &LineFunction) -> Vec<u32> {
    let mut numbers: Vec<u32> = (0..function.source.len())
        .filter_map(|i| first.checked_add(u32::try_from(i).ok()?))
        .collect();
    let end = numbers.last().copied();
    let mut beyond: Vec<u32> = function
        .lines
        .iter()
        .map(|l| l.line)
        .filter(|&n| end.map_or(true, |end| n < first || n > end))
        .collect();
    beyond.sort_unstable();
    beyond.dedup();
    numbers.extend(beyond);
    numbers
}

/// kernprof's cell: one decimal, in scientific notation when too wide.
fn num(value: f64) -> String {
    let text = format!("{value:5.1}");
    if text.len() <= 12 {
        text
    } else {
        fmt_g(value, 3)
    }
}

/// Python's `format(value, f".{precision}g")`: `precision` significant
/// digits, trailing zeros dropped, scientific notation (`1e-06`) when the
/// exponent is below -4 or at least `precision`.
pub(super) fn fmt_g(value: f64, precision: usize) -> String {
    let precision = precision.max(1);
    if value == 0.0 || !value.is_finite() {
        return match value {
            v if v.is_nan() => "nan".into(),
            v if v.is_infinite() => if v > 0.0 { "inf" } else { "-inf" }.into(),
            _ => "0".into(),
        };
    }
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i64 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}e{sign}{:02}",
            strip_zeros(mantissa),
            exponent.unsigned_abs()
        )
    } else {
        let decimals = (precision as i64 - 1 - exponent).max(0) as usize;
        strip_zeros(&format!("{value:.decimals$}")).to_owned()
    }
}

fn strip_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::exact_capture;

    fn text(capture: &Capture) -> String {
        let mut out = Vec::new();
        write_lines(capture, capture.lines.as_ref().unwrap(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn kernprof_layout_with_the_recorded_source() {
        assert_eq!(
            text(&exact_capture()),
            "Timer unit: 1e-06 s\n\
             \n\
             Total time: 1 s\n\
             File: /src/app.py\n\
             Function: main at line 1\n\
             \n\
             Line #      Hits         Time  Per Hit   % Time  Line Contents\n\
             ==============================================================\n\
             \x20    1                                           def main():\n\
             \x20    2         1     100000.0 100000.0     10.0      w = Worker(); w.fib(20)\n\
             \x20    3       100     900000.0   9000.0     90.0      for i in range(100): len(\"x\")\n\
             \n"
        );
    }

    #[test]
    fn without_source_only_the_timed_lines() {
        let mut capture = exact_capture();
        let lines = capture.lines.as_mut().unwrap();
        lines.functions[0].source.clear();
        lines.functions[0].frame = 1;
        let text = text(&capture);
        assert!(text
            .contains("Function: Worker.fib at line 5\n\nCould not find file /src/app.py\nLine #"));
        let rows: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("===="))
            .skip(1)
            .collect();
        assert_eq!(
            rows[0].split_whitespace().collect::<Vec<_>>(),
            ["2", "1", "100000.0", "100000.0", "10.0"]
        );
        assert_eq!(
            rows[1].split_whitespace().collect::<Vec<_>>(),
            ["3", "100", "900000.0", "9000.0", "90.0"]
        );
        assert_eq!(rows[2], "");
    }

    #[test]
    fn numbers_as_python_formats_them() {
        assert_eq!(fmt_g(1e-6, 6), "1e-06");
        assert_eq!(fmt_g(1.0, 6), "1");
        assert_eq!(fmt_g(0.25, 6), "0.25");
        assert_eq!(fmt_g(1234567.0, 6), "1.23457e+06");
        assert_eq!(fmt_g(0.000123456, 6), "0.000123456");
        assert_eq!(fmt_g(0.0000123, 6), "1.23e-05");
        assert_eq!(fmt_g(0.0, 6), "0");
        assert_eq!(num(12.34), " 12.3");
        assert_eq!(num(123_456_789_012.0), "1.23e+11");
    }
}
