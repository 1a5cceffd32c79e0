//! The interpreter's heap read natively (GIL held, GC builds only): the
//! collector's object lists, each container's references through its
//! `tp_traverse`, and what counts as the interpreter's own (preallocated)
//! objects. The census ([`super::heapcount`]) and the globals' reach
//! ([`super::globals`]) are built on it.
//!
//! The layout read here is CPython's on 3.8–3.14 without the free-threaded
//! build: every object the collector tracks is preceded by a `PyGC_Head`
//! (two words: next, prev) linking it into one of three generation lists,
//! whose heads sit in one array of `{head, threshold, count}` (24 bytes);
//! `tp_traverse` is at the same offset of `PyTypeObject` everywhere. A new
//! tracked object is appended to the youngest list, so its `next` is that
//! list's head — which is how the heads are found without any private
//! symbol. `gc.freeze()` moves objects to a fourth list, the permanent
//! generation, whose head is in the same structure (a few words after the
//! array; where exactly differs between versions and builds): when
//! `gc.get_freeze_count()` says it holds objects, it is found by following
//! the links from an object made at start-up (`sys.modules`), frozen
//! with the rest, to the first node near the other heads. [`Heap::new`] checks what it relies on (type sizes, the heads'
//! links) and gives up (the Python census is used instead) when anything
//! differs.

use pyo3::ffi;
use std::os::raw::{c_int, c_void};

/// `Py_TPFLAGS_HEAPTYPE`, `Py_TPFLAGS_HAVE_GC`.
const HEAPTYPE: u64 = 1 << 9;
const HAVE_GC: u64 = 1 << 14;
/// Offsets in `PyTypeObject` (after `PyVarObject`: name, basicsize,
/// itemsize, 16 more slots, flags, doc, traverse).
const TP_BASICSIZE: usize = 32;
const TP_TRAVERSE: usize = 184;
/// `sizeof(PyGC_Head)`, and one generation's entry in the array of heads.
const GC_HEAD: usize = 16;
const GENERATION: usize = 24;
const GENERATIONS: usize = 3;
/// The flag bits of a GC head's links: `_gc_next` keeps one (unreachable
/// while collecting; 3.14's old space), `_gc_prev` two (finalized,
/// collecting). Only those may be masked: the heads of the generation
/// lists need not be 8-aligned (Debian's 3.13.5 has them at 4 mod 8, and
/// masking three bits sent the walk into the wrong words).
const NEXT_MASK: usize = !1;
const PREV_MASK: usize = !3;

pub(super) type Visit = unsafe extern "C" fn(*mut ffi::PyObject, *mut c_void) -> c_int;
type Traverse = unsafe extern "C" fn(*mut ffi::PyObject, Visit, *mut c_void) -> c_int;

/// What the walks need to know about this interpreter.
pub(super) struct Heap {
    /// The generations' heads, and the permanent generation's (0 when not
    /// found).
    heads: [usize; GENERATIONS + 1],
    small_ints: (usize, usize),
    singletons: [usize; 5],
    module_type: usize,
    atoms: [usize; 4],
}

/// A deterministic hash of an address: the sample of objects whose hash
/// has at least `L` leading zeros is a uniform 1-in-2^L sample of them, the
/// same objects for every walk.
#[inline(always)]
pub(super) fn level(p: usize) -> u32 {
    ((p as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15)).leading_zeros()
}

/// The type of `o`.
///
/// # Safety
/// `o` is a live object.
#[inline(always)]
pub(super) unsafe fn type_of(o: *mut ffi::PyObject) -> *mut ffi::PyTypeObject {
    // SAFETY: per the contract.
    unsafe { ffi::Py_TYPE(o) }
}

/// The flags of type `t`.
///
/// # Safety
/// `t` is a live type object; GIL held.
#[inline(always)]
pub(super) unsafe fn flags(t: *mut ffi::PyTypeObject) -> u64 {
    // SAFETY: per the contract (a limited-API call).
    unsafe { ffi::PyType_GetFlags(t) as u64 }
}

/// `tp_basicsize` of `t`.
///
/// # Safety
/// `t` is a live type object.
pub(super) unsafe fn basicsize(t: *mut ffi::PyTypeObject) -> usize {
    // SAFETY: a field of every PyTypeObject at this offset (checked in Heap::new).
    unsafe { *(t as *const u8).add(TP_BASICSIZE).cast::<isize>() }.max(0) as usize
}

/// Whether the collector tracks `o` now.
///
/// # Safety
/// `o` is a live object; GIL held.
#[inline(always)]
pub(super) unsafe fn is_tracked(o: *mut ffi::PyObject) -> bool {
    // SAFETY: an object of a GC type is preceded by its GC head, whose first
    // word (next) is 0 exactly when the object is not tracked — except a
    // static (non-heap) type: a GC type's instance without a GC head.
    unsafe {
        flags(type_of(o)) & HAVE_GC != 0
            && !(ffi::PyType_Check(o) != 0 && flags(o.cast()) & HEAPTYPE == 0)
            && *(o as *const usize).sub(2) != 0
    }
}

/// Calls `visit(referent, arg)` for each object `o` refers to.
///
/// # Safety
/// `o` is a live object; GIL held; `visit` runs no Python code.
pub(super) unsafe fn traverse(o: *mut ffi::PyObject, visit: Visit, arg: *mut c_void) {
    // SAFETY: the slot's offset was checked in Heap::new; a type's traverse
    // function is safe to call with the GIL held on a live object of it.
    unsafe {
        let t = type_of(o);
        let slot = *(t as *const u8).add(TP_TRAVERSE).cast::<Option<Traverse>>();
        if let Some(f) = slot {
            f(o, visit, arg);
        }
    }
}

/// `Py_TPFLAGS_LIST_SUBCLASS`, `..._TUPLE_SUBCLASS`, `..._DICT_SUBCLASS`.
const LIST_OR_TUPLE: u64 = (1 << 25) | (1 << 26);
const DICT_SUBCLASS: u64 = 1 << 29;
/// Word offsets in a list (`PyVarObject`, then its items' array), and
/// the size's in a tuple (whose items start at `tp_basicsize`: after a
/// cached hash on 3.14+).
const OB_SIZE: usize = 2;
const OB_ITEM: usize = 3;

/// Calls `f` on each reference `o` holds, as its `tp_traverse` gives them
/// (null ones too): a list's or a tuple's items read in a loop (no call per
/// item: a list of 10^7 ints in a few milliseconds), other objects through
/// their traverse function.
///
/// # Safety
/// `o` is live; GIL held; `f` runs no Python code.
pub(super) unsafe fn each_reference<F: FnMut(*mut ffi::PyObject)>(
    o: *mut ffi::PyObject,
    f: &mut F,
) {
    unsafe extern "C" fn one<F: FnMut(*mut ffi::PyObject)>(
        o: *mut ffi::PyObject,
        arg: *mut c_void,
    ) -> c_int {
        // SAFETY: `arg` is the `F` each_reference passed, borrowed for the call.
        unsafe { (*arg.cast::<F>())(o) };
        0
    }
    // SAFETY: per the contract; an exact list's size and items' array, or
    // an exact tuple's size and items, at their offsets on every GC build.
    unsafe {
        let t = type_of(o);
        let words = o as *const usize;
        if t == std::ptr::addr_of_mut!(ffi::PyList_Type) {
            let items = *words.add(OB_ITEM) as *const *mut ffi::PyObject;
            for i in 0..*words.add(OB_SIZE) {
                f(*items.add(i));
            }
        } else if t == std::ptr::addr_of_mut!(ffi::PyTuple_Type) {
            let items = (o as *const u8).add(basicsize(t)) as *const *mut ffi::PyObject;
            for i in 0..*words.add(OB_SIZE) {
                f(*items.add(i));
            }
        } else {
            traverse(o, one::<F>, (f as *mut F).cast());
        }
    }
}

/// How many references `o` holds, for lists, tuples and dicts (and their
/// subclasses, their `__dict__` aside) and sets; 0 for anything else.
/// Cheap: two compares and a flags read.
///
/// # Safety
/// `o` is live; GIL held.
pub(super) unsafe fn reference_count(o: *mut ffi::PyObject) -> usize {
    // SAFETY: per the contract; the size field of a list or tuple, and
    // limited-API calls that read a field and run no Python code.
    unsafe {
        let t = type_of(o);
        if t == std::ptr::addr_of_mut!(ffi::PySet_Type)
            || t == std::ptr::addr_of_mut!(ffi::PyFrozenSet_Type)
        {
            return ffi::PySet_Size(o).max(0) as usize;
        }
        let f = flags(t);
        if f & LIST_OR_TUPLE != 0 {
            *(o as *const usize).add(OB_SIZE)
        } else if f & DICT_SUBCLASS != 0 {
            2 * ffi::PyDict_Size(o).max(0) as usize
        } else {
            0
        }
    }
}

impl Heap {
    /// The heap of the running interpreter, or `None` where its layout is
    /// not the one this reads.
    ///
    /// # Safety
    /// GIL held.
    pub(super) unsafe fn new(small_ints: (i64, i64)) -> Option<Heap> {
        if crate::cpython::FREE_THREADED {
            return None;
        }
        // SAFETY: GIL held (the contract); the objects made here are dropped here.
        unsafe {
            let list_t = std::ptr::addr_of_mut!(ffi::PyList_Type);
            let long_t = std::ptr::addr_of_mut!(ffi::PyLong_Type);
            let traverse_of = |t: *mut ffi::PyTypeObject| {
                *(t as *const u8).add(TP_TRAVERSE).cast::<Option<Traverse>>()
            };
            if basicsize(list_t) != 5 * 8
                || traverse_of(list_t).is_none()
                || traverse_of(long_t).is_some()
            {
                return None;
            }
            let probe = ffi::PyList_New(0);
            if probe.is_null() {
                ffi::PyErr_Clear();
                return None;
            }
            let young = if is_tracked(probe) {
                *(probe as *const usize).sub(2) & NEXT_MASK
            } else {
                0
            };
            ffi::Py_DECREF(probe);
            let gens = [young, young + GENERATION, young + 2 * GENERATION];
            if young == 0 || !gens.iter().all(|&h| links_back(h)) {
                return None;
            }
            let heads = [gens[0], gens[1], gens[2], permanent_head(&gens)];
            let lo = ffi::PyLong_FromLongLong(small_ints.0);
            let hi = ffi::PyLong_FromLongLong(small_ints.1);
            let small_ints = (lo as usize, hi as usize);
            ffi::Py_XDECREF(lo);
            ffi::Py_XDECREF(hi);
            let singletons = [
                ffi::Py_None() as usize,
                ffi::Py_Ellipsis() as usize,
                ffi::Py_NotImplemented() as usize,
                ffi::Py_True() as usize,
                ffi::Py_False() as usize,
            ];
            let module_type = std::ptr::addr_of_mut!(ffi::PyModule_Type) as usize;
            let atoms = [
                long_t as usize,
                std::ptr::addr_of_mut!(ffi::PyFloat_Type) as usize,
                std::ptr::addr_of_mut!(ffi::PyUnicode_Type) as usize,
                std::ptr::addr_of_mut!(ffi::PyBytes_Type) as usize,
            ];
            Some(Heap {
                heads,
                small_ints,
                singletons,
                module_type,
                atoms,
            })
        }
    }

    /// Every tracked object, in the collector's lists (the heads excluded).
    /// `f` must not run Python code (the lists must not change meanwhile).
    ///
    /// # Safety
    /// GIL held for the whole walk.
    pub(super) unsafe fn each_tracked(&self, mut f: impl FnMut(*mut ffi::PyObject)) {
        for &head in self.heads.iter().filter(|&&h| h != 0) {
            let mut node = head;
            loop {
                // SAFETY: a GC head of a tracked object or a list's head, whose
                // first word links to the next (its low bits are flags).
                let next = unsafe { *(node as *const usize) } & NEXT_MASK;
                if next == head || next == 0 {
                    break;
                }
                f((next + GC_HEAD) as *mut ffi::PyObject);
                node = next;
            }
        }
    }

    /// How many objects the collector tracks.
    ///
    /// # Safety
    /// GIL held.
    pub(super) unsafe fn tracked_count(&self) -> usize {
        let mut n = 0;
        // SAFETY: per the contract.
        unsafe { self.each_tracked(|_| n += 1) };
        n
    }

    /// Whether `o` is a module (counted, never traversed: see `_memory.py`).
    ///
    /// # Safety
    /// `o` is live.
    #[inline(always)]
    pub(super) unsafe fn is_module(&self, o: *mut ffi::PyObject) -> bool {
        // SAFETY: per the contract.
        unsafe { type_of(o) as usize == self.module_type }
    }

    /// Whether `t` is int, float, str or bytes: objects in one block, with
    /// no GC head and no pointer to a buffer of their own.
    #[inline(always)]
    pub(super) fn is_atom(&self, t: *mut ffi::PyTypeObject) -> bool {
        self.atoms.contains(&(t as usize))
    }

    /// An object the interpreter made, not the program (as `_memory._is_permanent`):
    /// built-in types, singletons, small ints, empty and one-character
    /// (Latin-1) strings and bytes, the empty tuple.
    ///
    /// # Safety
    /// `o` is live; GIL held.
    pub(super) unsafe fn is_permanent(&self, o: *mut ffi::PyObject) -> bool {
        let p = o as usize;
        if self.singletons.contains(&p) {
            return true;
        }
        // SAFETY: per the contract; limited-API calls on a live object.
        unsafe {
            let t = type_of(o);
            if t == std::ptr::addr_of_mut!(ffi::PyLong_Type) {
                return p >= self.small_ints.0 && p <= self.small_ints.1;
            }
            if t == std::ptr::addr_of_mut!(ffi::PyUnicode_Type) {
                let n = ffi::PyUnicode_GetLength(o);
                return n == 0 || (n == 1 && ffi::PyUnicode_ReadChar(o, 0) < 256);
            }
            if t == std::ptr::addr_of_mut!(ffi::PyBytes_Type) {
                return ffi::PyBytes_Size(o) <= 1;
            }
            if t == std::ptr::addr_of_mut!(ffi::PyTuple_Type) {
                return ffi::PyTuple_Size(o) == 0;
            }
            ffi::PyType_Check(o) != 0 && flags(o.cast()) & HEAPTYPE == 0
        }
    }
}

/// The permanent generation's head, or 0 when it holds nothing (or is
/// not found); `gens` are the other heads.
///
/// # Safety
/// GIL held.
unsafe fn permanent_head(gens: &[usize; GENERATIONS]) -> usize {
    // SAFETY: GIL held; calls of the limited API (`gc.get_freeze_count`, a
    // C function), then GC heads read along one list's links, which stay as
    // they are (no code runs meanwhile).
    unsafe {
        let gc = ffi::PyImport_ImportModule(c"gc".as_ptr());
        let count = if gc.is_null() {
            -1
        } else {
            let n = ffi::PyObject_CallMethod(gc, c"get_freeze_count".as_ptr(), std::ptr::null());
            ffi::Py_DECREF(gc);
            let count = if n.is_null() {
                -1
            } else {
                ffi::PyLong_AsSsize_t(n)
            };
            ffi::Py_XDECREF(n);
            count
        };
        ffi::PyErr_Clear();
        let modules = ffi::PyImport_GetModuleDict();
        if count <= 0 || modules.is_null() || !is_tracked(modules) {
            return 0;
        }
        let start = modules as usize - GC_HEAD;
        let mut node = start;
        for _ in 0..count as usize + 2 {
            let next = *(node as *const usize) & NEXT_MASK;
            if next == 0 || next == start || gens.contains(&next) {
                return 0; // not frozen: in one of the other lists
            }
            if next.abs_diff(gens[0]) < 4096 {
                return if links_back(next) { next } else { 0 };
            }
            node = next;
        }
        0
    }
}

/// A list head whose neighbours link back to it.
///
/// # Safety
/// `head` may be any address inside the interpreter's state (read only).
unsafe fn links_back(head: usize) -> bool {
    // SAFETY: reads two words at `head` (inside the collector's state next
    // to the young generation's head) and one word at each neighbour, which
    // are GC heads or `head` itself when its links are what they should be.
    unsafe {
        let next = *(head as *const usize) & NEXT_MASK;
        let prev = *(head as *const usize).add(1) & PREV_MASK;
        next != 0
            && prev != 0
            && *((next as *const usize).add(1)) & PREV_MASK == head
            && *(prev as *const usize) & NEXT_MASK == head
    }
}
