//! `stat`'s report: one row per figure, over the runs (mean ± stdev, min,
//! median when there are several), as text or JSON (`--json`), to stderr or
//! `-o FILE`.

use super::{figures, Run};
use crate::args::StatArgs;
use crate::UserError;
use serde::Serialize;
use snakescope_model::timing::Summary;
use snakescope_model::{StatFigure, StatUnit as Unit};
use std::io::Write;

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

/// Every figure over the runs, in the report's order (see [`super::figures`]).
fn figures(runs: &[Run]) -> Vec<Figure> {
    let per_run: Vec<Vec<StatFigure>> =
        runs.iter().map(|r| figures::figures(&r.measured)).collect();
    (0..per_run[0].len())
        .map(|i| {
            let first = &per_run[0][i];
            let values = per_run
                .iter()
                .map(|f| match (&f[i].value, &f[i].not_available) {
                    (Some(v), _) => Ok(*v),
                    (None, why) => Err(why.clone().unwrap_or_default()),
                });
            figure(&first.name, first.unit, values.collect())
        })
        .collect()
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
        let unit = StatFigure::new("", self.unit, Ok(0.0));
        let shown = |v: f64| unit.shown(v);
        if runs == 1 {
            format!("{:>24}", shown(s.mean))
        } else {
            let mean = format!("{} ± {}", shown(s.mean), shown(s.stdev));
            format!("{mean:>24}  {:>12}  {:>12}", shown(s.min), shown(s.median))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
