//! Installing the `PyMem` hooks: the interpreter's RAW, MEM and OBJ
//! domains, chained with `PyMem_SetAllocator` as tracemalloc does. Which
//! set of hooks serves (the full or the sampled ones, see [`super::hooks`])
//! is decided here, once pymalloc has been probed.
//!
//! Everything here runs with the GIL held (from `memory_start`).

use super::hooks::{self, PyMemAllocatorEx};
use super::raw;
use pyo3::Python;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

const PYMEM_DOMAIN_RAW: i32 = 0;
const PYMEM_DOMAIN_MEM: i32 = 1;
const PYMEM_DOMAIN_OBJ: i32 = 2;

extern "C" {
    fn PyMem_GetAllocator(domain: i32, allocator: *mut PyMemAllocatorEx);
    fn PyMem_SetAllocator(domain: i32, allocator: *mut PyMemAllocatorEx);
    fn PyMem_Malloc(size: usize) -> *mut std::ffi::c_void;
}

/// The address of a function in the interpreter's own object (to tell
/// which loaded object is the interpreter, see [`super::got`]).
pub(super) fn interpreter_function() -> usize {
    PyMem_Malloc as *const () as usize
}

/// Which hooks the `PyMem` domains have (see [`hooks`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Installed {
    None,
    Full,
    Sampled,
}

struct Domains {
    installed: Installed,
    /// Each domain's allocator as first found (leaked: the full hooks'
    /// contexts; blocks allocated through any hook are freed through them).
    originals: [usize; 3],
    /// pymalloc hands the free of a block beyond its pools to the raw
    /// domain, so the sampled hooks can serve.
    sampled_ok: bool,
}

impl Domains {
    /// The domains' allocators as found now, before any hook of ours.
    fn first_found() -> Domains {
        let mut originals = [0usize; 3];
        let mut all = true;
        for domain in [PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ] {
            let a = Box::leak(Box::new(get_allocator(domain)));
            originals[domain as usize] = a as *mut PyMemAllocatorEx as usize;
            all &= hooks::ORIGINAL.store(domain as usize, a);
        }
        let mut d = Domains {
            installed: Installed::None,
            originals,
            sampled_ok: false,
        };
        d.sampled_ok = all && !crate::cpython::FREE_THREADED && probe_sampled_hooks(&d);
        d
    }

    fn original(&self, domain: i32) -> PyMemAllocatorEx {
        // SAFETY: a leaked allocator struct, written once, read-only since.
        unsafe { *(self.originals[domain as usize] as *const PyMemAllocatorEx) }
    }

    /// A domain's original allocator as the full hooks' context.
    fn context(&self, domain: i32) -> *mut std::ffi::c_void {
        self.originals[domain as usize] as *mut std::ffi::c_void
    }

    /// Whether the MEM and OBJ domains still have the hooks we installed
    /// (not another tool's over them).
    fn ours_on_top(&self) -> bool {
        [PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ].iter().all(|&domain| {
            let malloc = get_allocator(domain).malloc.map(|f| f as usize);
            let ours = match (self.installed, domain) {
                (Installed::None, _) => return true,
                (Installed::Full, _) => hooks::py_malloc as *const () as usize,
                (Installed::Sampled, PYMEM_DOMAIN_MEM) => {
                    hooks::pym_malloc::<1> as *const () as usize
                }
                (Installed::Sampled, _) => hooks::pym_malloc::<2> as *const () as usize,
            };
            malloc == Some(ours)
        })
    }

    /// The sampled hooks: allocations of MEM and OBJ, the raw domain's
    /// allocations and frees.
    fn install_sampled(&self) {
        // The raw domain first: sampled blocks are freed there.
        let original = self.original(PYMEM_DOMAIN_RAW);
        set_allocator(
            PYMEM_DOMAIN_RAW,
            PyMemAllocatorEx {
                malloc: Some(raw::sampled_malloc),
                calloc: Some(raw::sampled_calloc),
                realloc: Some(raw::sampled_realloc),
                free: Some(hooks::raw_free),
                ..original
            },
        );
        for (domain, malloc, calloc, realloc) in [
            (
                PYMEM_DOMAIN_MEM,
                hooks::pym_malloc::<1> as _,
                hooks::pym_calloc::<1> as _,
                hooks::pym_realloc::<1> as _,
            ),
            (
                PYMEM_DOMAIN_OBJ,
                hooks::pym_malloc::<2> as _,
                hooks::pym_calloc::<2> as _,
                hooks::pym_realloc::<2> as _,
            ),
        ] {
            let original = self.original(domain);
            set_allocator(
                domain,
                PyMemAllocatorEx {
                    malloc: Some(malloc),
                    calloc: Some(calloc),
                    realloc: Some(realloc),
                    ..original
                },
            );
        }
    }

    /// The full hooks: every allocation and free of every domain.
    fn install_full(&self) {
        for domain in [PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ] {
            set_allocator(
                domain,
                PyMemAllocatorEx {
                    ctx: self.context(domain),
                    malloc: Some(hooks::py_malloc),
                    calloc: Some(hooks::py_calloc),
                    realloc: Some(hooks::py_realloc),
                    free: Some(hooks::py_free),
                },
            );
        }
        set_allocator(
            PYMEM_DOMAIN_RAW,
            PyMemAllocatorEx {
                ctx: self.context(PYMEM_DOMAIN_RAW),
                malloc: Some(raw::full_malloc),
                calloc: Some(raw::full_calloc),
                realloc: Some(raw::full_realloc),
                free: Some(raw::full_free),
            },
        );
    }
}

static DOMAINS: Mutex<Option<Domains>> = Mutex::new(None);

fn get_allocator(domain: i32) -> PyMemAllocatorEx {
    let mut a = PyMemAllocatorEx {
        ctx: std::ptr::null_mut(),
        malloc: None,
        calloc: None,
        realloc: None,
        free: None,
    };
    // SAFETY: the struct is valid for writing; the callers hold the GIL.
    unsafe { PyMem_GetAllocator(domain, &mut a) };
    a
}

fn set_allocator(domain: i32, mut a: PyMemAllocatorEx) {
    // SAFETY: the callers hold the GIL; every allocator set chains to the
    // domain's original, which lives for the process (leaked). The struct is
    // copied by the call.
    unsafe { PyMem_SetAllocator(domain, &mut a) };
}

/// Checks that pymalloc sends the free of a block beyond its pools (what a
/// sampled block is made) through the raw domain, where the sampled hooks
/// see it: one block per domain, with a raw allocator that only watches.
fn probe_sampled_hooks(domains: &Domains) -> bool {
    let raw = domains.original(PYMEM_DOMAIN_RAW);
    set_allocator(
        PYMEM_DOMAIN_RAW,
        PyMemAllocatorEx {
            free: Some(hooks::probe_free),
            ..raw
        },
    );
    let seen = [PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ].iter().all(|&domain| {
        let a = domains.original(domain);
        let (Some(malloc), Some(free)) = (a.malloc, a.free) else {
            return false;
        };
        // SAFETY: the domain's original allocator, with its context, GIL held.
        let p = unsafe { malloc(a.ctx, hooks::OUTSIDE_POOLS) };
        if p.is_null() {
            return false;
        }
        hooks::PROBE.store(p as usize, Ordering::Relaxed);
        hooks::PROBE_SEEN.store(false, Ordering::Relaxed);
        // SAFETY: the block just allocated, freed by its allocator.
        unsafe { free(a.ctx, p) };
        hooks::PROBE.store(0, Ordering::Relaxed);
        hooks::PROBE_SEEN.load(Ordering::Relaxed)
    });
    set_allocator(PYMEM_DOMAIN_RAW, raw);
    seen
}

/// The smallest mean interval the sampled hooks serve: each live sampled
/// small block takes up to 513 bytes (see `hooks::OUTSIDE_POOLS`), about
/// 513 / interval extra bytes per byte the program allocates — under 1 %
/// from 64 KiB; below it (and in exact mode) the full hooks are used.
const SAMPLED_HOOKS_MIN_INTERVAL: u64 = 64 * 1024;

/// Installs the `PyMem` hooks for sampling every `interval` bytes (0:
/// exact): the sampled hooks where pymalloc allows and the interval is long
/// enough, else the full hooks (see [`hooks`]).
pub(super) fn install_pymem_hooks(_py: Python<'_>, interval: u64) -> Result<(), String> {
    let mut guard = DOMAINS.lock().map_err(|_| "allocator table poisoned")?;
    let domains = guard.get_or_insert_with(Domains::first_found);
    let want = if interval >= SAMPLED_HOOKS_MIN_INTERVAL && domains.sampled_ok {
        Installed::Sampled
    } else {
        Installed::Full
    };
    if domains.installed == want {
        return Ok(());
    }
    // Another tool's hooks may sit over ours (tracemalloc started since):
    // replacing them would break it. Whatever set is installed serves
    // sampling (the full hooks, or the sampled ones at a short interval,
    // only costlier); exact mode needs every free.
    if !domains.ours_on_top() {
        return if interval == 0 {
            Err(
                "another allocator hook (tracemalloc?) was installed over snakescope's \
                 sampling hooks, which do not see every free: exact mode cannot start"
                    .into(),
            )
        } else {
            Ok(())
        };
    }
    match want {
        Installed::Sampled => domains.install_sampled(),
        Installed::Full | Installed::None => domains.install_full(),
    }
    domains.installed = want;
    Ok(())
}

/// Puts each domain's original allocator back, when the hooks on top are
/// still ours (else another tool's hooks chain to ours, and stay so).
/// Every block allocated under either set of hooks came from the original
/// allocators at the same address (the hooks add no header), so the
/// originals free them. Returns whether the hooks were taken out.
pub(super) fn restore_pymem_allocators(_py: Python<'_>) -> Result<bool, String> {
    let mut guard = DOMAINS.lock().map_err(|_| "allocator table poisoned")?;
    let Some(domains) = guard.as_mut() else {
        return Ok(false);
    };
    if domains.installed == Installed::None || !domains.ours_on_top() {
        return Ok(false);
    }
    for domain in [PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ, PYMEM_DOMAIN_RAW] {
        set_allocator(domain, domains.original(domain));
    }
    domains.installed = Installed::None;
    Ok(true)
}

/// Which hooks the interpreter's allocators have: `"sampled"`, `"full"` or
/// `"none"` (see `memory_hooks`).
pub(super) fn installed_hooks() -> &'static str {
    match DOMAINS
        .lock()
        .ok()
        .and_then(|d| d.as_ref().map(|d| d.installed))
    {
        Some(Installed::Sampled) => "sampled",
        Some(Installed::Full) => "full",
        _ => "none",
    }
}
