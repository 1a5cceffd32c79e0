//! Up to 3.13: the C tasks are in sets of `asyncio.tasks` (`_all_tasks` on
//! 3.8–3.11, `_scheduled_tasks` and `_eager_tasks` on 3.12–3.13), a
//! `WeakSet`'s `data` set of weak references or a plain set. Found through
//! the module's globals; a set's size is bounded before its table is read.

use super::{read_each, TaskLayout};
use crate::objects::ObjectReader;
use crate::reader::{u64_at, MemoryReader};
use crate::Walker;

/// Most slots read from one set.
const MAX_SLOTS: u64 = 1 << 16;
/// `PySetObject`: `mask` at 32, `table` at 40; 16-byte entries (key, hash).
const SET_MASK: u64 = 32;
const SET_TABLE: u64 = 40;
/// `PyWeakReference.wr_object`, after the object header.
const WR_OBJECT: u64 = 16;

/// The set objects of the layout's registries, in every interpreter's
/// `asyncio.tasks`, each with whether it holds weak references.
pub(super) fn find(layout: &TaskLayout, walker: &Walker, r: &dyn MemoryReader) -> Vec<(u64, bool)> {
    let Some(objects_at) = walker
        .layout()
        .objects
        .filter(|_| !layout.registries.is_empty())
    else {
        return Vec::new();
    };
    let objects = ObjectReader::new(r, walker.layout());
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
        for (name, weak) in &layout.registries {
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

/// The addresses of the objects the sets hold (through their weak
/// references for a weak set), unchecked.
pub(super) fn members(r: &dyn MemoryReader, sets: &[(u64, bool)]) -> Vec<u64> {
    let mut addrs = Vec::new();
    for &(set, weak) in sets {
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
    addrs
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
