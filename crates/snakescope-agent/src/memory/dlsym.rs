//! `dlsym`, hooked: the C library's allocator functions looked up by name
//! are handed out as our hooks.
//!
//! GOT patching sees calls a library makes through its own relocations.
//! `ctypes` (`ctypes.CDLL("libc.so.6").malloc`), cffi and any code that
//! looks an allocator up with `dlsym` instead call the address `dlsym`
//! returns — the C library's own function, past every patched slot. So our
//! `dlsym` (patched into every object, the interpreter's included) returns
//! the hook when the lookup found the C library's own `malloc`, `free`,
//! `mmap`… — never when it found another allocator's (jemalloc's `malloc`
//! stays jemalloc's: the hooks call the C library's).
//!
//! `dlsym(RTLD_NEXT, name)` searches the objects after the *caller's*, which
//! the C library finds from its return address: the hook is an assembly
//! stub that jumps (not calls) to the real `dlsym` for `RTLD_NEXT`, so that
//! the return address is still the caller's.

use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The C library's `dlsym` (resolved in the C library before anything is patched).
static REAL_DLSYM: AtomicUsize = AtomicUsize::new(0);
/// The C library's handle.
static LIBC: AtomicUsize = AtomicUsize::new(0);

type DlSym = unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void;

// The hook: `RTLD_NEXT` ((void *) -1) goes straight to the real dlsym,
// return address untouched; any other handle to `lookup`. `REAL_DLSYM` is
// set before the hook is patched in (see `resolve`).
std::arch::global_asm!(
    ".pushsection .text.snakescope_dlsym_hook,\"ax\",@progbits",
    ".globl snakescope_dlsym_hook",
    ".hidden snakescope_dlsym_hook",
    ".type snakescope_dlsym_hook,@function",
    "snakescope_dlsym_hook:",
    "cmp rdi, -1",
    "je 2f",
    "jmp {lookup}",
    "2:",
    "jmp qword ptr [rip + {real}]",
    ".size snakescope_dlsym_hook, .-snakescope_dlsym_hook",
    ".popsection",
    lookup = sym lookup,
    real = sym REAL_DLSYM,
);

extern "C" {
    /// The assembly stub above (the address patched into the GOTs).
    #[link_name = "snakescope_dlsym_hook"]
    pub fn hook(handle: *mut c_void, name: *const c_char) -> *mut c_void;
}

/// Finds the C library and its `dlsym`; before any slot is patched.
pub fn resolve() {
    if REAL_DLSYM.load(Ordering::Relaxed) != 0 {
        return;
    }
    // SAFETY: looks up an already loaded library (RTLD_NOLOAD) and a symbol
    // in it; both strings are NUL-terminated. Our own slots are never
    // patched, so `libc::dlsym` here is the real one.
    unsafe {
        let handle = libc::dlopen(c"libc.so.6".as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD);
        if handle.is_null() {
            return;
        }
        let real = libc::dlsym(handle, c"dlsym".as_ptr());
        if real.is_null() {
            return;
        }
        LIBC.store(handle as usize, Ordering::Relaxed);
        REAL_DLSYM.store(real as usize, Ordering::Release);
    }
}

/// The hooks handed out for the C library's allocator functions.
fn hook_for(name: &[u8]) -> Option<usize> {
    super::got::patches()
        .iter()
        .find(|(n, _)| *n == name && !matches!(*n, b"dlopen" | b"dlsym"))
        .map(|&(_, hook)| hook)
}

/// `dlsym` for any handle but `RTLD_NEXT` (called from the stub).
unsafe extern "C" fn lookup(handle: *mut c_void, name: *const c_char) -> *mut c_void {
    let real = REAL_DLSYM.load(Ordering::Acquire);
    if real == 0 {
        return std::ptr::null_mut(); // not reached: the stub is patched in after `resolve`
    }
    // SAFETY: the C library's dlsym, with the caller's arguments.
    let real = unsafe { std::mem::transmute::<usize, DlSym>(real) };
    // SAFETY: as above.
    let found = unsafe { real(handle, name) };
    if found.is_null() || name.is_null() {
        return found;
    }
    // SAFETY: dlsym's contract: a NUL-terminated name.
    let Some(hook) = hook_for(unsafe { CStr::from_ptr(name) }.to_bytes()) else {
        return found;
    };
    // SAFETY: the C library's handle (from `resolve`) and the same name.
    let libc_own = unsafe { real(LIBC.load(Ordering::Relaxed) as *mut c_void, name) };
    if found == libc_own {
        hook as *mut c_void
    } else {
        found
    }
}
