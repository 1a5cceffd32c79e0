//! Allocation sites: the calling thread's Python stack, read from inside an
//! allocator hook, turned into a site (frames + source) by the sampler's
//! own path — the walker, then [`StackWalk`] interning the frames into the
//! session's [`FrameTable`](snakescope_model::FrameTable). A stack seen
//! before is found by its key ([`Walker::stack_key`]: the walker's hash of
//! what each frame runs) without a walk.
//!
//! Runs inside allocator hooks, under the state lock: the walk reads with
//! plain loads ([`OwnStack`]) and never takes the GIL; the tables it grows
//! allocate through the agent's own allocator, which the hooks never see
//! (see [`super::real`]).
//!
//! [`StackWalk`]: snakescope_remote::StackWalk
//! [`Walker::stack_key`]: snakescope_unwind::Walker::stack_key

use super::state::{Site, State};
use super::Source;
use snakescope_unwind::{MemoryReader, ReadError};

/// The calling thread's Python thread state, without needing the GIL.
fn current_tstate() -> u64 {
    // SAFETY: PyGILState_GetThisThreadState only reads the thread-specific
    // slot the interpreter keeps for this thread; it is documented as callable
    // without the GIL, and returns NULL for threads Python does not know.
    unsafe { pyo3::ffi::PyGILState_GetThisThreadState() as u64 }
}

impl State {
    /// The site of the calling thread's stack, for an allocation from `source`.
    pub(super) fn site_of_current_stack(&mut self, source: Source) -> u32 {
        // OwnStack reads the calling thread's own stack (its own state).
        self.site_of_thread(&OwnStack, current_tstate(), source)
    }

    /// The site of the stack of the thread state at `tstate` (0: a thread
    /// Python does not know, no stack) read through `r`: found by the
    /// stack's key when seen before, else walked and remembered.
    fn site_of_thread<R: MemoryReader>(&mut self, r: &R, tstate: u64, source: Source) -> u32 {
        if tstate == 0 {
            self.stack.clear();
            return self.site_of_stack(source);
        }
        let key = self.walker.stack_key(r, tstate).ok();
        if let Some(k) = key {
            if let Some(&site) = self.known.get(&(k, source)) {
                return site;
            }
        }
        let site = self.walk_to_site(r, tstate, source);
        if let Some(k) = key {
            self.known.insert((k, source), site);
        }
        site
    }

    /// Walks the thread state at `tstate` and interns its frames, leaving
    /// out the hidden files' frames at the root; a stack that cannot be
    /// read is an empty one.
    fn walk_to_site(&mut self, r: &dyn MemoryReader, tstate: u64, source: Source) -> u32 {
        self.stack.clear();
        let walker = &mut self.walker;
        let walked = walker
            .thread_at(r, tstate)
            .and_then(|t| self.walk.walk(walker, r, &t));
        if walked.is_ok() {
            let hidden = &self.hidden;
            let ids = self.walk.intern(walker, &mut self.frames, |code| {
                hidden.contains(&code.filename)
            });
            self.stack.extend_from_slice(ids);
        }
        self.site_of_stack(source)
    }

    /// The site of the frames in `stack` from `source`, made on first sight
    /// (`stack` keeps its contents and its buffer).
    pub(super) fn site_of_stack(&mut self, source: Source) -> u32 {
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

/// Plain loads from this process, for the walk (and the stack key) of the
/// calling thread's own stack from inside an allocator hook, the walker
/// set to [`Walker::read_live_objects_only`]. That thread's frame chain
/// cannot change while it allocates — it is inside an allocator — and every
/// frame on it is live (linked only once initialised, unlinked before it is
/// freed), as is every object the walk reads: held by a frame on it. So no
/// read can fault; `process_vm_readv` on our own pid — safe for any address
/// — cost a system call per read (numpy's import: a third of the run in the
/// kernel's page pinning).
///
/// [`Walker::read_live_objects_only`]: snakescope_unwind::Walker::read_live_objects_only
struct OwnStack;

impl MemoryReader for OwnStack {
    #[inline(always)]
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        if addr < 4096 {
            return Err(ReadError::Unmapped {
                addr,
                len: buf.len(),
            });
        }
        // SAFETY: only called by the live-objects-only walk, and the stack
        // key, of the calling thread's own stack (see the type's
        // documentation): `addr..addr+len` lies in a frame, thread state,
        // code, str or bytes object that a live frame of this thread holds,
        // and `buf` is a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
