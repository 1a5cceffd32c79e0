//! Interpreter → threads → frames → code → (function, file, line).
//!
//! Runs on the sampling thread: it never allocates per frame once a code
//! object is known, and never trusts a pointer it read without checking it.

use crate::code::CodeInfo;
use crate::linetable::line_for_offset;
use crate::reader::{u64_at, u8_at, MemoryReader, ReadError};
use crate::strings::StringError;
use snakescope_layouts::{CurrentFrame, GilBase, Layout, FRAME_OWNED_BY_CSTACK};
use std::collections::HashMap;

/// Deepest stack the walker follows; deeper means a cycle from a torn read.
pub const MAX_DEPTH: usize = 65_536;
/// Most threads (over all interpreters) the walker lists.
const MAX_THREADS: usize = 100_000;
/// Code objects remembered before the cache is cleared.
const MAX_CODES: usize = 200_000;

/// Why a stack could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The target changed what was being read; the sample is discarded.
    #[error("inconsistent read ({0})")]
    Torn(&'static str),
}

impl From<StringError> for WalkError {
    fn from(e: StringError) -> Self {
        match e {
            StringError::Read(r) => WalkError::Read(r),
            StringError::Implausible => WalkError::Torn("string"),
        }
    }
}

/// One Python thread state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadInfo {
    /// Address of the `PyThreadState`.
    pub addr: u64,
    /// OS thread id (`native_thread_id`).
    pub native_id: u64,
    /// `threading.get_ident()` (the pthread id).
    pub thread_id: u64,
    /// Address of the innermost `_PyInterpreterFrame`, 0 when none.
    pub top_frame: u64,
    /// Whether this thread held the GIL when read; `None` without a GIL.
    pub holds_gil: Option<bool>,
}

/// A frame as the walker saw it: a code object (see [`Walker::code`]) and a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRef {
    pub code: u64,
    /// Changes whenever the code object at `code` is (re)loaded, so a frame
    /// cache keyed on it never confuses two code objects at one address.
    pub serial: u64,
    pub line: u32,
}

/// Walks the stacks of one interpreter process.
#[derive(Debug)]
pub struct Walker {
    layout: Layout,
    runtime: u64,
    code_type: Option<u64>,
    codes: HashMap<u64, CodeInfo>,
    next_serial: u64,
    header: Vec<u8>,
    frame_buf: Vec<u8>,
    thread_buf: Vec<u8>,
}

impl Walker {
    /// A walker for the interpreter whose `_PyRuntime` is at `runtime`. When
    /// `code_type` (the address of `PyCode_Type`) is known, every code object is
    /// checked against it.
    pub fn new(layout: Layout, runtime: u64, code_type: Option<u64>) -> Walker {
        let o = &layout.offsets;
        Walker {
            layout,
            runtime,
            code_type,
            codes: HashMap::new(),
            next_serial: 0,
            header: vec![0; o.code_header_len() as usize],
            frame_buf: vec![0; o.frame_size as usize],
            thread_buf: vec![0; o.thread_size as usize],
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The code object a [`FrameRef`] names (it was loaded by [`Self::walk`]).
    pub fn code(&self, addr: u64) -> Option<&CodeInfo> {
        self.codes.get(&addr)
    }

    /// Every thread of every interpreter, with the GIL holder marked.
    pub fn threads(&mut self, r: &dyn MemoryReader) -> Result<Vec<ThreadInfo>, WalkError> {
        let o = self.layout.offsets;
        let mut threads = Vec::new();
        let mut interp = r.read_u64(self.runtime + o.runtime_interpreters_head)?;
        while interp != 0 {
            let holder = self.gil_holder(r, interp)?;
            let mut tstate = r.read_u64(interp + o.interp_threads_head)?;
            while tstate != 0 {
                if threads.len() >= MAX_THREADS {
                    return Err(WalkError::Torn("thread list"));
                }
                r.read(tstate, &mut self.thread_buf)?;
                let top_frame = self.top_frame(r)?;
                threads.push(ThreadInfo {
                    addr: tstate,
                    native_id: u64_at(&self.thread_buf, o.thread_native_thread_id),
                    thread_id: u64_at(&self.thread_buf, o.thread_thread_id),
                    top_frame,
                    holds_gil: holder.map(|h| h == tstate),
                });
                tstate = u64_at(&self.thread_buf, o.thread_next);
            }
            interp = r.read_u64(interp + o.interp_next)?;
        }
        Ok(threads)
    }

    /// Which thread state holds the GIL: `Some(0)` when nobody does, `None`
    /// when the build has no GIL.
    fn gil_holder(&self, r: &dyn MemoryReader, interp: u64) -> Result<Option<u64>, WalkError> {
        let Some(gil) = self.layout.offsets.gil else { return Ok(None) };
        let base = match gil.base {
            GilBase::Runtime => self.runtime,
            GilBase::Interpreter => interp,
        };
        let mut locked = [0u8; 4];
        r.read(base + gil.locked, &mut locked)?;
        if i32::from_le_bytes(locked) == 0 {
            return Ok(Some(0));
        }
        Ok(Some(r.read_u64(base + gil.holder)?))
    }

    /// The innermost frame of the thread state in `thread_buf`.
    fn top_frame(&self, r: &dyn MemoryReader) -> Result<u64, WalkError> {
        match self.layout.offsets.current_frame {
            CurrentFrame::Direct(off) => Ok(u64_at(&self.thread_buf, off)),
            CurrentFrame::ViaCFrame { cframe, current_frame } => {
                let cf = u64_at(&self.thread_buf, cframe);
                if cf == 0 {
                    return Ok(0);
                }
                Ok(r.read_u64(cf + current_frame)?)
            }
        }
    }

    /// Appends the stack starting at frame `top` to `out`, innermost first.
    pub fn walk(&mut self, r: &dyn MemoryReader, top: u64, out: &mut Vec<FrameRef>) -> Result<(), WalkError> {
        let o = self.layout.offsets;
        let mut frame = top;
        let mut depth = 0;
        while frame != 0 {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(WalkError::Torn("frame chain too long"));
            }
            r.read(frame, &mut self.frame_buf)?;
            let previous = u64_at(&self.frame_buf, o.frame_previous);
            if u8_at(&self.frame_buf, o.frame_owner) == FRAME_OWNED_BY_CSTACK {
                frame = previous;
                continue;
            }
            let mut code = u64_at(&self.frame_buf, o.frame_code);
            if o.frame_code_tagged {
                code &= !7;
            }
            let instr = u64_at(&self.frame_buf, o.frame_instr);
            let (serial, line) = self.line_of(r, code, instr)?;
            out.push(FrameRef { code, serial, line });
            frame = previous;
        }
        Ok(())
    }

    /// Loads (or revalidates) the code object at `code` and finds the line of `instr`.
    fn line_of(&mut self, r: &dyn MemoryReader, code: u64, instr: u64) -> Result<(u64, u32), WalkError> {
        let o = self.layout.offsets;
        if code == 0 {
            return Err(WalkError::Torn("null code object"));
        }
        r.read(code, &mut self.header)?;
        if let Some(ty) = self.code_type {
            if u64_at(&self.header, o.object_type) != ty {
                return Err(WalkError::Torn("not a code object"));
            }
        }
        let fresh = match self.codes.get(&code) {
            Some(info) => !info.matches(&o, &self.header),
            None => true,
        };
        if fresh {
            if self.codes.len() >= MAX_CODES {
                self.codes.clear();
            }
            let mut info = CodeInfo::load(r, &o, &self.header)?;
            self.next_serial += 1;
            info.serial = self.next_serial;
            self.codes.insert(code, info);
        }
        let info = &self.codes[&code];
        let start = code + o.code_adaptive;
        if instr < start {
            // A frame that has not executed its first instruction yet.
            return Ok((info.serial, info.first_line));
        }
        let unit = (instr - start) / 2;
        if unit >= info.units.max(1) {
            return Err(WalkError::Torn("instruction outside its code object"));
        }
        Ok((info.serial, line_for_offset(&info.linetable, info.first_line, unit).unwrap_or(0)))
    }
}
