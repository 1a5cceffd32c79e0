//! Pairing the before run's code with the after run's when the two main
//! scripts are different files (`before.py` and `after.py`): functions by
//! qualified name, then the rest by body similarity (a guess, and said to be
//! one), and lines by aligning the two files' text (`similar`'s diff), so an
//! edited line is one row with its before and after location. What has no
//! pair keeps its own file and line: a function that vanished stays in the
//! before script.

use crate::html::sources::{read_source, Source};
use similar::{DiffOp, TextDiff};
use snakescope_model::Stats;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A body at least this similar (`similar`'s ratio, 0 to 1) to a vanished
/// function's makes a new function its guessed renaming.
pub const RENAME_SIMILARITY: f32 = 0.6;

/// A before location's after counterpart.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LinePair {
    pub line: u32,
    /// The text differs (the line was edited).
    pub edited: bool,
}

/// How the before script's functions and lines map onto the after script's.
#[derive(Debug, Default)]
pub(super) struct Pairing {
    pub before_file: String,
    pub after_file: String,
    /// Before function name -> after function name (same name, or renamed).
    pub functions: HashMap<String, String>,
    /// After name -> before name, for the pairs guessed by body.
    pub renamed: HashMap<String, String>,
    /// Before line -> after line, when both texts could be read.
    pub lines: HashMap<u32, LinePair>,
    /// The texts could be read and aligned.
    pub aligned: bool,
}

impl Pairing {
    /// Pairs the functions of `before_file` in `sb` with those of
    /// `after_file` in `sa`, and the two files' lines.
    pub(super) fn new(before_file: &str, after_file: &str, sb: &Stats, sa: &Stats) -> Pairing {
        let names = |s: &Stats, file: &str| -> Vec<String> {
            s.functions
                .iter()
                .filter(|f| f.file == file)
                .map(|f| f.name.clone())
                .collect()
        };
        let texts = (text(before_file), text(after_file));
        let nb = names(sb, before_file);
        // The after script's functions: those sampled, and those its text
        // defines (a function that got fast enough to have no sample is
        // still the same function).
        let mut na = names(sa, after_file);
        if let Some(ta) = &texts.1 {
            let defined = defined_names(ta);
            for n in &nb {
                let short = n.rsplit('.').next().unwrap_or(n);
                if !na.contains(n) && defined.iter().any(|d| d == short) {
                    na.push(n.clone());
                }
            }
            let known = |d: &String| na.iter().any(|n| n.rsplit('.').next() == Some(d));
            let extra: Vec<String> = defined.into_iter().filter(|d| !known(d)).collect();
            na.extend(extra);
        }
        let after_names: HashSet<&String> = na.iter().collect();
        let mut functions: HashMap<String, String> = nb
            .iter()
            .filter(|n| after_names.contains(n))
            .map(|n| (n.clone(), n.clone()))
            .collect();
        let mut renamed = HashMap::new();
        if let (Some(tb), Some(ta)) = &texts {
            let gone: Vec<&String> = nb.iter().filter(|n| !functions.contains_key(*n)).collect();
            let paired_after: HashSet<&String> = functions.values().collect();
            let new: Vec<&String> = na.iter().filter(|n| !paired_after.contains(n)).collect();
            for (b, a) in guess_renames(tb, &gone, ta, &new) {
                renamed.insert(a.clone(), b.clone());
                functions.insert(b, a);
            }
        }
        let lines = match &texts {
            (Some(tb), Some(ta)) => align(tb, ta),
            _ => HashMap::new(),
        };
        Pairing {
            before_file: before_file.to_owned(),
            after_file: after_file.to_owned(),
            functions,
            renamed,
            aligned: texts.0.is_some() && texts.1.is_some(),
            lines,
        }
    }

    /// The after key of a before function (unchanged when it has no pair).
    pub(super) fn function(&self, name: &str, file: &str) -> (String, String) {
        match self.functions.get(name) {
            Some(after) if file == self.before_file => (after.clone(), self.after_file.clone()),
            _ => (name.to_owned(), file.to_owned()),
        }
    }
}

fn text(file: &str) -> Option<String> {
    match read_source(file) {
        Source::Text { text, .. } => Some(text),
        Source::Unavailable(_) => None,
    }
}

/// Before line number (1-based) -> after line number, from a line diff of
/// the two texts: equal runs map one to one, and a replaced run pairs its
/// lines in order (edited lines); deleted and inserted lines have no pair.
pub(super) fn align(before: &str, after: &str) -> HashMap<u32, LinePair> {
    let diff = TextDiff::from_lines(before, after);
    let mut pairs = HashMap::new();
    let mut pair = |old: usize, new: usize, edited: bool| {
        pairs.insert(
            old as u32 + 1,
            LinePair {
                line: new as u32 + 1,
                edited,
            },
        );
    };
    for op in diff.ops() {
        match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => (0..len).for_each(|i| pair(old_index + i, new_index + i, false)),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (0..old_len.min(new_len)).for_each(|i| pair(old_index + i, new_index + i, true)),
            DiffOp::Delete { .. } | DiffOp::Insert { .. } => {}
        }
    }
    pairs
}

/// The names the `def` lines of `text` give (nested ones included).
fn defined_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let t = t.strip_prefix("async ").unwrap_or(t);
            let rest = t.strip_prefix("def ")?;
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
            (end > 0 && rest[end..].trim_start().starts_with('(')).then(|| rest[..end].to_owned())
        })
        .collect()
}

/// The body of function `name` (its last dotted part is what `def` names)
/// in `text`: the lines indented deeper than its `def` line, after it.
fn body(text: &str, name: &str) -> Option<String> {
    let short = name.rsplit('.').next().unwrap_or(name);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| {
        let t = l.trim_start();
        let t = t.strip_prefix("async ").unwrap_or(t);
        t.strip_prefix("def ")
            .and_then(|rest| rest.strip_prefix(short))
            .is_some_and(|rest| rest.trim_start().starts_with('('))
    })?;
    let indent = |l: &str| l.len() - l.trim_start().len();
    let depth = indent(lines[start]);
    let body: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > depth)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    (!body.is_empty()).then(|| body.join("\n") + "\n")
}

/// Pairs of (vanished before name, new after name) whose bodies are at
/// least [`RENAME_SIMILARITY`] alike, most alike first, each name once.
fn guess_renames(tb: &str, gone: &[&String], ta: &str, new: &[&String]) -> Vec<(String, String)> {
    let bodies = |text: &str, names: &[&String]| -> BTreeMap<String, String> {
        names
            .iter()
            .filter_map(|n| Some(((*n).clone(), body(text, n)?)))
            .collect()
    };
    let (gb, na) = (bodies(tb, gone), bodies(ta, new));
    let mut candidates: Vec<(f32, &String, &String)> = Vec::new();
    for (b, bb) in &gb {
        for (a, ba) in &na {
            let ratio = TextDiff::from_lines(bb.as_str(), ba.as_str()).ratio();
            if ratio >= RENAME_SIMILARITY {
                candidates.push((ratio, b, a));
            }
        }
    }
    candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let (mut used_b, mut used_a) = (HashSet::new(), HashSet::new());
    let mut pairs = Vec::new();
    for (_, b, a) in candidates {
        if !used_b.contains(b) && !used_a.contains(a) {
            used_b.insert(b);
            used_a.insert(a);
            pairs.push((b.clone(), a.clone()));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
import time

def parse(x):
    return int(x)

def slow_sum(values):
    total = 0
    for v in values:
        total += v * v
    return total

def gone():
    return 1
";

    const AFTER: &str = "\
import time
import math

def parse(x):
    return int(x, 10)

def squares_total(values):
    total = 0
    for v in values:
        total += v * v
    return total
";

    #[test]
    fn lines_align_by_content_and_edits_are_one_row() {
        let pairs = align(BEFORE, AFTER);
        // `import time` stays line 1; `def parse` moves from 3 to 4.
        assert_eq!(
            pairs[&1],
            LinePair {
                line: 1,
                edited: false
            }
        );
        assert_eq!(
            pairs[&3],
            LinePair {
                line: 4,
                edited: false
            }
        );
        // The edited return is one pair, marked edited.
        assert_eq!(
            pairs[&4],
            LinePair {
                line: 5,
                edited: true
            }
        );
        // The loop body moved by one line, unchanged.
        assert_eq!(
            pairs[&9],
            LinePair {
                line: 10,
                edited: false
            }
        );
        // `gone`'s lines were deleted: no pair.
        assert!(!pairs.contains_key(&13));
    }

    #[test]
    fn a_renamed_body_is_guessed_and_a_different_one_is_not() {
        let gone = ["slow_sum".to_owned(), "gone".to_owned()];
        let new = ["squares_total".to_owned()];
        let pairs = guess_renames(
            BEFORE,
            &gone.iter().collect::<Vec<_>>(),
            AFTER,
            &new.iter().collect::<Vec<_>>(),
        );
        assert_eq!(pairs, [("slow_sum".to_owned(), "squares_total".to_owned())]);
        assert_eq!(body(BEFORE, "gone").as_deref(), Some("return 1\n"));
        assert_eq!(
            body(BEFORE, "Cls.parse").as_deref(),
            Some("return int(x)\n")
        );
        assert_eq!(body(BEFORE, "missing"), None);
    }
}
