//! The text report's instructions of the hottest lines, for a capture
//! recorded with `--opcodes`: under each of the top lines, the instructions
//! of that line that had samples, with their share of all samples (as the
//! line's own share above). `snakescope dis` shows a whole function.

use super::{heading, location, percent};
use crate::dis::function_view;
use crate::printable::escape_controls;
use snakescope_model::{Capture, CodeSamples, LineStat, Opcodes};
use std::io::{self, Write};

/// Lines whose instructions are listed.
const LINES: usize = 3;

pub(super) fn write_hot_instructions(
    capture: &Capture,
    lines: &[LineStat],
    total: u64,
    out: &mut dyn Write,
    color: bool,
) -> io::Result<()> {
    let Some(opcodes) = &capture.opcodes else {
        return Ok(());
    };
    writeln!(out)?;
    heading(out, color, "Instructions of the top lines")?;
    for line in lines.iter().filter(|l| l.line > 0).take(LINES) {
        writeln!(out, "  {}  {}", location(line), line.name)?;
        let Some(code) = code_of(opcodes, line) else {
            writeln!(out, "      (no instructions recorded for this line)")?;
            continue;
        };
        let view = function_view(code, opcodes.table.as_ref());
        for group in view.groups.iter().filter(|g| g.line == line.line) {
            for s in group.instructions.iter().filter(|s| s.self_samples > 0) {
                let i = &s.instruction;
                let arg = i.arg.map(|a| a.to_string()).unwrap_or_default();
                writeln!(
                    out,
                    "    {}  {:>6}  {:<32} {arg}",
                    percent(s.self_samples, total),
                    i.offset,
                    escape_controls(&i.name)
                )?;
            }
        }
    }
    Ok(())
}

/// The code object with the most self samples at `line` of its function.
fn code_of<'a>(opcodes: &'a Opcodes, line: &LineStat) -> Option<&'a CodeSamples> {
    opcodes
        .codes
        .iter()
        .filter(|c| {
            c.file == line.file
                && c.qualname.as_deref().unwrap_or(&c.function) == line.name
                && c.instructions.iter().any(|i| i.line == line.line)
        })
        .max_by_key(|c| c.self_samples)
}

#[cfg(test)]
mod tests {
    use crate::fixture::capture;
    use snakescope_model::{CodeSamples, InstructionSamples, Opcodes, Stats};

    fn report(capture: &snakescope_model::Capture) -> String {
        let mut out = Vec::new();
        super::super::write_report(capture, &mut out, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_top_line_lists_its_sampled_instructions() {
        let mut capture = capture();
        assert!(!report(&capture).contains("Instructions of the top lines"));
        let stats = Stats::of(&capture);
        let top = &stats.lines[0];
        // Without a table each code unit is shown as `<opcode>`.
        capture.opcodes = Some(Opcodes {
            codes: vec![CodeSamples {
                function: top.name.clone(),
                qualname: Some(top.name.clone()),
                file: top.file.clone(),
                first_line: top.line,
                bytecode: "0100070208000900".into(),
                line_starts: vec![[0, top.line], [6, top.line + 1]],
                self_samples: top.self_samples,
                total_samples: top.self_samples,
                instructions: vec![InstructionSamples {
                    offset: 2,
                    line: top.line,
                    self_samples: top.self_samples,
                    total: top.self_samples,
                }],
            }],
            ..Opcodes::default()
        });
        let text = report(&capture);
        let section = text
            .split_once("Instructions of the top lines\n")
            .unwrap()
            .1;
        let mut rows = section.lines();
        assert_eq!(
            rows.next().unwrap(),
            format!("  {}:{}  {}", top.file, top.line, top.name)
        );
        let share = super::percent(top.self_samples, stats.total_samples);
        let row: Vec<&str> = rows.next().unwrap().split_whitespace().collect();
        assert_eq!(row, [share.trim(), "2", "<7>", "2"]);
    }
}
