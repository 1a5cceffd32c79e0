//! Python versus native time (captures recorded with `--native`): overall,
//! then per Python line and per Python function, each sample counted at its
//! innermost Python frame — Scalene's Python / native columns.

use super::{heading, percent};
use snakescope_model::{Capture, KindRow, KindSplit};
use std::io::{self, Write};

/// The section, when the capture has native frames; nothing otherwise.
pub(super) fn write_split(
    capture: &Capture,
    limit: usize,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    let split = KindSplit::of(capture);
    if !split.has_native {
        return Ok(());
    }
    let t = split.total;
    let all = t.total();
    writeln!(out)?;
    heading(out, color, "Python vs native")?;
    writeln!(
        out,
        "  python {}  native {}  GIL wait {}  idle {}",
        percent(t.python, all).trim_start(),
        percent(t.native, all).trim_start(),
        percent(t.gil_wait, all).trim_start(),
        percent(t.idle, all).trim_start(),
    )?;
    write_threads(capture, &split, out)?;
    if let Some(note) = crate::gil_note::gil_wait_note(capture, &split) {
        writeln!(out, "  note: {note}")?;
    }
    writeln!(out, "  {:>7}  {:>7}  line", "python%", "native%")?;
    write_rows(&split.lines, limit, all, out)?;
    writeln!(out, "  {:>7}  {:>7}  function", "python%", "native%")?;
    write_rows(&split.functions, limit, all, out)
}

/// With more than one thread: each one's own split, of its samples (with
/// `--idle`, the share it waited for the GIL is of its whole time).
fn write_threads(capture: &Capture, split: &KindSplit, out: &mut dyn Write) -> io::Result<()> {
    if capture.threads.len() < 2 {
        return Ok(());
    }
    for (t, c) in capture.threads.iter().zip(&split.threads) {
        let all = c.total();
        if all == 0 {
            continue;
        }
        writeln!(
            out,
            "  thread {} ({}): python {}  native {}  GIL wait {}  idle {}  (GIL held {})",
            t.name.as_deref().unwrap_or("-"),
            t.tid,
            percent(c.python, all).trim_start(),
            percent(c.native, all).trim_start(),
            percent(c.gil_wait, all).trim_start(),
            percent(c.idle, all).trim_start(),
            percent(c.gil_held, all).trim_start(),
        )?;
    }
    Ok(())
}

fn write_rows(rows: &[KindRow], limit: usize, all: u64, out: &mut dyn Write) -> io::Result<()> {
    for r in rows.iter().take(limit) {
        let place = if r.line == 0 {
            format!("{}  {}", r.name, r.file)
        } else {
            format!("{}:{}  {}", r.file, r.line, r.name)
        };
        writeln!(
            out,
            "   {}   {}  {place}",
            percent(r.counts.python, all),
            percent(r.counts.native, all)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use snakescope_model::{CaptureBuilder, Frame, Meta, ThreadSample};

    #[test]
    fn the_split_shows_only_with_native_frames() {
        let mut b = CaptureBuilder::new();
        let main = b.intern_frame(Frame {
            function: "main".into(),
            qualname: Some("main".into()),
            file: "/a.py".into(),
            line: 7,
        });
        let plain = [main];
        let sample = |frames| ThreadSample {
            tid: 1,
            idle: false,
            gil: true,
            frames,
        };
        b.add(sample(&plain));
        let mut text = Vec::new();
        super::write_split(&b.finish(Meta::default()), 5, &mut text, false).unwrap();
        assert!(text.is_empty());

        let mut b = CaptureBuilder::new();
        let main = b.intern_frame(Frame {
            function: "main".into(),
            qualname: Some("main".into()),
            file: "/a.py".into(),
            line: 7,
        });
        let blas = b.intern_frame(Frame::native("dgemm".into(), "/l/libblas.so".into()));
        let (plain, native) = ([main], [main, blas]);
        b.add(sample(&plain));
        b.add(sample(&native));
        b.add(sample(&native));
        b.add(sample(&native));
        let mut text = Vec::new();
        super::write_split(&b.finish(Meta::default()), 5, &mut text, false).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("python 25.0%  native 75.0%"), "{text}");
        assert!(text.contains(" 25.0%    75.0%  /a.py:7  main"), "{text}");
        assert!(
            !text.contains("thread "),
            "one thread: no per-thread lines\n{text}"
        );
    }

    #[test]
    fn each_thread_says_how_long_it_waited_for_the_gil() {
        let mut b = CaptureBuilder::new();
        let work = b.intern_frame(Frame {
            function: "work".into(),
            qualname: Some("work".into()),
            file: "/a.py".into(),
            line: 3,
        });
        let take = b.intern_frame(Frame::native("take_gil".into(), "/usr/bin/python3".into()));
        let (running, waiting) = ([work], [work, take]);
        let sample = |tid, frames, idle| ThreadSample {
            tid,
            idle,
            gil: !idle,
            frames,
        };
        // Thread 1 runs 6 and waits 4 (41 % is the book's figure; 40 % here);
        // thread 2 runs all 5 of its samples.
        for _ in 0..6 {
            b.add(sample(1, &running, false));
        }
        for _ in 0..4 {
            b.add(sample(1, &waiting, true));
        }
        for _ in 0..5 {
            b.add(sample(2, &running, false));
        }
        b.name_thread(1, Some("MainThread".into()));
        b.name_thread(2, Some("worker".into()));
        let mut text = Vec::new();
        super::write_split(&b.finish(Meta::default()), 5, &mut text, false).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains(
                "thread MainThread (1): python 60.0%  native 0.0%  GIL wait 40.0%  idle 0.0%"
            ),
            "{text}"
        );
        assert!(text.contains("thread worker (2): python 100.0%"), "{text}");
    }
}
