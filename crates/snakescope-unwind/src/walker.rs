//! Interpreter → threads → frames → code → (function, file, line).
//!
//! Runs on the sampling thread: it never allocates per frame once a code
//! object is known, and never trusts a pointer it read without checking it.

use crate::code::CodeInfo;
use crate::linetable::line_for_offset;
use crate::reader::{u32_at, u64_at, u8_at, MemoryReader, ReadError};
use crate::strings::StringError;
use snakescope_layouts::{CurrentFrame, GilBase, Layout, FRAME_OWNED_BY_CSTACK};
use std::collections::HashMap;

/// Deepest stack the walker follows; deeper means a cycle from a torn read.
pub const MAX_DEPTH: usize = 65_536;
/// Most threads (over all interpreters) the walker lists.
const MAX_THREADS: usize = 100_000;
/// Largest stack snapshot taken in one read; deeper stacks are read frame by frame.
const MAX_SNAPSHOT: u64 = 1 << 20;
/// Most bytes read from the start of an interpreter state (`next`, `threads.head`).
const INTERP_HEAD_LEN: usize = 256;
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
    /// Address of the thread's current `_PyStackChunk`, 0 when none.
    pub stack_chunk: u64,
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
    snapshot: Vec<u8>,
    snapshot_base: u64,
    pending: Vec<(u64, u64)>,
    headers: Vec<u8>,
    header_index: HashMap<u64, usize>,
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
            snapshot: Vec::new(),
            snapshot_base: 0,
            pending: Vec::new(),
            headers: Vec::new(),
            header_index: HashMap::new(),
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
            let (next, mut tstate) = self.interp_links(r, interp)?;
            let holder = self.gil_holder(r, interp)?;
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
                    stack_chunk: u64_at(&self.thread_buf, o.thread_datastack_chunk),
                    holds_gil: holder.map(|h| h == tstate),
                });
                tstate = u64_at(&self.thread_buf, o.thread_next);
            }
            interp = next;
        }
        Ok(threads)
    }

    /// An interpreter's `next` and `threads.head`: one read when they are
    /// close together (3.11, 3.12), two otherwise.
    fn interp_links(&self, r: &dyn MemoryReader, interp: u64) -> Result<(u64, u64), WalkError> {
        let o = self.layout.offsets;
        let len = (o.interp_next.max(o.interp_threads_head) + 8) as usize;
        if len > INTERP_HEAD_LEN {
            return Ok((r.read_u64(interp + o.interp_next)?, r.read_u64(interp + o.interp_threads_head)?));
        }
        let mut head = [0u8; INTERP_HEAD_LEN];
        r.read(interp, &mut head[..len])?;
        Ok((u64_at(&head, o.interp_next), u64_at(&head, o.interp_threads_head)))
    }

    /// Which thread state holds the GIL: `Some(0)` when nobody does, `None`
    /// when the build has no GIL. `locked` and `last_holder` are neighbours,
    /// so one read covers both.
    fn gil_holder(&self, r: &dyn MemoryReader, interp: u64) -> Result<Option<u64>, WalkError> {
        let Some(gil) = self.layout.offsets.gil else { return Ok(None) };
        let base = match gil.base {
            GilBase::Runtime => self.runtime,
            GilBase::Interpreter => interp,
        };
        let from = gil.locked.min(gil.holder);
        let len = (gil.locked.max(gil.holder) + 8 - from) as usize;
        let mut buf = [0u8; 64];
        if len > buf.len() {
            return Err(WalkError::Torn("GIL fields far apart"));
        }
        r.read(base + from, &mut buf[..len])?;
        if u32_at(&buf, gil.locked - from) == 0 {
            return Ok(Some(0));
        }
        Ok(Some(u64_at(&buf, gil.holder - from)))
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

    /// Appends the stack of `thread` to `out`, innermost first.
    ///
    /// Three steps, each as few system calls as possible: one snapshot of the
    /// live part of the thread's frame stack (most frames live there; the rest,
    /// such as generator frames, are read one by one), one vectored read of the
    /// headers of every code object on the stack, then the line of each frame
    /// from the cached line tables.
    pub fn walk(&mut self, r: &dyn MemoryReader, thread: &ThreadInfo, out: &mut Vec<FrameRef>) -> Result<(), WalkError> {
        if thread.top_frame == 0 {
            return Ok(());
        }
        self.snapshot_stack(r, thread);
        self.collect_frames(r, thread.top_frame)?;
        self.read_code_headers(r)?;
        for i in 0..self.pending.len() {
            let (code, instr) = self.pending[i];
            let (serial, line) = self.line_of(r, code, instr)?;
            out.push(FrameRef { code, serial, line });
        }
        Ok(())
    }

    /// Copies `[chunk data, top frame end)` in one read when it is small.
    fn snapshot_stack(&mut self, r: &dyn MemoryReader, thread: &ThreadInfo) {
        let o = self.layout.offsets;
        self.snapshot.clear();
        let chunk = thread.stack_chunk;
        let start = if chunk == 0 { thread.top_frame } else { (chunk + o.stack_chunk_data).min(thread.top_frame) };
        let end = thread.top_frame + o.frame_size;
        if end - start > MAX_SNAPSHOT {
            self.snapshot_base = thread.top_frame;
            return;
        }
        self.snapshot.resize((end - start) as usize, 0);
        if r.read(start, &mut self.snapshot).is_err() {
            self.snapshot.clear();
        }
        self.snapshot_base = start;
    }

    /// Follows `previous` from `top`, noting each frame's code and instruction.
    fn collect_frames(&mut self, r: &dyn MemoryReader, top: u64) -> Result<(), WalkError> {
        let o = self.layout.offsets;
        self.pending.clear();
        let mut frame = top;
        let mut depth = 0;
        while frame != 0 {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(WalkError::Torn("frame chain too long"));
            }
            let fsize = o.frame_size as usize;
            let local = frame.checked_sub(self.snapshot_base).map(|off| off as usize);
            let buf: &[u8] = match local {
                Some(off) if off + fsize <= self.snapshot.len() => &self.snapshot[off..off + fsize],
                _ => {
                    r.read(frame, &mut self.frame_buf)?;
                    &self.frame_buf
                }
            };
            let previous = u64_at(buf, o.frame_previous);
            if u8_at(buf, o.frame_owner) != FRAME_OWNED_BY_CSTACK {
                let mut code = u64_at(buf, o.frame_code);
                if o.frame_code_tagged {
                    code &= !7;
                }
                if code == 0 {
                    return Err(WalkError::Torn("null code object"));
                }
                self.pending.push((code, u64_at(buf, o.frame_instr)));
            }
            frame = previous;
        }
        Ok(())
    }

    /// Reads the header of every distinct code object in `pending`, in one call.
    fn read_code_headers(&mut self, r: &dyn MemoryReader) -> Result<(), WalkError> {
        let len = self.layout.offsets.code_header_len() as usize;
        self.header_index.clear();
        for &(code, _) in &self.pending {
            let next = self.header_index.len();
            self.header_index.entry(code).or_insert(next);
        }
        self.headers.resize(self.header_index.len() * len, 0);
        let mut requests: Vec<(u64, &mut [u8])> = Vec::with_capacity(self.header_index.len());
        let mut order: Vec<(usize, u64)> = self.header_index.iter().map(|(&c, &i)| (i, c)).collect();
        order.sort_unstable();
        for (chunk, (_, code)) in self.headers.chunks_mut(len).zip(order) {
            requests.push((code, chunk));
        }
        r.read_many(&mut requests)?;
        Ok(())
    }

    /// Loads (or revalidates) the code object at `code` and finds the line of `instr`.
    fn line_of(&mut self, r: &dyn MemoryReader, code: u64, instr: u64) -> Result<(u64, u32), WalkError> {
        let o = self.layout.offsets;
        if code == 0 {
            return Err(WalkError::Torn("null code object"));
        }
        let len = o.code_header_len() as usize;
        let at = self.header_index[&code] * len;
        let header = &self.headers[at..at + len];
        if let Some(ty) = self.code_type {
            if u64_at(header, o.object_type) != ty {
                return Err(WalkError::Torn("not a code object"));
            }
        }
        let fresh = match self.codes.get(&code) {
            Some(info) => !info.matches(&o, header),
            None => true,
        };
        if fresh {
            if self.codes.len() >= MAX_CODES {
                self.codes.clear();
            }
            let mut info = CodeInfo::load(r, &o, header)?;
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
