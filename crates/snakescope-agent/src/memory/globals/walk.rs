//! One global's walk: what it reaches, and the live tracked blocks those
//! objects own.
//!
//! A container with more references than [`EXACT_REFERENCES`] (a list of
//! 10^7 ints) is sampled: every reference is still looked up, without
//! reading the object, in a bit filter of the blocks (an object's own
//! block starts at its address, or 16 or 32 bytes before it: its GC head
//! and pre-header), and the rare hit is claimed exactly; only the
//! references whose address hash passes a level `L` (one in 2^L, the
//! container then holding about `EXACT_REFERENCES` of them) are followed:
//! what they reach counts 2^L times (objects, and the buffers and
//! referents of what they own). Reading every object of such a list is
//! a cache miss each (a list of 10^7 ints: 280 MB read, 45 ms on this VM).
//! Reading the pointers themselves is the rest (the list's 80 MB: 27 ms),
//! and the census reads them too: the census, run just before in the same
//! window without Python code, keeps for each container of at least
//! [`SHORTCUT_REFERENCES`] references the ones this walk would act on
//! ([`Shortcuts`]), and the walk reads those instead.

use super::super::heap::{
    basicsize, each_reference, flags, is_tracked, level, reference_count, type_of, Heap,
};
use crate::ptrmap::PtrMap;
use pyo3::ffi;

const HAVE_GC: u64 = 1 << 14;
/// `Py_TPFLAGS_MANAGED_WEAKREF | Py_TPFLAGS_MANAGED_DICT` (3.11+): two
/// words before the GC head.
const PREHEADER: u64 = (1 << 3) | (1 << 4);
/// `Py_TPFLAGS_TYPE_SUBCLASS`: the object is a class.
const TYPE_SUBCLASS: u64 = 1 << 31;
/// Containers with more references than this are sampled.
const EXACT_REFERENCES: usize = 1 << 16;
/// Containers with at least this many references get a shortcut.
const SHORTCUT_REFERENCES: usize = 1 << 20;
/// A sampled object's weight never exceeds this (nested sampled containers).
const MAX_WEIGHT: u64 = 1 << 40;

/// The sampling level of a container holding `n` references: the smallest
/// `L` with `n / 2^L <= EXACT_REFERENCES`.
pub(super) fn sample_level(n: usize) -> u32 {
    if n <= EXACT_REFERENCES {
        0
    } else {
        n.div_ceil(EXACT_REFERENCES)
            .next_power_of_two()
            .trailing_zeros()
    }
}

/// The live blocks (start → (site, bytes)), with a bit filter in front
/// that holds each start and the two addresses an object owning it from
/// there may have (start + 16, start + 32).
pub(in crate::memory) struct Blocks {
    pub(super) map: PtrMap<(u32, f64)>,
    filter: Vec<u64>,
    shift: u32,
}

impl Blocks {
    #[inline(always)]
    fn bit(&self, p: usize) -> usize {
        ((p as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    pub(super) fn new(map: PtrMap<(u32, f64)>) -> Blocks {
        // About 16 bits per address (a false hit in ~6 %·3), 2^20 bits at least.
        let bits = (map.len() * 48).next_power_of_two().clamp(1 << 20, 1 << 30);
        let mut blocks = Blocks {
            map,
            filter: vec![0u64; bits / 64],
            shift: 64 - bits.trailing_zeros(),
        };
        let starts: Vec<usize> = blocks.map.keys().copied().collect();
        for p in starts {
            for q in [p, p + 16, p + 32] {
                let b = blocks.bit(q);
                blocks.filter[b / 64] |= 1 << (b % 64);
            }
        }
        blocks
    }

    #[inline(always)]
    fn may_hold(&self, p: usize) -> bool {
        let b = self.bit(p);
        self.filter[b / 64] & (1 << (b % 64)) != 0
    }
}

/// For each container of at least [`SHORTCUT_REFERENCES`] references, the
/// references the walk acts on: those it follows (its sample) and those
/// that may own a block. At most one in 16 of the container's.
pub(in crate::memory) type Shortcuts = PtrMap<Vec<*mut ffi::PyObject>>;

impl Blocks {
    /// The sampling level of `o` when it gets a shortcut.
    ///
    /// # Safety
    /// `o` is live; GIL held.
    #[inline(always)]
    pub(in crate::memory) unsafe fn shortcut_level(o: *mut ffi::PyObject) -> Option<u32> {
        // SAFETY: per the contract.
        let n = unsafe { reference_count(o) };
        (n >= SHORTCUT_REFERENCES).then(|| sample_level(n))
    }

    /// Whether the walk acts on reference `r` of a container sampled at `lvl`.
    #[inline(always)]
    pub(in crate::memory) fn acts_on(&self, r: *mut ffi::PyObject, lvl: u32) -> bool {
        !r.is_null() && (level(r as usize) >= lvl || self.may_hold(r as usize))
    }
}

/// The walks from every global, one after the other: an object reached
/// from an earlier global belongs to it.
pub(super) struct Walk<'a> {
    heap: &'a Heap,
    blocks: &'a Blocks,
    shortcuts: &'a Shortcuts,
    /// Module dicts: never entered.
    stops: PtrMap<()>,
    seen: PtrMap<()>,
    stack: Vec<(*mut ffi::PyObject, u64)>,
    /// Block start → (the global that holds it, its weight).
    pub(super) held: PtrMap<(usize, u64)>,
    current: usize,
    objects: u64,
    sampled: bool,
}

impl<'a> Walk<'a> {
    pub(super) fn new(
        heap: &'a Heap,
        blocks: &'a Blocks,
        shortcuts: &'a Shortcuts,
        stops: PtrMap<()>,
    ) -> Walk<'a> {
        Walk {
            heap,
            blocks,
            shortcuts,
            stops,
            seen: PtrMap::default(),
            stack: Vec::new(),
            held: PtrMap::default(),
            current: 0,
            objects: 0,
            sampled: false,
        }
    }

    /// Walks from `o`, the value of global number `global`: the objects it
    /// reaches (estimated when sampled) and whether any container was sampled.
    ///
    /// # Safety
    /// `o` is live; GIL held; nothing runs Python code meanwhile.
    pub(super) unsafe fn walk_global(
        &mut self,
        o: *mut ffi::PyObject,
        global: usize,
    ) -> (u64, bool) {
        self.current = global;
        self.objects = 0;
        self.sampled = false;
        // SAFETY: per the contract; what is on the stack was reached from `o`.
        unsafe {
            self.reference(o, 0, 1);
            while let Some((o, w)) = self.stack.pop() {
                self.account(o, w);
                let lvl = sample_level(reference_count(o));
                self.sampled |= lvl > 0;
                let shortcuts = self.shortcuts;
                match shortcuts.get(&(o as usize)) {
                    Some(refs) => refs.iter().for_each(|&r| self.reference(r, lvl, w)),
                    None => each_reference(o, &mut |r| self.reference(r, lvl, w)),
                }
            }
        }
        (self.objects, self.sampled)
    }

    /// A reference found in a container sampled at `lvl`, itself reached
    /// with weight `w`.
    ///
    /// # Safety
    /// `o` is null or live; GIL held.
    #[inline(always)]
    unsafe fn reference(&mut self, o: *mut ffi::PyObject, lvl: u32, w: u64) {
        if o.is_null() {
            return;
        }
        let p = o as usize;
        // SAFETY: per the contract (objects are read only past the filter or the sample).
        unsafe {
            if lvl > 0 && level(p) < lvl {
                // Not followed; its own block is still looked for.
                if self.blocks.may_hold(p) && !self.heap.is_permanent(o) {
                    self.own(o, w);
                }
                return;
            }
            let ww = (w << lvl).min(MAX_WEIGHT);
            if self.heap.is_atom(type_of(o)) {
                // The common case first (a list of numbers): never tracked, one
                // block, no buffer; a preallocated one is in no recorded block.
                self.objects += ww;
                self.claim(p, w);
            } else if is_tracked(o) {
                if !self.stops.contains_key(&p)
                    && !self.heap.is_module(o)
                    && self.seen.insert(p, ()).is_none()
                {
                    self.own(o, w);
                    self.stack.push((o, ww));
                }
            } else if !self.heap.is_permanent(o) {
                if reference_count(o) == 0 {
                    self.own(o, w);
                    self.account(o, ww);
                } else if self.seen.insert(p, ()).is_none() {
                    // An untracked container (a dict or tuple of atoms: the
                    // collector stops tracking those) holds references too.
                    self.own(o, w);
                    self.stack.push((o, ww));
                }
            }
        }
    }

    /// Claims the block `o` itself owns: at its address, or before its GC
    /// head and pre-header.
    ///
    /// # Safety
    /// `o` is live; GIL held.
    unsafe fn own(&mut self, o: *mut ffi::PyObject, w: u64) {
        let p = o as usize;
        // SAFETY: per the contract (its type's flags).
        unsafe {
            let t = type_of(o);
            if self.heap.is_atom(t) {
                self.claim(p, w);
                return;
            }
            let f = flags(t);
            if f & HAVE_GC != 0 {
                self.claim(p - 16, w);
                if f & PREHEADER != 0 {
                    self.claim(p - 32, w);
                }
            } else {
                self.claim(p, w);
            }
        }
    }

    /// Counts `o` (weight `w`) and claims its blocks: its own, and the
    /// buffers whose start its pre-header or fixed part points to (its GC
    /// head's links, which point to other objects, and its type left out).
    ///
    /// # Safety
    /// `o` is live; GIL held.
    unsafe fn account(&mut self, o: *mut ffi::PyObject, w: u64) {
        self.objects += w;
        // SAFETY: per the contract; reads the object's pre-header (when its
        // type's flags say it has one) and its fixed part (`tp_basicsize`
        // bytes).
        unsafe {
            let t = type_of(o);
            self.own(o, w);
            if self.heap.is_atom(t) {
                return; // no buffer outside it
            }
            let p = o as usize;
            let f = flags(t);
            if f & HAVE_GC != 0 && f & PREHEADER != 0 {
                for q in [p - 32, p - 24] {
                    let v = *(q as *const usize);
                    self.claim(v, w);
                    if v > 16 {
                        // A managed dict (from its GC head): 3.13+ does not
                        // visit it while the instance's inline values are
                        // valid, though it may exist (`vars(obj)`).
                        self.claim(v - 16, w);
                    }
                    if let Some(block) = values_block(v) {
                        self.claim(block, w);
                    }
                }
            }
            // A class's fixed part is long (its cached keys are near the end).
            let words = if f & TYPE_SUBCLASS != 0 { 1 << 10 } else { 64 };
            for i in 2..(basicsize(t) / 8).min(words) {
                self.claim(*((p + 8 * i) as *const usize), w);
            }
        }
    }

    #[inline(always)]
    fn claim(&mut self, p: usize, w: u64) {
        if p != 0 && self.blocks.may_hold(p) && self.blocks.map.contains_key(&p) {
            self.held.entry(p).or_insert((self.current, w));
        }
    }
}

/// The block of a managed dict's values array (3.11, 3.12), from the word
/// in an instance's pre-header that points to it: the values pointer (3.11)
/// or the pointer one byte before it, tagged (3.12), `prefix` bytes into
/// its block, with `prefix` in the byte before the values (CPython's
/// `new_values`). `None` for any other word: a dict or weak reference
/// pointer's previous byte is the top byte of its GC head's link (0 in user
/// space), and null or unaligned words are not looked at.
///
/// # Safety
/// `v` is a word of a live object's pre-header.
unsafe fn values_block(v: usize) -> Option<usize> {
    let values = if v & 1 == 1 { v + 1 } else { v };
    if values == 0 || values % 8 != 0 {
        return None;
    }
    // SAFETY: `values` points into a live block (a values array) or at a
    // live object after its GC head (a dict, a weak reference list): the
    // byte before it is in that block.
    let prefix = usize::from(unsafe { *((values - 1) as *const u8) });
    (prefix % 8 == 0 && (8..=32).contains(&prefix)).then(|| values - prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_up_to_the_limit_are_walked_whole() {
        assert_eq!(sample_level(0), 0);
        assert_eq!(sample_level(EXACT_REFERENCES), 0);
        assert_eq!(sample_level(EXACT_REFERENCES + 1), 1);
        assert_eq!(sample_level(10_000_000), 8); // 10^7 / 2^8 = 39,063 followed
        for n in [
            EXACT_REFERENCES + 1,
            3 * EXACT_REFERENCES,
            10_000_000,
            1 << 30,
        ] {
            let l = sample_level(n);
            assert!(
                n >> l <= EXACT_REFERENCES && n >> (l - 1) > EXACT_REFERENCES / 2,
                "{n} {l}"
            );
        }
    }

    #[test]
    fn an_objects_own_block_passes_the_filter_from_any_of_its_addresses() {
        let map: PtrMap<(u32, f64)> = [(0x1000_0000usize, (0, 64.0))].into_iter().collect();
        let b = Blocks::new(map);
        for q in [0x1000_0000, 0x1000_0010, 0x1000_0020] {
            assert!(b.may_hold(q));
        }
        let false_hits = (1..100_000usize)
            .filter(|i| b.may_hold(0x2000_0000 + 32 * i))
            .count();
        assert!(false_hits < 100, "{false_hits}"); // 3 bits of 2^20 set: ~0.3 expected
    }
}
