//! The key of a thread's stack: what each frame runs (its code object and
//! instruction, which determine its function and line), hashed, read
//! without decoding anything. Equal keys mean equal walks (up to a 64-bit
//! hash collision), so a cache of what walks found — the memory hooks'
//! allocation sites — needs no walk for a stack it has seen.

use super::frames::code_and_instr;
use super::{WalkError, Walker, MAX_DEPTH};
use crate::reader::MemoryReader;
use snakescope_layouts::CurrentFrame;

impl Walker {
    /// The key of the stack of the thread state at `tstate`: its innermost
    /// frame as [`Self::walk`] finds it, then each frame's code object and
    /// instruction, following `previous` (shim frames included: they only
    /// make keys stricter). Three reads per frame, each inside the thread
    /// state or a frame, so it suits a reader of live objects only (see
    /// [`Self::read_live_objects_only`]). Generic over the reader so that
    /// plain loads of the caller's own stack inline: in exact memory mode it
    /// runs on every allocation.
    #[inline]
    pub fn stack_key<R: MemoryReader>(&self, r: &R, tstate: u64) -> Result<u64, WalkError> {
        let o = &self.layout.offsets;
        let model = self.layout.frames;
        let mut frame = match o.current_frame {
            CurrentFrame::Direct(off) => r.read_u64(tstate + off)?,
            CurrentFrame::ViaCFrame {
                cframe,
                current_frame,
            } => match r.read_u64(tstate + cframe)? {
                0 => 0,
                cf => r.read_u64(cf + current_frame)?,
            },
        };
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut depth = 0u64;
        while frame != 0 {
            depth += 1;
            if depth > MAX_DEPTH as u64 {
                return Err(WalkError::Torn("frame chain too long"));
            }
            let (code, instr) = code_and_instr(o, model, |off, width| {
                Ok(match width {
                    4 => u64::from(r.read_u32(frame + off)?),
                    _ => r.read_u64(frame + off)?,
                })
            })?;
            // One multiply on the chain from frame to frame (the other does
            // not depend on `h`).
            let v = code.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ instr;
            h = (h ^ v).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(17);
            frame = r.read_u64(frame + o.frame_previous)?;
        }
        Ok(h ^ depth)
    }
}
