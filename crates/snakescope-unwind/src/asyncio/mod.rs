//! asyncio's tasks, read out of the target: where the C tasks are kept
//! (sets of `asyncio.tasks` up to 3.13, [`sets`]; from 3.14 linked lists
//! headed in the thread and interpreter states, [`lists`]), and in each
//! C `Task` its name, coroutine, awaited future, loop and state.
//!
//! `TaskObj` is private to `_asynciomodule.c`: where its fields sit, and
//! which of the two ways holds the tasks, is [`TaskLayout`], found by
//! asking the target's own interpreter (`python/snakescope/_asyncprobe.py`)
//! — the one place that tells versions apart. Everything read is checked
//! (the task's type is `_asyncio.Task`, a set's size and a list's length
//! are bounded); what does not check out is left out, never guessed.

mod lists;
mod sets;

pub use lists::TaskLists;

use crate::objects::ObjectReader;
use crate::reader::{u64_at, MemoryReader};
use crate::{ThreadInfo, Walker};
use lists::ListWalk;
use rustc_hash::FxHashMap;
use snakescope_layouts::Layout;

/// `PyTypeObject.tp_name`, after the variable-size object header.
const TP_NAME: u64 = 24;
/// The C task's type name.
const TASK_TYPE: &[u8] = b"_asyncio.Task\0";

/// Where the C `Task` keeps its fields, in bytes from its start, and where
/// the tasks are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLayout {
    pub size: u64,
    pub coro: u64,
    pub waiter: u64,
    pub event_loop: u64,
    pub name: u64,
    /// A C `int`: 0 pending, 1 cancelled, 2 finished.
    pub state: u64,
    /// Whether the coroutine's frame is inside it (3.11+) at `frame`, or a
    /// pointer to a frame object is there (3.8–3.10).
    pub frame_embedded: bool,
    pub frame: u64,
    /// Names in `asyncio.tasks` of the sets of tasks, and whether each
    /// holds them weakly (a `WeakSet`): up to 3.13.
    pub registries: Vec<(String, bool)>,
    /// The linked lists of tasks: 3.14+.
    pub lists: Option<TaskLists>,
}

/// One pending task as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub addr: u64,
    pub name: String,
    /// The address of its coroutine's frame (see [`crate::FrameRef::frame`]).
    pub frame: u64,
    /// The coroutine's code object.
    pub code: u64,
    /// What it awaits (a future or another task), 0 when nothing.
    pub waiter: u64,
    pub event_loop: u64,
}

/// Finds the tasks of one process, remembering where they are kept.
#[derive(Debug)]
pub struct TaskFinder {
    layout: TaskLayout,
    /// The registries' set objects, once found.
    sets: Vec<(u64, bool)>,
    /// The interpreters' list heads, once found.
    interp_heads: Vec<u64>,
    lists: ListWalk,
    /// Addresses of type objects known to be (or not to be) `_asyncio.Task`.
    types: FxHashMap<u64, bool>,
    /// Names by (task, name object).
    names: FxHashMap<(u64, u64), String>,
}

impl TaskFinder {
    pub fn new(layout: TaskLayout) -> TaskFinder {
        TaskFinder {
            layout,
            sets: Vec::new(),
            interp_heads: Vec::new(),
            lists: ListWalk::default(),
            types: FxHashMap::default(),
            names: FxHashMap::default(),
        }
    }

    /// Forgets where the registries and the interpreters' lists are
    /// (asyncio imported later, a registry replaced, an interpreter made):
    /// they are looked up again at the next call.
    pub fn forget_places(&mut self) {
        self.sets.clear();
        self.interp_heads.clear();
    }

    /// Whether it knows where to look: the registries were found (asyncio
    /// is imported), or the tasks are on lists (always there).
    pub fn knows_places(&self) -> bool {
        !self.sets.is_empty() || !self.interp_heads.is_empty()
    }

    /// Every pending C task of the process: those its registries hold, or
    /// those on the lists of its interpreters and of `threads`.
    pub fn tasks(
        &mut self,
        walker: &Walker,
        r: &dyn MemoryReader,
        threads: &[ThreadInfo],
    ) -> Vec<TaskInfo> {
        if !self.knows_places() {
            self.sets = sets::find(&self.layout, walker, r);
            if let Some(lists) = self.layout.lists {
                self.interp_heads = walker
                    .interpreters(r)
                    .iter()
                    .map(|i| i.wrapping_add(lists.interp_head))
                    .collect();
            }
        }
        let size = self.layout.size as usize;
        let addrs = sets::members(r, &self.sets);
        let mut found: Vec<(u64, Vec<u8>)> = addrs
            .iter()
            .zip(read_each(r, &addrs, size))
            .filter_map(|(&a, buf)| Some((a, buf?)))
            .collect();
        if let Some(lists) = self.layout.lists {
            let heads: Vec<u64> = threads
                .iter()
                .map(|t| t.addr.wrapping_add(lists.thread_head))
                .chain(self.interp_heads.iter().copied())
                .collect();
            found.extend(self.lists.tasks(r, lists.node, &heads, size));
        }
        if self.names.len() > 100_000 {
            self.names.clear();
        }
        let layout = walker.layout();
        let pending: Vec<Pending> = found
            .into_iter()
            .filter_map(|(a, buf)| self.pending(r, layout, a, &buf))
            .collect();
        // Each task's frame, then its code: two vectored reads a batch of
        // tasks, not one system call a task (5,000 tasks at 1 kHz).
        let frames: Vec<Option<u64>> = if self.layout.frame_embedded {
            pending
                .iter()
                .map(|p| Some(p.coro + self.layout.frame))
                .collect()
        } else {
            let slots: Vec<u64> = pending.iter().map(|p| p.coro + self.layout.frame).collect();
            read_u64_each(r, &slots)
        };
        // A frame of 0: the coroutine has returned (3.8–3.10).
        let (pending, frames): (Vec<Pending>, Vec<u64>) = pending
            .into_iter()
            .zip(frames)
            .filter_map(|(p, f)| Some((p, f.filter(|&f| f != 0)?)))
            .unzip();
        let code_slots: Vec<u64> = frames
            .iter()
            .map(|&f| f + layout.offsets.frame_code)
            .collect();
        let codes = read_u64_each(r, &code_slots);
        let objects = ObjectReader::new(r, layout);
        pending
            .into_iter()
            .zip(frames)
            .zip(codes)
            .filter_map(|((p, frame), code)| {
                let code = code_object(layout, code?)?;
                let name = self.name(&objects, p.addr, p.name_obj)?;
                Some(TaskInfo {
                    addr: p.addr,
                    name,
                    frame,
                    code,
                    waiter: p.waiter,
                    event_loop: p.event_loop,
                })
            })
            .collect()
    }

    /// The task at `addr` when it is a pending C task (what its own bytes say).
    fn pending(
        &mut self,
        r: &dyn MemoryReader,
        layout: &Layout,
        addr: u64,
        buf: &[u8],
    ) -> Option<Pending> {
        let l = &self.layout;
        let ty = u64_at(buf, layout.offsets.object_type);
        if !*self.types.entry(ty).or_insert_with(|| is_task_type(r, ty)) {
            return None;
        }
        let state = u64::from(crate::reader::u32_at(buf, l.state));
        let coro = u64_at(buf, l.coro);
        if state != 0 || coro == 0 {
            return None;
        }
        Some(Pending {
            addr,
            coro,
            name_obj: u64_at(buf, l.name),
            waiter: u64_at(buf, l.waiter),
            event_loop: u64_at(buf, l.event_loop),
        })
    }

    /// The name of task `addr` (its name object `name_obj`), read once.
    fn name(&mut self, objects: &ObjectReader<'_>, addr: u64, name_obj: u64) -> Option<String> {
        if let Some(name) = self.names.get(&(addr, name_obj)) {
            return Some(name.clone());
        }
        // 3.13+ name a task lazily: an `int` until asked for its name.
        let name = objects
            .string(name_obj)
            .or_else(|| objects.int(name_obj).map(|n| format!("Task-{n}")))?;
        self.names.insert((addr, name_obj), name.clone());
        Some(name)
    }
}

/// A pending task's fields, before its frame and code are read.
struct Pending {
    addr: u64,
    coro: u64,
    name_obj: u64,
    waiter: u64,
    event_loop: u64,
}

/// Requests per vectored read.
const BATCH: usize = 256;

/// `len` bytes at each address, read a batch at a time in one call; a batch
/// that fails (an address no longer mapped) is read one by one.
fn read_each(r: &dyn MemoryReader, addrs: &[u64], len: usize) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::with_capacity(addrs.len());
    for batch in addrs.chunks(BATCH) {
        let mut bufs: Vec<Vec<u8>> = batch.iter().map(|_| vec![0; len]).collect();
        let mut requests: Vec<(u64, &mut [u8])> = batch
            .iter()
            .zip(bufs.iter_mut())
            .map(|(&a, b)| (a, &mut b[..]))
            .collect();
        if r.read_many(&mut requests).is_ok() {
            out.extend(bufs.into_iter().map(Some));
        } else {
            out.extend(batch.iter().map(|&a| r.read_vec(a, len).ok()));
        }
    }
    out
}

/// A 64-bit word at each address (batched as [`read_each`] does).
fn read_u64_each(r: &dyn MemoryReader, addrs: &[u64]) -> Vec<Option<u64>> {
    read_each(r, addrs, 8)
        .into_iter()
        .map(|b| b.map(|b| u64_at(&b, 0)))
        .collect()
}

/// The code object a frame's code field holds (`raw`; its executable on
/// 3.14+, whose low bits may be tagged).
fn code_object(layout: &Layout, raw: u64) -> Option<u64> {
    let code = match layout.frames {
        snakescope_layouts::FrameModel::Interpreter => layout.offsets.frame_code_object(raw),
        snakescope_layouts::FrameModel::Objects(_) => raw,
    };
    (code != 0).then_some(code)
}

/// Whether the type object at `ty` is `_asyncio.Task`.
fn is_task_type(r: &dyn MemoryReader, ty: u64) -> bool {
    let Ok(name) = r.read_u64(ty + TP_NAME) else {
        return false;
    };
    r.read_vec(name, TASK_TYPE.len())
        .is_ok_and(|n| n == TASK_TYPE)
}

/// The name of the type of the object at `obj` (`tp_name`), e.g. what a
/// task awaits: `_asyncio.Future`, `_asyncio.Task`.
pub fn type_name(r: &dyn MemoryReader, layout: &Layout, obj: u64) -> Option<String> {
    let ty = r.read_u64(obj + layout.offsets.object_type).ok()?;
    let name = r.read_u64(ty + TP_NAME).ok()?;
    let raw = r.read_vec(name, 64).ok()?;
    let end = raw.iter().position(|&b| b == 0)?;
    String::from_utf8(raw[..end].to_vec()).ok()
}
