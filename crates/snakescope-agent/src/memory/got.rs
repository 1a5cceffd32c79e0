//! Redirects the allocator calls of every loaded library to our hooks by
//! rewriting their global offset tables (the slots their PLT stubs and
//! address-taken references jump through).
//!
//! Why this and not `LD_PRELOAD`: it needs no second library and no change to
//! the program's environment (which children would inherit), and works when
//! profiling starts from inside a running program (`snakescope.Profiler`).
//! Libraries loaded later (`import numpy`) are patched by our `dlopen`. What it
//! cannot see: calls inside the C library itself (e.g. `strdup`'s malloc) and
//! statically linked allocators — the same limits as memray's default mode.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};

/// (symbol, replacement) pairs.
pub type Patches = [(&'static [u8], usize)];

const PT_DYNAMIC: u32 = 2;
const PT_GNU_RELRO: u32 = 0x6474_e552;
const DT_NULL: i64 = 0;
const DT_PLTRELSZ: i64 = 2;
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_RELA: i64 = 7;
const DT_RELASZ: i64 = 8;
const DT_JMPREL: i64 = 23;
const R_X86_64_64: u32 = 1;
const R_X86_64_GLOB_DAT: u32 = 6;
const R_X86_64_JUMP_SLOT: u32 = 7;

#[repr(C)]
struct Rela {
    offset: u64,
    info: u64,
    addend: i64,
}

#[repr(C)]
struct Sym {
    name: u32,
    info: u8,
    other: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

struct Walk<'a> {
    patches: &'a Patches,
    /// For the object that holds the interpreter: its allocators are hooked
    /// through the `PyMem` domains instead, so only these (e.g. `dlopen`).
    interpreter_patches: &'a Patches,
    /// An address inside the interpreter's object.
    interpreter: usize,
    /// Our own library: never patched, so our own allocations go to the real allocator.
    own: usize,
    patched: usize,
}

/// Patches every loaded object except ours and the C library / dynamic
/// loader; returns how many slots were rewritten. Idempotent.
pub fn patch_all(patches: &Patches, interpreter_patches: &Patches, interpreter: usize) -> usize {
    let mut walk = Walk {
        patches,
        interpreter_patches,
        interpreter,
        own: patch_all as *const () as usize,
        patched: 0,
    };
    // SAFETY: dl_iterate_phdr calls `visit` once per loaded object with a
    // valid `dl_phdr_info`, holding the loader's lock (so objects cannot be
    // unloaded meanwhile); `walk` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), &mut walk as *mut Walk as *mut c_void) };
    walk.patched
}

unsafe extern "C" fn visit(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> c_int {
    // SAFETY: see patch_all: both pointers are valid for the call.
    let (info, walk) = unsafe { (&*info, &mut *(data as *mut Walk)) };
    let name = if info.dlpi_name.is_null() {
        &b""[..]
    } else {
        // SAFETY: the loader gives a NUL-terminated name.
        unsafe { CStr::from_ptr(info.dlpi_name) }.to_bytes()
    };
    let base = info.dlpi_addr as usize;
    // SAFETY: the loader's program headers for this object.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let holds = |addr: usize| {
        phdrs.iter().any(|p| {
            p.p_type == libc::PT_LOAD
                && (base + p.p_vaddr as usize..base + (p.p_vaddr + p.p_memsz) as usize)
                    .contains(&addr)
        })
    };
    let contains_own = holds(walk.own);
    let patches = if holds(walk.interpreter) {
        walk.interpreter_patches
    } else {
        walk.patches
    };
    let skipped = contains_own
        || contains(name, b"linux-vdso")
        || contains(name, b"/ld-linux")
        || contains(name, b"/libc.so")
        || contains(name, b"/libc-");
    if skipped {
        return 0;
    }
    let Some(dynamic) = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC) else {
        return 0;
    };
    let relro: Vec<(usize, usize)> = phdrs
        .iter()
        .filter(|p| p.p_type == PT_GNU_RELRO)
        .map(|p| {
            (
                base + p.p_vaddr as usize,
                base + (p.p_vaddr + p.p_memsz) as usize,
            )
        })
        .collect();
    // SAFETY: the object's dynamic section, mapped by the loader.
    walk.patched += unsafe {
        patch_object(
            base,
            (base + dynamic.p_vaddr as usize) as *const [i64; 2],
            &relro,
            patches,
        )
    };
    0
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// # Safety
/// `dynamic` points at a loaded object's dynamic section; `base` is its load bias.
unsafe fn patch_object(
    base: usize,
    dynamic: *const [i64; 2],
    relro: &[(usize, usize)],
    patches: &Patches,
) -> usize {
    let (mut strtab, mut symtab, mut rela, mut relasz, mut jmprel, mut pltrelsz) =
        (0, 0, 0, 0, 0, 0);
    let mut entry = dynamic;
    // The loader relocates the addresses in the dynamic section of most
    // objects in place; those it does not are still relative to `base`.
    let addr = |v: i64| -> usize {
        let v = v as usize;
        if v < base {
            v + base
        } else {
            v
        }
    };
    loop {
        // SAFETY: the dynamic section is an array of (tag, value) ended by DT_NULL.
        let [tag, value] = unsafe { *entry };
        match tag {
            DT_NULL => break,
            DT_STRTAB => strtab = addr(value),
            DT_SYMTAB => symtab = addr(value),
            DT_RELA => rela = addr(value),
            DT_RELASZ => relasz = value as usize,
            DT_JMPREL => jmprel = addr(value),
            DT_PLTRELSZ => pltrelsz = value as usize,
            _ => {}
        }
        // SAFETY: still inside the section (DT_NULL not reached).
        entry = unsafe { entry.add(1) };
    }
    if strtab == 0 || symtab == 0 {
        return 0;
    }
    let mut patched = 0;
    for (table, size) in [(jmprel, pltrelsz), (rela, relasz)] {
        if table == 0 || size == 0 {
            continue;
        }
        let count = size / std::mem::size_of::<Rela>();
        // SAFETY: a relocation table of `count` entries, mapped read-only by the loader.
        let relas = unsafe { std::slice::from_raw_parts(table as *const Rela, count) };
        for r in relas {
            let kind = (r.info & 0xffff_ffff) as u32;
            if !matches!(kind, R_X86_64_JUMP_SLOT | R_X86_64_GLOB_DAT | R_X86_64_64) {
                continue;
            }
            let index = (r.info >> 32) as usize;
            if index == 0 {
                continue;
            }
            // SAFETY: symbol `index` of the object's symbol table, whose name
            // is a NUL-terminated string in its string table.
            let name = unsafe {
                let sym = &*(symtab as *const Sym).add(index);
                CStr::from_ptr((strtab + sym.name as usize) as *const c_char).to_bytes()
            };
            let Some(&(_, target)) = patches.iter().find(|(n, _)| *n == name) else {
                continue;
            };
            let slot = (base + r.offset as usize) as *mut usize;
            // SAFETY: the slot is a pointer-sized, aligned GOT entry of a
            // loaded object (the relocation says so).
            if unsafe { std::ptr::read_volatile(slot) } == target {
                continue;
            }
            // SAFETY: as above; made writable first when RELRO protected it.
            if unsafe { write_slot(slot, target, relro) } {
                patched += 1;
            }
        }
    }
    patched
}

/// # Safety
/// `slot` is a GOT entry of a loaded object.
unsafe fn write_slot(slot: *mut usize, value: usize, relro: &[(usize, usize)]) -> bool {
    let page = 4096usize;
    let start = slot as usize & !(page - 1);
    let protected = relro
        .iter()
        .any(|&(a, b)| (a..b).contains(&(slot as usize)));
    if protected {
        // SAFETY: changes the protection of one page of the object's own mapping.
        if unsafe {
            libc::mprotect(
                start as *mut c_void,
                page,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        } != 0
        {
            return false;
        }
    }
    // SAFETY: the slot is writable now; an aligned pointer-sized store is atomic
    // on x86-64, so a concurrent call through it sees the old or the new target.
    unsafe { std::ptr::write_volatile(slot, value) };
    if protected {
        // SAFETY: as above, back to read-only as RELRO had it.
        unsafe { libc::mprotect(start as *mut c_void, page, libc::PROT_READ) };
    }
    true
}

/// What is patched: each allocator entry point of the C library with its
/// hook, and `dlopen` (to patch libraries loaded later) and `dlsym` (to
/// hand out the hooks, see [`super::dlsym`]).
pub(crate) fn patches() -> [(&'static [u8], usize); 17] {
    use super::{dlsym, hooks};
    [
        (b"malloc", hooks::malloc as *const () as usize),
        (b"calloc", hooks::calloc as *const () as usize),
        (b"realloc", hooks::realloc as *const () as usize),
        (b"reallocarray", hooks::reallocarray as *const () as usize),
        (b"free", hooks::free as *const () as usize),
        (b"cfree", hooks::free as *const () as usize),
        (
            b"posix_memalign",
            hooks::posix_memalign as *const () as usize,
        ),
        (b"aligned_alloc", hooks::aligned_alloc as *const () as usize),
        (b"memalign", hooks::memalign as *const () as usize),
        (b"valloc", hooks::valloc as *const () as usize),
        (b"pvalloc", hooks::pvalloc as *const () as usize),
        (b"mmap", hooks::mmap as *const () as usize),
        (b"mmap64", hooks::mmap as *const () as usize),
        (b"munmap", hooks::munmap as *const () as usize),
        (b"dlopen", hooks::dlopen as *const () as usize),
        (b"dlsym", dlsym::hook as *const () as usize),
        (b"__libc_memalign", hooks::memalign as *const () as usize),
    ]
}

/// Redirects the allocators of every loaded library but the interpreter's
/// (whose allocations the `PyMem` hooks see), and everyone's `dlopen`.
pub(crate) fn patch_everything() {
    let all = patches();
    let dlopen: Vec<(&'static [u8], usize)> = all
        .iter()
        .copied()
        .filter(|(n, _)| *n == b"dlopen" || *n == b"dlsym")
        .collect();
    patch_all(&all, &dlopen, super::pymem::interpreter_function());
}
