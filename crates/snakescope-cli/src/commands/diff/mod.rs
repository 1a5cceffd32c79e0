//! `snakescope diff`: compare captures of the same program, before and
//! after a change: one per side, several per side, or runs it makes itself
//! (`--repeat`, in `inputs`).
//!
//! The comparison itself (the headline and its verdict, matching, times,
//! shares, the differential flame graph) is `snakescope_formats::diff`; this
//! command reads the captures, writes the outputs and turns
//! `--fail-if-slower` into the exit status: 1 when the verdict is `slower`
//! and every measure that moved grew by more than the allowed percentage, 0
//! otherwise, 2 for an error (as every command), including a comparison
//! with no measure taken the same way on both sides. Two exact captures
//! (`run --exact`) are compared by their exact calls, and `--fail-if-slower`
//! checks their measured time (every function's own time added).

mod inputs;

use crate::args::{DiffArgs, WidthsArg};
use crate::commands::output::{check_name_fits, check_output_path};
use crate::UserError;
use snakescope_formats::diff::{self, Comparison, DiffError, Scale, Verdict, Widths};
use snakescope_formats::printable::printable;
use snakescope_formats::Format;
use snakescope_model::Capture;
use std::io::Write;
use std::path::Path;

pub fn run(args: &DiffArgs) -> anyhow::Result<u8> {
    if let Some(pct) = args.fail_if_slower {
        if !(pct.is_finite() && pct >= 0.0) {
            return Err(UserError::new(format!(
                "--fail-if-slower `{pct}` is not a percentage of 0 or more"
            ))
            .with_hint("e.g. `--fail-if-slower 5` fails when the after run is more than 5% slower")
            .into());
        }
    }
    for path in [&args.output, &args.flamegraph].into_iter().flatten() {
        check_output_path(path)?;
    }
    if let Some(path) = &args.output {
        check_name_fits(path, args.format)?;
    }
    if let Some(path) = &args.flamegraph {
        check_name_fits(path, Format::Flamegraph)?;
    }
    let inputs = inputs::inputs(args)?;
    let read = |paths: &[std::path::PathBuf]| -> Result<Vec<Capture>, UserError> {
        paths.iter().map(|p| read_capture(p)).collect()
    };
    let raw = (read(&inputs.before)?, read(&inputs.after)?);
    // The tables and the flame graph show names through escape_controls;
    // the JSON carries them as they are.
    let printable_all =
        |c: &[Capture]| -> Vec<Capture> { c.iter().map(|c| printable(c).into_owned()).collect() };
    let shown = (printable_all(&raw.0), printable_all(&raw.1));
    let escapes = args.markdown || args.format.spec().escapes_controls;
    let (before, after) = match escapes {
        true => (&shown.0, &shown.1),
        false => (&raw.0, &raw.1),
    };
    let comparison = diff::compare_runs(&refs_of(before), &refs_of(after)).map_err(|e| {
        let hint = hint(&e);
        UserError::new(e.to_string()).with_hint(hint)
    })?;
    if let Some(path) = &args.flamegraph {
        let pooled = (
            diff::pool_runs(&refs_of(&shown.0)),
            diff::pool_runs(&refs_of(&shown.1)),
        );
        write_flamegraph(args, path, &comparison, (&pooled.0, &pooled.1))?;
    }

    // Only the formats whose entry `compares` are offered (args.rs).
    let render = |out: &mut dyn Write| match (&comparison, args.format) {
        (Comparison::Samples(d), _) if args.markdown => d.write_markdown(out, args.top),
        (Comparison::Exact(d), _) if args.markdown => d.write_text(out, args.top),
        (Comparison::Samples(d), Format::Json) => d.write_json(out),
        (Comparison::Samples(d), _) => d.write_text(out, args.top),
        (Comparison::Exact(d), Format::Json) => d.write_json(out),
        (Comparison::Exact(d), _) => d.write_text(out, args.top),
    };
    match &args.output {
        Some(path) => {
            let mut rendered = Vec::new();
            render(&mut rendered)?;
            write_file(path, &rendered)?;
        }
        None => crate::to_stdout(render)?,
    }
    drop(inputs);
    if let Some(path) = &args.flamegraph {
        note(&format!(
            "wrote {} (differential flame graph)",
            path.display()
        ));
    }

    let Some(pct) = args.fail_if_slower else {
        return Ok(0);
    };
    if let Comparison::Samples(d) = &comparison {
        if d.headline.verdict == Verdict::NotComparable {
            return Err(UserError::new(
                "--fail-if-slower has nothing to check: no time was measured the same way on both sides",
            )
            .with_hint("record both runs the same way (both launched by `record -- CMD`, with the same --idle and --gil), as the notes above say")
            .into());
        }
    }
    match comparison.slower_by_pct() {
        Some(by) if by > pct => {
            note(&slower_line(&comparison, pct));
            Ok(1)
        }
        _ => Ok(0),
    }
}

/// Writes the differential flame graph of `shown` to `path`; refuses an
/// exact comparison, which has no stacks to draw.
fn write_flamegraph(
    args: &DiffArgs,
    path: &Path,
    comparison: &Comparison,
    shown: (&Capture, &Capture),
) -> Result<(), UserError> {
    if matches!(comparison, Comparison::Exact(_)) {
        return Err(UserError::new(
            "--flamegraph draws sampled stacks, and exact captures have none",
        )
        .with_hint("leave out --flamegraph: the table compares every function's calls and times"));
    }
    let scale = if args.by_share {
        Scale::Share
    } else {
        Scale::Time
    };
    let widths = match args.flamegraph_widths {
        WidthsArg::Before => Widths::Before,
        WidthsArg::After => Widths::After,
    };
    let mut svg = Vec::new();
    diff::write_differential_flamegraph(shown.0, shown.1, scale, widths, &mut svg)
        .map_err(|e| UserError::new(format!("cannot write `{}`: {e}", path.display())))?;
    write_file(path, &svg)
}

/// What to do about a comparison refused.
fn hint(e: &DiffError) -> &'static str {
    match e {
        DiffError::Mixed { .. } => {
            "record both runs the same way: both with `snakescope run --exact`, or both sampled (`snakescope record`, or `run` without --exact)"
        }
        DiffError::NoCalls(_) => "diff compares exact captures written by `snakescope run --exact -o FILE.json`",
        DiffError::MixedRuns { .. } => "record every run of a side the same way (same command, --idle, --gil and --rate)",
        DiffError::ExactRuns => "compare exact captures one against one: `diff BEFORE.json AFTER.json`",
        _ => "diff compares captures written by `snakescope record -o FILE.json`",
    }
}

/// The one line explaining a `--fail-if-slower` failure.
fn slower_line(c: &Comparison, pct: f64) -> String {
    match c {
        Comparison::Samples(d) => {
            let moved: Vec<String> = d
                .headline
                .measures
                .iter()
                .filter(|m| m.compared && m.direction == diff::Direction::Slower)
                .map(|m| {
                    format!(
                        "{} time {:.3} s -> {:.3} s ({:+.1}%)",
                        m.name,
                        m.before_s,
                        m.after_s,
                        m.change_pct.unwrap_or(0.0)
                    )
                })
                .collect();
            format!(
                "slower: {}, more than the {pct}% allowed by --fail-if-slower",
                moved.join(", ")
            )
        }
        Comparison::Exact(d) => format!(
            "slower: total measured time {:.3} s -> {:.3} s ({:+.1}%), more than the {pct}% allowed by --fail-if-slower",
            d.total.before_s,
            d.total.after_s,
            d.total_change_pct()
        ),
    }
}

fn refs_of(captures: &[Capture]) -> Vec<&Capture> {
    captures.iter().collect()
}

fn read_capture(path: &Path) -> Result<Capture, UserError> {
    super::capture_file::read_capture(
        path,
        "diff compares the JSON written by `snakescope record -o FILE.json`",
    )
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), UserError> {
    std::fs::write(path, bytes)
        .map_err(|e| UserError::new(format!("cannot write `{}`: {e}", path.display())))
}

fn note(message: &str) {
    crate::stderr_line(format_args!("snakescope: {message}"));
}
