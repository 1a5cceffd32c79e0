//! The hooks' way into the records: the sampling decision over a countdown
//! (per thread, or the shared one of the `PyMem` domains), and the record
//! and forget paths that take the state lock for the allocations sampled
//! and the frees the filter lets through.
//!
//! Everything here runs inside allocator hooks: no allocation through the
//! hooked allocator, no GIL, and no panic unwinds into the C caller
//! ([`super::guarded`]).

use super::filter::maybe_sampled;
use super::sampling::{sample_weights, IDLE, UNDRAWN};
use super::state::STATE;
use super::{guarded, Source, ACTIVE};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Mean bytes between samples (0: every allocation).
pub(super) static INTERVAL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Bytes left before this thread's next sample.
    static COUNTDOWN: Cell<i64> = const { Cell::new(UNDRAWN) };
}

/// Records an allocation the hooks saw: the fast path (a thread-local
/// countdown) is inlined into the hooks; sampled ones go to [`record_sampled`].
#[inline(always)]
pub(crate) fn on_alloc(ptr: usize, size: usize, source: Source) {
    count_down(
        ptr,
        size,
        source,
        |size| {
            COUNTDOWN.with(|c| {
                c.set(c.get() - size);
                c.get()
            })
        },
        |d| COUNTDOWN.with(|c| c.set(d)),
    );
}

/// Bytes left before the next sample of the interpreter's `PyMem` domains,
/// shared by all threads: on a GIL build those allocators are only ever
/// called with the GIL held, so plain loads and stores suffice, and the
/// hooks of the hottest allocator avoid a thread-local lookup (a call to
/// `__tls_get_addr` from a shared library). One countdown over the
/// interleaved byte stream of all threads is the same Poisson process.
static PY_COUNTDOWN: AtomicI64 = AtomicI64::new(UNDRAWN);

/// Makes the `PyMem` countdown draw its first distance at its next use
/// (after tracking is on: the sampled hooks' slow path parks it at `IDLE`
/// while it is off).
pub(super) fn rearm_python_countdown() {
    PY_COUNTDOWN.store(UNDRAWN, Ordering::Relaxed);
}

/// [`on_alloc`] for the `PyMem` domains (called with the GIL held).
#[inline(always)]
pub(crate) fn on_alloc_python(ptr: usize, size: usize) {
    if crate::cpython::FREE_THREADED {
        // No GIL serialises the domains there: each thread its own countdown.
        return on_alloc(ptr, size, Source::Python);
    }
    count_down(
        ptr,
        size,
        Source::Python,
        |size| {
            let left = PY_COUNTDOWN.load(Ordering::Relaxed) - size;
            PY_COUNTDOWN.store(left, Ordering::Relaxed);
            left
        },
        |d| PY_COUNTDOWN.store(d, Ordering::Relaxed),
    );
}

/// The sampling decision over one countdown: `take(n)` takes `n` bytes off
/// it and returns what is left; at zero or below (or in exact mode) the
/// allocation is recorded and `reset` stores the next distance.
#[inline(always)]
fn count_down(
    ptr: usize,
    size: usize,
    source: Source,
    take: impl FnOnce(i64) -> i64,
    reset: impl Fn(i64),
) {
    let interval = INTERVAL.load(Ordering::Relaxed);
    let mut left = 0;
    if interval != 0 {
        left = take(size as i64);
        if left > 0 {
            return;
        }
    }
    record_sampled(ptr, size, source, interval, left, &reset);
}

/// Takes `size` bytes off the `PyMem` countdown (GIL held): true when it
/// reached zero or below, for [`python_sample`].
#[inline(always)]
pub(crate) fn take_python(size: usize) -> bool {
    let left = PY_COUNTDOWN
        .load(Ordering::Relaxed)
        .wrapping_sub(size as i64);
    PY_COUNTDOWN.store(left, Ordering::Relaxed);
    left <= 0
}

/// The sampled `PyMem` hooks' decision once the countdown ran out (it holds
/// what the allocation of `size` left): the weights `(bytes, allocations)`
/// this allocation stands for, or `None` when it is not recorded; stores the
/// next distance.
#[cold]
#[inline(never)]
pub(crate) fn python_sample(size: usize) -> Option<(f64, f64)> {
    let left = PY_COUNTDOWN.load(Ordering::Relaxed);
    let reset = |d: i64| PY_COUNTDOWN.store(d, Ordering::Relaxed);
    if !ACTIVE.load(Ordering::Relaxed) {
        reset(IDLE);
        return None;
    }
    // Never 0 here: exact mode and short intervals have the full hooks.
    sample_weights(size, INTERVAL.load(Ordering::Relaxed), left, &reset)
}

/// Records a block the sampled `PyMem` hooks sampled, with its weights.
#[cold]
#[inline(never)]
pub(crate) fn record_python(ptr: usize, (bytes, count): (f64, f64)) {
    record_weighted(ptr, bytes, count, Source::Python);
}

/// An allocation that took the countdown to zero or below (or any, in
/// exact mode). `left` is the countdown after it; `reset` stores a new one.
#[cold]
#[inline(never)]
fn record_sampled(
    ptr: usize,
    size: usize,
    source: Source,
    interval: u64,
    left: i64,
    reset: &dyn Fn(i64),
) {
    let (bytes, count) = if interval == 0 {
        (size as f64, 1.0)
    } else {
        match sample_weights(size, interval, left, reset) {
            Some(w) => w,
            None => return,
        }
    };
    record_weighted(ptr, bytes, count, source);
}

/// Records a block that stands for `bytes` and `count` allocations.
fn record_weighted(ptr: usize, bytes: f64, count: f64, source: Source) {
    if PAUSED_THREAD.load(Ordering::Relaxed) == this_thread() {
        return; // snakescope's own work on this thread (see `memory_pause`)
    }
    guarded(|| {
        let Ok(mut guard) = STATE.lock() else { return };
        let Some(state) = guard.as_mut() else { return };
        if ACTIVE.load(Ordering::Relaxed) {
            state.record(ptr, bytes, count, source);
        }
    });
}

/// The thread whose allocations are not recorded (0: none): the one running
/// snakescope's own Python code — a heap census, a checkpoint — whose
/// objects are not the program's. Frees are still seen, on every thread,
/// and other threads' allocations are still recorded meanwhile.
static PAUSED_THREAD: AtomicU64 = AtomicU64::new(0);

/// An identifier of the calling thread, without allocating: the thread
/// pointer, which is what `pthread_self` returns on x86-64 glibc, read with
/// one instruction (the sampled hooks mark every small allocation with it).
#[inline(always)]
pub(super) fn this_thread() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let tp: u64;
        // SAFETY: reads the first word of the thread control block, which
        // the C library sets to the block's own address in every thread
        // (the x86-64 TLS ABI); no memory is written, the stack is untouched.
        unsafe {
            std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags));
        }
        tp
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: pthread_self has no preconditions; it reads the thread pointer.
    unsafe {
        libc::pthread_self() as u64
    }
}

/// Stops recording the calling thread's allocations; whether this call
/// paused it (false: an outer pause already had). See `memory_pause`.
pub(super) fn pause_this_thread() -> bool {
    let me = this_thread();
    PAUSED_THREAD.swap(me, Ordering::Relaxed) != me
}

/// Ends a [`pause_this_thread`] that returned `paused`.
pub(super) fn resume_this_thread(paused: bool) {
    if paused {
        let _ =
            PAUSED_THREAD.compare_exchange(this_thread(), 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Records a free the hooks saw (ours only when it was sampled): one load
/// of the filter, inlined into the hooks; the rest in [`forget_sampled`].
#[inline(always)]
pub(crate) fn on_free(ptr: usize) {
    if maybe_sampled(ptr) {
        forget_sampled(ptr);
    }
}

#[cold]
#[inline(never)]
fn forget_sampled(ptr: usize) {
    guarded(|| {
        let Ok(mut guard) = STATE.lock() else { return };
        if let Some(state) = guard.as_mut() {
            state.forget(ptr);
        }
    });
}
