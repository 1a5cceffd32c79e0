//! Collapsed ("folded") stacks: one `root;...;leaf count` line per distinct
//! stack, the input format of `flamegraph.pl`, inferno and many other tools.
//!
//! Each stack is rooted at its thread (`thread (tid)` or `thread (tid): name`,
//! as py-spy's `--threads` does) and each frame reads `qualname (file:line)`.
//! Stacks that differ only in idle or GIL state print as one line.

use snakescope_model::{Capture, Frame, ThreadRecord};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The collapsed stacks of `capture` with their counts, sorted by stack text.
pub(crate) fn collapsed_stacks(capture: &Capture) -> BTreeMap<String, u64> {
    let frame_texts: Vec<String> = capture.frames.iter().map(frame_text).collect();
    let thread_texts: Vec<String> = (0..capture.threads.len())
        .map(|t| root_text(capture, t))
        .collect();
    let mut lines = BTreeMap::new();
    for stack in &capture.stacks {
        let mut line = thread_texts[stack.thread].clone();
        for &f in &stack.frames {
            line.push(';');
            line.push_str(&frame_texts[f]);
        }
        *lines.entry(line).or_insert(0) += stack.count;
    }
    lines
}

/// Writes one `stack count` line per distinct stack.
pub(crate) fn write(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    for (stack, count) in collapsed_stacks(capture) {
        writeln!(out, "{stack} {count}")?;
    }
    Ok(())
}

/// `qualname (file:line)`, or `qualname (file)` when the line is unknown.
pub(crate) fn frame_text(frame: &Frame) -> String {
    let name = sanitize(frame.display_name());
    let file = sanitize(&frame.file);
    if frame.line == 0 {
        format!("{name} ({file})")
    } else {
        format!("{name} ({file}:{})", frame.line)
    }
}

/// The root of a thread's stacks: its process (`process 1234 (pool
/// worker)`, when the capture holds several), then the thread.
fn root_text(capture: &Capture, thread: usize) -> String {
    let text = thread_text(&capture.threads[thread]);
    match capture.process_label(thread) {
        Some(process) => format!("{};{text}", sanitize(&process)),
        None => text,
    }
}

/// The root frame naming a thread.
fn thread_text(thread: &ThreadRecord) -> String {
    match &thread.name {
        Some(name) => format!("thread ({}): {}", thread.tid, sanitize(name)),
        None => format!("thread ({})", thread.tid),
    }
}

/// Replaces the characters that would split a frame (`;`) or a line.
fn sanitize(text: &str) -> String {
    // `;` separates frames and a newline ends a stack; other control
    // characters cannot appear in the SVG's XML at all.
    text.chars()
        .map(|c| match c {
            ';' => ':',
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{capture, empty_capture};

    #[test]
    fn lines_and_counts_are_exact() {
        let mut out = Vec::new();
        write(&capture(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let want = "\
thread (100): MainThread;main (/src/app.py:10);Worker.work (/src/app.py:20) 60
thread (100): MainThread;main (/src/app.py:10);Worker.work (/src/app.py:20);helper (/src/util.py:5) 10
thread (100): MainThread;main (/src/app.py:10);Worker.work (/src/app.py:21) 20
thread (101);run (/usr/lib/python3.11/threading.py);helper (/src/util.py:5) 10
";
        assert_eq!(text, want);
    }

    #[test]
    fn counts_sum_to_total_samples() {
        let c = capture();
        assert_eq!(
            collapsed_stacks(&c).values().sum::<u64>(),
            c.total_samples()
        );
    }

    #[test]
    fn separators_inside_names_cannot_split_frames() {
        let frame = Frame {
            function: "f".into(),
            qualname: None,
            file: "/odd;dir/a\nb.py".into(),
            line: 3,
        };
        assert_eq!(frame_text(&frame), "f (/odd:dir/a b.py:3)");
    }

    #[test]
    fn empty_capture_writes_nothing() {
        let mut out = Vec::new();
        write(&empty_capture(), &mut out).unwrap();
        assert!(out.is_empty());
    }
}
