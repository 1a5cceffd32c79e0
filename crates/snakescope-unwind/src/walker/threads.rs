//! The thread list: every interpreter's thread states, read in one vectored
//! read per interpreter with the states of the previous sample guessed.

use super::{ThreadInfo, WalkError, Walker};
use crate::objects::ObjectReader;
use crate::reader::{u32_at, u64_at, MemoryReader};
use snakescope_layouts::{CurrentFrame, FrameModel, GilBase, NativeId, Offsets};
use std::collections::HashMap;

/// Most threads (over all interpreters) the walker lists.
const MAX_THREADS: usize = 100_000;
/// Interpreters searched for thread names.
pub(crate) const MAX_INTERPRETERS: usize = 64;
/// `sizeof(struct _gil_runtime_state)` on x86-64 and aarch64 glibc (two
/// 48-byte `pthread_cond_t`s and two 40-byte `pthread_mutex_t`s after 32
/// bytes of counters), the same from 3.8 to 3.15.
const GIL_STATE_SIZE: u64 = 208;
/// Reads of the thread list between re-reads of `interpreters.head`.
const INTERP_REFRESH: u32 = 64;

/// What the walker keeps between reads of the thread list: the first
/// interpreter (re-read every [`INTERP_REFRESH`] reads) and its thread
/// states at the previous sample, read again speculatively with the list.
#[derive(Debug)]
pub(super) struct ThreadListCache {
    interp_head: u64,
    interp_head_age: u32,
    predicted: Vec<u64>,
    predicted_bufs: Vec<u8>,
    predicted_read: bool,
    /// One thread state.
    thread_buf: Vec<u8>,
}

impl ThreadListCache {
    pub(super) fn new(o: &Offsets) -> ThreadListCache {
        ThreadListCache {
            interp_head: 0,
            interp_head_age: 0,
            predicted: Vec::new(),
            predicted_bufs: Vec::new(),
            predicted_read: false,
            thread_buf: vec![0; o.thread_size as usize],
        }
    }
}

/// The thread state `b` at `tstate`, decoded.
fn thread_info(
    o: &Offsets,
    has_chunks: bool,
    b: &[u8],
    tstate: u64,
    holds_gil: Option<bool>,
) -> ThreadInfo {
    let (cframe, top_frame) = match o.current_frame {
        CurrentFrame::Direct(off) => (0, u64_at(b, off)),
        CurrentFrame::ViaCFrame { cframe, .. } => (u64_at(b, cframe), 0),
    };
    ThreadInfo {
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
        holds_gil,
    }
}

impl Walker {
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
                let holds_gil = holder.map(|h| h == tstate);
                threads.push(thread_info(&o, has_chunks, b, tstate, holds_gil));
                tstate = u64_at(b, o.thread_next);
            }
            if interp == self.thread_list.interp_head {
                self.thread_list.predicted = threads[first..].iter().map(|t| t.addr).collect();
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

    /// Where the GIL of the first interpreter lies, `(start, end)`: its
    /// `struct _gil_runtime_state` (3.8–3.15: `interval`, `last_holder`,
    /// `locked`, `switch_number`, then the condition variables and mutexes a
    /// thread blocks on to take it, 208 bytes with `FORCE_SWITCHING`).
    /// A thread blocked in a futex inside it is waiting for the GIL. `None`
    /// without a GIL (3.13t) or before the thread list was read.
    pub fn gil_span(&self) -> Option<(u64, u64)> {
        let g = self.layout.offsets.gil?;
        let base = match g.base {
            GilBase::Runtime => self.runtime,
            GilBase::Interpreter if self.thread_list.interp_head != 0 => {
                self.thread_list.interp_head
            }
            GilBase::Interpreter => return None,
        };
        // `last_holder` follows the one `unsigned long` (`interval`).
        let start = base + g.holder.min(g.locked) - 8;
        Some((start, start + GIL_STATE_SIZE))
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
        let mut b = std::mem::take(&mut self.thread_list.thread_buf);
        let read = r.read(tstate, &mut b);
        let has_chunks = self.layout.frames == FrameModel::Interpreter;
        let info = read.map(|()| thread_info(&o, has_chunks, &b, tstate, None));
        self.thread_list.thread_buf = b;
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
        if self.thread_list.interp_head_age == 0 || self.thread_list.interp_head == 0 {
            self.thread_list.interp_head =
                r.read_u64(self.runtime + self.layout.offsets.runtime_interpreters_head)?;
            self.thread_list.interp_head_age = INTERP_REFRESH;
        }
        self.thread_list.interp_head_age -= 1;
        Ok(self.thread_list.interp_head)
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
        let size = self.thread_list.thread_buf.len();
        if interp == self.thread_list.interp_head
            && self.thread_list.predicted_read
            && self.thread_list.predicted.get(index) == Some(&addr)
        {
            return Ok(&self.thread_list.predicted_bufs[index * size..(index + 1) * size]);
        }
        r.read(addr, &mut self.thread_list.thread_buf)?;
        Ok(&self.thread_list.thread_buf)
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
        let size = self.thread_list.thread_buf.len();
        let speculate =
            interp == self.thread_list.interp_head && !self.thread_list.predicted.is_empty();
        self.thread_list.predicted_read = false;
        if speculate {
            self.thread_list
                .predicted_bufs
                .resize(self.thread_list.predicted.len() * size, 0);
            for (buf, &addr) in self
                .thread_list
                .predicted_bufs
                .chunks_mut(size)
                .zip(&self.thread_list.predicted)
            {
                requests.push((addr, buf));
            }
            // A thread that has exited may have left unmapped memory behind:
            // then read again without the guesses.
            if r.read_many(&mut requests).is_ok() {
                self.thread_list.predicted_read = true;
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
}
