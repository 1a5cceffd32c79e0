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
//!   hold them, so they go into a set — a distinct sample of all referents:
//!   an address is kept when its hash has at least `L` leading zeros, and
//!   `L` goes up by one (halving the kept set) whenever the set exceeds
//!   `DISTINCT` entries (Gibbons' distinct sampling). The tracked ones are
//!   dropped from it at the end (the walk reads no object: see
//!   [`Walk::visit`]), so tracked referents take room in the sample: the
//!   count is exact (`L = 0`) while the distinct referents fit. Each kept
//!   object stands for 2^L; a type with `n` kept objects has a relative
//!   standard error of about `1/sqrt(n)`. Sizes are read for at most
//!   `SIZED_PER_TYPE` kept objects of a type (its bytes: count × mean).
//!
//! Most references cost one multiply and compare (rejected by the hash)
//! once the sample is full, and a list's or tuple's items are read in a
//! loop: a list of 10^7 ints is censused in about 15 ms on a 2-CPU VM, with
//! a set of at most `DISTINCT` addresses.

use super::globals::{self, Blocks, Held, Roots, Shortcuts};
use super::heap::{basicsize, each_reference, is_tracked, level, type_of, Heap};
use crate::ptrmap::PtrMap;
use pyo3::ffi;
use pyo3::prelude::*;

/// Most distinct untracked objects kept (see the module's documentation).
const DISTINCT: usize = 1 << 16;
/// Most tracked objects whose size is read.
const SIZED: usize = 1 << 16;
/// Most kept untracked objects of one type whose size is read, when they
/// are a sample (their hash order is as random as the sample itself).
const SIZED_PER_TYPE: usize = 1 << 12;

/// A type's tally: count, and the bytes of the objects sized.
#[derive(Default, Clone, Copy)]
struct Tally {
    count: u64,
    sized: u64,
    bytes: u64,
}

/// The walk's state, handed to the visit function.
struct Walk {
    /// Kept untracked referents (address hash level >= `level`).
    kept: PtrMap<()>,
    level: u32,
    /// References visited.
    visited: u64,
}

impl Walk {
    /// One reference a tracked object holds: a candidate for the distinct
    /// sample. Whether it is untracked is asked only of those still kept
    /// at the end: reading an object is a cache miss when the sampled ones
    /// lie far apart (one in 256 ints of a list of 10^7: half a million
    /// misses, 50 ms, where the hash alone takes 10).
    #[inline(always)]
    fn visit(&mut self, o: *mut ffi::PyObject) {
        self.visited += 1;
        if o.is_null() || level(o as usize) < self.level {
            return;
        }
        self.kept.insert(o as usize, ());
        if self.kept.len() > DISTINCT {
            self.level += 1;
            let l = self.level;
            self.kept.retain(|&p, _| level(p) >= l);
        }
    }
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
pub(super) unsafe fn count_heap(
    py: Python<'_>,
    heap: &Heap,
    roots: Option<&Roots<'_>>,
) -> PyResult<(Counted, Option<Held>)> {
    let getsizeof = py.import("sys")?.getattr("getsizeof")?;
    // SAFETY: GIL held; nothing below runs Python code until the walk ends.
    let tracked = unsafe { heap.tracked_count() };
    let sized_level = (tracked.div_ceil(SIZED))
        .next_power_of_two()
        .trailing_zeros();
    let mut types: PtrMap<Tally> = PtrMap::default();
    let mut to_size: Vec<*mut ffi::PyObject> = Vec::new();
    let mut shortcuts = Shortcuts::default();
    let mut w = Walk {
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
            if heap.is_module(o) {
                return;
            }
            match roots.and_then(|_| Blocks::shortcut_level(o)) {
                Some(lvl) => {
                    let blocks = &roots.expect("roots").blocks;
                    let mut kept = Vec::new();
                    each_reference(o, &mut |r| {
                        w.visit(r);
                        if blocks.acts_on(r, lvl) {
                            kept.push(r);
                        }
                    });
                    shortcuts.insert(o as usize, kept);
                }
                None => each_reference(o, &mut |r| w.visit(r)),
            }
        });
    }
    // SAFETY: GIL held, and no Python code has run since the walk began.
    let held = roots.map(|r| unsafe { globals::hold(heap, r, &shortcuts) });
    drop(shortcuts);
    let weight = 1u64 << w.level;
    // SAFETY: the kept objects were alive when the walk ended (GIL held, no
    // code run since).
    let mut kept: Vec<*mut ffi::PyObject> = w
        .kept
        .keys()
        .map(|&p| p as *mut ffi::PyObject)
        .filter(|&o| unsafe { !is_tracked(o) && !heap.is_permanent(o) })
        .collect();
    drop(w.kept);
    // SAFETY: the kept objects were alive when the walk ended and no code ran
    // since; the references taken keep them alive while sizes run code.
    unsafe {
        for &o in &kept {
            ffi::Py_INCREF(o);
            types.entry(type_of(o) as usize).or_default().count += weight;
        }
    }
    let mut sized_kept: PtrMap<usize> = PtrMap::default();
    for (&o, per) in to_size
        .iter()
        .map(|o| (o, 1u64))
        .chain(kept.iter().map(|o| (o, weight)))
    {
        if per == weight && weight > 1 {
            // SAFETY: `o` is held by a reference taken above.
            let n = sized_kept
                .entry(unsafe { type_of(o) } as usize)
                .or_default();
            if *n >= SIZED_PER_TYPE {
                continue;
            }
            *n += 1;
        }
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
    let counted = Counted {
        rows,
        visited: w.visited,
        one_in: weight,
        sized_one_in: 1 << sized_level,
    };
    Ok((counted, held))
}

/// A native census: rows, estimated, references visited, one in how many
/// untracked objects was kept.
type NativeCensus = (Vec<(String, i64, i64)>, bool, u64, u64);

/// The census of the heap now, natively: `([(type name, count, bytes)] the
/// 200 types with most bytes, estimated, references visited, one in how
/// many untracked objects was kept)`, or `None` where the heap's layout is
/// not known (a free-threaded build): the Python census is used there.
/// `type_name` names a type; `small_ints` is the range of cached ints.
/// With `globals` (the census at the end), what module globals hold is
/// marked too (see [`super::globals`]), in the same window.
#[pyfunction]
#[pyo3(signature = (type_name, small_ints, globals=false))]
pub fn heap_census(
    py: Python<'_>,
    type_name: Bound<'_, PyAny>,
    small_ints: (i64, i64),
    globals: bool,
) -> PyResult<Option<NativeCensus>> {
    // The census's own allocations are not the program's.
    let paused = super::recording::pause_this_thread();
    let counted = census_and_globals(py, small_ints, globals);
    super::recording::resume_this_thread(paused);
    let Some((c, held)) = counted? else {
        return Ok(None);
    };
    if let Some(held) = held {
        globals::store(held);
    }
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

/// The census, and what globals hold when asked; `None` where the heap's
/// layout is not known.
fn census_and_globals(
    py: Python<'_>,
    small_ints: (i64, i64),
    globals: bool,
) -> PyResult<Option<(Counted, Option<Held>)>> {
    // SAFETY: the GIL is held (`py`).
    let Some(heap) = (unsafe { Heap::new(small_ints) }) else {
        return Ok(None);
    };
    let roots = if globals { globals::roots(py)? } else { None };
    // SAFETY: the GIL is held; this thread's allocations are not recorded.
    unsafe { count_heap(py, &heap, roots.as_ref()) }.map(Some)
}
