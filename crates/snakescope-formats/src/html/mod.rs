//! One self-contained HTML report (`--format html`, `*.html`): header, flame
//! graph, call tree, function table, annotated source, threads, and the
//! findings and memory sections, in a single file that needs no network.
//! A capture with exact statistics or line timings adds the "Exact calls" and
//! "Line timings" sections, and one with `--stat` figures a "Stat" section
//! (`assets/report-measured.js`); one without samples
//! (`run --exact`) leads with them and has no other view of samples.
//!
//! The page embeds the capture itself (`docs/capture-format.md`, compact JSON
//! in `<script type="application/json" id="snakescope-capture">`) and the text
//! of the hottest source files (`id="snakescope-sources"`); the inlined script
//! (`assets/report.js`, with `assets/report.css`) builds every view from them
//! in the browser. So any key a later capture version adds (a `memory` section,
//! `findings`, extra `meta` fields) reaches the page without a change here.
//!
//! This is the one writer that reads files other than its input: the source
//! files named in the capture, at render time, as paths relative to the
//! current directory when they are relative. A file that cannot be read is
//! listed as unavailable with the reason; one modified after the recording
//! ended is flagged, since its lines may no longer match.
//!
//! `sources` picks the files to annotate and reads them; this module writes
//! the page.

mod instructions;
mod kinds;
pub(crate) mod sources;
#[cfg(test)]
mod tests;

use crate::text::command_line;
use snakescope_model::Capture;
use sources::{allocated_by_frame, read_source, sources, Source};
use std::io::{self, Write};

const CSS: &str = include_str!("../../assets/report.css");
const JS: &str = include_str!("../../assets/report.js");
/// The exact and line-timing views; inlined before `JS`, which calls them.
const JS_MEASURED: &str = include_str!("../../assets/report-measured.js");

/// Writes the report, reading the hottest source files from disk.
pub(crate) fn write(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    write_with(capture, &read_source, out)
}

/// Writes the report, `given` supplying the text of the files it names
/// (code that has no file), the disk the others.
pub(crate) fn write_given(
    capture: &Capture,
    given: &std::collections::HashMap<String, String>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let read = |path: &str| match given.get(path) {
        Some(text) => Source::Text {
            text: text.clone(),
            modified: None,
        },
        None => read_source(path),
    };
    write_with(capture, &read, out)
}

/// Writes the report with `read` supplying each source file's text.
pub(crate) fn write_with(
    capture: &Capture,
    read: &dyn Fn(&str) -> Source,
    out: &mut dyn Write,
) -> io::Result<()> {
    // The page's script reads the capture itself, embedded as JSON.
    let mut capture_json = Vec::new();
    serde_json::to_writer(&mut capture_json, capture)?;
    let memory = allocated_by_frame(capture);
    let sources = sources(capture, &memory, read);
    let mut sources_json = Vec::new();
    serde_json::to_writer(&mut sources_json, &sources)?;
    let native = kinds::body(capture);
    let mut sections = page_sections(capture);
    if native.is_some() {
        let at = sections
            .iter()
            .position(|s| s.0 == "functions")
            .map_or(0, |i| i + 1);
        sections.insert(at, kinds::SECTION);
    }
    write_document(
        &command_line(&capture.meta),
        &sections,
        (&capture_json, &sources_json),
        native.as_deref(),
        out,
    )
}

/// The page around the two JSON blocks, with `sections` in order.
fn write_document(
    command: &str,
    sections: &[Section],
    (capture_json, sources_json): (&[u8], &[u8]),
    native: Option<&str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let command = escape_html(command);
    let version = env!("CARGO_PKG_VERSION");
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"snakescope {version}\">\n\
         <title>snakescope: {command}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n\
         <nav id=\"nav\"></nav>\n\
         <header id=\"header\"><h1>snakescope: <span class=\"cmd\">{command}</span></h1>\
         <dl id=\"meta\"></dl></header>\n\
         <noscript><p class=\"note\">This report draws its views with JavaScript, \
         which is turned off; the capture is embedded in the page as JSON.</p></noscript>\n\
         <main>\n"
    )?;
    for (id, title) in sections {
        let hidden = if *id == "memory" { " hidden" } else { "" };
        let body = if *id == kinds::SECTION.0 {
            native.unwrap_or("")
        } else {
            ""
        };
        writeln!(
            out,
            "<section id=\"{id}\"{hidden}><h2>{title}</h2><div class=\"body\">{body}</div></section>"
        )?;
    }
    out.write_all(b"</main>\n<footer id=\"footer\"></footer>\n")?;
    out.write_all(b"<script type=\"application/json\" id=\"snakescope-capture\">")?;
    write_script_safe(capture_json, out)?;
    out.write_all(b"</script>\n<script type=\"application/json\" id=\"snakescope-sources\">")?;
    write_script_safe(sources_json, out)?;
    write!(
        out,
        "</script>\n<script>\n{JS_MEASURED}{JS}</script>\n</body>\n</html>\n"
    )
}

/// A section of the page: (element id, heading).
type Section = (&'static str, &'static str);

/// The sections of a page of samples, in order.
const SECTIONS: &[Section] = &[
    ("findings", "Findings"),
    ("flame", "Flame graph"),
    ("tree", "Call tree"),
    ("functions", "Functions"),
    ("source", "Annotated source"),
    ("threads", "Threads"),
    ("memory", "Memory"),
];

/// The measured sections, drawn by `JS_MEASURED` from the capture's `exact`
/// and `lines` sections.
const EXACT: Section = ("exact", "Exact calls");
const LINES: Section = ("lines", "Line timings");
const STAT: Section = ("stat", "Stat");
const TASKS: Section = ("tasks", "asyncio tasks");

/// The sections of `capture`'s page: those of samples, with the exact and
/// line-timing sections when the capture has them, after the annotated
/// source. A capture without samples (`run --exact`) has them first, after
/// the findings, then the flame graph's section (which says there are no
/// sampled stacks), and none of the other views of samples.
fn page_sections(capture: &Capture) -> Vec<Section> {
    let measured: Vec<Section> = [
        (capture.exact.is_some(), EXACT),
        (capture.lines.is_some(), LINES),
        (capture.stat.is_some(), STAT),
        (capture.tasks.is_some(), TASKS),
    ]
    .into_iter()
    .filter_map(|(present, section)| present.then_some(section))
    .collect();
    if measured.is_empty() {
        return SECTIONS.to_vec();
    }
    let sampled = capture.total_samples() > 0;
    let (before, kept): (&str, &[&str]) = if sampled {
        ("threads", &[])
    } else {
        ("flame", &["findings", "flame", "memory"])
    };
    let mut sections = Vec::new();
    for &section in SECTIONS {
        if section.0 == before {
            sections.extend(&measured);
        }
        if sampled || kept.contains(&section.0) {
            sections.push(section);
        }
    }
    sections
}

/// Writes JSON inside a `<script>` element: `<` only occurs in JSON strings,
/// where `\u003c` means the same, so no `</script>` or `<!--` can end it early.
fn write_script_safe(json: &[u8], out: &mut dyn Write) -> io::Result<()> {
    for (i, part) in json.split(|&b| b == b'<').enumerate() {
        if i > 0 {
            out.write_all(b"\\u003c")?;
        }
        out.write_all(part)?;
    }
    Ok(())
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
