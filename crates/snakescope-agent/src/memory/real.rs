//! The C library's own allocator entry points, reached without going through
//! any symbol lookup the hooks redirect.
//!
//! Calling `libc::malloc` is not enough: when the interpreter is linked into
//! a non-PIE executable that takes `malloc`'s address, the executable's PLT
//! stub becomes the canonical `malloc` for every library — ours included —
//! and that stub jumps through a slot the hooks patch. glibc exports its
//! implementations under `__libc_*` names, which no executable redefines.

use std::os::raw::{c_int, c_void};

extern "C" {
    pub fn __libc_malloc(size: usize) -> *mut c_void;
    pub fn __libc_calloc(n: usize, size: usize) -> *mut c_void;
    pub fn __libc_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    pub fn __libc_free(p: *mut c_void);
    pub fn __libc_memalign(align: usize, size: usize) -> *mut c_void;
    pub fn __libc_valloc(size: usize) -> *mut c_void;
    pub fn __libc_pvalloc(size: usize) -> *mut c_void;
}

/// `reallocarray` on top of `__libc_realloc` (glibc's own is private):
/// ENOMEM when `n * size` overflows, as it does.
///
/// # Safety
/// As realloc(3).
pub unsafe fn reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void {
    let Some(bytes) = n.checked_mul(size) else {
        // SAFETY: errno is this thread's.
        unsafe { *libc::__errno_location() = libc::ENOMEM };
        return std::ptr::null_mut();
    };
    // SAFETY: per the contract.
    unsafe { __libc_realloc(p, bytes) }
}

/// `posix_memalign` on top of `__libc_memalign`, with its argument checks.
///
/// # Safety
/// `out` is valid for writing a pointer.
pub unsafe fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || align % std::mem::size_of::<usize>() != 0 {
        return libc::EINVAL;
    }
    // SAFETY: the C library's allocator.
    let p = unsafe { __libc_memalign(align, size) };
    if p.is_null() {
        return libc::ENOMEM;
    }
    // SAFETY: per the contract.
    unsafe { *out = p };
    0
}

/// `mmap` as a system call (what the C library's does, errno included).
///
/// # Safety
/// As mmap(2).
pub unsafe fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: libc::off_t,
) -> *mut c_void {
    // SAFETY: per the contract; the kernel validates the arguments.
    let r = unsafe { libc::syscall(libc::SYS_mmap, addr, len, prot, flags, fd, off) };
    if r == -1 {
        libc::MAP_FAILED
    } else {
        r as *mut c_void
    }
}

/// # Safety
/// As munmap(2).
pub unsafe fn munmap(addr: *mut c_void, len: usize) -> c_int {
    // SAFETY: per the contract.
    unsafe { libc::syscall(libc::SYS_munmap, addr, len) as c_int }
}

type DlOpen = unsafe extern "C" fn(*const std::os::raw::c_char, c_int) -> *mut c_void;
static DLOPEN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// The C library's `dlopen` (resolved in the C library itself, for the same
/// reason as above), found once before anything is patched.
pub fn resolve() {
    DLOPEN.get_or_init(|| {
        // SAFETY: looks up an already loaded library (RTLD_NOLOAD) and a
        // symbol in it; both strings are NUL-terminated.
        unsafe {
            let libc_handle =
                libc::dlopen(c"libc.so.6".as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD);
            let p = if libc_handle.is_null() {
                std::ptr::null_mut()
            } else {
                libc::dlsym(libc_handle, c"dlopen".as_ptr())
            };
            if p.is_null() {
                libc::dlsym(libc::RTLD_DEFAULT, c"dlopen".as_ptr()) as usize
            } else {
                p as usize
            }
        }
    });
}

/// # Safety
/// As dlopen(3); [`resolve`] ran before.
pub unsafe fn dlopen(name: *const std::os::raw::c_char, flags: c_int) -> *mut c_void {
    match DLOPEN.get() {
        // SAFETY: the address of the C library's dlopen (see `resolve`).
        Some(&f) if f != 0 => unsafe { std::mem::transmute::<usize, DlOpen>(f)(name, flags) },
        _ => std::ptr::null_mut(),
    }
}

/// The agent's own allocations go straight to the C library's allocator, so
/// they never reach the hooks (see the module documentation).
pub struct LibcAllocator;

const MIN_ALIGN: usize = 16;

// SAFETY: every method returns memory from the C library's allocator with at
// least the requested size and alignment (memalign above 16 bytes), and frees
// only what it returned.
unsafe impl std::alloc::GlobalAlloc for LibcAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the C library's allocator.
        unsafe {
            if layout.align() <= MIN_ALIGN {
                __libc_malloc(layout.size()) as *mut u8
            } else {
                __libc_memalign(layout.align(), layout.size()) as *mut u8
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            // SAFETY: the C library's allocator.
            unsafe { __libc_calloc(1, layout.size()) as *mut u8 }
        } else {
            // SAFETY: as alloc, then zeroes the block it returned.
            unsafe {
                let p = self.alloc(layout);
                if !p.is_null() {
                    std::ptr::write_bytes(p, 0, layout.size());
                }
                p
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from this allocator.
        unsafe { __libc_free(ptr as *mut c_void) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= MIN_ALIGN {
            // SAFETY: `ptr` came from this allocator with a compatible alignment.
            return unsafe { __libc_realloc(ptr as *mut c_void, new_size) as *mut u8 };
        }
        // SAFETY: a new aligned block, the old contents copied, the old block freed.
        unsafe {
            let new = self.alloc(std::alloc::Layout::from_size_align_unchecked(
                new_size,
                layout.align(),
            ));
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}
