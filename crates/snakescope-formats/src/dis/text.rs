//! A function's instructions as text: each line of source (number and text
//! when the file is readable) with its share of the function's samples, then
//! its instructions — offset, name (specialised on 3.11+), argument, share.

use super::{percent, FunctionView};
use crate::printable::{escape_controls, source_lines};
use std::collections::HashMap;
use std::io::{self, Write};

/// Source files' lines, each file read once.
#[derive(Debug, Default)]
pub struct SourceLines {
    files: HashMap<String, Vec<String>>,
}

impl SourceLines {
    /// Line `line` (from 1) of `file`, trimmed; `None` when unreadable.
    pub fn line(&mut self, file: &str, line: u32) -> Option<String> {
        let lines = self
            .files
            .entry(file.to_owned())
            .or_insert_with(|| source_lines(file));
        let index = usize::try_from(line).ok()?.checked_sub(1)?;
        lines.get(index).map(|l| l.trim().to_owned())
    }
}

/// A share column: blank for nothing, so the hot instructions stand out.
fn share(part: u64, whole: u64) -> String {
    if part == 0 {
        String::new()
    } else {
        format!("{:.1}%", percent(part, whole))
    }
}

/// Writes `view` of the function in `file`; `indent` starts every line
/// (the text report nests it under a line).
pub fn write_function(
    out: &mut dyn Write,
    view: &FunctionView,
    file: &str,
    sources: &mut SourceLines,
    indent: &str,
) -> io::Result<()> {
    writeln!(out, "{indent} self%  total%   line  offset  instruction")?;
    let (all_self, all_total) = (view.self_samples, view.total_samples);
    for group in &view.groups {
        let text = match group.line {
            0 => "(no line)".to_owned(),
            n => sources.line(file, n).unwrap_or_default(),
        };
        writeln!(
            out,
            "{indent}{:>6}  {:>6}  {:>5}          {}",
            share(group.self_samples, all_self),
            share(group.total, all_total),
            if group.line == 0 {
                String::new()
            } else {
                group.line.to_string()
            },
            text
        )?;
        for s in &group.instructions {
            let i = &s.instruction;
            let arg = i.arg.map(|a| a.to_string()).unwrap_or_default();
            writeln!(
                out,
                "{indent}{:>6}  {:>6}         {:>6}  {:<32} {arg}",
                share(s.self_samples, all_self),
                share(s.total, all_total),
                i.offset,
                escape_controls(&i.name),
            )?;
        }
    }
    if view.unplaced_self > 0 {
        writeln!(
            out,
            "{indent}{:>6}  samples at instructions no longer in the bytecode read",
            share(view.unplaced_self, all_self)
        )?;
    }
    Ok(())
}
