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
mod flamegraph;
mod html;
mod json;
pub mod memory;
mod pprof;
#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod pprof_proto;
pub mod printable;
mod speedscope;
mod text;

#[cfg(test)]
mod fixture;

use snakescope_model::Capture;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("could not write the output: {0}")]
    Io(#[from] io::Error),
    #[error("the capture has no samples, so there is no `{0}` output to draw")]
    NoSamples(&'static str),
}

impl FormatError {
    /// Whether the reader of the output went away (e.g. `| head`); callers
    /// usually treat this as success.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, FormatError::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Interactive SVG flame graph (inferno).
    Flamegraph,
    /// speedscope JSON, one sampled profile per thread.
    Speedscope,
    /// Collapsed ("folded") stacks, one `frame;frame;... count` line per stack.
    Collapsed,
    /// The capture itself (`docs/capture-format.md`), readable by `report`.
    Json,
    /// A plain-text report: top functions, lines and threads.
    Text,
    /// One self-contained HTML file: flame graph, call tree, function table,
    /// annotated source, threads (and memory when recorded).
    Html,
    /// pprof's gzipped protobuf (`go tool pprof`, Pyroscope, Parca, Grafana).
    Pprof,
    /// Chrome trace events (Perfetto, `chrome://tracing`), one flame chart per thread.
    Chrome,
    /// The memory timeline as an SVG chart (heap and RSS over time, labels).
    Timeline,
}

impl Format {
    /// Every format, in the order help text lists them.
    pub const ALL: [Format; 9] = [
        Format::Flamegraph,
        Format::Speedscope,
        Format::Collapsed,
        Format::Json,
        Format::Text,
        Format::Html,
        Format::Pprof,
        Format::Chrome,
        Format::Timeline,
    ];

    /// The format called `name` (as [`Format::name`] spells it).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The format an output file's name implies: `.svg`, `.speedscope.json`,
    /// `.json`, `.html` / `.htm`, and `.txt` / `.collapsed` / `.folded` for
    /// collapsed stacks.
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".speedscope.json") {
            return Some(Format::Speedscope);
        }
        if name.ends_with(".pb.gz") {
            return Some(Format::Pprof);
        }
        if name.ends_with(".trace.json") {
            return Some(Format::Chrome);
        }
        match Path::new(&name).extension()?.to_str()? {
            "svg" => Some(Format::Flamegraph),
            "json" => Some(Format::Json),
            "txt" | "collapsed" | "folded" => Some(Format::Collapsed),
            "html" | "htm" => Some(Format::Html),
            "pprof" => Some(Format::Pprof),
            _ => None,
        }
    }

    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Format::Flamegraph => "flamegraph",
            Format::Speedscope => "speedscope",
            Format::Collapsed => "collapsed",
            Format::Json => "json",
            Format::Text => "text",
            Format::Html => "html",
            Format::Pprof => "pprof",
            Format::Chrome => "chrome",
            Format::Timeline => "timeline",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Writes `capture` to `out` in `format`.
///
/// Fails with [`FormatError::NoSamples`] before writing anything when the
/// format cannot represent an empty capture (only the flame graph).
pub fn write(capture: &Capture, format: Format, out: &mut dyn Write) -> Result<(), FormatError> {
    let mut out = BufWriter::new(out);
    // Text, line-based and XML outputs never carry a control character as is.
    let shown = match format {
        Format::Json | Format::Speedscope | Format::Chrome | Format::Pprof => {
            std::borrow::Cow::Borrowed(capture)
        }
        _ => printable::printable(capture),
    };
    let capture = &*shown;
    match format {
        Format::Flamegraph => flamegraph::write(capture, &mut out)?,
        Format::Speedscope => speedscope::write(capture, &mut out)?,
        Format::Collapsed => collapsed::write(capture, &mut out)?,
        Format::Json => json::write(capture, &mut out)?,
        Format::Text => {
            text::write_report(capture, &mut out, false)?;
            memory::write_text(capture, &mut out, 15)?;
        }
        Format::Html => html::write(capture, &mut out)?,
        Format::Pprof => pprof::write(capture, &mut out)?,
        Format::Chrome => chrome::write(capture, &mut out)?,
        Format::Timeline => memory::write_timeline_svg(capture, &mut out)?,
    }
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
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("svg"), None);
    }

    #[test]
    fn paths_imply_formats() {
        let cases = [
            ("out/profile.svg", Some(Format::Flamegraph)),
            ("p.speedscope.json", Some(Format::Speedscope)),
            ("P.SPEEDSCOPE.JSON", Some(Format::Speedscope)),
            ("capture.json", Some(Format::Json)),
            ("stacks.txt", Some(Format::Collapsed)),
            ("stacks.collapsed", Some(Format::Collapsed)),
            ("stacks.folded", Some(Format::Collapsed)),
            ("cpu.pb.gz", Some(Format::Pprof)),
            ("cpu.pprof", Some(Format::Pprof)),
            ("run.trace.json", Some(Format::Chrome)),
            ("profile", None),
            ("profile.html", Some(Format::Html)),
            ("Report.HTM", Some(Format::Html)),
        ];
        for (path, want) in cases {
            assert_eq!(Format::from_path(Path::new(path)), want, "{path}");
        }
    }

    #[test]
    fn broken_pipe_is_recognised() {
        let err = FormatError::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(err.is_broken_pipe());
        assert!(!FormatError::NoSamples("flamegraph").is_broken_pipe());
    }
}
