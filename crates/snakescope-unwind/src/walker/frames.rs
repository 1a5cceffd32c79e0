//! Reading frames: a snapshot of the live part of a thread's stack, a window
//! below frames outside it, and the chain followed from the innermost frame
//! with every torn-read check (implausible addresses, chains too long or cut
//! short, frames that are not frames).

use super::{ThreadInfo, WalkError, Walker, MAX_DEPTH};
use crate::reader::{u32_at, u64_at, u8_at, MemoryReader};
use snakescope_layouts::{CurrentFrame, FrameModel, Offsets};

/// Largest stack snapshot taken in one read; deeper stacks are read frame by frame.
const MAX_SNAPSHOT: u64 = 1 << 20;
/// Bytes read below a frame found outside the stack snapshot (the size of
/// CPython's first data-stack chunk).
const WINDOW: u64 = 16 * 1024;
/// Where user space ends on every 64-bit target we run on (x86-64 with
/// five-level paging reaches 2^56; four-level and aarch64 stop at 2^47–2^48).
const USER_SPACE_END: u64 = 1 << 56;

/// The frame bytes the walker holds: the snapshot of the stack taken at this
/// sample, the last window read below a frame outside it, and one frame.
#[derive(Debug)]
pub(super) struct FrameCache {
    pub(super) snapshot: Vec<u8>,
    snapshot_base: u64,
    window: Vec<u8>,
    window_base: u64,
    frame_buf: Vec<u8>,
}

impl FrameCache {
    pub(super) fn new(frame_size: u64) -> FrameCache {
        FrameCache {
            snapshot: Vec::new(),
            snapshot_base: 0,
            window: Vec::new(),
            window_base: 0,
            frame_buf: vec![0; frame_size as usize],
        }
    }

    /// The bytes of the frame at `frame`: from the stack snapshot when it is
    /// there, else from a window read just below it. Frames of one chunk sit
    /// below each other, so on a deep stack spread over several chunks one
    /// window read serves many frames.
    fn frame_bytes(
        &mut self,
        r: &dyn MemoryReader,
        frame: u64,
        live_only: bool,
    ) -> Result<&[u8], WalkError> {
        let fsize = self.frame_buf.len();
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
        if live_only {
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
}

/// A frame's code object and instruction, read with `read(offset, width)`
/// (a little-endian field of 4 or 8 bytes at that offset in the frame): the
/// one place that knows where a frame keeps them and how each frame model
/// encodes them. The walk reads them from a frame's bytes,
/// [`Walker::stack_key`] straight from memory. On 3.14+ the code field is a
/// `_PyStackRef`, whose low bits are tags; on 3.8–3.10 the instruction is
/// `f_lasti`, a C `int`, sign-extended (−1 before the first instruction).
#[inline(always)]
pub(super) fn code_and_instr(
    o: &Offsets,
    model: FrameModel,
    mut read: impl FnMut(u64, usize) -> Result<u64, WalkError>,
) -> Result<(u64, u64), WalkError> {
    Ok(match model {
        FrameModel::Interpreter => (
            o.frame_code_object(read(o.frame_code, 8)?),
            read(o.frame_instr, 8)?,
        ),
        FrameModel::Objects(_) => (
            read(o.frame_code, 8)?,
            i64::from(read(o.frame_instr, 4)? as u32 as i32) as u64,
        ),
    })
}

/// A field of `width` (4 or 8) bytes at `offset` in a frame's bytes.
fn field(buf: &[u8], offset: u64, width: usize) -> Result<u64, WalkError> {
    Ok(match width {
        4 => u64::from(u32_at(buf, offset)),
        _ => u64_at(buf, offset),
    })
}

/// What [`Walker::snapshot_stack`] reads: the innermost frame, or where to
/// read its address from, and the range of the stack to copy.
struct SnapshotPlan {
    /// The innermost frame, when known before the read.
    top: u64,
    /// Where the innermost frame's address is to be read (3.11, 3.12, when
    /// the range is known without it).
    top_ptr: Option<u64>,
    /// Start and length of the stack range to copy.
    range: Option<(u64, u64)>,
}

impl Walker {
    /// Finds the innermost frame and copies the live part of the thread's
    /// stack chunk, and the headers of the code objects this thread had on its
    /// stack at the previous sample, all in one vectored read when it can:
    /// with `cframe` and `datastack_top` (3.11, 3.12) the range is known before
    /// the innermost frame is; on 3.13+ the thread state holds that frame.
    pub(super) fn snapshot_stack(
        &mut self,
        r: &dyn MemoryReader,
        thread: &ThreadInfo,
    ) -> Result<u64, WalkError> {
        self.frames.snapshot.clear();
        self.frames.snapshot_base = 0;
        self.code_cache.header_index.clear();
        self.code_cache.headers.clear();
        let Some(plan) = self.snapshot_plan(r, thread)? else {
            return Ok(0);
        };
        let guesses = self
            .code_cache
            .code_guesses
            .remove(&thread.addr)
            .unwrap_or_default();
        for with_guesses in [true, false] {
            if let Some(top) = self.read_snapshot(r, &plan, &guesses, with_guesses) {
                return Ok(top);
            }
        }
        // Even the snapshot could not be read: find the innermost frame alone
        // and let the walk read frame by frame.
        match plan.top_ptr {
            Some(ptr) => Ok(r.read_u64(ptr)?),
            None => Ok(plan.top),
        }
    }

    /// What to read for the snapshot of `thread`'s stack; `None` when the
    /// thread has no frame (no `cframe`).
    fn snapshot_plan(
        &self,
        r: &dyn MemoryReader,
        thread: &ThreadInfo,
    ) -> Result<Option<SnapshotPlan>, WalkError> {
        let o = self.layout.offsets;
        let data = thread.stack_chunk + o.stack_chunk_data;
        let live = thread
            .stack_top
            .checked_sub(data)
            .filter(|&n| thread.stack_chunk != 0 && n <= MAX_SNAPSHOT);
        let (top, top_ptr, range) = match o.current_frame {
            CurrentFrame::Direct(_) => (thread.top_frame, None, None),
            CurrentFrame::ViaCFrame { .. } if thread.cframe == 0 => return Ok(None),
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
        Ok(Some(SnapshotPlan {
            top,
            top_ptr,
            range,
        }))
    }

    /// One vectored read of what `plan` names, with the headers of the code
    /// objects `guesses` when `with_guesses`: the innermost frame, or `None`
    /// (and nothing kept) when the read failed.
    fn read_snapshot(
        &mut self,
        r: &dyn MemoryReader,
        plan: &SnapshotPlan,
        guesses: &[u64],
        with_guesses: bool,
    ) -> Option<u64> {
        let o = self.layout.offsets;
        let mut top_buf = [0u8; 8];
        let mut requests: Vec<(u64, &mut [u8])> = Vec::with_capacity(guesses.len() + 2);
        if let Some(ptr) = plan.top_ptr {
            requests.push((ptr, &mut top_buf[..]));
        }
        if let Some((start, len)) = plan.range {
            self.frames.snapshot.resize(len as usize, 0);
            requests.push((start, &mut self.frames.snapshot[..]));
        }
        let hlen = o.code_header_len() as usize;
        if with_guesses {
            self.code_cache.headers.resize(guesses.len() * hlen, 0);
            for (buf, &code) in self.code_cache.headers.chunks_mut(hlen).zip(guesses) {
                requests.push((code, buf));
            }
        }
        if requests.is_empty() || r.read_many(&mut requests).is_ok() {
            drop(requests);
            let top = match plan.top_ptr {
                Some(_) => u64::from_le_bytes(top_buf),
                None => plan.top,
            };
            if with_guesses {
                self.code_cache
                    .header_index
                    .extend(guesses.iter().enumerate().map(|(i, &c)| (c, i)));
            }
            self.frames.snapshot_base = plan.range.map_or(0, |(start, _)| start);
            return Some(top);
        }
        drop(requests);
        self.frames.snapshot.clear();
        self.code_cache.headers.clear();
        None
    }

    /// Follows `previous` from `top`, noting each frame's code and instruction.
    /// Shim frames (the interpreter's entry frame, C calls) are skipped.
    pub(super) fn collect_frames(
        &mut self,
        r: &dyn MemoryReader,
        top: u64,
    ) -> Result<(), WalkError> {
        let o = self.layout.offsets;
        let (model, owners) = (self.layout.frames, self.layout.owners);
        self.pending.clear();
        let mut frame = top;
        let mut depth = 0;
        let mut last_owner = owners.shim_min;
        let entry_flag = self.layout.eval_entry_flag();
        self.entries.clear();
        self.frames.window.clear();
        while frame != 0 {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(WalkError::Torn("frame chain too long"));
            }
            let buf = self.frames.frame_bytes(r, frame, self.live_only)?;
            let previous = u64_at(buf, o.frame_previous);
            last_owner = u8_at(buf, o.frame_owner);
            if !owners.is_shim(last_owner) {
                let (code, instr) = code_and_instr(&o, model, |off, n| field(buf, off, n))?;
                if code == 0 {
                    return Err(WalkError::Torn("null code object"));
                }
                self.pending.push((code, instr, frame));
                let entry = entry_flag.is_some_and(|at| u8_at(buf, at) != 0);
                self.entries.push(entry);
            } else if let Some(last) = self.entries.last_mut() {
                // The frame pushed just after a shim is its eval call's first.
                *last = true;
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
    /// `f_back` was cleared by a suspension racing the read. A frame whose
    /// reference count is 0 has returned and been freed.
    pub(super) fn collect_frame_objects(
        &mut self,
        r: &dyn MemoryReader,
        top: u64,
        frame_gen: u64,
    ) -> Result<(), WalkError> {
        let (o, model) = (self.layout.offsets, self.layout.frames);
        let frame_type = self.types.frame;
        self.pending.clear();
        self.entries.clear();
        self.frames.window.clear();
        let mut frame = top;
        let mut depth = 0;
        while frame != 0 {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(WalkError::Torn("frame chain too long"));
            }
            let buf = self.frames.frame_bytes(r, frame, self.live_only)?;
            if frame_type.is_some_and(|t| u64_at(buf, o.object_type) != t) {
                return Err(WalkError::Torn("not a frame object"));
            }
            // A frame that has returned is freed (reference count 0) onto the
            // code object's zombie slot or the free list, whose link is
            // `f_back`: a read racing a return follows it into frames of
            // nothing, e.g. the end of a deep recursion unwinding. `ob_refcnt`
            // sits just before `ob_type` in every build.
            if u64_at(buf, o.object_type - 8) == 0 {
                return Err(WalkError::Torn("a freed frame"));
            }
            let (code, lasti) = code_and_instr(&o, model, |off, n| field(buf, off, n))?;
            let back = u64_at(buf, o.frame_previous);
            if code == 0 {
                return Err(WalkError::Torn("null code object"));
            }
            if back == 0 && u64_at(buf, frame_gen) != 0 {
                return Err(WalkError::Torn("stack cut short"));
            }
            self.pending.push((code, lasti, frame));
            self.entries.push(true); // one eval call per frame object
            frame = back;
        }
        Ok(())
    }
}
