//! The sampled hooks over a stand-in for pymalloc that, like the real one,
//! asks the raw domain for its own bookkeeping (a longer arena table) in
//! the middle of serving a small request.

use super::*;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

/// What the stand-in saw: whether the raw hooks would have taken the
/// call it made to the raw domain for the program's (not nested).
static RAW_CALL_COUNTED: AtomicBool = AtomicBool::new(false);
/// The tests share the domains' originals and the nested slot.
static SERIAL: Mutex<()> = Mutex::new(());

unsafe extern "C" fn pymalloc_like_malloc(_: *mut c_void, size: usize) -> *mut c_void {
    // Serving from the pools, or passing a large request on: either way the
    // raw domain is called here, as `new_arena` grows its table.
    RAW_CALL_COUNTED.store(!raw::nested_now(), Ordering::Relaxed);
    // SAFETY: the C library's allocator; the test frees what it returns.
    unsafe { libc::malloc(size) }
}

unsafe extern "C" fn pymalloc_like_calloc(ctx: *mut c_void, n: usize, size: usize) -> *mut c_void {
    // SAFETY: as in pymalloc_like_malloc.
    unsafe { pymalloc_like_malloc(ctx, n.saturating_mul(size)) }
}

unsafe extern "C" fn pymalloc_like_realloc(
    _: *mut c_void,
    old: *mut c_void,
    size: usize,
) -> *mut c_void {
    RAW_CALL_COUNTED.store(!raw::nested_now(), Ordering::Relaxed);
    // SAFETY: `old` is null or from pymalloc_like_malloc.
    unsafe { libc::realloc(old, size) }
}

unsafe extern "C" fn pymalloc_like_free(_: *mut c_void, p: *mut c_void) {
    // SAFETY: `p` is from the functions above.
    unsafe { libc::free(p) }
}

const OBJ: usize = 2;

/// Installs the stand-in as the OBJ domain's original, once.
fn stand_in() -> std::sync::MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let a = PyMemAllocatorEx {
        ctx: std::ptr::null_mut(),
        malloc: Some(pymalloc_like_malloc),
        calloc: Some(pymalloc_like_calloc),
        realloc: Some(pymalloc_like_realloc),
        free: Some(pymalloc_like_free),
    };
    assert!(ORIGINAL.store(OBJ, &a));
    guard
}

/// Whether the raw domain's call made while serving `request` would count.
fn raw_call_counted(request: impl FnOnce() -> *mut c_void) -> bool {
    RAW_CALL_COUNTED.store(false, Ordering::Relaxed);
    let p = request();
    assert!(!p.is_null());
    // SAFETY: from the stand-in's allocator.
    unsafe { pymalloc_like_free(std::ptr::null_mut(), p) };
    RAW_CALL_COUNTED.load(Ordering::Relaxed)
}

/// Whether each of malloc, calloc and realloc (of null) for `size` bytes,
/// through the OBJ domain's sampled hooks, let the stand-in's raw call count.
fn counted(size: usize) -> [bool; 3] {
    let ctx = std::ptr::null_mut();
    [
        // SAFETY: the OBJ domain's hooks over the stand-in's originals,
        // stored by `stand_in` (held by the caller).
        raw_call_counted(|| unsafe { pym_malloc::<OBJ>(ctx, size) }),
        // SAFETY: as above.
        raw_call_counted(|| unsafe { pym_calloc::<OBJ>(ctx, 1, size) }),
        // SAFETY: as above; a null `old` is a malloc.
        raw_call_counted(|| unsafe { pym_realloc::<OBJ>(ctx, std::ptr::null_mut(), size) }),
    ]
}

#[test]
fn pymallocs_own_raw_calls_while_serving_small_requests_are_not_the_programs() {
    let _serial = stand_in();
    for size in [1, 100, 512] {
        assert_eq!(counted(size), [false; 3], "{size}");
    }
}

#[test]
fn requests_pymalloc_passes_on_are_counted_by_the_raw_hooks() {
    let _serial = stand_in();
    for size in [0, 513, 1 << 20] {
        assert_eq!(counted(size), [true; 3], "{size}");
    }
    // Whatever call marked the thread nested, the mark is gone after it.
    assert!(!raw::nested_now());
}
