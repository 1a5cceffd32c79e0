//! Allocation sites: the calling thread's Python stack, read from inside an
//! allocator hook, turned into a site (frames + source). A stack seen
//! before is found by its fingerprint without a walk.
//!
//! Runs inside allocator hooks, under the state lock: the walk reads with
//! plain loads ([`OwnStack`]) and never takes the GIL; the tables it grows
//! allocate through the agent's own allocator, which the hooks never see
//! (see [`super::real`]).

use super::state::{Site, State};
use super::Source;
use snakescope_model::Frame;
use snakescope_unwind::FrameRef;

/// The calling thread's Python thread state, without needing the GIL.
fn current_tstate() -> u64 {
    // SAFETY: PyGILState_GetThisThreadState only reads the thread-specific
    // slot the interpreter keeps for this thread; it is documented as callable
    // without the GIL, and returns NULL for threads Python does not know.
    unsafe { pyo3::ffi::PyGILState_GetThisThreadState() as u64 }
}

impl State {
    pub(super) fn site_of_current_stack(&mut self, source: Source) -> u32 {
        let tstate = current_tstate();
        let layout = self.target.walker.layout();
        // SAFETY: `tstate` is this thread's own state (or 0); see stack_fingerprint.
        let fingerprint = unsafe { stack_fingerprint(layout, tstate as usize) };
        if let Some(f) = fingerprint {
            if let Some(&site) = self.known.get(&(f, source)) {
                return site;
            }
        }
        let site = self.walk_to_site(tstate, source);
        if let Some(f) = fingerprint {
            self.known.insert((f, source), site);
        }
        site
    }

    fn walk_to_site(&mut self, tstate: u64, source: Source) -> u32 {
        self.stack.clear();
        if tstate != 0 {
            self.refs.clear();
            let walked = self
                .target
                .walker
                .thread_at(&OwnStack, tstate)
                .and_then(|t| self.target.walker.walk(&OwnStack, &t, &mut self.refs));
            if walked.is_ok() {
                self.stack_from_refs();
            }
        }
        self.site_of_stack(source)
    }

    /// Fills `stack` with the frame indices of the walked `refs`, root
    /// first, leaving out the hidden files' frames at the root.
    fn stack_from_refs(&mut self) {
        let mut at_root = !self.hidden.is_empty();
        for i in (0..self.refs.len()).rev() {
            let r = self.refs[i];
            let Some(id) = self.frame_id(&r) else {
                continue;
            };
            if at_root && self.hidden.contains(&self.frames[id].file) {
                continue;
            }
            at_root = false;
            self.stack.push(id);
        }
    }

    /// The frame index of a walked frame (`None`: its code object is not
    /// known to the walker).
    fn frame_id(&mut self, r: &FrameRef) -> Option<usize> {
        let key = (r.code, r.serial, r.line);
        if let Some(&id) = self.frame_ids.get(&key) {
            return Some(id);
        }
        let code = self.target.walker.code(r.code)?;
        let frame = Frame {
            function: code.name.clone(),
            qualname: Some(code.qualname.clone()),
            file: code.filename.clone(),
            line: r.line,
        };
        let id = *self.frame_index.entry(frame.clone()).or_insert_with(|| {
            self.frames.push(frame);
            self.frames.len() - 1
        });
        self.frame_ids.insert(key, id);
        Some(id)
    }

    /// The site of the frames in `stack` from `source`, made on first sight
    /// (`stack` keeps its contents and its buffer).
    fn site_of_stack(&mut self, source: Source) -> u32 {
        let key = (std::mem::take(&mut self.stack), source);
        let id = match self.site_ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.sites.len() as u32;
                self.sites.push((key.0.clone(), key.1, Site::default()));
                self.site_ids.insert(key.clone(), id);
                id
            }
        };
        self.stack = key.0;
        id
    }
}

/// Plain loads from this process, for the walk of the calling thread's own
/// stack from inside an allocator hook (the walker set to
/// [`Walker::read_live_objects_only`](snakescope_unwind::Walker::read_live_objects_only)).
/// That thread's frame chain cannot change while it allocates, and every
/// object the walk reads is held by a frame on it (see
/// [`stack_fingerprint`]), so no read can fault; `process_vm_readv` on our
/// own pid — safe for any address — cost a system call per read (numpy's
/// import: a third of the run in the kernel's page pinning).
struct OwnStack;

impl snakescope_unwind::MemoryReader for OwnStack {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), snakescope_unwind::ReadError> {
        if addr < 4096 {
            return Err(snakescope_unwind::ReadError::Unmapped {
                addr,
                len: buf.len(),
            });
        }
        // SAFETY: only called by the live-objects-only walk of the calling
        // thread's own stack (see the type's documentation): `addr..addr+len`
        // lies in a frame, thread state, code, str or bytes object that a
        // live frame of this thread holds, and `buf` is a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len());
        }
        Ok(())
    }
}

/// A hash of the calling thread's Python stack — every frame's code object
/// and current instruction, which determine its function and line — read
/// directly from the thread's own frames. `None` where the frame model is
/// not the 3.11+ one.
///
/// Direct reads are safe here where they would not be for another thread:
/// the calling thread is inside an allocator, so its own frame chain cannot
/// change under us, and every frame on it is live (linked only once
/// initialised, unlinked before it is freed), as are the code objects they
/// hold. The full walk (through `process_vm_readv`) runs only for a
/// fingerprint not seen before.
///
/// # Safety
/// `tstate` is 0 or the calling thread's own `PyThreadState`.
unsafe fn stack_fingerprint(layout: &snakescope_layouts::Layout, tstate: usize) -> Option<u64> {
    use snakescope_layouts::{CurrentFrame, FrameModel};
    let o = &layout.offsets;
    if tstate == 0 || !matches!(layout.frames, FrameModel::Interpreter) {
        return None;
    }
    let read = |addr: usize| -> usize {
        // SAFETY: per the function's contract and documentation, `addr` lies
        // in this thread's live state, frames or code objects.
        unsafe { std::ptr::read_unaligned(addr as *const usize) }
    };
    let mut frame = match o.current_frame {
        CurrentFrame::ViaCFrame {
            cframe,
            current_frame,
        } => {
            let cf = read(tstate + cframe as usize);
            if cf == 0 {
                return Some(0);
            }
            read(cf + current_frame as usize)
        }
        CurrentFrame::Direct(off) => read(tstate + off as usize),
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut depth = 0u64;
    while frame != 0 && depth < 8192 {
        let mut code = read(frame + o.frame_code as usize);
        if o.frame_code_tagged {
            code &= !7;
        }
        let instr = read(frame + o.frame_instr as usize);
        // One multiply on the chain from frame to frame (the other does not
        // depend on `h`): this loop runs on every allocation in exact mode.
        let v = (code as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ instr as u64;
        h = (h ^ v).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(17);
        frame = read(frame + o.frame_previous as usize);
        depth += 1;
    }
    Some(h ^ depth)
}
