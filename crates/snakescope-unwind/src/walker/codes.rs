//! The code objects: headers read together with the stack (guessed from the
//! thread's previous sample), each code object decoded once and revalidated
//! against its header at every sample, and lines decoded once per
//! (code object, instruction).

use super::{WalkError, Walker};
use crate::code::CodeInfo;
use crate::linetable::{line_310, line_for_offset, line_lnotab};
use crate::reader::{u64_at, MemoryReader};
use rustc_hash::FxHashMap;
use snakescope_layouts::{FrameModel, Lasti, LineFormat};

/// Code objects per thread whose headers are read along with its stack.
const MAX_GUESSES: usize = 64;
/// Threads whose code objects are remembered for that.
const MAX_GUESSED_THREADS: usize = 4096;
/// Code objects remembered before the cache is cleared.
const MAX_CODES: usize = 200_000;
/// Bound of [`CodeCache::lines`].
const MAX_LINES: usize = 1 << 16;

/// What the walker knows of code objects.
#[derive(Debug, Default)]
pub(super) struct CodeCache {
    /// Decoded code objects by address.
    pub(super) codes: FxHashMap<u64, CodeInfo>,
    next_serial: u64,
    /// The headers read at this sample, and where each code object's is.
    pub(super) headers: Vec<u8>,
    pub(super) header_index: FxHashMap<u64, usize>,
    /// Per thread state, the code objects on its stack at the previous sample.
    pub(super) code_guesses: FxHashMap<u64, Vec<u64>>,
    /// `(code serial, instruction)` → line: decoding a line table runs from
    /// its start, so the deep, one-off stacks of module code (imports), seen
    /// again and again by memory tracking, would decode the same big tables
    /// for every frame. Serials are unique per code object load, so an entry
    /// never goes stale; cleared when it reaches [`MAX_LINES`].
    lines: FxHashMap<(u64, u64), u32>,
}

impl Walker {
    /// Reads the header of every distinct code object in `pending`, in one call.
    pub(super) fn read_code_headers(
        &mut self,
        r: &dyn MemoryReader,
        thread: u64,
    ) -> Result<(), WalkError> {
        let len = self.layout.offsets.code_header_len() as usize;
        let known = self.code_cache.header_index.len();
        let mut missing = Vec::new();
        for &(code, _, _) in &self.pending {
            if let std::collections::hash_map::Entry::Vacant(slot) =
                self.code_cache.header_index.entry(code)
            {
                slot.insert(known + missing.len());
                missing.push(code);
            }
        }
        if !missing.is_empty() {
            self.code_cache
                .headers
                .resize((known + missing.len()) * len, 0);
            let mut requests: Vec<(u64, &mut [u8])> = self.code_cache.headers[known * len..]
                .chunks_mut(len)
                .zip(&missing)
                .map(|(buf, &c)| (c, buf))
                .collect();
            r.read_many(&mut requests)?;
        }
        // Next time, read these together with the stack.
        if self.live_only {
            return Ok(());
        }
        if self.code_cache.code_guesses.len() >= MAX_GUESSED_THREADS {
            self.code_cache.code_guesses.clear();
        }
        let mut codes: Vec<u64> = Vec::with_capacity(MAX_GUESSES);
        for &(code, _, _) in &self.pending {
            if codes.len() < MAX_GUESSES && !codes.contains(&code) {
                codes.push(code);
            }
        }
        self.code_cache.code_guesses.insert(thread, codes);
        Ok(())
    }

    /// Loads (or revalidates) the code object at `code` and finds the line of `instr`.
    pub(super) fn line_of(
        &mut self,
        r: &dyn MemoryReader,
        code: u64,
        instr: u64,
    ) -> Result<(u64, u32), WalkError> {
        let o = self.layout.offsets;
        if code == 0 {
            return Err(WalkError::Torn("null code object"));
        }
        let len = o.code_header_len() as usize;
        let at = self.code_cache.header_index[&code] * len;
        let header = &self.code_cache.headers[at..at + len];
        if let Some(ty) = self.types.code {
            if u64_at(header, o.object_type) != ty {
                return Err(WalkError::Torn("not a code object"));
            }
        }
        let fresh = match self.code_cache.codes.get(&code) {
            Some(info) => !info.matches(&o, &self.layout.frames, header),
            None => true,
        };
        if fresh {
            if self.code_cache.codes.len() >= MAX_CODES {
                self.code_cache.codes.clear();
            }
            let mut info = CodeInfo::load(r, &o, &self.layout.frames, &self.types, header)?;
            self.code_cache.next_serial += 1;
            info.serial = self.code_cache.next_serial;
            self.code_cache.codes.insert(code, info);
        }
        let serial = self.code_cache.codes[&code].serial;
        if let Some(&line) = self.code_cache.lines.get(&(serial, instr)) {
            return Ok((serial, line));
        }
        let (serial, line) = self.decode_line(code, instr)?;
        if self.code_cache.lines.len() >= MAX_LINES {
            self.code_cache.lines.clear();
        }
        self.code_cache.lines.insert((serial, instr), line);
        Ok((serial, line))
    }

    /// The line of `instr` in the (loaded) code object at `code`, decoded.
    fn decode_line(&self, code: u64, instr: u64) -> Result<(u64, u32), WalkError> {
        let o = self.layout.offsets;
        let info = &self.code_cache.codes[&code];
        if let FrameModel::Objects(f) = self.layout.frames {
            // `instr` is `f_lasti`, sign-extended.
            let Ok(lasti) = u64::try_from(instr as i64) else {
                return Ok((info.serial, info.first_line));
            };
            let addr = match f.lasti {
                Lasti::Bytes => lasti,
                Lasti::Units => lasti.saturating_mul(2),
            };
            if addr >= info.units.max(1).saturating_mul(2) {
                return Err(WalkError::Torn("instruction outside its code object"));
            }
            let line = match f.lines {
                LineFormat::Lnotab => line_lnotab(&info.linetable, info.first_line, addr),
                LineFormat::Lines310 => line_310(&info.linetable, info.first_line, addr),
            };
            return Ok((info.serial, line.unwrap_or(0)));
        }
        let start = code + o.code_adaptive;
        if instr < start {
            // A frame that has not executed its first instruction yet.
            return Ok((info.serial, info.first_line));
        }
        let unit = (instr - start) / 2;
        if unit >= info.units.max(1) {
            return Err(WalkError::Torn("instruction outside its code object"));
        }
        Ok((
            info.serial,
            line_for_offset(&info.linetable, info.first_line, unit).unwrap_or(0),
        ))
    }
}
