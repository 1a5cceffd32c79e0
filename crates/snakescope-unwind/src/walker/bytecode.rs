//! Instructions, for `--opcodes`: where a frame's instruction sits in its
//! code object's bytecode (a byte offset, as `dis` numbers them), the
//! bytecode itself as it is in memory now (3.11+: `co_code_adaptive`, with
//! the specialised instructions the interpreter wrote there; 3.8–3.10:
//! `co_code`), and the line of any offset.

use super::{Walker, NOT_STARTED};
use crate::code::CodeInfo;
use crate::linetable::{line_310, line_for_offset, line_lnotab};
use crate::reader::{u64_at, MemoryReader};
use snakescope_layouts::{FrameModel, Lasti, LineFormat};

/// Largest bytecode read (CPython's own limit on a code object's size is
/// far larger, but no function has megabytes of instructions).
const MAX_BYTECODE: usize = 1 << 22;

impl Walker {
    /// The byte offset of `instr` (a frame's raw instruction value) in the
    /// bytecode of the (loaded, bounds-checked) code object at `code`.
    pub(super) fn instr_offset(&self, code: u64, instr: u64) -> u32 {
        let offset = match self.layout.frames {
            FrameModel::Objects(f) => match u64::try_from(instr as i64) {
                Err(_) => return NOT_STARTED, // f_lasti −1
                Ok(lasti) => match f.lasti {
                    Lasti::Bytes => lasti,
                    Lasti::Units => lasti.saturating_mul(2),
                },
            },
            FrameModel::Interpreter => {
                let start = code + self.layout.offsets.code_adaptive;
                match instr.checked_sub(start) {
                    Some(bytes) => bytes & !1,
                    None => return NOT_STARTED,
                }
            }
        };
        u32::try_from(offset).unwrap_or(NOT_STARTED)
    }

    /// The bytecode of the code object at `code` as it is now, if it is
    /// still the one loaded with `serial` (its header is read again and
    /// checked); `None` when it is gone or changed, or a read fails.
    pub fn bytecode(&self, r: &dyn MemoryReader, code: u64, serial: u64) -> Option<Vec<u8>> {
        let o = self.layout.offsets;
        let info = self.code(code).filter(|i| i.serial == serial)?;
        let header = r.read_vec(code, o.code_header_len() as usize).ok()?;
        if self
            .types
            .code
            .is_some_and(|ty| u64_at(&header, o.object_type) != ty)
            || !info.matches(&o, &self.layout.frames, &header)
        {
            return None;
        }
        let len = usize::try_from(info.units.checked_mul(2)?)
            .ok()
            .filter(|&len| len <= MAX_BYTECODE)?;
        let start = match self.layout.frames {
            FrameModel::Interpreter => code + o.code_adaptive,
            FrameModel::Objects(_) => info.co_code + o.bytes_sval,
        };
        r.read_vec(start, len).ok()
    }

    /// The line of the instruction at byte offset `offset` of `code`'s bytecode.
    pub fn line_at(&self, code: &CodeInfo, offset: u32) -> Option<u32> {
        let offset = u64::from(offset);
        match self.layout.frames {
            FrameModel::Interpreter => {
                line_for_offset(&code.linetable, code.first_line, offset / 2)
            }
            FrameModel::Objects(f) => match f.lines {
                LineFormat::Lnotab => line_lnotab(&code.linetable, code.first_line, offset),
                LineFormat::Lines310 => line_310(&code.linetable, code.first_line, offset),
            },
        }
    }
}
