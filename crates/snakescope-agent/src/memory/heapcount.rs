//! The heap census, natively (GIL held, no Python code run while it walks):
//! objects by type as the collector sees them — every tracked object, and
//! the untracked objects they refer to (ints, floats, strings inside
//! containers), leaving out the interpreter's preallocated ones — the same
//! view as `_memory.census_rows`, in time linear in the references and
//! memory bounded by its limits:
//!
//! - Tracked objects are counted exactly (one pass over the collector's
//!   lists). Their sizes (`sys.getsizeof`, which can run Python code) are
//!   read for at most `SIZED` of them: beyond, for a 1-in-2^k sample by
//!   address hash, and a type's bytes are its count times its sampled mean.
//! - Untracked referents must be counted once each however many containers
//!   hold them, so they go into a set — a distinct sample: an object is
//!   kept when its address hash has at least `L` leading zeros, and `L`
//!   goes up by one (halving the kept set) whenever the set exceeds
//!   `DISTINCT` entries (Gibbons' distinct sampling). Each kept object
//!   stands for 2^L; with `L = 0` the count is exact. A type with `n` kept
//!   objects has a relative standard error of about `1/sqrt(n)`.
//!
//! Most references cost one multiply and compare (rejected by the hash)
//! once the sample is full: a list of 10^7 ints is censused in tens of
//! milliseconds with a set of at most `DISTINCT` addresses.

use super::heap::{basicsize, is_tracked, level, traverse, type_of, Heap};
use crate::ptrmap::PtrMap;
use pyo3::ffi;
use pyo3::prelude::*;
use std::os::raw::{c_int, c_void};

/// Most distinct untracked objects kept (see the module's documentation).
const DISTINCT: usize = 1 << 16;
/// Most tracked objects whose size is read.
const SIZED: usize = 1 << 16;

/// A type's tally: count, and the bytes of the objects sized.
#[derive(Default, Clone, Copy)]
struct Tally {
    count: u64,
    sized: u64,
    bytes: u64,
}

/// The walk's state, handed to the visit function.
struct Walk<'h> {
    heap: &'h Heap,
    /// Kept untracked referents (address hash level >= `level`).
    kept: PtrMap<()>,
    level: u32,
    /// References visited.
    visited: u64,
}

unsafe extern "C" fn visit(o: *mut ffi::PyObject, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Walk` that `count_heap` passed to traverse, alive
    // and not otherwise borrowed during the call.
    let w = unsafe { &mut *arg.cast::<Walk>() };
    w.visited += 1;
    if o.is_null() || level(o as usize) < w.level {
        return 0;
    }
    // SAFETY: traverse hands out live objects; GIL held.
    if unsafe { is_tracked(o) || w.heap.is_permanent(o) } {
        return 0;
    }
    w.kept.insert(o as usize, ());
    if w.kept.len() > DISTINCT {
        w.level += 1;
        let l = w.level;
        w.kept.retain(|&p, _| level(p) >= l);
    }
    0
}

/// The census's result: rows `(type, count, bytes)` (bytes estimated for
/// sampled types), references visited, and 2^L for untracked objects and
/// 2^k for sizes (1: exact).
pub(super) struct Counted {
    pub(super) rows: Vec<(Py<PyAny>, i64, i64)>,
    pub(super) visited: u64,
    pub(super) one_in: u64,
    pub(super) sized_one_in: u64,
}

/// Takes the census (see the module's documentation).
///
/// # Safety
/// GIL held (`py`); the calling thread's allocations are not recorded.
pub(super) unsafe fn count_heap(py: Python<'_>, heap: &Heap) -> PyResult<Counted> {
    let getsizeof = py.import("sys")?.getattr("getsizeof")?;
    // SAFETY: GIL held; nothing below runs Python code until the walk ends.
    let tracked = unsafe { heap.tracked_count() };
    let sized_level = (tracked.div_ceil(SIZED))
        .next_power_of_two()
        .trailing_zeros();
    let mut types: PtrMap<Tally> = PtrMap::default();
    let mut to_size: Vec<*mut ffi::PyObject> = Vec::new();
    let mut w = Walk {
        heap,
        kept: PtrMap::default(),
        level: 0,
        visited: 0,
    };
    // SAFETY: GIL held; `visit` runs no Python code, so the lists stay as they are.
    unsafe {
        heap.each_tracked(|o| {
            types.entry(type_of(o) as usize).or_default().count += 1;
            if level(o as usize) >= sized_level {
                ffi::Py_INCREF(o);
                to_size.push(o);
            }
            if !heap.is_module(o) {
                traverse(o, visit, (&mut w as *mut Walk).cast());
            }
        });
    }
    let weight = 1u64 << w.level;
    let mut kept: Vec<*mut ffi::PyObject> =
        w.kept.keys().map(|&p| p as *mut ffi::PyObject).collect();
    drop(w.kept);
    // SAFETY: the kept objects were alive when the walk ended and no code ran
    // since; the references taken keep them alive while sizes run code.
    unsafe {
        for &o in &kept {
            ffi::Py_INCREF(o);
            types.entry(type_of(o) as usize).or_default().count += weight;
        }
    }
    for (&o, per) in to_size
        .iter()
        .map(|o| (o, 1u64))
        .chain(kept.iter().map(|o| (o, weight)))
    {
        // SAFETY: `o` is held by a reference taken above.
        let b = unsafe { Bound::from_borrowed_ptr(py, o) };
        let size: u64 = getsizeof
            .call1((b.clone(),))
            .and_then(|s| s.extract())
            .unwrap_or(0);
        let t = types.entry(b.get_type().as_ptr() as usize).or_default();
        t.sized += per;
        t.bytes += size * per;
    }
    let rows = types
        .into_iter()
        .map(|(t, tally)| {
            // SAFETY: a type of an object still alive (held by its objects;
            // type objects outlive them).
            let ty = unsafe { Bound::from_borrowed_ptr(py, t as *mut ffi::PyObject) };
            let bytes = if tally.sized >= tally.count {
                tally.bytes
            } else if tally.sized > 0 {
                (tally.bytes as f64 * tally.count as f64 / tally.sized as f64).round() as u64
            } else {
                // SAFETY: `t` is a live type.
                tally.count * (unsafe { basicsize(t as *mut ffi::PyTypeObject) } as u64 + 16)
            };
            (ty.unbind(), tally.count as i64, bytes as i64)
        })
        .collect();
    // SAFETY: the references taken above.
    unsafe {
        to_size
            .drain(..)
            .chain(kept.drain(..))
            .for_each(|o| ffi::Py_DECREF(o));
    }
    Ok(Counted {
        rows,
        visited: w.visited,
        one_in: weight,
        sized_one_in: 1 << sized_level,
    })
}

/// A native census: rows, estimated, references visited, one in how many
/// untracked objects was kept.
type NativeCensus = (Vec<(String, i64, i64)>, bool, u64, u64);

/// The census of the heap now, natively: `([(type name, count, bytes)] the
/// 200 types with most bytes, estimated, references visited, one in how
/// many untracked objects was kept)`, or `None` where the heap's layout is
/// not known (a free-threaded build): the Python census is used there.
/// `type_name` names a type; `small_ints` is the range of cached ints.
#[pyfunction]
pub fn heap_census(
    py: Python<'_>,
    type_name: Bound<'_, PyAny>,
    small_ints: (i64, i64),
) -> PyResult<Option<NativeCensus>> {
    // The census's own allocations are not the program's.
    let paused = super::recording::pause_this_thread();
    // SAFETY: the GIL is held (`py`).
    let counted = unsafe { Heap::new(small_ints) }.map(|heap| unsafe { count_heap(py, &heap) });
    super::recording::resume_this_thread(paused);
    let Some(c) = counted.transpose()? else {
        return Ok(None);
    };
    let mut rows = c
        .rows
        .into_iter()
        .map(|(t, n, b)| Ok((type_name.call1((t,))?.extract::<String>()?, n, b)))
        .collect::<PyResult<Vec<_>>>()?;
    rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(200);
    let estimated = c.one_in > 1 || c.sized_one_in > 1;
    Ok(Some((rows, estimated, c.visited, c.one_in)))
}
