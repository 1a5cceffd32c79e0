//! `stat`'s report: one row per figure, over the runs (mean ± stdev, min,
//! median when there are several), as text or JSON (`--json`), to stderr or
//! `-o FILE`.

use super::counters::SPECS;
use super::Run;
use crate::args::StatArgs;
use crate::UserError;
use serde::Serialize;
use snakescope_model::timing::Summary;
use std::io::Write;

#[derive(Clone, Copy, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Unit {
    Seconds,
    Bytes,
    Count,
    Ratio,
}

#[derive(Serialize)]
struct Figure {
    name: String,
    unit: Unit,
    /// One per run; empty when the figure is not available.
    values: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<Summary>,
    /// Why the figure is not available.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_available: Option<String>,
}

#[derive(Serialize)]
struct Report {
    command: Vec<String>,
    runs: usize,
    /// Each run's exit code, or -N for death by signal N.
    exit_status: Vec<i32>,
    figures: Vec<Figure>,
}

pub fn write(runs: &[Run], args: &StatArgs) -> anyhow::Result<()> {
    let report = Report {
        command: crate::launch::recorded(&args.command),
        runs: runs.len(),
        exit_status: runs
            .iter()
            .map(|r| crate::launch::status_code(r.status))
            .collect(),
        figures: figures(runs),
    };
    let mut text = Vec::new();
    if args.json {
        serde_json::to_writer_pretty(&mut text, &report)?;
        writeln!(text)?;
    } else {
        report.write_text(&mut text)?;
    }
    match &args.output {
        Some(path) => std::fs::write(path, &text)
            .map_err(|e| UserError::new(format!("cannot write `{}`: {e}", path.display())))?,
        None => {
            let _ = std::io::stderr().lock().write_all(&text);
        }
    }
    Ok(())
}

/// The figures of `rusage` and the wall clock: name, unit, value of a run.
type Measure = (&'static str, Unit, fn(&Run) -> f64);

fn seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 * 1e-6
}

const USAGE: [Measure; 8] = [
    ("wall", Unit::Seconds, |r| r.wall_s),
    ("user", Unit::Seconds, |r| seconds(r.usage.ru_utime)),
    ("sys", Unit::Seconds, |r| seconds(r.usage.ru_stime)),
    // ru_maxrss is in KiB: the largest single process of the tree.
    ("max RSS", Unit::Bytes, |r| {
        r.usage.ru_maxrss as f64 * 1024.0
    }),
    ("minor faults", Unit::Count, |r| r.usage.ru_minflt as f64),
    ("major faults", Unit::Count, |r| r.usage.ru_majflt as f64),
    ("voluntary switches", Unit::Count, |r| {
        r.usage.ru_nvcsw as f64
    }),
    ("involuntary switches", Unit::Count, |r| {
        r.usage.ru_nivcsw as f64
    }),
];

/// Every figure over the runs, in the report's order.
fn figures(runs: &[Run]) -> Vec<Figure> {
    let per_run = |f: &dyn Fn(&Run) -> Result<f64, String>| -> Vec<Result<f64, String>> {
        runs.iter().map(f).collect()
    };
    let mut out: Vec<Figure> = USAGE
        .iter()
        .map(|&(name, unit, value)| figure(name, unit, per_run(&|r| Ok(value(r)))))
        .collect();
    for (i, spec) in SPECS.iter().enumerate() {
        let unit = if spec.name == "task-clock" {
            Unit::Seconds
        } else {
            Unit::Count
        };
        let scale = if unit == Unit::Seconds { 1e-9 } else { 1.0 };
        out.push(figure(
            spec.name,
            unit,
            per_run(&|r| r.counters[i].clone().map(|v| v * scale)),
        ));
    }
    let counter = |name: &str| {
        SPECS
            .iter()
            .position(|s| s.name == name)
            .expect("a counter of SPECS")
    };
    let (cycles, instructions) = (counter("cycles"), counter("instructions"));
    let ipc = per_run(
        &|r| match (&r.counters[instructions], &r.counters[cycles]) {
            (Ok(i), Ok(c)) if *c > 0.0 => Ok(i / c),
            (Err(why), _) | (_, Err(why)) => Err(why.clone()),
            _ => Err("no cycles counted".to_owned()),
        },
    );
    out.push(figure("IPC", Unit::Ratio, ipc));
    out
}

fn figure(name: &str, unit: Unit, per_run: Vec<Result<f64, String>>) -> Figure {
    let values: Vec<f64> = per_run
        .iter()
        .filter_map(|v| v.as_ref().ok().copied())
        .collect();
    let not_available = per_run.iter().find_map(|v| v.as_ref().err().cloned());
    Figure {
        name: name.to_owned(),
        unit,
        summary: (!values.is_empty()).then(|| Summary::of(&values)),
        values,
        not_available,
    }
}

impl Report {
    fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let status = match self.exit_status.iter().find(|&&s| s != 0) {
            Some(s) if *s < 0 => format!("killed by signal {}", -s),
            Some(s) => format!("exit status {s}"),
            None => "exit status 0".to_owned(),
        };
        let runs = if self.runs == 1 {
            "1 run".to_owned()
        } else {
            format!("{} runs", self.runs)
        };
        writeln!(
            out,
            "snakescope stat: `{}`, {runs}, {status}",
            self.command.join(" ")
        )?;
        if self.runs > 1 {
            writeln!(
                out,
                "  {:<22}{:>24}  {:>12}  {:>12}",
                "", "mean ± stdev", "min", "median"
            )?;
        }
        for f in &self.figures {
            writeln!(out, "  {:<22}{}", f.name, f.text(self.runs))?;
        }
        Ok(())
    }
}

impl Figure {
    fn text(&self, runs: usize) -> String {
        let Some(s) = &self.summary else {
            return self.not_available.clone().unwrap_or_default();
        };
        let shown = |v: f64| value(self.unit, v);
        if runs == 1 {
            format!("{:>24}", shown(s.mean))
        } else {
            let mean = format!("{} ± {}", shown(s.mean), shown(s.stdev));
            format!("{mean:>24}  {:>12}  {:>12}", shown(s.min), shown(s.median))
        }
    }
}

/// A value in its unit, for people.
fn value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Seconds if v < 1.0 => format!("{:.2} ms", v * 1e3),
        Unit::Seconds => format!("{v:.3} s"),
        Unit::Bytes => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
        Unit::Count => thousands(v.round() as u64),
        Unit::Ratio => format!("{v:.2}"),
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_for_people() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(value(Unit::Seconds, 0.01234), "12.34 ms");
        assert_eq!(value(Unit::Seconds, 2.5), "2.500 s");
        assert_eq!(value(Unit::Bytes, 3.0 * 1024.0 * 1024.0), "3.0 MiB");
    }

    #[test]
    fn a_figure_without_values_says_why() {
        let f = figure(
            "cycles",
            Unit::Count,
            vec![Err("not supported: no PMU".into())],
        );
        assert_eq!(f.text(1), "not supported: no PMU");
        assert!(f.summary.is_none());
        let f = figure("wall", Unit::Seconds, vec![Ok(1.0), Ok(3.0)]);
        assert_eq!(f.summary.as_ref().map(|s| s.median), Some(2.0));
    }
}
