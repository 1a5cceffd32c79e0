//! Output formats for a [`Capture`]: flame graph SVG, speedscope JSON,
//! collapsed stacks, the capture's own JSON, a text report and a
//! self-contained HTML report, plus the short summary printed to the terminal
//! after a recording.
//!
//! One module per output. Every writer takes the `&mut dyn Write` the caller
//! chooses (a file, stdout, a buffer); this crate never prints, and opens no
//! file except the source files the HTML report annotates (read-only). What
//! each format is and which tool opens it: `docs/formats.md`.

mod chrome;
mod collapsed;
pub mod diff;
pub mod dis;
mod exact_edges;
mod flamegraph;
mod gil_note;
mod html;
mod json;
pub mod memory;
mod pprof;
#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod pprof_proto;
pub mod printable;
mod pstats;
mod registry;
mod speedscope;
mod text;

#[cfg(test)]
mod fixture;

pub use registry::{Format, Media, Section, Spec, FORMATS};
use snakescope_model::Capture;
use std::io::{self, BufWriter, Write};

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("could not write the output: {0}")]
    Io(#[from] io::Error),
    #[error("the capture has no samples, so there is no `{0}` output to draw")]
    NoSamples(&'static str),
    /// The format draws none of the sections the capture holds.
    #[error("the capture has no {} to write as `{}`", .needs.noun(), .format.name())]
    Missing { format: Format, needs: Section },
}

impl FormatError {
    /// Whether the reader of the output went away (e.g. `| head`); callers
    /// usually treat this as success.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, FormatError::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// What the user can do about it, when there is something.
    pub fn hint(&self) -> Option<String> {
        match self {
            FormatError::Missing { format, needs } => Some(format.needs_hint(*needs)),
            _ => None,
        }
    }

    /// `format` has nothing to draw in a capture: it needs its first section.
    pub(crate) fn missing(format: Format) -> FormatError {
        FormatError::Missing {
            format,
            needs: format.spec().draws[0],
        }
    }
}

/// Writes `capture` to `out` in `format`.
///
/// Fails before writing anything with [`FormatError::Missing`] when the
/// capture holds nothing the format draws (see [`Format::can_draw`]), and
/// with [`FormatError::NoSamples`] when the format cannot represent an empty
/// capture (only the flame graph).
pub fn write(capture: &Capture, format: Format, out: &mut dyn Write) -> Result<(), FormatError> {
    write_shown(capture, format, out, &format.writer())
}

/// Writes the HTML report of `capture` with `given` holding the text of
/// source files that are not on disk, by the name the capture gives them
/// (code typed into IPython's cells, which `linecache` holds); the other
/// files are read from disk, as [`write`] does.
pub fn write_html_with_sources(
    capture: &Capture,
    given: &std::collections::HashMap<String, String>,
    out: &mut dyn Write,
) -> Result<(), FormatError> {
    write_shown(capture, Format::Html, out, &|c, out| {
        Ok(html::write_given(c, given, out)?)
    })
}

fn write_shown(
    capture: &Capture,
    format: Format,
    out: &mut dyn Write,
    writer: &dyn Fn(&Capture, &mut dyn Write) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    if format.can_draw(&Section::of(capture)).is_err() {
        return Err(FormatError::missing(format));
    }
    let mut out = BufWriter::new(out);
    let shown = match format.spec().escapes_controls {
        true => printable::printable(capture),
        false => std::borrow::Cow::Borrowed(capture),
    };
    writer(&shown, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Writes the capture's line timings alone, in `kernprof -l -v`'s layout
/// (nothing when it has none), its strings shown as [`write_summary`] shows them.
pub fn write_line_timings(capture: &Capture, out: &mut dyn Write) -> Result<(), FormatError> {
    let mut out = BufWriter::new(out);
    text::write_line_timings(&printable::printable(capture), &mut out)?;
    out.flush()?;
    Ok(())
}

/// Writes the capture's findings alone (`snakescope advise`), as the text
/// report ends with them; nothing when it has none.
pub fn write_findings(
    capture: &Capture,
    out: &mut dyn Write,
    color: bool,
) -> Result<(), FormatError> {
    let mut out = BufWriter::new(out);
    text::write_findings(capture, &mut out, color)?;
    out.flush()?;
    Ok(())
}

/// Writes the short summary shown on the terminal after a recording; `color`
/// makes its headings bold with ANSI escapes (the capture's own strings are
/// shown through [`printable::escape_controls`]).
pub fn write_summary(
    capture: &Capture,
    out: &mut dyn Write,
    color: bool,
) -> Result<(), FormatError> {
    let mut out = BufWriter::new(out);
    let capture = &*printable::printable(capture);
    text::write_summary(capture, &mut out, color)?;
    memory::write_text(capture, &mut out, 5)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_recognised() {
        let err = FormatError::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(err.is_broken_pipe());
        assert!(!FormatError::NoSamples("flamegraph").is_broken_pipe());
    }
}
