//! Frames no thread is running: a suspended coroutine's frame, which lives
//! in the coroutine object (3.11+) or is a frame object it holds (3.8–3.10),
//! linked to nothing. Read one at a time, with the same checks as a stack's
//! frames but for the chain's (a suspended frame has no caller).

use super::frames::code_and_instr;
use super::threads::MAX_INTERPRETERS;
use super::{FrameRef, WalkError, Walker};
use crate::reader::{u32_at, u64_at, MemoryReader};
use snakescope_layouts::FrameModel;

impl Walker {
    /// The frame at `frame`, not running: its code object and the line it
    /// stopped at (the `await` a coroutine waits on).
    pub fn suspended_frame(
        &mut self,
        r: &dyn MemoryReader,
        frame: u64,
    ) -> Result<FrameRef, WalkError> {
        let o = self.layout.offsets;
        let model = self.layout.frames;
        if frame == 0 || frame % 8 != 0 {
            return Err(WalkError::Torn("implausible frame address"));
        }
        let buf = r.read_vec(frame, o.frame_size as usize)?;
        if let (FrameModel::Objects(_), Some(ty)) = (model, self.types.frame) {
            if u64_at(&buf, o.object_type) != ty {
                return Err(WalkError::Torn("not a frame object"));
            }
        }
        let (code, instr) = code_and_instr(&o, model, |off, n| {
            Ok(match n {
                4 => u64::from(u32_at(&buf, off)),
                _ => u64_at(&buf, off),
            })
        })?;
        self.pending.clear();
        self.pending.push((code, instr, frame));
        self.entries.clear();
        self.entries.push(true);
        self.code_cache.header_index.clear();
        self.code_cache.headers.clear();
        // Remembered under no thread: key 0 is no thread state's address.
        self.read_code_headers(r, 0)?;
        let (serial, line) = self.line_of(r, code, instr)?;
        let offset = self.instr_offset(code, instr);
        Ok(FrameRef {
            code,
            serial,
            line,
            offset,
            frame,
        })
    }

    /// The address of every interpreter state, newest first.
    pub fn interpreters(&self, r: &dyn MemoryReader) -> Vec<u64> {
        let o = self.layout.offsets;
        let mut all = Vec::new();
        let mut interp = r
            .read_u64(self.runtime + o.runtime_interpreters_head)
            .unwrap_or(0);
        while interp != 0 && all.len() < MAX_INTERPRETERS {
            all.push(interp);
            interp = r.read_u64(interp + o.interp_next).unwrap_or(0);
        }
        all
    }
}
