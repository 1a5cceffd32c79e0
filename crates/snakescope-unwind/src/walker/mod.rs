//! Interpreter → threads → frames → code → (function, file, line).
//!
//! Runs on the sampling thread: it never allocates per frame once a code
//! object is known, and never trusts a pointer it read without checking it.
//!
//! One module per cache the walker keeps: `threads` (the thread list and the
//! thread states guessed from the previous sample), `frames` (the stack
//! snapshot, the window below a frame, the chain and its torn-read checks)
//! and `codes` (code object headers, decoded code objects and lines);
//! `key` hashes a stack without walking it (for caches of walks).

mod bytecode;
mod codes;
mod frames;
mod key;
mod suspended;
#[cfg(test)]
mod tests;
mod threads;

use crate::code::CodeInfo;
use crate::reader::{MemoryReader, ReadError};
use crate::strings::StringError;
use codes::CodeCache;
use frames::FrameCache;
use snakescope_layouts::{CurrentFrame, FrameModel, Layout};
use threads::ThreadListCache;

/// Deepest stack the walker follows; deeper means a cycle from a torn read.
pub const MAX_DEPTH: usize = 65_536;

/// [`FrameRef::offset`] of a frame that has not run its first instruction.
pub const NOT_STARTED: u32 = u32::MAX;

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
    /// Byte offset of the instruction executing in the code object's
    /// bytecode (as `dis` numbers offsets), [`NOT_STARTED`] before the first.
    pub offset: u32,
    /// Address of the frame (`_PyInterpreterFrame`, or the `PyFrameObject`
    /// on 3.8–3.10): what tells which asyncio task a stack is running.
    pub frame: u64,
}

/// Walks the stacks of one interpreter process.
#[derive(Debug)]
pub struct Walker {
    layout: Layout,
    runtime: u64,
    types: TypeAddresses,
    thread_list: ThreadListCache,
    frames: FrameCache,
    code_cache: CodeCache,
    /// The frames of the stack being walked: (code object, instruction, frame address).
    pending: Vec<(u64, u64, u64)>,
    /// Per frame of `pending`: whether it is the outermost frame of its call
    /// of the evaluation loop (see [`Walker::eval_entries`]).
    entries: Vec<bool>,
    /// See [`Walker::read_live_objects_only`].
    live_only: bool,
}

impl Walker {
    /// A walker for the interpreter whose `_PyRuntime` is at `runtime`. Every
    /// object whose type's address is known in `types` is checked against it.
    pub fn new(layout: Layout, runtime: u64, types: TypeAddresses) -> Walker {
        let o = &layout.offsets;
        Walker {
            thread_list: ThreadListCache::new(o),
            frames: FrameCache::new(o.frame_size),
            code_cache: CodeCache::default(),
            layout,
            runtime,
            types,
            pending: Vec::new(),
            entries: Vec::new(),
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

    /// Per frame of the last [`Self::walk`] (innermost first): whether it is
    /// the outermost frame of its call of the evaluation loop — the frame a
    /// native `_PyEval_EvalFrameDefault` was entered with. 3.8–3.10 run every
    /// frame in a call of its own; 3.11 marks the frame (`is_entry`); 3.12+
    /// pushes a shim frame before it. What `--native` matches the eval
    /// loop's native frames with.
    pub fn eval_entries(&self) -> &[bool] {
        &self.entries
    }

    /// The code object a [`FrameRef`] names (it was loaded by [`Self::walk`]).
    pub fn code(&self, addr: u64) -> Option<&CodeInfo> {
        self.code_cache.codes.get(&addr)
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
                self.frames.snapshot.clear();
                self.code_cache.header_index.clear();
                self.code_cache.headers.clear();
                match self.layout.offsets.current_frame {
                    CurrentFrame::Direct(_) => thread.top_frame,
                    CurrentFrame::ViaCFrame { .. } if thread.cframe == 0 => 0,
                    CurrentFrame::ViaCFrame { current_frame, .. } => {
                        r.read_u64(thread.cframe + current_frame)?
                    }
                }
            }
            FrameModel::Objects(_) => {
                self.frames.snapshot.clear();
                self.code_cache.header_index.clear();
                self.code_cache.headers.clear();
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
            let (code, instr, frame) = self.pending[i];
            let (serial, line) = self.line_of(r, code, instr)?;
            let offset = self.instr_offset(code, instr);
            out.push(FrameRef {
                code,
                serial,
                line,
                offset,
                frame,
            });
        }
        Ok(())
    }
}
