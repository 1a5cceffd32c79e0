//! The `opcodes` section of a capture (`record --opcodes`, `run --opcodes`):
//! per code object that had samples, its bytecode as it was in memory
//! (3.11+: with the specialised instructions the interpreter wrote there),
//! where its lines start, and the samples of each instruction; plus the
//! interpreter's own opcode table to decode that bytecode with. See
//! `docs/capture-format.md`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version of the `opcodes` section this build writes.
pub const OPCODES_VERSION: u32 = 1;

fn opcodes_version() -> u32 {
    OPCODES_VERSION
}

/// Instructions and their samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct Opcodes {
    /// The section's own version: a reader refuses one it does not read.
    #[serde(default = "opcodes_version")]
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// The sampled interpreter's opcode table; null when it could not be
    /// asked (the bytecode is then shown as numbers).
    #[serde(default)]
    pub table: Option<OpcodeTable>,
    /// One per code object with samples, in no particular order.
    pub codes: Vec<CodeSamples>,
}

/// What the interpreter itself says of its opcodes (`dis`, `opcode`), per
/// opcode number 0–255.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct OpcodeTable {
    /// `sys.version` of the interpreter asked.
    pub python_version: String,
    /// The name of each opcode (3.11+: specialised ones included, as
    /// `dis` shows them with `adaptive=True`; `<N>` for an unused number).
    pub names: Vec<String>,
    /// Inline cache entries (2-byte code units) that follow each opcode
    /// (3.11+; all 0 before).
    pub caches: Vec<u32>,
    /// Each opcode's generic form (itself when not specialised).
    pub generic: Vec<u32>,
    /// Opcodes from this number on (generic form) take an argument.
    pub have_argument: u32,
    /// The number of `EXTENDED_ARG`.
    pub extended_arg: u32,
}

/// One code object's bytecode and samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct CodeSamples {
    /// `co_name`.
    pub function: String,
    /// `co_qualname` (3.11+); null before.
    #[serde(default)]
    pub qualname: Option<String>,
    /// `co_filename`.
    pub file: String,
    /// `co_firstlineno`.
    pub first_line: u32,
    /// The bytecode, in hexadecimal, as last read while the code object was
    /// alive (3.11+: `co_code_adaptive`; 3.8–3.10: `co_code`); empty when it
    /// could not be read.
    pub bytecode: String,
    /// (offset, line) where the line changes, in offset order (what
    /// `dis.findlinestarts` gives; a line of 0: no line).
    pub line_starts: Vec<[u32; 2]>,
    /// Samples with this code object innermost (self time).
    pub self_samples: u64,
    /// Samples with this code object anywhere on the stack.
    pub total_samples: u64,
    /// The instructions that had samples.
    pub instructions: Vec<InstructionSamples>,
}

/// Samples at one instruction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct InstructionSamples {
    /// Byte offset of the instruction in the bytecode (as `dis` numbers them).
    pub offset: u32,
    /// The line it belongs to, as sampled (0: none).
    pub line: u32,
    /// Samples with this instruction executing in the innermost frame.
    #[serde(rename = "self")]
    pub self_samples: u64,
    /// Samples with this instruction executing in any frame (a call
    /// instruction waits for its callee).
    pub total: u64,
}

impl CodeSamples {
    /// The bytecode's bytes (an odd or non-hex string gives what decodes).
    pub fn bytecode_bytes(&self) -> Vec<u8> {
        let hex = self.bytecode.as_bytes();
        hex.chunks_exact(2)
            .map_while(|pair| {
                let text = std::str::from_utf8(pair).ok()?;
                u8::from_str_radix(text, 16).ok()
            })
            .collect()
    }

    /// Hex text of `bytes`, for [`Self::bytecode`].
    pub fn hex(bytes: &[u8]) -> String {
        use std::fmt::Write;
        let mut out = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

/// Refuses a section of another version or with a table of the wrong size.
pub(crate) fn check_opcodes(opcodes: &Opcodes) -> Result<(), String> {
    if opcodes.version != OPCODES_VERSION {
        return Err(format!(
            "opcodes section version {} is not one this snakescope reads ({OPCODES_VERSION})",
            opcodes.version
        ));
    }
    if let Some(t) = &opcodes.table {
        let sizes = [t.names.len(), t.caches.len(), t.generic.len()];
        if sizes.iter().any(|&n| n != 256) || t.generic.iter().any(|&g| g > 255) {
            return Err("the opcode table does not have 256 entries".to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::CodeSamples;

    #[test]
    fn bytecode_round_trips_through_hex() {
        let bytes = [0x97, 0x00, 0x7c, 0x01, 0xff];
        let code = CodeSamples {
            bytecode: CodeSamples::hex(&bytes),
            ..CodeSamples::default()
        };
        assert_eq!(code.bytecode, "97007c01ff");
        assert_eq!(code.bytecode_bytes(), bytes);
    }
}
