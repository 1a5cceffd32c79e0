//! What module globals hold at exit, so that leaks can leave it out: a
//! leak is memory the program allocated and never freed that no module
//! global reaches.
//!
//! From each global name (`module.name`, `__main__` first, then modules by
//! name; dunder names, modules and snakescope's own modules left out), a
//! walk over `tp_traverse` (GIL held, no Python code run) visits what the
//! name reaches; a module's `__dict__` stops it (a function's
//! `__globals__` would otherwise lead to every name of its module), and an
//! object reached from an earlier name belongs to that name. For each
//! object visited, the live tracked blocks (sampled allocations) it owns
//! are found: its own block (at its address, or before its GC head and
//! pre-header) and buffers whose start its fixed part points to (a list's
//! items, a dict's keys, a bytearray's bytes). Those blocks' bytes are
//! held by that global; each site's `global_bytes` is the part of its
//! `end_bytes` they make. Memory: one address per tracked object reached
//! (a set), plus a 128 KiB filter of the live blocks.

use super::heap::{basicsize, flags, is_tracked, traverse, type_of, Heap};
use super::state::STATE;
use crate::ptrmap::PtrMap;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use snakescope_model::MemoryGlobal;
use std::os::raw::{c_int, c_void};

const HAVE_GC: u64 = 1 << 14;
/// `Py_TPFLAGS_MANAGED_WEAKREF | Py_TPFLAGS_MANAGED_DICT` (3.11+): two
/// words before the GC head.
const PREHEADER: u64 = (1 << 3) | (1 << 4);
const FILTER_BITS: u32 = 20;

/// The live blocks (start → (site, bytes)), with a bit filter in front.
struct Blocks {
    map: PtrMap<(u32, f64)>,
    filter: Vec<u64>,
}

impl Blocks {
    fn bit(p: usize) -> usize {
        ((p as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
    }
    fn new(map: PtrMap<(u32, f64)>) -> Blocks {
        let mut filter = vec![0u64; 1 << (FILTER_BITS - 6)];
        for &p in map.keys() {
            let b = Self::bit(p);
            filter[b / 64] |= 1 << (b % 64);
        }
        Blocks { map, filter }
    }
    #[inline(always)]
    fn may_hold(&self, p: usize) -> bool {
        let b = Self::bit(p);
        self.filter[b / 64] & (1 << (b % 64)) != 0
    }
}

struct Walk<'a> {
    heap: &'a Heap,
    blocks: &'a Blocks,
    stops: PtrMap<()>,
    seen: PtrMap<()>,
    stack: Vec<*mut ffi::PyObject>,
    /// Block start → the global that holds it.
    held: PtrMap<usize>,
    current: usize,
    objects: u64,
}

impl Walk<'_> {
    /// Counts `o` for the current global and claims the blocks it owns.
    ///
    /// # Safety
    /// `o` is live; GIL held.
    unsafe fn account(&mut self, o: *mut ffi::PyObject) {
        self.objects += 1;
        // SAFETY: per the contract; reads the object's header words (its GC
        // head and pre-header exist when its type's flags say so) and its
        // fixed part (`tp_basicsize` bytes).
        unsafe {
            let t = type_of(o);
            let p = o as usize;
            if self.heap.is_atom(t) {
                self.claim(p); // no header before it, no buffer outside it
                return;
            }
            let f = flags(t);
            let pre =
                if f & HAVE_GC != 0 { 16 } else { 0 } + if f & PREHEADER != 0 { 16 } else { 0 };
            let words = (pre + basicsize(t)) / 8;
            let start = p - pre;
            self.claim(start);
            if f & HAVE_GC != 0 {
                self.claim(p - 16);
            }
            for i in 0..words.min(64) {
                self.claim(*((start + 8 * i) as *const usize));
            }
        }
    }

    #[inline(always)]
    fn claim(&mut self, p: usize) {
        if p != 0 && self.blocks.may_hold(p) && self.blocks.map.contains_key(&p) {
            self.held.entry(p).or_insert(self.current);
        }
    }
}

unsafe extern "C" fn visit(o: *mut ffi::PyObject, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the walk `hold` passed to traverse, not otherwise borrowed meanwhile.
    let w = unsafe { &mut *arg.cast::<Walk>() };
    if o.is_null() {
        return 0;
    }
    // SAFETY: traverse hands out live objects; GIL held.
    unsafe {
        if w.heap.is_atom(type_of(o)) {
            // The common case first (a list of numbers): never tracked, one
            // block, no buffer; a preallocated one is in no recorded block.
            w.objects += 1;
            w.claim(o as usize);
        } else if is_tracked(o) {
            let p = o as usize;
            if !w.stops.contains_key(&p) && !w.heap.is_module(o) && w.seen.insert(p, ()).is_none() {
                w.stack.push(o);
            }
        } else if !w.heap.is_permanent(o) {
            w.account(o);
        }
    }
    0
}

/// Finds what module globals hold (see the module's documentation): each
/// site's bytes held (by site index) and the globals holding any.
///
/// # Safety
/// GIL held (`py`); the program's allocations are no longer recorded.
unsafe fn hold(
    py: Python<'_>,
    heap: &Heap,
    blocks: &Blocks,
) -> PyResult<(PtrMap<f64>, Vec<MemoryGlobal>)> {
    let modules = py
        .import("sys")?
        .getattr("modules")?
        .downcast_into::<PyDict>()?
        .copy()?;
    let mut named: Vec<(String, Bound<'_, PyDict>)> = Vec::new();
    for (name, m) in modules.iter() {
        let (Ok(name), Ok(m)) = (name.extract::<String>(), m.downcast_into::<PyModule>()) else {
            continue;
        };
        if name == "snakescope" || name.starts_with("snakescope.") {
            continue;
        }
        named.push((name, m.dict()));
    }
    named.sort_by_key(|(n, _)| (n != "__main__", n.clone()));
    let stops = named
        .iter()
        .map(|(_, d)| (d.as_ptr() as usize, ()))
        .collect();
    let mut w = Walk {
        heap,
        blocks,
        stops,
        seen: PtrMap::default(),
        stack: Vec::new(),
        held: PtrMap::default(),
        current: 0,
        objects: 0,
    };
    let mut names: Vec<(String, String, u64)> = Vec::new();
    for (module, dict) in &named {
        for (key, value) in dict.iter() {
            let Ok(key) = key.extract::<String>() else {
                continue;
            };
            if key.starts_with("__") || value.downcast::<PyModule>().is_ok() {
                continue;
            }
            w.current = names.len();
            w.objects = 0;
            let o = value.as_ptr();
            // SAFETY: GIL held; `visit` runs no Python code.
            unsafe {
                if is_tracked(o) {
                    if !w.stops.contains_key(&(o as usize))
                        && w.seen.insert(o as usize, ()).is_none()
                    {
                        w.stack.push(o);
                    }
                } else if !heap.is_permanent(o) {
                    w.account(o);
                }
                while let Some(o) = w.stack.pop() {
                    w.account(o);
                    traverse(o, visit, (&mut w as *mut Walk).cast());
                }
            }
            names.push((module.clone(), key, w.objects));
        }
    }
    let mut by_site: PtrMap<f64> = PtrMap::default();
    let mut bytes = vec![0f64; names.len()];
    for (p, g) in &w.held {
        let (site, b) = blocks.map[p];
        *by_site.entry(site as usize).or_default() += b;
        bytes[*g] += b;
    }
    let mut globals: Vec<MemoryGlobal> = names
        .into_iter()
        .zip(bytes)
        .filter(|(_, b)| *b > 0.0)
        .map(|((module, name, objects), b)| MemoryGlobal {
            module,
            name,
            objects,
            bytes: b.round() as u64,
        })
        .collect();
    globals.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    globals.truncate(100);
    Ok((by_site, globals))
}

/// Marks what module globals hold, at exit: each site's `global` bytes
/// and the session's globals list. Nothing when the heap's layout is not
/// known (3.13t) or tracking is off.
pub fn mark_globals(py: Python<'_>, small_ints: (i64, i64)) -> PyResult<()> {
    let map: PtrMap<(u32, f64)> = match STATE.lock() {
        Ok(g) => match g.as_ref() {
            Some(s) => s
                .live
                .iter()
                .map(|(&p, l)| (p, (l.site, l.bytes)))
                .collect(),
            None => return Ok(()),
        },
        Err(_) => return Ok(()),
    };
    // SAFETY: GIL held (`py`).
    let Some(heap) = (unsafe { Heap::new(small_ints) }) else {
        return Ok(());
    };
    let blocks = Blocks::new(map);
    // SAFETY: GIL held; the caller paused recording.
    let (by_site, globals) = unsafe { hold(py, &heap, &blocks) }?;
    if let Ok(mut g) = STATE.lock() {
        if let Some(s) = g.as_mut() {
            for (site, b) in by_site {
                if let Some(entry) = s.sites.get_mut(site) {
                    entry.2.global += b;
                }
            }
            s.globals = globals;
        }
    }
    Ok(())
}
