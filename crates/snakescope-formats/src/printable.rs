//! Strings from a capture made safe to print: a capture is data from the
//! profiled program (function, file and thread names, its command line, the
//! source lines of the functions whose lines were timed) or from whoever
//! wrote the file, and a control character in it — an ANSI escape sequence,
//! a carriage return, a newline — must not reach a terminal or break a
//! line-based format as it is.
//!
//! Every C0 control (U+0000–U+001F), DEL (U+007F) and C1 control
//! (U+0080–U+009F) is shown as `\xNN`, the two hex digits of its code point
//! (ESC is `\x1b`); nothing else changes, except that tabs in timed source
//! lines are first expanded to spaces (eight-column stops), as indentation.
//! The text outputs (the report, the summaries of `record` and `run`,
//! `diff`'s tables, `dump`) and the line-based or XML ones (collapsed stacks,
//! flame graphs, HTML, the timeline) print through this; the JSON and protobuf outputs carry the
//! strings as they are, escaped by their own encoding.

use snakescope_model::Capture;
use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character shown as `\xNN`.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_control(c) {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `line` with each tab replaced by the spaces up to the next multiple of
/// eight columns (Python's `str.expandtabs()`).
fn expand_tabs(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut column = 0;
    for c in line.chars() {
        if c == '\t' {
            let spaces = 8 - column % 8;
            out.extend(std::iter::repeat(' ').take(spaces));
            column += spaces;
        } else {
            out.push(c);
            column = if c == '\n' || c == '\r' {
                0
            } else {
                column + 1
            };
        }
    }
    out
}

fn is_control(c: char) -> bool {
    matches!(u32::from(c), 0x00..=0x1f | 0x7f..=0x9f)
}

/// `capture` with every string the program or the file supplied passed
/// through [`escape_controls`]; borrowed when there is nothing to escape.
pub fn printable(capture: &Capture) -> Cow<'_, Capture> {
    let mut copy = capture.clone();
    let mut changed = false;
    // Tabs in timed source lines are indentation, not a control to show.
    for function in copy.lines.iter_mut().flat_map(|l| &mut l.functions) {
        for line in function.source.iter_mut().filter(|l| l.contains('\t')) {
            *line = expand_tabs(line);
            changed = true;
        }
    }
    let mut fix = |s: &mut String| {
        if let Cow::Owned(escaped) = escape_controls(s) {
            *s = escaped;
            changed = true;
        }
    };
    let meta = &mut copy.meta;
    for s in [&mut meta.tool_version, &mut meta.mode] {
        fix(s);
    }
    meta.command.iter_mut().for_each(&mut fix);
    meta.python_version.iter_mut().for_each(&mut fix);
    for frame in &mut copy.frames {
        fix(&mut frame.function);
        fix(&mut frame.file);
        frame.qualname.iter_mut().for_each(&mut fix);
    }
    for thread in &mut copy.threads {
        thread.name.iter_mut().for_each(&mut fix);
    }
    if let Some(memory) = &mut copy.memory {
        fix(&mut memory.mode);
        memory.sites.iter_mut().for_each(|s| fix(&mut s.source));
        memory.labels.iter_mut().for_each(|l| fix(&mut l.name));
        for census in &mut memory.census {
            fix(&mut census.when);
            census.types.iter_mut().for_each(|r| fix(&mut r.type_name));
        }
    }
    if let Some(lines) = &mut copy.lines {
        for function in &mut lines.functions {
            function.source.iter_mut().for_each(&mut fix);
        }
    }
    if changed {
        Cow::Owned(copy)
    } else {
        Cow::Borrowed(capture)
    }
}

/// Largest source file whose lines the text report quotes.
const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// The lines of a source file named in the capture, control characters
/// escaped; none unless it is a regular file of a sane size (a capture may
/// name `/dev/zero` or a FIFO).
pub fn source_lines(file: &str) -> Vec<String> {
    let readable =
        std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.len() <= MAX_SOURCE_BYTES);
    if !readable {
        return Vec::new();
    }
    std::fs::read(file)
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(|l| escape_controls(l).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_as_hex_escapes() {
        assert_eq!(escape_controls("plain é ✓"), "plain é ✓");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("\x1b[31mred\x1b[0m"),
            "\\x1b[31mred\\x1b[0m"
        );
        assert_eq!(escape_controls("a\nb\rc\td\0"), "a\\x0ab\\x0dc\\x09d\\x00");
        assert_eq!(escape_controls("del\x7f c1\u{9b}"), "del\\x7f c1\\x9b");
        assert_eq!(
            escape_controls("\u{a0}"),
            "\u{a0}",
            "U+00A0 is not a control"
        );
    }

    #[test]
    fn every_string_of_a_capture_is_escaped() {
        let mut capture = crate::fixture::capture();
        capture.meta.command = vec!["python3".into(), "\x1b]0;title\x07".into()];
        capture.frames[0].function = "f\x1b[2J".into();
        capture.threads[0].name = Some("t\r".into());
        let shown = printable(&capture);
        let json = serde_json::to_string(&*shown).unwrap();
        assert!(!json.contains("\\u001b") && !json.contains("\\r"), "{json}");
        assert!(shown.frames[0].function.starts_with("f\\x1b"));
        assert!(matches!(
            printable(&crate::fixture::capture()),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn line_timing_sources_are_escaped_with_tabs_expanded() {
        let mut capture = crate::fixture::exact_capture();
        assert!(matches!(printable(&capture), Cow::Borrowed(_)));
        let source = &mut capture.lines.as_mut().unwrap().functions[0].source;
        source[1] = "\tx = 1  # \x1b[2J".into();
        source[2] = "ab\tc".into();
        let shown = printable(&capture);
        let source = &shown.lines.as_ref().unwrap().functions[0].source;
        assert_eq!(source[1], "        x = 1  # \\x1b[2J");
        assert_eq!(source[2], "ab      c");
        assert_eq!(source[0], "def main():");
    }
}
