//! An interactive SVG flame graph, drawn by inferno from the collapsed stacks.
//!
//! Frames are coloured with inferno's Python palette (your code red, the
//! standard library yellow, `site-packages` aqua), hashed from the frame text
//! so a function keeps its colour from one graph to the next.

use crate::collapsed::collapsed_stacks;
use crate::memory::MemoryMetric;
use crate::text::command_line;
use crate::FormatError;
use inferno::flamegraph::color::{MultiPalette, Palette};
use inferno::flamegraph::{self as inferno_flamegraph, Options};
use snakescope_model::Capture;
use std::io::Write;

/// Writes the flame graph SVG; an empty capture is refused before anything is written.
pub(crate) fn write(capture: &Capture, out: &mut dyn Write) -> Result<(), FormatError> {
    let stacks = collapsed_stacks(capture);
    if stacks.values().all(|&count| count == 0) {
        return Err(FormatError::NoSamples("flamegraph"));
    }
    let lines: Vec<String> = stacks
        .iter()
        .map(|(stack, count)| format!("{stack} {count}"))
        .collect();
    let mut options = options(capture);
    inferno_flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), out)?;
    Ok(())
}

fn options(capture: &Capture) -> Options<'static> {
    let mut options = Options::default();
    options.title = format!("snakescope: {}", command_line(&capture.meta));
    options.count_name = match MemoryMetric::of_view(capture) {
        Some(_) => "bytes".to_owned(),
        None => "samples".to_owned(),
    };
    options.colors = Palette::Multi(MultiPalette::Python);
    options.hash = true;
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{capture, empty_capture};

    fn svg(capture: &Capture) -> String {
        let mut out = Vec::new();
        write(capture, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn svg_names_every_function_and_thread() {
        let svg = svg(&capture());
        assert!(
            svg.starts_with("<?xml") || svg.starts_with("<svg"),
            "{}",
            &svg[..80]
        );
        assert!(svg.trim_end().ends_with("</svg>"));
        for name in [
            "main (/src/app.py:10)",
            "Worker.work (/src/app.py:20)",
            "helper (/src/util.py:5)",
        ] {
            assert!(svg.contains(name), "missing {name}");
        }
        assert!(svg.contains("thread (100): MainThread"));
        assert!(
            svg.contains("snakescope: python3 app.py --size &apos;big one&apos;")
                || svg.contains("snakescope: python3 app.py --size 'big one'")
        );
    }

    #[test]
    fn counts_are_samples() {
        // The root box covers every sample: 100 of them.
        assert!(svg(&capture()).contains("100 samples"));
    }

    #[test]
    fn empty_capture_is_refused_without_output() {
        let mut out = Vec::new();
        assert!(matches!(
            write(&empty_capture(), &mut out),
            Err(FormatError::NoSamples(_))
        ));
        assert!(out.is_empty());
    }
}
