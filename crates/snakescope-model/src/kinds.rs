//! What a sample was doing: running Python, running native code (an
//! extension or a library below a Python frame), waiting for the GIL, or
//! idle. Derived from a stack and its flags, so every view classifies the
//! same way, from any capture.
//!
//! Native frames (`record --native`) are frames whose `file` is the path of
//! the loaded library or executable that holds the function, with no
//! qualified name and line 0: see [`Frame::native`].

use crate::capture::{Capture, Frame};
use std::collections::HashMap;

/// The interpreter functions a thread waits in to take the GIL (3.8–3.15;
/// `take_gil` itself is static and found only where the symbol table was
/// kept; the others are exported).
pub const GIL_WAIT_FUNCTIONS: [&str; 4] = [
    "take_gil",
    "PyEval_RestoreThread",
    "PyEval_AcquireThread",
    "PyGILState_Ensure",
];

/// A sample's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleKind {
    Python,
    Native,
    GilWait,
    Idle,
}

impl SampleKind {
    /// Classifies a stack (`innermost`: its innermost frame) of a sample
    /// with these flags. A GIL wait is recognised by its native frame
    /// (with `--native` only); an idle thread that is not waiting for the
    /// GIL is idle, whatever code it sits in.
    pub fn of(innermost: Option<&Frame>, idle: bool) -> SampleKind {
        match innermost {
            Some(f) if f.is_native() && GIL_WAIT_FUNCTIONS.contains(&f.function.as_str()) => {
                SampleKind::GilWait
            }
            _ if idle => SampleKind::Idle,
            Some(f) if f.is_native() => SampleKind::Native,
            _ => SampleKind::Python,
        }
    }
}

/// Samples by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts {
    pub python: u64,
    pub native: u64,
    pub gil_wait: u64,
    pub idle: u64,
    /// Of all those, the samples whose thread held the GIL (not a class of
    /// its own: `total` leaves it out).
    pub gil_held: u64,
}

impl KindCounts {
    fn add(&mut self, kind: SampleKind, n: u64) {
        match kind {
            SampleKind::Python => self.python += n,
            SampleKind::Native => self.native += n,
            SampleKind::GilWait => self.gil_wait += n,
            SampleKind::Idle => self.idle += n,
        }
    }

    pub fn total(&self) -> u64 {
        self.python + self.native + self.gil_wait + self.idle
    }
}

/// A Python function (`line` 0) or line and its samples by class: each
/// sample counts at its innermost Python frame, as Scalene splits a line's
/// time into Python and native.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindRow {
    pub name: String,
    pub file: String,
    pub line: u32,
    pub counts: KindCounts,
}

/// Every sample's class, overall, per Python function and per Python line
/// (rows sorted by samples, descending).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindSplit {
    pub total: KindCounts,
    pub functions: Vec<KindRow>,
    pub lines: Vec<KindRow>,
    /// Per thread (its index in the capture's threads), in that order: the
    /// share of its time it waited for the GIL, ran Python, ran native code.
    pub threads: Vec<KindCounts>,
    /// Whether any frame is native (the capture was recorded with `--native`).
    pub has_native: bool,
}

impl KindSplit {
    pub fn of(capture: &Capture) -> KindSplit {
        let mut functions: HashMap<(&str, &str), KindCounts> = HashMap::new();
        let mut lines: HashMap<(&str, &str, u32), KindCounts> = HashMap::new();
        let mut total = KindCounts::default();
        let mut threads = vec![KindCounts::default(); capture.threads.len()];
        for stack in &capture.stacks {
            let frame = |&id: &usize| capture.frames.get(id);
            let kind = SampleKind::of(stack.frames.last().and_then(frame), stack.idle);
            total.add(kind, stack.count);
            if let Some(t) = threads.get_mut(stack.thread) {
                t.add(kind, stack.count);
                if stack.gil {
                    t.gil_held += stack.count;
                }
            }
            let python = stack
                .frames
                .iter()
                .rev()
                .filter_map(frame)
                .find(|f| !f.is_native());
            if let Some(f) = python {
                let (name, file) = (f.display_name(), f.file.as_str());
                functions
                    .entry((name, file))
                    .or_default()
                    .add(kind, stack.count);
                lines
                    .entry((name, file, f.line))
                    .or_default()
                    .add(kind, stack.count);
            }
        }
        let rows = |map: Vec<((&str, &str, u32), KindCounts)>| {
            let mut rows: Vec<KindRow> = map
                .into_iter()
                .map(|((name, file, line), counts)| KindRow {
                    name: name.to_owned(),
                    file: file.to_owned(),
                    line,
                    counts,
                })
                .collect();
            rows.sort_by(|a, b| {
                (b.counts.total(), &a.file, a.line, &a.name).cmp(&(
                    a.counts.total(),
                    &b.file,
                    b.line,
                    &b.name,
                ))
            });
            rows
        };
        KindSplit {
            total,
            functions: rows(
                functions
                    .into_iter()
                    .map(|((n, f), c)| ((n, f, 0), c))
                    .collect(),
            ),
            lines: rows(lines.into_iter().collect()),
            threads,
            has_native: capture.frames.iter().any(Frame::is_native),
        }
    }
}

impl Frame {
    /// A native frame: `function` is the symbol (or the address in the file
    /// when there is none), `file` the library's path.
    pub fn native(function: String, library: String) -> Frame {
        Frame {
            function,
            qualname: None,
            file: library,
            line: 0,
        }
    }

    /// Whether this frame was made by [`Frame::native`]: an absolute
    /// library path, no qualified name, no line.
    pub fn is_native(&self) -> bool {
        self.qualname.is_none()
            && self.line == 0
            && self.file.starts_with('/')
            && !self.file.ends_with(".py")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaptureBuilder, Meta, ThreadSample};

    #[test]
    fn a_line_splits_into_python_and_native_at_its_innermost_python_frame() {
        let mut b = CaptureBuilder::new();
        let main = b.intern_frame(py("main"));
        let blas = b.intern_frame(Frame::native("dgemm".into(), "/lib/libblas.so".into()));
        let (python, native) = ([main], [main, blas]);
        let sample = |frames| ThreadSample {
            tid: 1,
            idle: false,
            gil: true,
            frames,
        };
        b.add(sample(&python));
        b.add(sample(&native));
        b.add(sample(&native));
        let split = KindSplit::of(&b.finish(Meta::default()));
        assert!(split.has_native);
        assert_eq!((split.total.python, split.total.native), (1, 2));
        assert_eq!(split.lines.len(), 1);
        assert_eq!(split.lines[0].line, 3);
        assert_eq!(
            (split.lines[0].counts.python, split.lines[0].counts.native),
            (1, 2)
        );
        assert_eq!(split.functions[0].name, "main");
    }

    fn py(name: &str) -> Frame {
        Frame {
            function: name.into(),
            qualname: Some(name.into()),
            file: "/x/a.py".into(),
            line: 3,
        }
    }

    #[test]
    fn classes() {
        let blas = Frame::native("dgemm_kernel".into(), "/lib/libopenblas.so".into());
        let wait = Frame::native("take_gil".into(), "/lib/libpython3.12.so".into());
        assert!(blas.is_native() && !py("f").is_native());
        assert_eq!(SampleKind::of(Some(&py("f")), false), SampleKind::Python);
        assert_eq!(SampleKind::of(Some(&blas), false), SampleKind::Native);
        assert_eq!(SampleKind::of(Some(&wait), true), SampleKind::GilWait);
        assert_eq!(SampleKind::of(Some(&blas), true), SampleKind::Idle);
        assert_eq!(SampleKind::of(None, false), SampleKind::Python);
    }
}
