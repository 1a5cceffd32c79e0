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
//! `end_bytes` they make. Big containers are sampled (see [`walk`]): a
//! global reaching one is marked `estimated`. It runs inside the exit
//! census's window (see [`super::heapcount`]), which reads the biggest
//! containers once for both. Memory: one address per
//! tracked object followed (a set), plus a filter of the live blocks
//! (128 KiB at least).

use super::heap::Heap;
use super::state::STATE;
use crate::ptrmap::PtrMap;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyModule};
use snakescope_model::MemoryGlobal;
use walk::Walk;
pub(super) use walk::{Blocks, Shortcuts};

mod walk;

/// What the walk starts from: every module's dict (`__main__` first, then
/// by name; snakescope's own left out), and the live blocks.
pub(super) struct Roots<'py> {
    modules: Vec<(String, Bound<'py, PyDict>)>,
    pub(super) blocks: Blocks,
}

/// What module globals hold: each site's bytes held (by site index), and
/// the globals holding any.
pub(super) type Held = (PtrMap<f64>, Vec<MemoryGlobal>);

/// The roots of the walk, gathered before the census (this may run Python
/// code); `None` when tracking is off.
pub(super) fn roots(py: Python<'_>) -> PyResult<Option<Roots<'_>>> {
    let map: PtrMap<(u32, f64)> = match STATE.lock() {
        Ok(g) => match g.as_ref() {
            Some(s) => s
                .live
                .iter()
                .map(|(&p, l)| (p, (l.site, l.bytes)))
                .collect(),
            None => return Ok(None),
        },
        Err(_) => return Ok(None),
    };
    let all = py
        .import("sys")?
        .getattr("modules")?
        .downcast_into::<PyDict>()?
        .copy()?;
    let mut modules: Vec<(String, Bound<'_, PyDict>)> = Vec::new();
    for (name, m) in all.iter() {
        let (Ok(name), Ok(m)) = (name.extract::<String>(), m.downcast_into::<PyModule>()) else {
            continue;
        };
        if name == "snakescope" || name.starts_with("snakescope.") {
            continue;
        }
        modules.push((name, m.dict()));
    }
    modules.sort_by_key(|(n, _)| (n != "__main__", n.clone()));
    Ok(Some(Roots {
        modules,
        blocks: Blocks::new(map),
    }))
}

/// Finds what module globals hold (see the module's documentation).
///
/// # Safety
/// GIL held; the program's allocations are no longer recorded; `shortcuts`
/// were taken with no Python code run since.
pub(super) unsafe fn hold(heap: &Heap, roots: &Roots<'_>, shortcuts: &Shortcuts) -> Held {
    let stops = roots
        .modules
        .iter()
        .map(|(_, d)| (d.as_ptr() as usize, ()))
        .collect();
    let blocks = &roots.blocks;
    let mut w = Walk::new(heap, blocks, shortcuts, stops);
    let mut names: Vec<(String, String, u64, bool)> = Vec::new();
    for (module, dict) in &roots.modules {
        for (key, value) in dict.iter() {
            let Ok(key) = key.extract::<String>() else {
                continue;
            };
            if key.starts_with("__") || value.downcast::<PyModule>().is_ok() {
                continue;
            }
            // SAFETY: per the contract; the walk runs no Python code.
            let (objects, sampled) = unsafe { w.walk_global(value.as_ptr(), names.len()) };
            names.push((module.clone(), key, objects, sampled));
        }
    }
    let mut by_site: PtrMap<f64> = PtrMap::default();
    let mut bytes = vec![0f64; names.len()];
    for (p, &(g, weight)) in &w.held {
        let (site, b) = blocks.map[p];
        *by_site.entry(site as usize).or_default() += b * weight as f64;
        bytes[g] += b * weight as f64;
    }
    let live: f64 = blocks.map.values().map(|&(_, b)| b).sum();
    let mut globals: Vec<MemoryGlobal> = names
        .into_iter()
        .zip(bytes)
        .filter(|(_, b)| *b > 0.0)
        .map(|((module, name, objects, estimated), b)| MemoryGlobal {
            module,
            name,
            objects,
            bytes: b.min(live).round() as u64,
            estimated,
        })
        .collect();
    globals.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    globals.truncate(100);
    (by_site, globals)
}

/// Marks what module globals hold: each site's `global` bytes and the
/// session's globals list.
pub(super) fn store((by_site, globals): Held) {
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
}
