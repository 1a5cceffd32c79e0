//! What `timeit` prints: a line per benchmark, then each benchmark compared
//! with the first, as text or as JSON (`--json`); warnings go to stderr.

use super::worker::shown;
use super::Bench;
use crate::args::TimeitArgs;
use serde::Serialize;
use snakescope_model::timing::{mann_whitney_p, Summary};
use std::io::Write;

/// A difference is called significant below this p-value.
const ALPHA: f64 = 0.01;
/// Standard deviation over mean above which a benchmark is called unstable.
const UNSTABLE: f64 = 0.1;

#[derive(Serialize)]
pub struct Report {
    processes: u32,
    repeat: u32,
    benchmarks: Vec<BenchReport>,
    comparisons: Vec<Comparison>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct BenchReport {
    stmt: String,
    python: String,
    python_version: String,
    /// Loops per measurement.
    number: u64,
    /// Seconds per loop, one per measurement, in the order taken.
    values_s: Vec<f64>,
    #[serde(flatten)]
    summary: Summary,
}

/// Benchmark `b` against benchmark `a` (indices from 0).
#[derive(Serialize)]
struct Comparison {
    a: usize,
    b: usize,
    /// b's median over a's.
    ratio: f64,
    p_value: f64,
    significant: bool,
}

impl Report {
    pub fn new(
        benches: &[Bench],
        summaries: &[Summary],
        args: &TimeitArgs,
        busy: Option<String>,
    ) -> Report {
        let comparisons = (1..benches.len())
            .map(|b| {
                let p_value = mann_whitney_p(&benches[0].values, &benches[b].values);
                Comparison {
                    a: 0,
                    b,
                    ratio: summaries[b].median / summaries[0].median,
                    p_value,
                    significant: p_value < ALPHA,
                }
            })
            .collect();
        let mut warnings: Vec<String> = summaries
            .iter()
            .enumerate()
            .filter(|(_, s)| s.relative_spread() > UNSTABLE)
            .map(|(i, s)| {
                format!(
                    "[{}] is unstable: its standard deviation is {:.0}% of its mean; compare medians with care",
                    i + 1,
                    100.0 * s.relative_spread()
                )
            })
            .collect();
        warnings.extend(busy);
        let benchmarks = benches
            .iter()
            .zip(summaries)
            .map(|(b, s)| BenchReport {
                stmt: b.stmt.clone(),
                python: b.python.clone(),
                python_version: b.version.clone(),
                number: b.number,
                values_s: b.values.clone(),
                summary: s.clone(),
            })
            .collect();
        Report {
            processes: args.processes,
            repeat: args.repeat,
            benchmarks,
            comparisons,
            warnings,
        }
    }

    pub fn write_json(&self, out: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }

    pub fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for w in &self.warnings {
            crate::stderr_line(format_args!("warning: {w}"));
        }
        writeln!(
            out,
            "{} processes x {} measurements each (after a warm-up); time per loop:",
            self.processes, self.repeat
        )?;
        let several = self
            .benchmarks
            .iter()
            .any(|b| b.python != self.benchmarks[0].python);
        for (i, b) in self.benchmarks.iter().enumerate() {
            let s = &b.summary;
            let python = if several {
                format!("  ({} {})", b.python, b.python_version)
            } else {
                String::new()
            };
            writeln!(
                out,
                "[{}] {}{python}\n    median {}  IQR {} .. {}  min {}  ({} values{}, {} loops each)",
                i + 1,
                shown(&b.stmt),
                seconds(s.median),
                seconds(s.q1),
                seconds(s.q3),
                seconds(s.min),
                s.values,
                outliers(s.outliers),
                b.number
            )?;
        }
        if !several {
            writeln!(
                out,
                "Python {} (`{}`)",
                self.benchmarks[0].python_version, self.benchmarks[0].python
            )?;
        }
        for c in &self.comparisons {
            writeln!(out, "{}", comparison(c))?;
        }
        Ok(())
    }
}

fn outliers(n: usize) -> String {
    match n {
        0 => String::new(),
        1 => ", 1 outlier".to_owned(),
        n => format!(", {n} outliers"),
    }
}

fn comparison(c: &Comparison) -> String {
    let (factor, word) = if c.ratio >= 1.0 {
        (c.ratio, "slower")
    } else {
        (1.0 / c.ratio, "faster")
    };
    let verdict = if c.significant {
        format!("significant (Mann-Whitney U, p = {:.1e})", c.p_value)
    } else {
        format!("not significant (p = {:.2}): within the noise", c.p_value)
    };
    format!(
        "[{}] is {factor:.2}x {word} than [{}]: {verdict}",
        c.b + 1,
        c.a + 1
    )
}

/// Seconds in the unit timeit would use: ns, us, ms or s, 3 significant figures.
fn seconds(s: f64) -> String {
    let (value, unit) = match s {
        s if s < 1e-6 => (s * 1e9, "ns"),
        s if s < 1e-3 => (s * 1e6, "us"),
        s if s < 1.0 => (s * 1e3, "ms"),
        s => (s, "s"),
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_in_timeits_units() {
        assert_eq!(seconds(7.923e-6), "7.92 us");
        assert_eq!(seconds(31.5e-9), "31.5 ns");
        assert_eq!(seconds(0.25), "250 ms");
        assert_eq!(seconds(2.0), "2.00 s");
    }

    #[test]
    fn comparison_words() {
        let c = Comparison {
            a: 0,
            b: 1,
            ratio: 0.25,
            p_value: 1e-8,
            significant: true,
        };
        assert_eq!(
            comparison(&c),
            "[2] is 4.00x faster than [1]: significant (Mann-Whitney U, p = 1.0e-8)"
        );
        let c = Comparison {
            a: 0,
            b: 2,
            ratio: 1.01,
            p_value: 0.43,
            significant: false,
        };
        assert_eq!(
            comparison(&c),
            "[3] is 1.01x slower than [1]: not significant (p = 0.43): within the noise"
        );
    }
}
