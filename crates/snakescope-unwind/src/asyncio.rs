//! asyncio's tasks, read out of the target: the registries of
//! `asyncio.tasks` (`_all_tasks` on 3.8–3.11, `_scheduled_tasks` and
//! `_eager_tasks` on 3.12–3.13: sets of the tasks, weakly held), and in each
//! C `Task` its name, coroutine, awaited future, loop and state.
//!
//! `TaskObj` is private to `_asynciomodule.c`: where its fields sit is
//! [`TaskLayout`], found by asking the target's own interpreter
//! (`python/snakescope/_asyncprobe.py`). Everything read is checked (the
//! task's type is `_asyncio.Task`, a set's size is bounded); what does not
//! check out is left out, never guessed.

use crate::objects::ObjectReader;
use crate::reader::{u64_at, MemoryReader};
use crate::Walker;
use rustc_hash::FxHashMap;
use snakescope_layouts::Layout;

/// Most slots read from one set.
const MAX_SLOTS: u64 = 1 << 16;
/// `PySetObject`: `mask` at 32, `table` at 40; 16-byte entries (key, hash).
const SET_MASK: u64 = 32;
const SET_TABLE: u64 = 40;
/// `PyWeakReference.wr_object`, after the object header.
const WR_OBJECT: u64 = 16;
/// `PyTypeObject.tp_name`, after the variable-size object header.
const TP_NAME: u64 = 24;
/// The C task's type name.
const TASK_TYPE: &[u8] = b"_asyncio.Task\0";

/// Where the C `Task` keeps its fields, in bytes from its start.
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
    /// holds them weakly (a `WeakSet`).
    pub registries: Vec<(String, bool)>,
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

/// Finds the tasks of one process, remembering where the registries are.
#[derive(Debug)]
pub struct TaskFinder {
    layout: TaskLayout,
    /// The registries' set objects, once found.
    sets: Vec<(u64, bool)>,
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
            types: FxHashMap::default(),
            names: FxHashMap::default(),
        }
    }

    /// Forgets where the registries are (asyncio imported later, or a
    /// registry replaced): they are looked up again at the next call.
    pub fn forget_registries(&mut self) {
        self.sets.clear();
    }

    /// Whether the registries were found (asyncio is imported).
    pub fn has_registries(&self) -> bool {
        !self.sets.is_empty()
    }

    /// Every pending task of every interpreter's `asyncio.tasks` registries.
    pub fn tasks(&mut self, walker: &Walker, r: &dyn MemoryReader) -> Vec<TaskInfo> {
        if self.sets.is_empty() {
            self.sets = self.find_registries(walker, r);
        }
        let mut addrs = Vec::new();
        for &(set, weak) in &self.sets {
            let Some(keys) = set_keys(r, set) else {
                continue;
            };
            if weak {
                let refs: Vec<u64> = keys.iter().map(|k| k + WR_OBJECT).collect();
                for bytes in read_each(r, &refs, 8).into_iter().flatten() {
                    addrs.push(u64_at(&bytes, 0));
                }
            } else {
                addrs.extend(keys);
            }
        }
        addrs.retain(|&a| a != 0 && a % 8 == 0);
        addrs.sort_unstable();
        addrs.dedup();
        if self.names.len() > 100_000 {
            self.names.clear();
        }
        let objects = ObjectReader::new(r, walker.layout());
        let size = self.layout.size as usize;
        let bufs = read_each(r, &addrs, size);
        addrs
            .into_iter()
            .zip(bufs)
            .filter_map(|(a, buf)| self.task(r, &objects, walker.layout(), a, &buf?))
            .collect()
    }

    fn find_registries(&self, walker: &Walker, r: &dyn MemoryReader) -> Vec<(u64, bool)> {
        let layout = walker.layout();
        let Some(objects_at) = layout.objects else {
            return Vec::new();
        };
        let objects = ObjectReader::new(r, layout);
        let mut sets = Vec::new();
        for interp in walker.interpreters(r) {
            let Some(modules) = r.read_u64(interp + objects_at.interp_modules).ok() else {
                continue;
            };
            let Some(module) = objects.dict_get(modules, "asyncio.tasks") else {
                continue;
            };
            let Ok(dict) = r.read_u64(module + objects_at.module_dict) else {
                continue;
            };
            for (name, weak) in &self.layout.registries {
                let set = objects.dict_get(dict, name);
                let set = if *weak {
                    set.and_then(|s| objects.attribute(s, "data"))
                } else {
                    set
                };
                sets.extend(set.map(|s| (s, *weak)));
            }
        }
        sets
    }

    /// The task at `addr` when it is a pending C task.
    fn task(
        &mut self,
        r: &dyn MemoryReader,
        objects: &ObjectReader<'_>,
        layout: &Layout,
        addr: u64,
        buf: &[u8],
    ) -> Option<TaskInfo> {
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
        let frame = if l.frame_embedded {
            coro + l.frame
        } else {
            r.read_u64(coro + l.frame).ok()?
        };
        if frame == 0 {
            return None; // the coroutine has returned
        }
        let name_obj = u64_at(buf, l.name);
        let name = match self.names.get(&(addr, name_obj)) {
            Some(name) => name.clone(),
            None => {
                // 3.13+ name a task lazily: an `int` until asked for its name.
                let name = objects
                    .string(name_obj)
                    .or_else(|| objects.int(name_obj).map(|n| format!("Task-{n}")))?;
                self.names.insert((addr, name_obj), name.clone());
                name
            }
        };
        let code = code_of_frame(r, layout, frame)?;
        Some(TaskInfo {
            addr,
            name,
            frame,
            code,
            waiter: u64_at(buf, l.waiter),
            event_loop: u64_at(buf, l.event_loop),
        })
    }
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

/// The code object of the frame at `frame` (its executable on 3.14+).
fn code_of_frame(r: &dyn MemoryReader, layout: &Layout, frame: u64) -> Option<u64> {
    let o = &layout.offsets;
    let raw = r.read_u64(frame + o.frame_code).ok()?;
    let code = match layout.frames {
        snakescope_layouts::FrameModel::Interpreter => o.frame_code_object(raw),
        snakescope_layouts::FrameModel::Objects(_) => raw,
    };
    (code != 0).then_some(code)
}

/// The live keys of the set object at `set`.
fn set_keys(r: &dyn MemoryReader, set: u64) -> Option<Vec<u64>> {
    let head = r.read_vec(set, (SET_TABLE + 8) as usize).ok()?;
    let mask = u64_at(&head, SET_MASK);
    let table = u64_at(&head, SET_TABLE);
    if mask >= MAX_SLOTS || !(mask + 1).is_power_of_two() || table == 0 {
        return None;
    }
    let raw = r.read_vec(table, ((mask + 1) * 16) as usize).ok()?;
    Some(
        raw.chunks_exact(16)
            .map(|e| u64_at(e, 0))
            .filter(|&k| k != 0 && k % 8 == 0)
            .collect(),
    )
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
