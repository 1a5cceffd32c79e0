//! Derived views of a capture: per-function self/total counts and per-line
//! counts, the numbers every text summary and table is built from.

use crate::capture::Capture;
use std::collections::{HashMap, HashSet};

/// Samples attributed to one function (grouped by qualified name and file).
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionStat {
    pub name: String,
    pub file: String,
    /// Samples where the function was the leaf.
    pub self_samples: u64,
    /// Samples where the function was anywhere on the stack (counted once per stack).
    pub total_samples: u64,
}

/// Samples whose leaf frame executed one line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineStat {
    pub name: String,
    pub file: String,
    pub line: u32,
    pub self_samples: u64,
}

/// Function and line tables over the stacks of a capture.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Sorted by self samples, descending.
    pub functions: Vec<FunctionStat>,
    /// Sorted by samples, descending.
    pub lines: Vec<LineStat>,
    pub total_samples: u64,
}

impl Stats {
    /// Computes the tables over every stack of the capture.
    pub fn of(capture: &Capture) -> Stats {
        let mut functions: HashMap<(String, String), FunctionStat> = HashMap::new();
        let mut lines: HashMap<(String, String, u32), u64> = HashMap::new();
        let mut total = 0;
        for stack in &capture.stacks {
            total += stack.count;
            let mut seen = HashSet::new();
            for (depth, &fid) in stack.frames.iter().enumerate().rev() {
                let frame = &capture.frames[fid];
                let key = (frame.display_name().to_owned(), frame.file.clone());
                let is_leaf = depth + 1 == stack.frames.len();
                let stat = functions
                    .entry(key.clone())
                    .or_insert_with(|| FunctionStat {
                        name: key.0.clone(),
                        file: key.1.clone(),
                        self_samples: 0,
                        total_samples: 0,
                    });
                if is_leaf {
                    stat.self_samples += stack.count;
                    *lines
                        .entry((key.0.clone(), key.1.clone(), frame.line))
                        .or_default() += stack.count;
                }
                if seen.insert(key) {
                    stat.total_samples += stack.count;
                }
            }
        }
        let mut functions: Vec<_> = functions.into_values().collect();
        functions.sort_by(|a, b| {
            (b.self_samples, b.total_samples, &a.name).cmp(&(
                a.self_samples,
                a.total_samples,
                &b.name,
            ))
        });
        let mut lines: Vec<_> = lines
            .into_iter()
            .map(|((name, file, line), self_samples)| LineStat {
                name,
                file,
                line,
                self_samples,
            })
            .collect();
        lines.sort_by(|a, b| {
            (b.self_samples, &a.file, a.line).cmp(&(a.self_samples, &b.file, b.line))
        });
        Stats {
            functions,
            lines,
            total_samples: total,
        }
    }

    /// Functions sorted by total samples, descending.
    pub fn by_total(&self) -> Vec<&FunctionStat> {
        let mut v: Vec<_> = self.functions.iter().collect();
        v.sort_by_key(|f| std::cmp::Reverse((f.total_samples, f.self_samples)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaptureBuilder, Frame, Meta, ThreadSample};

    #[test]
    fn recursion_counts_total_once_per_stack() {
        let mut b = CaptureBuilder::new();
        let f = |name: &str, line| Frame {
            function: name.into(),
            qualname: None,
            file: "x.py".into(),
            line,
        };
        let main = b.intern_frame(f("main", 1));
        let r1 = b.intern_frame(f("rec", 3));
        let r2 = b.intern_frame(f("rec", 4));
        b.add(ThreadSample {
            tid: 1,
            idle: false,
            gil: true,
            frames: &[main, r1, r1, r2],
        });
        b.add(ThreadSample {
            tid: 1,
            idle: false,
            gil: true,
            frames: &[main],
        });
        let s = Stats::of(&b.finish(Meta::default()));
        let rec = s.functions.iter().find(|f| f.name == "rec").unwrap();
        assert_eq!((rec.self_samples, rec.total_samples), (1, 1));
        let main = s.functions.iter().find(|f| f.name == "main").unwrap();
        assert_eq!((main.self_samples, main.total_samples), (1, 2));
        assert_eq!(s.lines[0].self_samples, 1);
        assert_eq!(s.total_samples, 2);
    }
}
