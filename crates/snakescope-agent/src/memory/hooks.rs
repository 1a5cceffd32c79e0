//! The allocator hooks: the C library's allocation functions (reached through
//! the patched GOT slots, see [`super::got`]) and the interpreter's `PyMem`
//! domains (chained with `PyMem_SetAllocator`, as tracemalloc does).
//!
//! The interpreter's own calls to malloc/mmap (pymalloc's arenas, the large
//! blocks it passes on to the raw domain) are not redirected, so memory the
//! `PyMem` hooks counted is not counted again.
//!
//! Rules for everything here: never take the GIL, never allocate through a
//! hooked path (our own library's calls to `malloc` are not patched, so the
//! Rust code below reaches the real allocator), never panic across the C
//! boundary (the recording side catches and turns tracking off).

use super::{on_alloc, on_alloc_python, on_free, real, Source, ACTIVE};
use std::os::raw::{c_int, c_void};
use std::sync::atomic::Ordering;

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
        on_alloc(p as usize, len, Source::Native);
    }
    p
}

pub unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> c_int {
    if tracking() {
        on_free(addr as usize);
    }
    // SAFETY: the real function with the caller's arguments.
    unsafe { real::munmap(addr, len) }
}

pub unsafe extern "C" fn dlopen(name: *const std::os::raw::c_char, flags: c_int) -> *mut c_void {
    // SAFETY: the real function with the caller's arguments.
    let handle = unsafe { real::dlopen(name, flags) };
    if !handle.is_null() && ACTIVE.load(Ordering::Relaxed) {
        super::patch_everything();
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
unsafe fn original<'a>(ctx: *mut c_void) -> &'a PyMemAllocatorEx {
    // SAFETY: per the contract; the stored allocators live for the process.
    unsafe { &*(ctx as *const PyMemAllocatorEx) }
}

pub unsafe extern "C" fn py_malloc(ctx: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: ctx is the original allocator (see `original`).
    let o = unsafe { original(ctx) };
    // SAFETY: the original allocator with its own context.
    let p = unsafe { (o.malloc.expect("malloc"))(o.ctx, size) };
    if !p.is_null() && tracking() {
        on_alloc_python(p as usize, size);
    }
    p
}

pub unsafe extern "C" fn py_calloc(ctx: *mut c_void, n: usize, size: usize) -> *mut c_void {
    // SAFETY: as in py_malloc.
    let o = unsafe { original(ctx) };
    // SAFETY: as in py_malloc.
    let p = unsafe { (o.calloc.expect("calloc"))(o.ctx, n, size) };
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
    // SAFETY: as in py_malloc.
    let p = unsafe { (o.realloc.expect("realloc"))(o.ctx, old, size) };
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
    // SAFETY: as in py_malloc.
    unsafe { (o.free.expect("free"))(o.ctx, p) }
}
