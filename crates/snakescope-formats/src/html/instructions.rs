//! The instructions under the hottest lines (captures recorded with
//! `--opcodes`): per annotated file, per line, the instructions that had
//! samples, decoded as `snakescope dis` decodes them. The page lists them
//! under the line in "Hottest lines" when opened.

use crate::dis::function_view;
use serde::Serialize;
use snakescope_model::Capture;
use std::collections::BTreeMap;

/// One sampled instruction of a line.
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct InstructionRow {
    offset: u32,
    /// The interpreter's name for it (3.11+: specialised).
    name: String,
    arg: Option<u32>,
    #[serde(rename = "self")]
    self_samples: u64,
    total: u64,
}

/// Line → its sampled instructions, for the code objects of `path`; `None`
/// without an `opcodes` section or when none of them had samples.
pub(super) fn instructions_of(
    capture: &Capture,
    path: &str,
) -> Option<BTreeMap<u32, Vec<InstructionRow>>> {
    let opcodes = capture.opcodes.as_ref()?;
    let mut by_line: BTreeMap<u32, Vec<InstructionRow>> = BTreeMap::new();
    for code in opcodes.codes.iter().filter(|c| c.file == path) {
        let view = function_view(code, opcodes.table.as_ref());
        for group in view.groups.iter().filter(|g| g.line > 0) {
            for s in &group.instructions {
                if s.self_samples == 0 && s.total == 0 {
                    continue;
                }
                by_line.entry(group.line).or_default().push(InstructionRow {
                    offset: s.instruction.offset,
                    name: s.instruction.name.clone(),
                    arg: s.instruction.arg,
                    self_samples: s.self_samples,
                    total: s.total,
                });
            }
        }
    }
    (!by_line.is_empty()).then_some(by_line)
}
