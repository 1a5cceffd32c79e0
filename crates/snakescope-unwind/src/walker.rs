//! Interpreter → threads → frames → code → (function, file, line).
//!
//! Runs on the sampling thread: it never allocates per frame once a code
//! object is known, and never trusts a pointer it read without checking it.

use crate::code::CodeInfo;
use crate::linetable::{line_310, line_for_offset, line_lnotab};
use crate::objects::ObjectReader;
use crate::reader::{u32_at, u64_at, u8_at, MemoryReader, ReadError};
use crate::strings::StringError;
use rustc_hash::FxHashMap;
use snakescope_layouts::{CurrentFrame, FrameModel, GilBase, Lasti, Layout, LineFormat, NativeId};
use std::collections::HashMap;

/// Deepest stack the walker follows; deeper means a cycle from a torn read.
pub const MAX_DEPTH: usize = 65_536;
/// Most threads (over all interpreters) the walker lists.
const MAX_THREADS: usize = 100_000;
/// Largest stack snapshot taken in one read; deeper stacks are read frame by frame.
const MAX_SNAPSHOT: u64 = 1 << 20;
/// Bytes read below a frame found outside the stack snapshot (the size of
/// CPython's first data-stack chunk).
const WINDOW: u64 = 16 * 1024;
/// Where user space ends on every 64-bit target we run on (x86-64 with
/// five-level paging reaches 2^56; four-level and aarch64 stop at 2^47–2^48).
const USER_SPACE_END: u64 = 1 << 56;
/// Code objects per thread whose headers are read along with its stack.
const MAX_GUESSES: usize = 64;
/// Threads whose code objects are remembered for that.
const MAX_GUESSED_THREADS: usize = 4096;
/// Interpreters searched for thread names.
const MAX_INTERPRETERS: usize = 64;
/// Reads of the thread list between re-reads of `interpreters.head`.
const INTERP_REFRESH: u32 = 64;
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
    /// Address of the thread's `_PyCFrame` (3.11, 3.12), else 0.
    pub cframe: u64,
    /// Address of the innermost `_PyInterpreterFrame` when the thread state
    /// holds it directly (3.13+), or of the innermost `PyFrameObject`
    /// (3.8–3.10); else 0 and found through `cframe` by the walk.
    pub top_frame: u64,
    /// Address of the thread's current `_PyStackChunk`, 0 when none.
    pub stack_chunk: u64,
    /// `datastack_top`, the end of the chunk's live part, 0 when unknown.
    pub stack_top: u64,
    /// Whether this thread held the GIL when read; `None` without a GIL.
    pub holds_gil: Option<bool>,
}

/// Addresses of the interpreter's type objects, to check that what is read
/// is what it should be (a code object, a `str`, a `bytes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeAddresses {
    pub code: Option<u64>,
    pub unicode: Option<u64>,
    pub bytes: Option<u64>,
    /// `PyFrame_Type`: frames are objects on 3.8–3.10.
    pub frame: Option<u64>,
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
    types: TypeAddresses,
    codes: FxHashMap<u64, CodeInfo>,
    next_serial: u64,
    interp_head: u64,
    interp_head_age: u32,
    predicted: Vec<u64>,
    predicted_bufs: Vec<u8>,
    predicted_read: bool,
    snapshot: Vec<u8>,
    snapshot_base: u64,
    window: Vec<u8>,
    window_base: u64,
    pending: Vec<(u64, u64)>,
    headers: Vec<u8>,
    header_index: FxHashMap<u64, usize>,
    code_guesses: FxHashMap<u64, Vec<u64>>,
    frame_buf: Vec<u8>,
    thread_buf: Vec<u8>,
    /// `(code serial, instruction)` → line: decoding a line table runs from
    /// its start, so the deep, one-off stacks of module code (imports), seen
    /// again and again by memory tracking, would decode the same big tables
    /// for every frame. Serials are unique per code object load, so an entry
    /// never goes stale; cleared when it reaches [`MAX_LINES`].
    lines: FxHashMap<(u64, u64), u32>,
    /// See [`Walker::read_live_objects_only`].
    live_only: bool,
}

/// Bound of [`Walker::lines`].
const MAX_LINES: usize = 1 << 16;

impl Walker {
    /// A walker for the interpreter whose `_PyRuntime` is at `runtime`. Every
    /// object whose type's address is known in `types` is checked against it.
    pub fn new(layout: Layout, runtime: u64, types: TypeAddresses) -> Walker {
        let o = &layout.offsets;
        Walker {
            layout,
            runtime,
            types,
            codes: FxHashMap::default(),
            next_serial: 0,
            interp_head: 0,
            interp_head_age: 0,
            predicted: Vec::new(),
            predicted_bufs: Vec::new(),
            predicted_read: false,
            snapshot: Vec::new(),
            snapshot_base: 0,
            window: Vec::new(),
            window_base: 0,
            pending: Vec::new(),
            headers: Vec::new(),
            header_index: FxHashMap::default(),
            code_guesses: FxHashMap::default(),
            frame_buf: vec![0; o.frame_size as usize],
            thread_buf: vec![0; o.thread_size as usize],
            lines: FxHashMap::default(),
            live_only: false,
        }
    }

    /// Reads nothing but the objects a live frame chain points at, each
    /// within its bounds: no snapshot of a stack range, no window below a
    /// frame, no code objects remembered from an earlier walk. For a reader
    /// that cannot survive a read of unmapped memory — plain loads by the
    /// calling thread of its own stack, which cannot change under it (the
    /// memory hooks) — where those reads, cheap through `process_vm_readv`
    /// which fails cleanly, could touch memory freed since or never mapped.
    pub fn read_live_objects_only(&mut self, on: bool) {
        self.live_only = on;
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
        let has_chunks = self.layout.frames == FrameModel::Interpreter;
        let mut threads = Vec::new();
        let mut interp = self.first_interpreter(r)?;
        while interp != 0 {
            let (next, mut tstate, holder) = self.interp_state(r, interp)?;
            let first = threads.len();
            while tstate != 0 {
                if threads.len() >= MAX_THREADS {
                    return Err(WalkError::Torn("thread list"));
                }
                let b = self.thread_state(r, interp, threads.len() - first, tstate)?;
                let (cframe, top_frame) = match o.current_frame {
                    CurrentFrame::Direct(off) => (0, u64_at(b, off)),
                    CurrentFrame::ViaCFrame { cframe, .. } => (u64_at(b, cframe), 0),
                };
                threads.push(ThreadInfo {
                    addr: tstate,
                    native_id: u64_at(b, o.thread_native_thread_id),
                    thread_id: u64_at(b, o.thread_thread_id),
                    cframe,
                    top_frame,
                    stack_chunk: if has_chunks {
                        u64_at(b, o.thread_datastack_chunk)
                    } else {
                        0
                    },
                    stack_top: o.thread_datastack_top.map_or(0, |off| u64_at(b, off)),
                    holds_gil: holder.map(|h| h == tstate),
                });
                tstate = u64_at(b, o.thread_next);
            }
            if interp == self.interp_head {
                self.predicted = threads[first..].iter().map(|t| t.addr).collect();
            }
            interp = next;
        }
        self.native_ids(r, &mut threads);
        Ok(threads)
    }

    /// Fills in `native_id` where the thread state has no such field
    /// (3.8–3.10): the `tid` in glibc's `struct pthread`, which `thread_id`
    /// points to, for every thread in one read (one by one if that fails;
    /// 0 for a thread whose `struct pthread` cannot be read).
    fn native_ids(&self, r: &dyn MemoryReader, threads: &mut [ThreadInfo]) {
        let NativeId::PthreadTid(off) = self.layout.native_id else {
            return;
        };
        let mut tids = vec![[0u8; 4]; threads.len()];
        let mut requests: Vec<(u64, &mut [u8])> = threads
            .iter()
            .zip(tids.iter_mut())
            .map(|(t, buf)| (t.thread_id.wrapping_add(off), &mut buf[..]))
            .collect();
        if r.read_many(&mut requests).is_err() {
            for (addr, buf) in requests.iter_mut() {
                if r.read(*addr, buf).is_err() {
                    buf.fill(0);
                }
            }
        }
        drop(requests);
        for (t, tid) in threads.iter_mut().zip(tids) {
            t.native_id = u64::from(u32::from_le_bytes(tid));
        }
    }

    /// The thread state at `tstate` (found by the caller, e.g. the calling
    /// thread's own), without reading the interpreter's thread list. Whether
    /// it holds the GIL is not known (`None`).
    pub fn thread_at(
        &mut self,
        r: &dyn MemoryReader,
        tstate: u64,
    ) -> Result<ThreadInfo, WalkError> {
        let o = self.layout.offsets;
        let mut b = std::mem::take(&mut self.thread_buf);
        let read = r.read(tstate, &mut b);
        let has_chunks = self.layout.frames == FrameModel::Interpreter;
        let info = read.map(|()| {
            let (cframe, top_frame) = match o.current_frame {
                CurrentFrame::Direct(off) => (0, u64_at(&b, off)),
                CurrentFrame::ViaCFrame { cframe, .. } => (u64_at(&b, cframe), 0),
            };
            ThreadInfo {
                addr: tstate,
                native_id: u64_at(&b, o.thread_native_thread_id),
                thread_id: u64_at(&b, o.thread_thread_id),
                cframe,
                top_frame,
                stack_chunk: if has_chunks {
                    u64_at(&b, o.thread_datastack_chunk)
                } else {
                    0
                },
                stack_top: o.thread_datastack_top.map_or(0, |off| u64_at(&b, off)),
                holds_gil: None,
            }
        });
        self.thread_buf = b;
        let mut info = [info?];
        self.native_ids(r, &mut info);
        Ok(info[0])
    }

    /// `threading`'s names of the threads of every interpreter, by
    /// `threading.get_ident()` ([`ThreadInfo::thread_id`]). Best effort: a
    /// thread not (yet) in `threading._active` has no entry.
    pub fn thread_names(&self, r: &dyn MemoryReader) -> HashMap<u64, String> {
        let o = self.layout.offsets;
        let objects = ObjectReader::new(r, &self.layout);
        let mut names = HashMap::new();
        let mut interp = r
            .read_u64(self.runtime + o.runtime_interpreters_head)
            .unwrap_or(0);
        for _ in 0..MAX_INTERPRETERS {
            if interp == 0 {
                break;
            }
            names.extend(objects.thread_names(interp).unwrap_or_default());
            interp = r.read_u64(interp + o.interp_next).unwrap_or(0);
        }
        names
    }

    /// `_PyRuntime.interpreters.head`, re-read every [`INTERP_REFRESH`] calls:
    /// interpreters come and go far more rarely than threads.
    fn first_interpreter(&mut self, r: &dyn MemoryReader) -> Result<u64, WalkError> {
        if self.interp_head_age == 0 || self.interp_head == 0 {
            self.interp_head =
                r.read_u64(self.runtime + self.layout.offsets.runtime_interpreters_head)?;
            self.interp_head_age = INTERP_REFRESH;
        }
        self.interp_head_age -= 1;
        Ok(self.interp_head)
    }

    /// The `index`-th thread state of `interp`, at `addr`: taken from the
    /// speculative read of [`Self::interp_state`] when the thread list is as it
    /// was at the previous sample (it nearly always is), else read now.
    fn thread_state(
        &mut self,
        r: &dyn MemoryReader,
        interp: u64,
        index: usize,
        addr: u64,
    ) -> Result<&[u8], WalkError> {
        let size = self.thread_buf.len();
        if interp == self.interp_head
            && self.predicted_read
            && self.predicted.get(index) == Some(&addr)
        {
            return Ok(&self.predicted_bufs[index * size..(index + 1) * size]);
        }
        r.read(addr, &mut self.thread_buf)?;
        Ok(&self.thread_buf)
    }

    /// An interpreter's `next`, `threads.head` and GIL holder (`Some(0)` when
    /// the GIL is free, `None` without a GIL), in one vectored read, together
    /// with the thread states the first interpreter had at the previous sample.
    fn interp_state(
        &mut self,
        r: &dyn MemoryReader,
        interp: u64,
    ) -> Result<(u64, u64, Option<u64>), WalkError> {
        let o = self.layout.offsets;
        let mut next = [0u8; 8];
        let mut head = [0u8; 8];
        let mut gil_buf = [0u8; 64];
        let gil = o.gil.map(|g| {
            let base = match g.base {
                GilBase::Runtime => self.runtime,
                GilBase::Interpreter => interp,
            };
            let from = g.locked.min(g.holder);
            (
                g,
                base + from,
                from,
                (g.locked.max(g.holder) + 8 - from) as usize,
            )
        });
        if gil.is_some_and(|(_, _, _, len)| len > gil_buf.len()) {
            return Err(WalkError::Torn("GIL fields far apart"));
        }
        let mut requests: Vec<(u64, &mut [u8])> = vec![
            (interp + o.interp_next, &mut next[..]),
            (interp + o.interp_threads_head, &mut head[..]),
        ];
        if let Some((_, addr, _, len)) = gil {
            requests.push((addr, &mut gil_buf[..len]));
        }
        let size = self.thread_buf.len();
        let speculate = interp == self.interp_head && !self.predicted.is_empty();
        self.predicted_read = false;
        if speculate {
            self.predicted_bufs.resize(self.predicted.len() * size, 0);
            for (buf, &addr) in self.predicted_bufs.chunks_mut(size).zip(&self.predicted) {
                requests.push((addr, buf));
            }
            // A thread that has exited may have left unmapped memory behind:
            // then read again without the guesses.
            if r.read_many(&mut requests).is_ok() {
                self.predicted_read = true;
            } else {
                requests.truncate(if gil.is_some() { 3 } else { 2 });
                r.read_many(&mut requests)?;
            }
        } else {
            r.read_many(&mut requests)?;
        }
        drop(requests);
        let holder = gil.map(|(g, _, from, _)| {
            if u32_at(&gil_buf, g.locked - from) == 0 {
                0
            } else {
                u64_at(&gil_buf, g.holder - from)
            }
        });
        Ok((u64::from_le_bytes(next), u64::from_le_bytes(head), holder))
    }

    /// Appends the stack of `thread` to `out`, innermost first.
    ///
    /// Three steps, each as few system calls as possible: one snapshot of the
    /// live part of the thread's frame stack (most frames live there; the rest,
    /// such as generator frames, are read one by one), one vectored read of the
    /// headers of every code object on the stack, then the line of each frame
    /// from the cached line tables.
    pub fn walk(
        &mut self,
        r: &dyn MemoryReader,
        thread: &ThreadInfo,
        out: &mut Vec<FrameRef>,
    ) -> Result<(), WalkError> {
        let top = match self.layout.frames {
            FrameModel::Interpreter if !self.live_only => self.snapshot_stack(r, thread)?,
            FrameModel::Interpreter => {
                self.snapshot.clear();
                self.header_index.clear();
                self.headers.clear();
                match self.layout.offsets.current_frame {
                    CurrentFrame::Direct(_) => thread.top_frame,
                    CurrentFrame::ViaCFrame { .. } if thread.cframe == 0 => 0,
                    CurrentFrame::ViaCFrame { current_frame, .. } => {
                        r.read_u64(thread.cframe + current_frame)?
                    }
                }
            }
            FrameModel::Objects(_) => {
                self.snapshot.clear();
                self.header_index.clear();
                self.headers.clear();
                thread.top_frame
            }
        };
        if top == 0 {
            return Ok(());
        }
        match self.layout.frames {
            FrameModel::Interpreter => self.collect_frames(r, top)?,
            FrameModel::Objects(f) => self.collect_frame_objects(r, top, f.frame_gen)?,
        }
        self.read_code_headers(r, thread.addr)?;
        for i in 0..self.pending.len() {
            let (code, instr) = self.pending[i];
            let (serial, line) = self.line_of(r, code, instr)?;
            out.push(FrameRef { code, serial, line });
        }
        Ok(())
    }

    /// Finds the innermost frame and copies the live part of the thread's
    /// stack chunk, and the headers of the code objects this thread had on its
    /// stack at the previous sample, all in one vectored read when it can:
    /// with `cframe` and `datastack_top` (3.11, 3.12) the range is known before
    /// the innermost frame is; on 3.13+ the thread state holds that frame.
    fn snapshot_stack(
        &mut self,
        r: &dyn MemoryReader,
        thread: &ThreadInfo,
    ) -> Result<u64, WalkError> {
        let o = self.layout.offsets;
        self.snapshot.clear();
        self.snapshot_base = 0;
        self.header_index.clear();
        self.headers.clear();
        let data = thread.stack_chunk + o.stack_chunk_data;
        let live = thread
            .stack_top
            .checked_sub(data)
            .filter(|&n| thread.stack_chunk != 0 && n <= MAX_SNAPSHOT);
        let (mut top, top_ptr, range) = match o.current_frame {
            CurrentFrame::Direct(_) => (thread.top_frame, None, None),
            CurrentFrame::ViaCFrame { .. } if thread.cframe == 0 => return Ok(0),
            CurrentFrame::ViaCFrame { current_frame, .. } => match live {
                Some(n) => (0, Some(thread.cframe + current_frame), Some((data, n))),
                None => (r.read_u64(thread.cframe + current_frame)?, None, None),
            },
        };
        let range = range.or_else(|| {
            let start = if thread.stack_chunk == 0 {
                top
            } else {
                data.min(top)
            };
            let end = top.checked_add(o.frame_size)?;
            (top != 0 && end - start <= MAX_SNAPSHOT).then_some((start, end - start))
        });
        let guesses = self.code_guesses.remove(&thread.addr).unwrap_or_default();
        for with_guesses in [true, false] {
            let mut top_buf = [0u8; 8];
            let mut requests: Vec<(u64, &mut [u8])> = Vec::with_capacity(guesses.len() + 2);
            if let Some(ptr) = top_ptr {
                requests.push((ptr, &mut top_buf[..]));
            }
            if let Some((start, len)) = range {
                self.snapshot.resize(len as usize, 0);
                requests.push((start, &mut self.snapshot[..]));
            }
            let hlen = o.code_header_len() as usize;
            if with_guesses {
                self.headers.resize(guesses.len() * hlen, 0);
                for (buf, &code) in self.headers.chunks_mut(hlen).zip(&guesses) {
                    requests.push((code, buf));
                }
            }
            if requests.is_empty() || r.read_many(&mut requests).is_ok() {
                drop(requests);
                if top_ptr.is_some() {
                    top = u64::from_le_bytes(top_buf);
                }
                if with_guesses {
                    self.header_index
                        .extend(guesses.iter().enumerate().map(|(i, &c)| (c, i)));
                }
                self.snapshot_base = range.map_or(0, |(start, _)| start);
                return Ok(top);
            }
            drop(requests);
            self.snapshot.clear();
            self.headers.clear();
        }
        // Even the snapshot could not be read: find the innermost frame alone
        // and let the walk read frame by frame.
        match top_ptr {
            Some(ptr) => Ok(r.read_u64(ptr)?),
            None => Ok(top),
        }
    }

    /// Follows `previous` from `top`, noting each frame's code and instruction.
    /// Shim frames (the interpreter's entry frame, C calls) are skipped.
    fn collect_frames(&mut self, r: &dyn MemoryReader, top: u64) -> Result<(), WalkError> {
        let o = self.layout.offsets;
        let owners = self.layout.owners;
        self.pending.clear();
        let mut frame = top;
        let mut depth = 0;
        let mut last_owner = owners.shim_min;
        self.window.clear();
        while frame != 0 {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(WalkError::Torn("frame chain too long"));
            }
            let buf = self.frame_bytes(r, frame)?;
            let previous = u64_at(buf, o.frame_previous);
            last_owner = u8_at(buf, o.frame_owner);
            let (code, instr) = (u64_at(buf, o.frame_code), u64_at(buf, o.frame_instr));
            if !owners.is_shim(last_owner) {
                // 3.14+: a `_PyStackRef`, whose low bits are tags.
                let code = if o.frame_code_tagged { code & !7 } else { code };
                if code == 0 {
                    return Err(WalkError::Torn("null code object"));
                }
                self.pending.push((code, instr));
            }
            frame = previous;
        }
        // A generator is resumed by someone, and on 3.12+ every stack starts
        // at a shim frame: a chain ending otherwise was unlinked while read.
        if last_owner == owners.generator
            || (self.layout.stacks_end_in_shim() && !owners.is_shim(last_owner))
        {
            return Err(WalkError::Torn("stack cut short"));
        }
        Ok(())
    }

    /// Follows `f_back` from `top` (3.8–3.10), noting each frame's code and
    /// `f_lasti` (sign-extended: −1 before the first instruction). Every
    /// frame must be a frame object when `PyFrame_Type` is known, and the
    /// outermost frame cannot be a generator's (`f_gen` at `frame_gen`): its
    /// `f_back` was cleared by a suspension racing the read.
    fn collect_frame_objects(
        &mut self,
        r: &dyn MemoryReader,
        top: u64,
        frame_gen: u64,
    ) -> Result<(), WalkError> {
        let o = self.layout.offsets;
        let frame_type = self.types.frame;
        self.pending.clear();
        self.window.clear();
        let mut frame = top;
        let mut depth = 0;
        while frame != 0 {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(WalkError::Torn("frame chain too long"));
            }
            let buf = self.frame_bytes(r, frame)?;
            if frame_type.is_some_and(|t| u64_at(buf, o.object_type) != t) {
                return Err(WalkError::Torn("not a frame object"));
            }
            let code = u64_at(buf, o.frame_code);
            let lasti = i64::from(u32_at(buf, o.frame_instr) as i32);
            let back = u64_at(buf, o.frame_previous);
            if code == 0 {
                return Err(WalkError::Torn("null code object"));
            }
            if back == 0 && u64_at(buf, frame_gen) != 0 {
                return Err(WalkError::Torn("stack cut short"));
            }
            self.pending.push((code, lasti as u64));
            frame = back;
        }
        Ok(())
    }

    /// The bytes of the frame at `frame`: from the stack snapshot when it is
    /// there, else from a window read just below it. Frames of one chunk sit
    /// below each other, so on a deep stack spread over several chunks one
    /// window read serves many frames.
    fn frame_bytes(&mut self, r: &dyn MemoryReader, frame: u64) -> Result<&[u8], WalkError> {
        let fsize = self.layout.offsets.frame_size as usize;
        // A torn read can hand over any value as the next frame's address:
        // one that is not a user-space, pointer-aligned address (or whose
        // frame would run past the end of the address space) is not a frame.
        let end = match frame.checked_add(fsize as u64) {
            Some(end) if frame % 8 == 0 && end <= USER_SPACE_END => end,
            _ => return Err(WalkError::Torn("implausible frame address")),
        };
        let inside = |base: u64, len: usize| {
            frame
                .checked_sub(base)
                .and_then(|off| usize::try_from(off).ok())
                .filter(|off| off.checked_add(fsize).is_some_and(|e| e <= len))
        };
        if let Some(off) = inside(self.snapshot_base, self.snapshot.len()) {
            return Ok(&self.snapshot[off..off + fsize]);
        }
        if let Some(off) = inside(self.window_base, self.window.len()) {
            return Ok(&self.window[off..off + fsize]);
        }
        if self.live_only {
            r.read(frame, &mut self.frame_buf)?;
            return Ok(&self.frame_buf);
        }
        // The largest window that cannot start in an unmapped page below the
        // frame's own chunk: try a whole chunk's worth, then the frame's page.
        for span in [WINDOW, (frame & 0xfff) + fsize as u64] {
            let start = end.saturating_sub(span).min(frame);
            self.window.resize((end - start) as usize, 0);
            if r.read(start, &mut self.window).is_ok() {
                self.window_base = start;
                let off = (frame - start) as usize;
                return Ok(&self.window[off..off + fsize]);
            }
        }
        self.window.clear();
        r.read(frame, &mut self.frame_buf)?;
        Ok(&self.frame_buf)
    }

    /// Reads the header of every distinct code object in `pending`, in one call.
    fn read_code_headers(&mut self, r: &dyn MemoryReader, thread: u64) -> Result<(), WalkError> {
        let len = self.layout.offsets.code_header_len() as usize;
        let known = self.header_index.len();
        let mut missing = Vec::new();
        for &(code, _) in &self.pending {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.header_index.entry(code) {
                slot.insert(known + missing.len());
                missing.push(code);
            }
        }
        if !missing.is_empty() {
            self.headers.resize((known + missing.len()) * len, 0);
            let mut requests: Vec<(u64, &mut [u8])> = self.headers[known * len..]
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
        if self.code_guesses.len() >= MAX_GUESSED_THREADS {
            self.code_guesses.clear();
        }
        let mut codes: Vec<u64> = Vec::with_capacity(MAX_GUESSES);
        for &(code, _) in &self.pending {
            if codes.len() < MAX_GUESSES && !codes.contains(&code) {
                codes.push(code);
            }
        }
        self.code_guesses.insert(thread, codes);
        Ok(())
    }

    /// Loads (or revalidates) the code object at `code` and finds the line of `instr`.
    fn line_of(
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
        let at = self.header_index[&code] * len;
        let header = &self.headers[at..at + len];
        if let Some(ty) = self.types.code {
            if u64_at(header, o.object_type) != ty {
                return Err(WalkError::Torn("not a code object"));
            }
        }
        let fresh = match self.codes.get(&code) {
            Some(info) => !info.matches(&o, &self.layout.frames, header),
            None => true,
        };
        if fresh {
            if self.codes.len() >= MAX_CODES {
                self.codes.clear();
            }
            let mut info = CodeInfo::load(r, &o, &self.layout.frames, &self.types, header)?;
            self.next_serial += 1;
            info.serial = self.next_serial;
            self.codes.insert(code, info);
        }
        let serial = self.codes[&code].serial;
        if let Some(&line) = self.lines.get(&(serial, instr)) {
            return Ok((serial, line));
        }
        let (serial, line) = self.decode_line(code, instr)?;
        if self.lines.len() >= MAX_LINES {
            self.lines.clear();
        }
        self.lines.insert((serial, instr), line);
        Ok((serial, line))
    }

    /// The line of `instr` in the (loaded) code object at `code`, decoded.
    fn decode_line(&self, code: u64, instr: u64) -> Result<(u64, u32), WalkError> {
        let o = self.layout.offsets;
        let info = &self.codes[&code];
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

#[cfg(test)]
mod tests {
    //! The 3.8–3.10 frame-object walk over a fake address space built with
    //! 3.10's generated offsets.
    use super::*;
    use snakescope_layouts::{static_layout, FrameModel, PyVersion};
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// Sparse memory: regions by start address.
    #[derive(Default)]
    struct Fake(RefCell<BTreeMap<u64, Vec<u8>>>);

    impl Fake {
        fn put(&self, addr: u64, bytes: &[u8]) {
            self.0.borrow_mut().insert(addr, bytes.to_vec());
        }
        fn put_u64(&self, addr: u64, v: u64) {
            self.put(addr, &v.to_le_bytes());
        }
        fn put_u32(&self, addr: u64, v: u32) {
            self.put(addr, &v.to_le_bytes());
        }
    }

    impl MemoryReader for Fake {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            // Byte by byte: in 0x1000..0x10_0000 a byte no region holds
            // reads as zero (untouched memory); anything else is unmapped.
            let map = self.0.borrow();
            for (i, b) in buf.iter_mut().enumerate() {
                let at = addr + i as u64;
                *b = map
                    .range(..=at)
                    .next_back()
                    .and_then(|(&start, v)| v.get((at - start) as usize).copied())
                    .unwrap_or(0);
            }
            if !(0x1000..0x10_0000).contains(&addr) {
                return Err(ReadError::Unmapped {
                    addr,
                    len: buf.len(),
                });
            }
            Ok(())
        }
    }

    const RUNTIME: u64 = 0x1000;
    const INTERP: u64 = 0x2000;
    const TSTATE: u64 = 0x3000;
    const PTHREAD: u64 = 0x4000;
    const NAME: u64 = 0x5000;
    const FILE: u64 = 0x5100;
    const LNOTAB: u64 = 0x5200;
    const BYTECODE: u64 = 0x5300;
    const CODE: u64 = 0x6000;
    const FRAMES: [u64; 3] = [0x8000, 0x9000, 0xa000];

    fn ascii(mem: &Fake, o: &snakescope_layouts::Offsets, addr: u64, text: &str) {
        mem.put_u64(addr + o.unicode_length, text.len() as u64);
        // interned 0, kind 1, compact, ascii
        mem.put(addr + o.unicode_state, &[(1 << 2) | (1 << 5) | (1 << 6)]);
        mem.put(addr + o.unicode_ascii_size, text.as_bytes());
    }

    /// A thread three frames deep in one function (`f`, first line 10), the
    /// innermost at byte offset 4 (line 12 by the table: 0..4 line 10, 4..8 +2).
    fn build() -> (Fake, Layout) {
        let layout = static_layout(PyVersion::minor_only(3, 10)).unwrap();
        let FrameModel::Objects(f) = layout.frames else {
            panic!("3.10 reads frame objects")
        };
        let o = layout.offsets;
        let mem = Fake::default();
        mem.put_u64(RUNTIME + o.runtime_interpreters_head, INTERP);
        mem.put_u64(INTERP + o.interp_threads_head, TSTATE);
        mem.put_u64(TSTATE + o.thread_interp, INTERP);
        mem.put_u64(TSTATE + o.thread_thread_id, PTHREAD);
        mem.put_u32(PTHREAD + 720, 4242);
        if let CurrentFrame::Direct(off) = o.current_frame {
            mem.put_u64(TSTATE + off, FRAMES[0]);
        }
        ascii(&mem, &o, NAME, "f");
        ascii(&mem, &o, FILE, "f.py");
        mem.put_u64(LNOTAB + o.bytes_size, 4);
        mem.put(LNOTAB + o.bytes_sval, &[4, 0, 4, 2]);
        mem.put_u64(BYTECODE + o.bytes_size, 8);
        mem.put_u64(CODE + o.code_name, NAME);
        mem.put_u64(CODE + o.code_qualname, NAME);
        mem.put_u64(CODE + o.code_filename, FILE);
        mem.put_u64(CODE + o.code_linetable, LNOTAB);
        mem.put_u64(CODE + f.code_code, BYTECODE);
        mem.put_u32(CODE + o.code_firstlineno, 10);
        for (i, &frame) in FRAMES.iter().enumerate() {
            mem.put_u64(frame + o.frame_code, CODE);
            mem.put_u64(
                frame + o.frame_previous,
                FRAMES.get(i + 1).copied().unwrap_or(0),
            );
            // f_lasti in code units: 2 -> byte 4 (line 12), -1 (not started) -> line 10.
            mem.put_u32(frame + o.frame_instr, if i == 0 { 2 } else { u32::MAX });
        }
        (mem, layout)
    }

    #[test]
    fn walks_frame_objects() {
        let (mem, layout) = build();
        let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
        let threads = walker.threads(&mem).unwrap();
        assert_eq!(threads.len(), 1);
        assert_eq!(threads[0].native_id, 4242);
        assert_eq!(threads[0].stack_chunk, 0);
        let mut out = Vec::new();
        walker.walk(&mem, &threads[0], &mut out).unwrap();
        let lines: Vec<u32> = out.iter().map(|f| f.line).collect();
        assert_eq!(lines, [12, 10, 10]);
        let code = walker.code(CODE).unwrap();
        assert_eq!((code.name.as_str(), code.filename.as_str()), ("f", "f.py"));
        assert_eq!(code.units, 4);
    }

    #[test]
    fn refuses_torn_frame_objects() {
        let FrameModel::Objects(f) = build().1.frames else {
            unreachable!()
        };
        let o = build().1.offsets;
        // The outermost frame is a generator's: its f_back was just cleared.
        let (mem, layout) = build();
        mem.put_u64(FRAMES[2] + f.frame_gen, 0x7000);
        let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
        let thread = walker.threads(&mem).unwrap()[0];
        let err = walker.walk(&mem, &thread, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, WalkError::Torn("stack cut short")), "{err}");
        // f_lasti past the end of the bytecode.
        let (mem, layout) = build();
        mem.put_u32(FRAMES[0] + o.frame_instr, 4);
        let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
        let thread = walker.threads(&mem).unwrap()[0];
        let err = walker.walk(&mem, &thread, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, WalkError::Torn(_)), "{err}");
        // Not a frame object, once PyFrame_Type is known.
        let (mem, layout) = build();
        let types = TypeAddresses {
            frame: Some(0x7100),
            ..TypeAddresses::default()
        };
        let mut walker = Walker::new(layout, RUNTIME, types);
        let thread = walker.threads(&mem).unwrap()[0];
        let err = walker.walk(&mem, &thread, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, WalkError::Torn("not a frame object")),
            "{err}"
        );
    }

    /// Memory made of objects only: a read must lie inside one of them,
    /// whole (what plain loads of live objects may touch; anything else
    /// could be unmapped in a real process). Records every refused read.
    #[derive(Default)]
    struct Objects {
        map: RefCell<BTreeMap<u64, Vec<u8>>>,
        refused: RefCell<Vec<(u64, usize)>>,
    }

    impl Objects {
        fn object(&self, addr: u64, size: usize) {
            self.map.borrow_mut().insert(addr, vec![0; size]);
        }
        fn set(&self, addr: u64, bytes: &[u8]) {
            let mut map = self.map.borrow_mut();
            let (&start, v) = map
                .range_mut(..=addr)
                .next_back()
                .expect("inside an object");
            let at = (addr - start) as usize;
            v[at..at + bytes.len()].copy_from_slice(bytes);
        }
        fn set_u64(&self, addr: u64, v: u64) {
            self.set(addr, &v.to_le_bytes());
        }
    }

    impl MemoryReader for Objects {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
            let map = self.map.borrow();
            let inside = map.range(..=addr).next_back().and_then(|(&start, v)| {
                let at = (addr - start) as usize;
                v.get(at..at + buf.len())
            });
            match inside {
                Some(bytes) => {
                    buf.copy_from_slice(bytes);
                    Ok(())
                }
                None => {
                    self.refused.borrow_mut().push((addr, buf.len()));
                    Err(ReadError::Unmapped {
                        addr,
                        len: buf.len(),
                    })
                }
            }
        }
    }

    /// The walk `memory` does of the calling thread's own stack with plain
    /// loads (3.12's layout: frames in a data-stack chunk, reached through
    /// `cframe`): with `read_live_objects_only` every read lies inside a live
    /// object — thread state, cframe, frames, code, strings, line table —
    /// and the stack comes out whole; the default walk reads a range of the
    /// chunk (and then objects remembered from its previous walk), which
    /// plain loads must never do.
    #[test]
    fn live_objects_only_reads_inside_objects() {
        let layout = static_layout(PyVersion::minor_only(3, 12)).unwrap();
        let o = layout.offsets;
        let CurrentFrame::ViaCFrame {
            cframe,
            current_frame,
        } = o.current_frame
        else {
            panic!("3.12 reaches its frames through cframe")
        };
        const CFRAME: u64 = 0x4000;
        const CHUNK: u64 = 0x10000;
        const CODE: u64 = 0x20000;
        let mem = Objects::default();
        mem.object(TSTATE, o.thread_size as usize);
        mem.object(CFRAME, 16);
        let str_size = |text: &str| o.unicode_ascii_size as usize + text.len() + 1;
        for (addr, text) in [(NAME, "f"), (FILE, "f.py")] {
            mem.object(addr, str_size(text));
            mem.set_u64(addr + o.unicode_length, text.len() as u64);
            mem.set(addr + o.unicode_state, &[(1 << 2) | (1 << 5) | (1 << 6)]);
            mem.set(addr + o.unicode_ascii_size, text.as_bytes());
        }
        // Line table: code units 0-1 at line 10, 2-3 at line 12 (entries
        // "no column", length 2, line delta as a signed varint: 0, then +2).
        let table = [0x80 | (13 << 3) | 1, 0, 0x80 | (13 << 3) | 1, 4];
        mem.object(LNOTAB, (o.bytes_sval as usize) + table.len() + 1);
        mem.set_u64(LNOTAB + o.bytes_size, table.len() as u64);
        mem.set(LNOTAB + o.bytes_sval, &table);
        mem.object(CODE, (o.code_adaptive + 8) as usize);
        mem.set_u64(CODE + o.code_ob_size, 4);
        mem.set_u64(CODE + o.code_name, NAME);
        mem.set_u64(CODE + o.code_qualname, NAME);
        mem.set_u64(CODE + o.code_filename, FILE);
        mem.set_u64(CODE + o.code_linetable, LNOTAB);
        mem.set(CODE + o.code_firstlineno, &10u32.to_le_bytes());
        // Three frames of `f` on one chunk, the innermost first, then the
        // shim frame every 3.12 stack starts with; each frame one object,
        // with room between them (locals) that is not.
        let frames: Vec<u64> = (0..4)
            .map(|i| CHUNK + o.stack_chunk_data + 0x100 * (3 - i))
            .collect();
        for (i, &frame) in frames.iter().enumerate() {
            mem.object(frame, o.frame_size as usize);
            mem.set_u64(frame + o.frame_code, CODE);
            mem.set_u64(
                frame + o.frame_previous,
                frames.get(i + 1).copied().unwrap_or(0),
            );
            // The innermost at unit 2 (line 12), the others at unit 0 (line 10).
            let unit = if i == 0 { 2 } else { 0 };
            mem.set_u64(frame + o.frame_instr, CODE + o.code_adaptive + 2 * unit);
            let owner = if i == 3 { layout.owners.shim_min } else { 0 };
            mem.set(frame + o.frame_owner, &[owner]);
        }
        mem.set_u64(TSTATE + cframe, CFRAME);
        mem.set_u64(CFRAME + current_frame, frames[0]);
        mem.set_u64(TSTATE + o.thread_datastack_chunk, CHUNK);
        mem.set_u64(TSTATE + o.thread_datastack_top.unwrap(), frames[0] + 0x80);

        let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
        walker.read_live_objects_only(true);
        for _ in 0..2 {
            let thread = walker.thread_at(&mem, TSTATE).unwrap();
            let mut out = Vec::new();
            walker.walk(&mem, &thread, &mut out).unwrap();
            let lines: Vec<u32> = out.iter().map(|f| f.line).collect();
            assert_eq!(lines, [12, 10, 10]);
            assert!(
                mem.refused.borrow().is_empty(),
                "{:x?}",
                mem.refused.borrow()
            );
        }
        // The default walk snapshots the chunk's live range in one read.
        let mut walker = Walker::new(layout, RUNTIME, TypeAddresses::default());
        let thread = walker.thread_at(&mem, TSTATE).unwrap();
        let _ = walker.walk(&mem, &thread, &mut Vec::new());
        assert!(!mem.refused.borrow().is_empty());
    }
}
