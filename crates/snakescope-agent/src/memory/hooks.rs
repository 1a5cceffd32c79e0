//! The allocator hooks: the C library's allocation functions (reached through
//! the patched GOT slots, see [`super::got`]) and the interpreter's `PyMem`
//! domains (chained with `PyMem_SetAllocator`, as tracemalloc does).
//!
//! The interpreter's own calls to malloc/mmap (pymalloc's arenas, the large
//! blocks it passes on to the raw domain) are not redirected, so memory the
//! `PyMem` hooks counted is not counted again.
//!
//! The `PyMem` domains have two sets of hooks:
//! - the *full* hooks (`py_*`) see every allocation and every free: exact
//!   mode, and sampling when the interpreter's allocator is not pymalloc
//!   (a debug build of the allocator, `PYTHONMALLOC=malloc`, mimalloc);
//! - the *sampled* hooks (`pym_*`) for sampling over pymalloc, the usual
//!   case: they hook allocations only, and a sampled block is asked of
//!   pymalloc at more than its small-block limit, so pymalloc takes it from
//!   the raw domain and its free comes back through `PyMem_RawFree`, where
//!   `raw_*` look for it. The frees of the program's other blocks reach
//!   pymalloc without passing through snakescope at all, and an allocation
//!   that is not sampled costs a subtraction and a jump.
//!
//! Rules for everything here: never take the GIL, never allocate through a
//! hooked path (our own library's calls to `malloc` are not patched, so the
//! Rust code below reaches the real allocator), never panic across the C
//! boundary (the recording side catches and turns tracking off).

use super::filter::maybe_sampled;
use super::recording::{
    on_alloc, on_alloc_python, on_free, python_sample, record_python, take_python,
};
use super::{raw, real, Source, ACTIVE};
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

#[inline]
fn tracking() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    // SAFETY: the C library's allocator (see `real`).
    let p = unsafe { real::__libc_malloc(size) };
    if !p.is_null() && tracking() {
        on_alloc(p as usize, size, Source::Native);
    }
    p
}

pub unsafe extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    // SAFETY: the real allocator.
    let p = unsafe { real::__libc_calloc(n, size) };
    if !p.is_null() && tracking() {
        on_alloc(p as usize, n.saturating_mul(size), Source::Native);
    }
    p
}

pub unsafe extern "C" fn realloc(old: *mut c_void, size: usize) -> *mut c_void {
    let track = tracking();
    if track && !old.is_null() {
        on_free(old as usize);
    }
    // SAFETY: the real allocator, with the caller's pointer.
    let p = unsafe { real::__libc_realloc(old, size) };
    if track && !p.is_null() {
        on_alloc(p as usize, size, Source::Native);
    }
    p
}

pub unsafe extern "C" fn free(p: *mut c_void) {
    if !p.is_null() && tracking() {
        on_free(p as usize);
    }
    // SAFETY: the real allocator, with the caller's pointer.
    unsafe { real::__libc_free(p) }
}

pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    // SAFETY: the real function with the caller's arguments.
    let r = unsafe { real::posix_memalign(out, align, size) };
    if r == 0 && tracking() {
        // SAFETY: on success the function stored the block in `*out`.
        on_alloc(unsafe { *out } as usize, size, Source::Native);
    }
    r
}

pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    // SAFETY: the real function.
    let p = unsafe { real::__libc_memalign(align, size) };
    if !p.is_null() && tracking() {
        on_alloc(p as usize, size, Source::Native);
    }
    p
}

pub unsafe extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    // SAFETY: the real function.
    let p = unsafe { real::__libc_memalign(align, size) };
    if !p.is_null() && tracking() {
        on_alloc(p as usize, size, Source::Native);
    }
    p
}

pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: the real function.
    let p = unsafe { real::__libc_valloc(size) };
    if !p.is_null() && tracking() {
        on_alloc(p as usize, size, Source::Native);
    }
    p
}

pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    // SAFETY: the real function.
    let p = unsafe { real::__libc_pvalloc(size) };
    if !p.is_null() && tracking() {
        // pvalloc rounds the size up to whole pages: that is what it allocates.
        let page = 4096;
        on_alloc(
            p as usize,
            size.max(1).next_multiple_of(page),
            Source::Native,
        );
    }
    p
}

pub unsafe extern "C" fn reallocarray(old: *mut c_void, n: usize, size: usize) -> *mut c_void {
    let Some(bytes) = n.checked_mul(size) else {
        // SAFETY: the real function refuses the overflowing request (ENOMEM).
        return unsafe { real::reallocarray(old, n, size) };
    };
    // SAFETY: the caller's request, as realloc.
    unsafe { realloc(old, bytes) }
}

pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: libc::off_t,
) -> *mut c_void {
    // SAFETY: the real function with the caller's arguments.
    let p = unsafe { real::mmap(addr, len, prot, flags, fd, offset) };
    if p != libc::MAP_FAILED && flags & libc::MAP_ANONYMOUS != 0 && tracking() {
        on_alloc(p as usize, len, Source::Mapped(len));
    }
    p
}

pub unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> c_int {
    if tracking() {
        // Page-exact: a part of a mapping may be unmapped (see `live`).
        super::live::on_unmap(addr as usize, len);
    }
    // SAFETY: the real function with the caller's arguments.
    unsafe { real::munmap(addr, len) }
}

pub unsafe extern "C" fn dlopen(name: *const std::os::raw::c_char, flags: c_int) -> *mut c_void {
    // SAFETY: the real function with the caller's arguments.
    let handle = unsafe { real::dlopen(name, flags) };
    if !handle.is_null() && ACTIVE.load(Ordering::Relaxed) {
        super::got::patch_everything();
    }
    handle
}

// --- the interpreter's PyMem domains ---

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PyMemAllocatorEx {
    pub ctx: *mut c_void,
    pub malloc: Option<unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void>,
    pub calloc: Option<unsafe extern "C" fn(*mut c_void, usize, usize) -> *mut c_void>,
    pub realloc: Option<unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> *mut c_void>,
    pub free: Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>,
}

/// Our `ctx` is the original allocator of the domain.
///
/// # Safety
/// `ctx` is the `PyMemAllocatorEx` stored by `install` for this domain.
pub(super) unsafe fn original<'a>(ctx: *mut c_void) -> &'a PyMemAllocatorEx {
    // SAFETY: per the contract; the stored allocators live for the process.
    unsafe { &*(ctx as *const PyMemAllocatorEx) }
}

pub unsafe extern "C" fn py_malloc(ctx: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: ctx is the original allocator (see `original`).
    let o = unsafe { original(ctx) };
    let nested = raw::enter();
    // SAFETY: the original allocator with its own context.
    let p = unsafe { (o.malloc.expect("malloc"))(o.ctx, size) };
    raw::leave(nested);
    if !p.is_null() && tracking() {
        on_alloc_python(p as usize, size);
    }
    p
}

pub unsafe extern "C" fn py_calloc(ctx: *mut c_void, n: usize, size: usize) -> *mut c_void {
    // SAFETY: as in py_malloc.
    let o = unsafe { original(ctx) };
    let nested = raw::enter();
    // SAFETY: as in py_malloc.
    let p = unsafe { (o.calloc.expect("calloc"))(o.ctx, n, size) };
    raw::leave(nested);
    if !p.is_null() && tracking() {
        on_alloc_python(p as usize, n.saturating_mul(size));
    }
    p
}

pub unsafe extern "C" fn py_realloc(
    ctx: *mut c_void,
    old: *mut c_void,
    size: usize,
) -> *mut c_void {
    // SAFETY: as in py_malloc.
    let o = unsafe { original(ctx) };
    let track = tracking();
    if track && !old.is_null() {
        on_free(old as usize);
    }
    let nested = raw::enter();
    // SAFETY: as in py_malloc.
    let p = unsafe { (o.realloc.expect("realloc"))(o.ctx, old, size) };
    raw::leave(nested);
    if track && !p.is_null() {
        on_alloc_python(p as usize, size);
    }
    p
}

pub unsafe extern "C" fn py_free(ctx: *mut c_void, p: *mut c_void) {
    // SAFETY: as in py_malloc.
    let o = unsafe { original(ctx) };
    if !p.is_null() && tracking() {
        on_free(p as usize);
    }
    let nested = raw::enter();
    // SAFETY: as in py_malloc.
    unsafe { (o.free.expect("free"))(o.ctx, p) };
    raw::leave(nested);
}

// --- the sampled hooks over pymalloc (see the module's documentation) ---

/// The original allocators of the RAW, MEM and OBJ domains (indexed by
/// domain), stored once, before any hook that reads them is installed, and
/// never replaced. Plain atomics, not a `OnceLock`: a hook's fast path reads
/// one with a single load.
pub struct Originals {
    malloc: [AtomicUsize; 3],
    calloc: [AtomicUsize; 3],
    realloc: [AtomicUsize; 3],
    free: [AtomicUsize; 3],
}

pub static ORIGINAL: Originals = Originals {
    malloc: [const { AtomicUsize::new(0) }; 3],
    calloc: [const { AtomicUsize::new(0) }; 3],
    realloc: [const { AtomicUsize::new(0) }; 3],
    free: [const { AtomicUsize::new(0) }; 3],
};

type Malloc = unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;
type Calloc = unsafe extern "C" fn(*mut c_void, usize, usize) -> *mut c_void;
type Realloc = unsafe extern "C" fn(*mut c_void, *mut c_void, usize) -> *mut c_void;
type Free = unsafe extern "C" fn(*mut c_void, *mut c_void);

impl Originals {
    /// Stores `a` as `domain`'s original allocator; false (nothing stored)
    /// when one of its functions is missing.
    pub fn store(&self, domain: usize, a: &PyMemAllocatorEx) -> bool {
        let (Some(m), Some(c), Some(r), Some(f)) = (a.malloc, a.calloc, a.realloc, a.free) else {
            return false;
        };
        self.malloc[domain].store(m as usize, Ordering::Release);
        self.calloc[domain].store(c as usize, Ordering::Release);
        self.realloc[domain].store(r as usize, Ordering::Release);
        self.free[domain].store(f as usize, Ordering::Release);
        true
    }
}

// The original functions of a domain. Safety (all four): only from a hook of
// that domain, installed after the originals were stored (`store` returned
// true) — so the slot holds a function of that type — and they are never
// replaced. An acquire load is a plain load on x86-64.

#[inline(always)]
pub(super) unsafe fn original_malloc(domain: usize) -> Malloc {
    // SAFETY: see above: a non-zero address of a function of this type.
    unsafe { std::mem::transmute::<usize, Malloc>(ORIGINAL.malloc[domain].load(Ordering::Acquire)) }
}

#[inline(always)]
pub(super) unsafe fn original_calloc(domain: usize) -> Calloc {
    // SAFETY: as in original_malloc.
    unsafe { std::mem::transmute::<usize, Calloc>(ORIGINAL.calloc[domain].load(Ordering::Acquire)) }
}

#[inline(always)]
pub(super) unsafe fn original_realloc(domain: usize) -> Realloc {
    // SAFETY: as in original_malloc.
    unsafe {
        std::mem::transmute::<usize, Realloc>(ORIGINAL.realloc[domain].load(Ordering::Acquire))
    }
}

#[inline(always)]
pub(super) unsafe fn original_free(domain: usize) -> Free {
    // SAFETY: as in original_malloc.
    unsafe { std::mem::transmute::<usize, Free>(ORIGINAL.free[domain].load(Ordering::Acquire)) }
}

/// pymalloc serves requests up to 512 bytes from its pools and passes larger
/// ones to the raw domain (`SMALL_REQUEST_THRESHOLD`, 512 since 3.8). A
/// sampled block is asked for at least this size so that it lives in the raw
/// domain; whether its free is then seen is checked once at installation
/// (see `super::pymem::install_pymem_hooks`).
pub const OUTSIDE_POOLS: usize = 513;

/// Whether pymalloc serves a request of `size` bytes from its pools; it
/// passes the others (0, and over 512 bytes) on to the raw domain, whose
/// hooks count them (see [`super::raw`]).
#[inline(always)]
fn in_pools(size: usize) -> bool {
    size.wrapping_sub(1) < OUTSIDE_POOLS - 1
}

// The fast paths take the size off the countdown and jump to the original;
// the slow paths have the same signature, so that reaching them is a jump too
// (they read the countdown again: it holds what the fast path left there).

pub unsafe extern "C" fn pym_malloc<const DOMAIN: usize>(
    ctx: *mut c_void,
    size: usize,
) -> *mut c_void {
    // SAFETY: installed after the originals (see `original_malloc`).
    let malloc = unsafe { original_malloc(DOMAIN) };
    if in_pools(size) {
        if take_python(size) {
            // SAFETY: as below.
            return unsafe { pym_malloc_sampled::<DOMAIN>(ctx, size) };
        }
        // SAFETY: the original allocator with its own context.
        return served_from_pools(|| unsafe { malloc(ctx, size) });
    }
    // SAFETY: as above.
    unsafe { malloc(ctx, size) }
}

/// A request pymalloc serves from its pools: what it asks of the raw
/// domain meanwhile is its own bookkeeping (a longer arena table, a node of
/// its radix tree), never freed and not the program's, so the raw hooks do
/// not count it — as the full hooks do not (they mark every request). The
/// requests pymalloc passes on (0, over 512 bytes) are not marked: the raw
/// hooks count them as the program's.
#[inline(always)]
fn served_from_pools(allocate: impl FnOnce() -> *mut c_void) -> *mut c_void {
    let nested = raw::enter();
    let p = allocate();
    raw::leave(nested);
    p
}

/// A slow path's work once the countdown ran out: `allocate(n)` makes a
/// block of `n` bytes with the original allocator; a sampled one is made
/// past pymalloc's pools (a larger request than the caller's is a valid
/// one) and recorded.
#[inline(always)]
fn allocate_sampled(size: usize, allocate: impl Fn(usize) -> *mut c_void) -> *mut c_void {
    let nested = raw::enter(); // the raw domain serves what follows
    let Some(weights) = python_sample(size) else {
        let p = allocate(size);
        raw::leave(nested);
        return p;
    };
    let p = allocate(size.max(OUTSIDE_POOLS));
    raw::leave(nested);
    if !p.is_null() {
        record_python(p as usize, weights);
    }
    p
}

#[cold]
#[inline(never)]
unsafe extern "C" fn pym_malloc_sampled<const DOMAIN: usize>(
    ctx: *mut c_void,
    size: usize,
) -> *mut c_void {
    // SAFETY: as in pym_malloc.
    let malloc = unsafe { original_malloc(DOMAIN) };
    // SAFETY: the original allocator with its own context.
    allocate_sampled(size, |n| unsafe { malloc(ctx, n) })
}

pub unsafe extern "C" fn pym_calloc<const DOMAIN: usize>(
    ctx: *mut c_void,
    n: usize,
    size: usize,
) -> *mut c_void {
    // SAFETY: installed after the originals (see `original_calloc`).
    let calloc = unsafe { original_calloc(DOMAIN) };
    let bytes = n.saturating_mul(size);
    if in_pools(bytes) {
        if take_python(bytes) {
            // SAFETY: as below.
            return unsafe { pym_calloc_sampled::<DOMAIN>(ctx, n, size) };
        }
        // SAFETY: the original allocator with its own context.
        return served_from_pools(|| unsafe { calloc(ctx, n, size) });
    }
    // SAFETY: as above.
    unsafe { calloc(ctx, n, size) }
}

#[cold]
#[inline(never)]
unsafe extern "C" fn pym_calloc_sampled<const DOMAIN: usize>(
    ctx: *mut c_void,
    n: usize,
    size: usize,
) -> *mut c_void {
    // SAFETY: as in pym_calloc.
    let calloc = unsafe { original_calloc(DOMAIN) };
    match n.checked_mul(size) {
        // SAFETY: the original allocator with its own context; one element
        // of the whole size is the same request.
        Some(bytes) => allocate_sampled(bytes, |b| unsafe { calloc(ctx, 1, b) }),
        // SAFETY: the caller's (overflowing) request, for the allocator to refuse.
        None => unsafe { calloc(ctx, n, size) },
    }
}

pub unsafe extern "C" fn pym_realloc<const DOMAIN: usize>(
    ctx: *mut c_void,
    old: *mut c_void,
    size: usize,
) -> *mut c_void {
    // SAFETY: installed after the originals (see `original_realloc`).
    let realloc = unsafe { original_realloc(DOMAIN) };
    // A sampled `old` lives in the raw domain: its free is seen there.
    if in_pools(size) {
        if take_python(size) {
            // SAFETY: as below.
            return unsafe { pym_realloc_sampled::<DOMAIN>(ctx, old, size) };
        }
        // The countdown had its chance at this request: when pymalloc hands
        // it on to the raw domain (an `old` outside its pools), the raw
        // hooks must not give it a second one.
        // SAFETY: the original allocator with its own context.
        return served_from_pools(|| unsafe { realloc(ctx, old, size) });
    }
    // SAFETY: as above.
    unsafe { realloc(ctx, old, size) }
}

#[cold]
#[inline(never)]
unsafe extern "C" fn pym_realloc_sampled<const DOMAIN: usize>(
    ctx: *mut c_void,
    old: *mut c_void,
    size: usize,
) -> *mut c_void {
    // SAFETY: as in pym_realloc.
    let realloc = unsafe { original_realloc(DOMAIN) };
    // SAFETY: the original allocator with its own context; growing the
    // block past the pools moves it (contents kept) into the raw domain.
    allocate_sampled(size, |n| unsafe { realloc(ctx, old, n) })
}

/// The raw domain's free: sampled blocks of the other domains end here.
pub unsafe extern "C" fn raw_free(ctx: *mut c_void, p: *mut c_void) {
    if maybe_sampled(p as usize) {
        // SAFETY: as below.
        return unsafe { raw_free_sampled(ctx, p) };
    }
    // SAFETY: installed after the originals (see `original_free`); the
    // original allocator with its own context.
    unsafe { original_free(0)(ctx, p) }
}

#[cold]
#[inline(never)]
unsafe extern "C" fn raw_free_sampled(ctx: *mut c_void, p: *mut c_void) {
    if !p.is_null() && tracking() {
        on_free(p as usize);
    }
    // SAFETY: as in raw_free.
    unsafe { original_free(0)(ctx, p) }
}

/// The pointer freed by the installation's check (see `probe_free`).
pub static PROBE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Whether `probe_free` saw [`PROBE`] go by.
pub static PROBE_SEEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The raw domain's free while the installation checks that pymalloc hands
/// the free of a block beyond its pools to the raw domain.
pub unsafe extern "C" fn probe_free(ctx: *mut c_void, p: *mut c_void) {
    if p as usize == PROBE.load(Ordering::Relaxed) {
        PROBE_SEEN.store(true, Ordering::Relaxed);
    }
    // SAFETY: as in raw_free.
    unsafe { original_free(0)(ctx, p) }
}

#[cfg(test)]
mod tests;
