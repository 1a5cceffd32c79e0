//! The `PyMem` RAW domain (`PyMem_RawMalloc` and friends): the allocator the
//! interpreter and extensions call without the GIL, and the one pymalloc
//! passes its large requests (and size 0) on to.
//!
//! Every allocation made *directly* through it is recorded (a `Python`
//! site, counted down per thread: no GIL serialises it). One made by
//! pymalloc on behalf of a MEM or OBJ request is not — that request is
//! recorded where it was made:
//! - the full hooks (`py_*`) mark the thread as *nested* while they call
//!   the domain's original allocator, and the raw hooks record nothing for
//!   a nested thread;
//! - the sampled hooks (`pym_*`) count only the requests pymalloc keeps
//!   (1 to 512 bytes): the others reach the raw hooks, which count them.
//!   The requests they keep are nested like the full hooks', so that what
//!   pymalloc asks of the raw domain for itself meanwhile (its arena table,
//!   never freed) is not taken for the program's; so is their slow path,
//!   which asks pymalloc for a block past its pools.
//!
//! Frees are always looked up, nested or not (a lookup of a block already
//! forgotten finds nothing).
//!
//! One slot, not a thread-local, holds the nested thread: MEM and OBJ are
//! only called with the GIL held, so one thread at a time is inside them
//! (and a thread-local from a shared library costs a call per access). On
//! the free-threaded build there is no GIL, but its allocator (mimalloc)
//! never passes requests on to the raw domain: nothing is nested there.

use super::filter::maybe_sampled;
use super::hooks::{original, original_calloc, original_malloc, original_realloc};
use super::recording::{on_alloc, on_free, this_thread};
use super::{Source, ACTIVE};
use std::os::raw::c_void;
use std::sync::atomic::{AtomicU64, Ordering};

/// The thread inside a MEM or OBJ hook's call to the original allocator (0: none).
static NESTED: AtomicU64 = AtomicU64::new(0);

/// Marks the calling thread nested until [`leave`]; returns whether it did.
#[inline(always)]
pub(crate) fn enter() -> bool {
    if crate::cpython::FREE_THREADED {
        return false;
    }
    NESTED.store(this_thread(), Ordering::Relaxed);
    true
}

#[inline(always)]
pub(crate) fn leave(entered: bool) {
    if entered {
        NESTED.store(0, Ordering::Relaxed);
    }
}

/// Whether the calling thread is inside a MEM or OBJ hook's allocation.
#[inline(always)]
fn nested() -> bool {
    let n = NESTED.load(Ordering::Relaxed);
    n != 0 && n == this_thread()
}

#[inline(always)]
fn record(p: *mut c_void, size: usize) {
    if !p.is_null() && ACTIVE.load(Ordering::Relaxed) && !nested() {
        on_alloc(p as usize, size, Source::Python);
    }
}

// --- with the full hooks (`ctx` is the domain's original allocator) ---

pub unsafe extern "C" fn full_malloc(ctx: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: ctx is the original allocator (see `original`).
    let o = unsafe { original(ctx) };
    // SAFETY: the original allocator with its own context.
    let p = unsafe { (o.malloc.expect("malloc"))(o.ctx, size) };
    record(p, size);
    p
}

pub unsafe extern "C" fn full_calloc(ctx: *mut c_void, n: usize, size: usize) -> *mut c_void {
    // SAFETY: as in full_malloc.
    let o = unsafe { original(ctx) };
    // SAFETY: as in full_malloc.
    let p = unsafe { (o.calloc.expect("calloc"))(o.ctx, n, size) };
    record(p, n.saturating_mul(size));
    p
}

pub unsafe extern "C" fn full_realloc(
    ctx: *mut c_void,
    old: *mut c_void,
    size: usize,
) -> *mut c_void {
    // SAFETY: as in full_malloc.
    let o = unsafe { original(ctx) };
    let track = ACTIVE.load(Ordering::Relaxed);
    if track && !old.is_null() {
        on_free(old as usize);
    }
    // SAFETY: as in full_malloc.
    let p = unsafe { (o.realloc.expect("realloc"))(o.ctx, old, size) };
    record(p, size);
    p
}

pub unsafe extern "C" fn full_free(ctx: *mut c_void, p: *mut c_void) {
    // SAFETY: as in full_malloc.
    let o = unsafe { original(ctx) };
    if !p.is_null() && ACTIVE.load(Ordering::Relaxed) {
        on_free(p as usize);
    }
    // SAFETY: as in full_malloc.
    unsafe { (o.free.expect("free"))(o.ctx, p) }
}

// --- with the sampled hooks (`ctx` is the domain's own: the originals are
// in `hooks::ORIGINAL`, stored before these are installed; the free is
// `hooks::raw_free`) ---

pub unsafe extern "C" fn sampled_malloc(ctx: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: installed after the originals; the original with its context.
    let p = unsafe { original_malloc(0)(ctx, size) };
    record(p, size);
    p
}

pub unsafe extern "C" fn sampled_calloc(ctx: *mut c_void, n: usize, size: usize) -> *mut c_void {
    // SAFETY: as in sampled_malloc.
    let p = unsafe { original_calloc(0)(ctx, n, size) };
    record(p, n.saturating_mul(size));
    p
}

/// A block grown or shrunk: the old one, if sampled, is freed; the new one
/// is counted unless pymalloc made it for a MEM or OBJ request.
pub unsafe extern "C" fn sampled_realloc(
    ctx: *mut c_void,
    old: *mut c_void,
    size: usize,
) -> *mut c_void {
    if !old.is_null() && maybe_sampled(old as usize) && ACTIVE.load(Ordering::Relaxed) {
        on_free(old as usize);
    }
    // SAFETY: as in sampled_malloc.
    let p = unsafe { original_realloc(0)(ctx, old, size) };
    record(p, size);
    p
}

/// [`nested`], for the hooks' tests.
#[cfg(test)]
pub(crate) fn nested_now() -> bool {
    nested()
}
