//! A function's instructions with their samples (`snakescope dis`, and the
//! text report's `--opcodes`): the bytecode of an `opcodes` section decoded
//! ([`decode`]), each instruction given the samples at its offset, grouped
//! under source lines as `dis` groups them (a run of instructions of one
//! line; a line can come back, like a loop's test).

mod decode;
mod text;

pub use decode::{decode, Instruction};
pub use text::{write_function, SourceLines};

use snakescope_model::{CodeSamples, OpcodeTable};

/// One instruction and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledInstruction {
    pub instruction: Instruction,
    pub self_samples: u64,
    pub total: u64,
}

/// A run of instructions of one source line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineGroup {
    /// 0: no line.
    pub line: u32,
    pub self_samples: u64,
    pub total: u64,
    pub instructions: Vec<SampledInstruction>,
}

/// A code object's instructions grouped by line, with its totals.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionView {
    pub groups: Vec<LineGroup>,
    pub self_samples: u64,
    pub total_samples: u64,
    /// Samples at offsets no decoded instruction covers (bytecode unread
    /// or changed since): counted in the totals, shown nowhere else.
    pub unplaced_self: u64,
}

/// Decodes `code` with `table` and places its samples.
pub fn function_view(code: &CodeSamples, table: Option<&OpcodeTable>) -> FunctionView {
    let instructions = decode(&code.bytecode_bytes(), table);
    let mut counts = vec![(0u64, 0u64); instructions.len()];
    let mut unplaced_self = 0;
    for s in &code.instructions {
        // The instruction whose bytes (caches included) hold the offset.
        let at = instructions.partition_point(|i| i.offset <= s.offset);
        match at.checked_sub(1).filter(|&k| {
            let i = &instructions[k];
            s.offset < i.offset.saturating_add(i.len)
        }) {
            Some(k) => {
                counts[k].0 += s.self_samples;
                counts[k].1 += s.total;
            }
            None => unplaced_self += s.self_samples,
        }
    }
    let mut groups: Vec<LineGroup> = Vec::new();
    for (instruction, (self_samples, total)) in instructions.into_iter().zip(counts) {
        let line = line_of(&code.line_starts, instruction.offset);
        if groups.last().map_or(true, |g| g.line != line) {
            groups.push(LineGroup {
                line,
                self_samples: 0,
                total: 0,
                instructions: Vec::new(),
            });
        }
        let group = groups.last_mut().expect("pushed above");
        group.self_samples += self_samples;
        group.total += total;
        group.instructions.push(SampledInstruction {
            instruction,
            self_samples,
            total,
        });
    }
    FunctionView {
        groups,
        self_samples: code.self_samples,
        total_samples: code.total_samples,
        unplaced_self,
    }
}

/// The line of the instruction at `offset`: that of the last line start at
/// or before it (0 before the first).
fn line_of(starts: &[[u32; 2]], offset: u32) -> u32 {
    let at = starts.partition_point(|s| s[0] <= offset);
    at.checked_sub(1).map_or(0, |k| starts[k][1])
}

/// `part` of `whole` in percent (0 of nothing).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snakescope_model::InstructionSamples;

    #[test]
    fn samples_go_to_their_instruction_and_line() {
        // Without a table each unit is an instruction: offsets 0, 2, 4, 6.
        let code = CodeSamples {
            bytecode: "0100020003000400".into(),
            line_starts: vec![[0, 10], [4, 11], [6, 10]],
            self_samples: 10,
            total_samples: 12,
            instructions: vec![
                InstructionSamples {
                    offset: 4,
                    line: 11,
                    self_samples: 7,
                    total: 7,
                },
                InstructionSamples {
                    offset: 6,
                    line: 10,
                    self_samples: 3,
                    total: 5,
                },
            ],
            ..CodeSamples::default()
        };
        let view = function_view(&code, None);
        let lines: Vec<(u32, u64, u64, usize)> = view
            .groups
            .iter()
            .map(|g| (g.line, g.self_samples, g.total, g.instructions.len()))
            .collect();
        assert_eq!(lines, [(10, 0, 0, 2), (11, 7, 7, 1), (10, 3, 5, 1)]);
        assert_eq!(view.unplaced_self, 0);
        assert_eq!(percent(7, 10), 70.0);
    }

    #[test]
    fn a_sample_past_the_bytecode_is_unplaced() {
        let code = CodeSamples {
            bytecode: "0100".into(),
            self_samples: 2,
            total_samples: 2,
            instructions: vec![InstructionSamples {
                offset: 8,
                line: 1,
                self_samples: 2,
                total: 2,
            }],
            ..CodeSamples::default()
        };
        assert_eq!(function_view(&code, None).unplaced_self, 2);
    }
}
