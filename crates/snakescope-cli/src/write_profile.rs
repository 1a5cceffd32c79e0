//! Writing a finished capture: the one place that renders the profile into
//! its file and tells the user (the summary and `wrote PATH (FORMAT)` on
//! stderr). `record`, `run` (the agent, at the program's exit) and its
//! rescue after a fatal signal all write through it.

use crate::UserError;
use snakescope_formats::{Format, FormatError, Section};
use snakescope_model::Capture;
use std::io::Write;
use std::path::Path;

/// Where and how a capture is written.
#[derive(Debug, Clone, Copy)]
pub struct ProfileOutput<'a> {
    pub path: &'a Path,
    pub format: Format,
    /// Nothing on stderr.
    pub quiet: bool,
    /// Print the capture's summary before `wrote …` (not when the caller
    /// prints a table of its own, as `run --exact` prints pstats').
    pub summary: bool,
    /// Bold headings in the summary (stderr is a terminal).
    pub color: bool,
    /// Why a capture may hold no sample, for the note that says so
    /// (`no thread was running Python code while sampled`).
    pub empty_because: &'a str,
}

/// Writes `capture` to `out.path` in `out.format`. A capture with nothing
/// the format draws (no sample, and no exact statistics or line timings the
/// format shows) writes no file and says so, unless the format is the
/// capture itself.
pub fn write_profile(capture: &Capture, out: &ProfileOutput<'_>) -> Result<(), UserError> {
    // snakescope's own frames (a `@profile` wrapper mid-stack) are never
    // drawn (model/own.rs); most captures have none, and are not copied.
    let stripped;
    let capture = if capture
        .frames
        .iter()
        .any(|f| snakescope_model::is_own_file(&f.file))
    {
        stripped = capture.clone().without_own_frames();
        &stripped
    } else {
        capture
    };
    let path = out.path;
    if !has_data_for(capture, out.format) {
        if !out.quiet {
            crate::stderr_line(format_args!(
                "snakescope: no samples were recorded ({}); no {} written",
                out.empty_because,
                path.display()
            ));
        }
        return Ok(());
    }
    let mut rendered = Vec::new();
    snakescope_formats::write(capture, out.format, &mut rendered)
        .map_err(|e| format_error(e, path))?;
    std::fs::write(path, rendered)
        .map_err(|e| UserError::new(format!("cannot write `{}`: {e}", path.display())))?;
    if !out.quiet {
        let mut err = std::io::stderr().lock();
        // The file is written: a closed stderr loses only the summary.
        if out.summary {
            let _ = snakescope_formats::write_summary(capture, &mut err, out.color);
        }
        let _ = writeln!(err, "wrote {} ({})", path.display(), out.format.name());
    }
    Ok(())
}

/// Whether the capture holds data `format` draws: samples, exact statistics
/// or line timings (memory alone is not a profile to write, but it is the
/// memory timeline's whole content).
fn has_data_for(capture: &Capture, format: Format) -> bool {
    if format == Format::Json {
        return true;
    }
    if format.spec().draws == [Section::Memory] {
        return capture.memory.is_some();
    }
    let with_data = [
        (capture.total_samples() > 0, Section::Samples),
        (capture.exact.is_some(), Section::Exact),
        (
            capture
                .lines
                .as_ref()
                .is_some_and(|l| !l.functions.is_empty()),
            Section::Lines,
        ),
    ];
    let draws = format.spec().draws;
    with_data
        .iter()
        .any(|(has, section)| *has && draws.contains(section))
}

fn format_error(e: FormatError, path: &Path) -> UserError {
    let user = UserError::new(format!("cannot write `{}`: {e}", path.display()));
    match e.hint() {
        Some(hint) => user.with_hint(hint),
        None => user,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snakescope_model::{ExactStats, LineTimings};

    #[test]
    fn a_capture_without_samples_has_data_only_for_what_it_holds() {
        let mut capture = snakescope_model::CaptureBuilder::new().finish(Default::default());
        assert!(!has_data_for(&capture, Format::Flamegraph));
        assert!(has_data_for(&capture, Format::Json));
        assert!(!has_data_for(&capture, Format::Timeline));
        // A run too short to be sampled still drew its memory timeline.
        capture.memory = Some(Default::default());
        assert!(has_data_for(&capture, Format::Timeline));
        assert!(
            !has_data_for(&capture, Format::Html),
            "memory alone is no profile"
        );
        capture.memory = None;
        capture.exact = Some(ExactStats::default());
        assert!(has_data_for(&capture, Format::Pstats));
        assert!(has_data_for(&capture, Format::Html));
        assert!(!has_data_for(&capture, Format::Flamegraph));
        capture.exact = None;
        capture.lines = Some(LineTimings::default());
        assert!(!has_data_for(&capture, Format::Text), "no function timed");
    }
}
