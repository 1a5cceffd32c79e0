//! Memory tracking in the agent: where memory is allocated (Python stack of
//! each allocation site), what is alive at the peak and at the end, and the
//! heap over time.
//!
//! Both sources are seen: the interpreter's `PyMem` domains (RAW, MEM and
//! OBJ, chained like tracemalloc does; see [`raw`] for what pymalloc passes
//! on to RAW) and native allocations by C extensions (malloc family and
//! anonymous mmap, through the GOT, see [`got`], and through `dlsym`, see
//! [`dlsym`]). Memory the interpreter's own allocators get from malloc/mmap
//! (pymalloc arenas, large blocks) is not counted a second time.
//!
//! Sampling: allocations are sampled at byte intervals drawn from an
//! exponential distribution of mean `R` (a Poisson process over allocated
//! bytes): an allocation of `s` bytes is sampled with probability
//! `p = 1 - exp(-s/R)` and then stands for `s/p` bytes and `1/p`
//! allocations, which makes every total an unbiased estimate. Large
//! allocations (s ≫ R) are always sampled and counted at their size. `R = 0`
//! records every allocation (exact mode).
//!
//! A sampled allocation takes the Python stack of the allocating thread
//! (through the same walker as the sampler, reading the thread's own frames
//! with `process_vm_readv`, so a stale pointer can never fault) under one
//! lock; unsampled ones cost a subtraction (thread-local for native
//! allocations and on a free-threaded build; one shared countdown for the
//! `PyMem` domains, which the GIL serialises). Frees of sampled blocks are
//! found through a counting filter, so other frees cost one load — and when
//! sampling over pymalloc, the program's frees do not reach snakescope at
//! all: a sampled block is made outside pymalloc's pools, and its free is
//! found in the raw domain (see [`hooks`]).

mod dlsym;
mod got;
mod hooks;
mod live;
mod raw;
pub(crate) mod real;
mod sampling;

use crate::exact::PtrHasher;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use rustc_hash::FxHashMap;
use sampling::{sample_weights, IDLE, UNDRAWN};
use snakescope_model::{Frame, Memory, MemoryLabel, MemoryPoint, MemorySite};
use snakescope_remote::Target;
use snakescope_unwind::FrameRef;
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) static ACTIVE: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Source {
    Python,
    Native,
    /// An anonymous mapping of this many bytes (a native site; see [`live`]).
    Mapped(usize),
}

/// Mean bytes between samples (0: every allocation).
static INTERVAL: AtomicU64 = AtomicU64::new(0);
/// Estimated live bytes of tracked allocations.
static LIVE: AtomicI64 = AtomicI64::new(0);

/// How many sampled live blocks hash to each slot: a free whose slot is 0
/// is not one of ours (the common case) and takes no lock.
/// 32 Ki one-byte counters: small enough to stay in the CPU's caches (every
/// free of the program reads one), large enough that a free wrongly taken
/// for a sampled block (then looked up under the lock) stays rare while the
/// live sampled blocks number in the thousands.
const FILTER_BITS: u32 = 15;
static FILTER: [AtomicU8; 1 << FILTER_BITS] = [const { AtomicU8::new(0) }; 1 << FILTER_BITS];

fn filter_slot(ptr: usize) -> usize {
    ((ptr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
}

thread_local! {
    /// Bytes left before this thread's next sample.
    static COUNTDOWN: Cell<i64> = const { Cell::new(UNDRAWN) };
}

#[derive(Default)]
struct Site {
    allocations: f64,
    bytes: f64,
    frees: f64,
    freed: f64,
    live: f64,
    at_peak: f64,
    /// The peak epoch of the last change (see [`live`]).
    epoch: u64,
}

struct Live {
    site: u32,
    bytes: f64,
    count: f64,
    /// A mapped piece's length in bytes (0: not a mapping).
    mapped_len: usize,
}

struct State {
    target: Target,
    hidden: HashSet<String>,
    refs: Vec<FrameRef>,
    /// (code address, serial, line) → frame index.
    frame_ids: FxHashMap<(u64, u64, u32), usize>,
    frames: Vec<Frame>,
    frame_index: FxHashMap<Frame, usize>,
    site_ids: FxHashMap<(Vec<usize>, Source), u32>,
    sites: Vec<(Vec<usize>, Source, Site)>,
    live: HashMap<usize, Live, BuildHasherDefault<PtrHasher>>,
    /// Fingerprint of a thread's stack (see [`stack_fingerprint`]) → site, so
    /// a stack seen before costs no walk.
    known: HashMap<(u64, Source), u32, BuildHasherDefault<PtrHasher>>,
    started: Instant,
    peak: f64,
    peak_at: f64,
    /// How many times the peak grew (see [`live`]).
    peak_epoch: u64,
    /// Mapped pieces: start → length (see [`live`]).
    mapped: std::collections::BTreeMap<usize, usize>,
    stack: Vec<usize>,
    labels: Vec<MemoryLabel>,
    open_labels: Vec<(String, f64)>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

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

/// [`on_alloc`] for the `PyMem` domains (called with the GIL held).
#[inline(always)]
pub(crate) fn on_alloc_python(ptr: usize, size: usize) {
    if crate::hook::FREE_THREADED {
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

/// Whether a freed block may be one of the sampled ones (one load).
#[inline(always)]
pub(crate) fn maybe_sampled(ptr: usize) -> bool {
    FILTER[filter_slot(ptr)].load(Ordering::Relaxed) != 0
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

/// An identifier of the calling thread, without allocating.
#[inline]
fn this_thread() -> u64 {
    // SAFETY: pthread_self has no preconditions; it reads the thread pointer.
    unsafe { libc::pthread_self() as u64 }
}

/// Stops recording the calling thread's allocations. Returns whether this
/// call paused it (false: it already was, by an outer pause), to be passed
/// to [`memory_resume`] — a bool, so that the census's pause creates no
/// object the census could count. One thread at a time: a pause on another
/// thread takes the slot over.
#[pyfunction]
pub fn memory_pause() -> bool {
    let me = this_thread();
    PAUSED_THREAD.swap(me, Ordering::Relaxed) != me
}

/// Which hooks the interpreter's allocators have: `"sampled"` (allocations
/// only, frees of sampled blocks seen in the raw domain: sampling over
/// pymalloc), `"full"` (every allocation and free: exact mode, or another
/// allocator than pymalloc) or `"none"` (memory never tracked).
#[pyfunction]
pub fn memory_hooks() -> &'static str {
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

/// Ends a [`memory_pause`] that returned `paused`.
#[pyfunction]
pub fn memory_resume(paused: bool) {
    if paused {
        let _ =
            PAUSED_THREAD.compare_exchange(this_thread(), 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Runs recording code from inside a hook: a panic there must not unwind
/// into the C caller; it turns tracking off with one line on stderr.
fn guarded(f: impl FnOnce() + std::panic::UnwindSafe) {
    if std::panic::catch_unwind(f).is_err() {
        ACTIVE.store(false, Ordering::Relaxed);
        let msg = b"snakescope: memory tracking failed and is off for the rest of the run\n";
        // SAFETY: writes a static buffer to fd 2; no allocation, no lock.
        unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
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

/// Counts one more live block in a filter slot. A slot that reaches 255
/// stays there for good (a "maybe" for every free that hashes to it, looked
/// up under the lock), where a wrapping counter would come back to 0 and hide
/// live blocks: exact mode on millions of live objects puts hundreds in each
/// slot. Only ever called with the `STATE` lock held — one writer at a
/// time — so a plain load and store suffice (the hooks only read the slots);
/// a locked read-modify-write cost as much as the rest of an exact-mode
/// record. `LIVE` is updated the same way, under the same lock.
#[inline(always)]
fn filter_add(slot: &AtomicU8) {
    let n = slot.load(Ordering::Relaxed);
    if n != u8::MAX {
        slot.store(n + 1, Ordering::Relaxed);
    }
}

/// Counts one live block fewer in a filter slot (see [`filter_add`]).
#[inline(always)]
fn filter_remove(slot: &AtomicU8) {
    let n = slot.load(Ordering::Relaxed);
    if n != u8::MAX && n != 0 {
        slot.store(n - 1, Ordering::Relaxed);
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

/// The calling thread's Python thread state, without needing the GIL.
fn current_tstate() -> u64 {
    // SAFETY: PyGILState_GetThisThreadState only reads the thread-specific
    // slot the interpreter keeps for this thread; it is documented as callable
    // without the GIL, and returns NULL for threads Python does not know.
    unsafe { pyo3::ffi::PyGILState_GetThisThreadState() as u64 }
}

impl State {
    fn site_of_current_stack(&mut self, source: Source) -> u32 {
        let tstate = current_tstate();
        let layout = self.target.walker.layout();
        // SAFETY: `tstate` is this thread's own state (or 0); see stack_fingerprint.
        let fingerprint = unsafe { stack_fingerprint(layout, tstate as usize) };
        if let Some(f) = fingerprint {
            if let Some(&site) = self.known.get(&(f, source)) {
                return site;
            }
        }
        let site = self.walk_to_site(tstate, source);
        if let Some(f) = fingerprint {
            self.known.insert((f, source), site);
        }
        site
    }

    fn walk_to_site(&mut self, tstate: u64, source: Source) -> u32 {
        self.stack.clear();
        if tstate != 0 {
            self.refs.clear();
            let walked = self
                .target
                .walker
                .thread_at(&OwnStack, tstate)
                .and_then(|t| self.target.walker.walk(&OwnStack, &t, &mut self.refs));
            if walked.is_ok() {
                let mut at_root = !self.hidden.is_empty();
                for r in self.refs.iter().rev() {
                    let key = (r.code, r.serial, r.line);
                    let id = match self.frame_ids.get(&key) {
                        Some(&id) => id,
                        None => {
                            let Some(code) = self.target.walker.code(r.code) else {
                                continue;
                            };
                            let frame = Frame {
                                function: code.name.clone(),
                                qualname: Some(code.qualname.clone()),
                                file: code.filename.clone(),
                                line: r.line,
                            };
                            let id = *self.frame_index.entry(frame.clone()).or_insert_with(|| {
                                self.frames.push(frame);
                                self.frames.len() - 1
                            });
                            self.frame_ids.insert(key, id);
                            id
                        }
                    };
                    if at_root && self.hidden.contains(&self.frames[id].file) {
                        continue;
                    }
                    at_root = false;
                    self.stack.push(id);
                }
            }
        }
        let key = (std::mem::take(&mut self.stack), source);
        let id = match self.site_ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.sites.len() as u32;
                self.sites.push((key.0.clone(), key.1, Site::default()));
                self.site_ids.insert(key.clone(), id);
                id
            }
        };
        self.stack = key.0;
        id
    }
}

/// Plain loads from this process, for the walk of the calling thread's own
/// stack from inside an allocator hook (the walker set to
/// [`Walker::read_live_objects_only`](snakescope_unwind::Walker::read_live_objects_only)).
/// That thread's frame chain cannot change while it allocates, and every
/// object the walk reads is held by a frame on it (see
/// [`stack_fingerprint`]), so no read can fault; `process_vm_readv` on our
/// own pid — safe for any address — cost a system call per read (numpy's
/// import: a third of the run in the kernel's page pinning).
struct OwnStack;

impl snakescope_unwind::MemoryReader for OwnStack {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), snakescope_unwind::ReadError> {
        if addr < 4096 {
            return Err(snakescope_unwind::ReadError::Unmapped {
                addr,
                len: buf.len(),
            });
        }
        // SAFETY: only called by the live-objects-only walk of the calling
        // thread's own stack (see the type's documentation): `addr..addr+len`
        // lies in a frame, thread state, code, str or bytes object that a
        // live frame of this thread holds, and `buf` is a distinct Rust buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len());
        }
        Ok(())
    }
}

/// A hash of the calling thread's Python stack — every frame's code object
/// and current instruction, which determine its function and line — read
/// directly from the thread's own frames. `None` where the frame model is
/// not the 3.11+ one.
///
/// Direct reads are safe here where they would not be for another thread:
/// the calling thread is inside an allocator, so its own frame chain cannot
/// change under us, and every frame on it is live (linked only once
/// initialised, unlinked before it is freed), as are the code objects they
/// hold. The full walk (through `process_vm_readv`) runs only for a
/// fingerprint not seen before.
///
/// # Safety
/// `tstate` is 0 or the calling thread's own `PyThreadState`.
unsafe fn stack_fingerprint(layout: &snakescope_layouts::Layout, tstate: usize) -> Option<u64> {
    use snakescope_layouts::{CurrentFrame, FrameModel};
    let o = &layout.offsets;
    if tstate == 0 || !matches!(layout.frames, FrameModel::Interpreter) {
        return None;
    }
    let read = |addr: usize| -> usize {
        // SAFETY: per the function's contract and documentation, `addr` lies
        // in this thread's live state, frames or code objects.
        unsafe { std::ptr::read_unaligned(addr as *const usize) }
    };
    let mut frame = match o.current_frame {
        CurrentFrame::ViaCFrame {
            cframe,
            current_frame,
        } => {
            let cf = read(tstate + cframe as usize);
            if cf == 0 {
                return Some(0);
            }
            read(cf + current_frame as usize)
        }
        CurrentFrame::Direct(off) => read(tstate + off as usize),
    };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut depth = 0u64;
    while frame != 0 && depth < 8192 {
        let mut code = read(frame + o.frame_code as usize);
        if o.frame_code_tagged {
            code &= !7;
        }
        let instr = read(frame + o.frame_instr as usize);
        // One multiply on the chain from frame to frame (the other does not
        // depend on `h`): this loop runs on every allocation in exact mode.
        let v = (code as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ instr as u64;
        h = (h ^ v).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(17);
        frame = read(frame + o.frame_previous as usize);
        depth += 1;
    }
    Some(h ^ depth)
}

pub(crate) fn patches() -> [(&'static [u8], usize); 17] {
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
    got::patch_all(&all, &dlopen, PyMem_Malloc as *const () as usize);
}

const PYMEM_DOMAIN_RAW: i32 = 0;
const PYMEM_DOMAIN_MEM: i32 = 1;
const PYMEM_DOMAIN_OBJ: i32 = 2;

extern "C" {
    fn PyMem_GetAllocator(domain: i32, allocator: *mut hooks::PyMemAllocatorEx);
    fn PyMem_SetAllocator(domain: i32, allocator: *mut hooks::PyMemAllocatorEx);
    fn PyMem_Malloc(size: usize) -> *mut std::ffi::c_void;
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
    fn original(&self, domain: i32) -> hooks::PyMemAllocatorEx {
        // SAFETY: a leaked allocator struct, written once, read-only since.
        unsafe { *(self.originals[domain as usize] as *const hooks::PyMemAllocatorEx) }
    }
}

static DOMAINS: Mutex<Option<Domains>> = Mutex::new(None);

fn get_allocator(domain: i32) -> hooks::PyMemAllocatorEx {
    let mut a = hooks::PyMemAllocatorEx {
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

fn set_allocator(domain: i32, mut a: hooks::PyMemAllocatorEx) {
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
        hooks::PyMemAllocatorEx {
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
fn install_pymem_hooks(_py: Python<'_>, interval: u64) -> Result<(), String> {
    let mut guard = DOMAINS.lock().map_err(|_| "allocator table poisoned")?;
    let domains = guard.get_or_insert_with(|| {
        let mut originals = [0usize; 3];
        let mut all = true;
        for domain in [PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ] {
            let a = Box::leak(Box::new(get_allocator(domain)));
            originals[domain as usize] = a as *mut hooks::PyMemAllocatorEx as usize;
            all &= hooks::ORIGINAL.store(domain as usize, a);
        }
        let mut d = Domains {
            installed: Installed::None,
            originals,
            sampled_ok: false,
        };
        d.sampled_ok = all && !crate::hook::FREE_THREADED && probe_sampled_hooks(&d);
        d
    });
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
    let ours_on_top = [PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ].iter().all(|&domain| {
        let malloc = get_allocator(domain).malloc.map(|f| f as usize);
        let ours = match (domains.installed, domain) {
            (Installed::None, _) => return true,
            (Installed::Full, _) => hooks::py_malloc as *const () as usize,
            (Installed::Sampled, PYMEM_DOMAIN_MEM) => hooks::pym_malloc::<1> as *const () as usize,
            (Installed::Sampled, _) => hooks::pym_malloc::<2> as *const () as usize,
        };
        malloc == Some(ours)
    });
    if !ours_on_top {
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
        Installed::Sampled => {
            // The raw domain first: sampled blocks are freed there.
            let original = domains.original(PYMEM_DOMAIN_RAW);
            set_allocator(
                PYMEM_DOMAIN_RAW,
                hooks::PyMemAllocatorEx {
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
                let original = domains.original(domain);
                set_allocator(
                    domain,
                    hooks::PyMemAllocatorEx {
                        malloc: Some(malloc),
                        calloc: Some(calloc),
                        realloc: Some(realloc),
                        ..original
                    },
                );
            }
        }
        Installed::Full | Installed::None => {
            for domain in [PYMEM_DOMAIN_MEM, PYMEM_DOMAIN_OBJ] {
                set_allocator(
                    domain,
                    hooks::PyMemAllocatorEx {
                        ctx: domains.originals[domain as usize] as *mut std::ffi::c_void,
                        malloc: Some(hooks::py_malloc),
                        calloc: Some(hooks::py_calloc),
                        realloc: Some(hooks::py_realloc),
                        free: Some(hooks::py_free),
                    },
                );
            }
            set_allocator(
                PYMEM_DOMAIN_RAW,
                hooks::PyMemAllocatorEx {
                    ctx: domains.originals[PYMEM_DOMAIN_RAW as usize] as *mut std::ffi::c_void,
                    malloc: Some(raw::full_malloc),
                    calloc: Some(raw::full_calloc),
                    realloc: Some(raw::full_realloc),
                    free: Some(raw::full_free),
                },
            );
        }
    }
    domains.installed = want;
    Ok(())
}

extern "C" fn in_forked_child() {
    // The child may have been forked while another thread held the state
    // lock: it stops tracking and never touches the lock.
    ACTIVE.store(false, Ordering::Relaxed);
}

/// Timeline sampler: tracked heap and RSS every `period`.
struct Timeline {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<MemoryPoint>>,
}

static TIMELINE: Mutex<Option<Timeline>> = Mutex::new(None);

// --- the heap census near the peak ---
//
// A census (objects by type, the garbage collector's view) needs the GIL and
// walks every object (about 1 µs each: 0.5 s for 600,000 objects), so it
// cannot run inside an allocation hook, nor often. The timeline thread asks
// for one when the peak has stood still for 100 ms with the heap still
// within 2 % of it (two sample weights when sampling) (a plateau: the usual shape of "load, work, free"),
// above 16 MiB, at least a tenth above the heap of the last census, and
// while automatic censuses have taken under 5 % of the run so far. It then
// asks the interpreter, with `Py_AddPendingCall`, to run `peak_census` in
// the main thread between two bytecodes. Each census replaces the previous
// one, so the capture keeps the last, with its time and the heap size then.

const PEAK_CENSUS_MIN_BYTES: f64 = 16.0 * 1024.0 * 1024.0;
/// Automatic censuses may take this share of the run's time so far.
const PEAK_CENSUS_BUDGET: f64 = 0.05;
/// Nanoseconds spent in automatic censuses.
static CENSUS_SPENT_NS: AtomicU64 = AtomicU64::new(0);
/// The peak has grown enough for another census.
static CENSUS_WANTED: AtomicBool = AtomicBool::new(false);
/// A census is running (the sampler takes no samples meanwhile).
pub static CENSUS_RUNNING: AtomicBool = AtomicBool::new(false);
/// A census is queued with the interpreter and has not run yet.
static CENSUS_PENDING: AtomicBool = AtomicBool::new(false);
/// The tracked peak so far (an `f64`'s bits), for the timeline thread.
static PEAK: AtomicU64 = AtomicU64::new(0);
/// Tracked live bytes at the last census (an `f64`'s bits).
static CENSUS_LEVEL: AtomicU64 = AtomicU64::new(0);
/// `() -> str`: the census as JSON (`_memory.census_json`), from `memory_start`.
static CENSUS_FN: Mutex<Option<Py<PyAny>>> = Mutex::new(None);
/// The last census taken near the peak (JSON from `CENSUS_FN`).
static PEAK_CENSUS: Mutex<Option<(String, u64)>> = Mutex::new(None);

/// The timeline thread's view of the peak: `(peak, since when it stands)`.
struct PeakWatch(f64, Instant);

impl PeakWatch {
    /// A plateau at the peak, not yet censused, asks for a census
    /// (`started`: when tracking started, for the time budget).
    fn check(&mut self, now: Instant, started: Instant) {
        let peak = f64::from_bits(PEAK.load(Ordering::Relaxed));
        if peak != self.0 {
            *self = PeakWatch(peak, now);
            return;
        }
        let live = LIVE.load(Ordering::Relaxed) as f64;
        let level = f64::from_bits(CENSUS_LEVEL.load(Ordering::Relaxed));
        let spent = CENSUS_SPENT_NS.load(Ordering::Relaxed) as f64;
        // "Still at the peak": within 2 %, or, when sampling, within two
        // sample weights (one sampled block freed moves the estimate by
        // about an interval, 512 KiB by default).
        let interval = INTERVAL.load(Ordering::Relaxed) as f64;
        if peak >= PEAK_CENSUS_MIN_BYTES
            && now.duration_since(self.1) >= Duration::from_millis(100)
            && live >= peak - (0.02 * peak).max(2.0 * interval)
            && level < peak / 1.1
            && spent <= PEAK_CENSUS_BUDGET * now.duration_since(started).as_nanos() as f64
        {
            CENSUS_WANTED.store(true, Ordering::Relaxed);
        }
    }
}

/// No more censuses near the peak: the program's main code has returned and
/// the interpreter is about to exit. On 3.8, `Py_AddPendingCall` once
/// finalization has begun (which is before the `atexit` functions, ours
/// included) sets and prints a `SystemError` on the thread state of
/// whichever thread holds the GIL — from our timeline thread, the main
/// thread's, in the middle of the exit census: its next call fails ("returned
/// a result with an error set") or the process crashes.
static CENSUS_CLOSED: AtomicBool = AtomicBool::new(false);

/// Closes the automatic census near the peak for the rest of this tracking
/// (see [`CENSUS_CLOSED`]); `snakescope run` calls it when the program's
/// main code returns.
#[pyfunction]
pub fn memory_close_censuses() {
    CENSUS_CLOSED.store(true, Ordering::Relaxed);
}

/// Queues a census with the interpreter when the peak asked for one.
fn request_census() {
    if !CENSUS_WANTED.load(Ordering::Relaxed)
        || CENSUS_CLOSED.load(Ordering::Relaxed)
        || CENSUS_PENDING.swap(true, Ordering::AcqRel)
    {
        return;
    }
    // SAFETY: Py_AddPendingCall may be called from any thread, without the
    // GIL or a thread state (its documented purpose); `peak_census` is a
    // plain function that lives for the process and ignores its argument.
    if unsafe { pyo3::ffi::Py_AddPendingCall(Some(peak_census), std::ptr::null_mut()) } != 0 {
        CENSUS_PENDING.store(false, Ordering::Release); // the queue was full: next tick
    }
}

/// Runs in the main thread with the GIL held (a pending call). Always
/// returns 0: a pending call that fails raises in the program.
extern "C" fn peak_census(_: *mut std::ffi::c_void) -> std::os::raw::c_int {
    let taken = std::panic::catch_unwind(|| {
        // SAFETY: pending calls run with the GIL held by the calling thread.
        let py = unsafe { Python::assume_gil_acquired() };
        CENSUS_WANTED.store(false, Ordering::Relaxed);
        if !ACTIVE.load(Ordering::Relaxed) {
            return;
        }
        let Some(census) = CENSUS_FN
            .lock()
            .ok()
            .and_then(|f| f.as_ref().map(|f| f.clone_ref(py)))
        else {
            return;
        };
        let heap = LIVE.load(Ordering::Relaxed).max(0) as u64;
        CENSUS_LEVEL.store((heap as f64).to_bits(), Ordering::Relaxed);
        // The census's own objects are not the program's: this thread's
        // allocations are not recorded meanwhile (frees, and other threads'
        // allocations, still are).
        let previous = memory_pause();
        CENSUS_RUNNING.store(true, Ordering::Relaxed);
        let began = Instant::now();
        let json = census.call0(py).and_then(|v| v.extract::<String>(py));
        CENSUS_SPENT_NS.fetch_add(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
        CENSUS_RUNNING.store(false, Ordering::Relaxed);
        memory_resume(previous);
        match json {
            Ok(json) => {
                if let Ok(mut last) = PEAK_CENSUS.lock() {
                    *last = Some((json, heap));
                }
            }
            Err(e) => drop(e), // no census this time; the program is not disturbed
        }
    });
    CENSUS_PENDING.store(false, Ordering::Release);
    if taken.is_err() {
        // A panic mid-census: tracking goes off (as after any failure
        // inside the agent), but the CPU sampler must not stay paused.
        ACTIVE.store(false, Ordering::Relaxed);
        CENSUS_RUNNING.store(false, Ordering::Relaxed);
        CENSUS_WANTED.store(false, Ordering::Relaxed);
    }
    0
}

/// The last census taken near the peak, as JSON, with the tracked heap then.
pub fn take_peak_census() -> Option<(String, u64)> {
    PEAK_CENSUS.lock().ok().and_then(|mut c| c.take())
}

fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

fn start_timeline(started: Instant, period: Duration) -> Timeline {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("snakescope-memory".into())
        .spawn(move || {
            let mut points = Vec::new();
            let mut period = period;
            let mut watch = PeakWatch(0.0, Instant::now());
            while !flag.load(Ordering::Relaxed) {
                watch.check(Instant::now(), started);
                request_census();
                points.push(MemoryPoint {
                    t: started.elapsed().as_secs_f64(),
                    heap: LIVE.load(Ordering::Relaxed).max(0) as u64,
                    rss: rss_bytes(),
                });
                if points.len() >= 4000 {
                    // Bounded: keep every other point and sample half as often.
                    let kept: Vec<MemoryPoint> = points.iter().step_by(2).copied().collect();
                    points = kept;
                    period *= 2;
                }
                // Woken early by stop (unpark), which then needs no wait.
                std::thread::park_timeout(period);
            }
            points
        })
        .expect("memory timeline thread");
    Timeline { stop, thread }
}

/// Starts tracking memory: `interval_bytes` between samples (0 records every
/// allocation); frames of `hide_files` at the root of stacks are left out.
#[pyfunction]
#[pyo3(signature = (interval_bytes = 512 * 1024, hide_files = Vec::new(), timeline_ms = 10.0, census = None))]
pub fn memory_start(
    py: Python<'_>,
    interval_bytes: u64,
    hide_files: Vec<String>,
    timeline_ms: f64,
    census: Option<Py<PyAny>>,
) -> PyResult<()> {
    let mut guard = STATE
        .lock()
        .map_err(|_| PyRuntimeError::new_err("memory state poisoned"))?;
    if guard.is_some() {
        return Err(PyRuntimeError::new_err("memory tracking is already on"));
    }
    // Tracking is off (ACTIVE false) here: no hook records or forgets, so
    // none waits for the state lock held meanwhile.
    install_pymem_hooks(py, interval_bytes).map_err(PyRuntimeError::new_err)?;
    let mut target = crate::attach_self(py)?;
    target.walker.read_live_objects_only(true);
    let started = Instant::now();
    *guard = Some(State {
        target,
        hidden: hide_files.into_iter().collect(),
        refs: Vec::new(),
        frame_ids: FxHashMap::default(),
        frames: Vec::new(),
        frame_index: FxHashMap::default(),
        site_ids: FxHashMap::default(),
        sites: Vec::new(),
        live: HashMap::default(),
        known: HashMap::default(),
        started,
        peak: 0.0,
        peak_at: 0.0,
        peak_epoch: 0,
        mapped: std::collections::BTreeMap::new(),
        stack: Vec::new(),
        labels: Vec::new(),
        open_labels: Vec::new(),
    });
    drop(guard);
    INTERVAL.store(interval_bytes, Ordering::Relaxed);
    LIVE.store(0, Ordering::Relaxed);
    // No automatic census on a free-threaded build: there other threads
    // keep running Python code while the census walks every object (the
    // census's view would not be one moment), and it has not been tested there.
    *CENSUS_FN.lock().expect("census function") = census.filter(|_| !crate::hook::FREE_THREADED);
    *PEAK_CENSUS.lock().expect("peak census") = None;
    CENSUS_LEVEL.store(0f64.to_bits(), Ordering::Relaxed);
    PEAK.store(0f64.to_bits(), Ordering::Relaxed);
    CENSUS_SPENT_NS.store(0, Ordering::Relaxed);
    CENSUS_WANTED.store(false, Ordering::Relaxed);
    CENSUS_CLOSED.store(false, Ordering::Relaxed);
    static ATFORK: std::sync::Once = std::sync::Once::new();
    ATFORK.call_once(|| {
        // SAFETY: registers a handler that only stores an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(in_forked_child)) };
    });
    real::resolve();
    dlsym::resolve();
    ACTIVE.store(true, Ordering::Relaxed);
    // After tracking is on: the sampled hooks' slow path parks the countdown
    // at IDLE while it is off.
    PY_COUNTDOWN.store(UNDRAWN, Ordering::Relaxed);
    patch_everything();
    *TIMELINE.lock().expect("timeline") = Some(start_timeline(
        started,
        Duration::from_secs_f64(timeline_ms.max(1.0) / 1000.0),
    ));
    Ok(())
}

/// Opens (`start=True`) or closes a labelled span of the timeline.
#[pyfunction]
pub fn memory_label(name: String, start: bool) {
    let Ok(mut guard) = STATE.lock() else { return };
    let Some(state) = guard.as_mut() else { return };
    let now = state.started.elapsed().as_secs_f64();
    if start {
        state.open_labels.push((name, now));
    } else if let Some(i) = state.open_labels.iter().rposition(|(n, _)| *n == name) {
        let (name, start_s) = state.open_labels.remove(i);
        state.labels.push(MemoryLabel {
            name,
            start_s,
            end_s: now,
        });
    }
}

/// Stops tracking and returns the memory data with its frames, as JSON:
/// `{"frames": [...], "memory": {...}}` (frames are indexed by the sites).
pub fn stop_memory() -> Result<(Vec<Frame>, Memory), String> {
    ACTIVE.store(false, Ordering::Relaxed);
    let timeline = TIMELINE.lock().map_err(|e| e.to_string())?.take();
    let points = match timeline {
        Some(t) => {
            t.stop.store(true, Ordering::Relaxed);
            t.thread.thread().unpark();
            t.thread.join().unwrap_or_default()
        }
        None => Vec::new(),
    };
    let mut state = STATE
        .lock()
        .map_err(|e| e.to_string())?
        .take()
        .ok_or("memory tracking is not on")?;
    state.settle_peak();
    live::MAPPED_PIECES.store(0, Ordering::Relaxed);
    // No writer is left (the state is gone): empty the filter, saturated
    // slots included, for the next session.
    for slot in &FILTER {
        slot.store(0, Ordering::Relaxed);
    }
    let end_bytes: f64 = state.sites.iter().map(|(_, _, s)| s.live.max(0.0)).sum();
    let interval = INTERVAL.load(Ordering::Relaxed);
    let mut labels = state.labels;
    let end = state.started.elapsed().as_secs_f64();
    labels.extend(
        state
            .open_labels
            .into_iter()
            .map(|(name, start_s)| MemoryLabel {
                name,
                start_s,
                end_s: end,
            }),
    );
    let sites = state
        .sites
        .into_iter()
        .filter(|(_, _, s)| s.allocations > 0.0)
        .map(|(frames, source, s)| MemorySite {
            frames,
            source: match source {
                Source::Python => "python",
                Source::Native | Source::Mapped(_) => "native",
            }
            .to_owned(),
            allocations: s.allocations.round() as u64,
            allocated_bytes: s.bytes.round() as u64,
            frees: s.frees.round() as u64,
            freed_bytes: s.freed.round() as u64,
            peak_bytes: s.at_peak.max(0.0).round() as u64,
            end_bytes: s.live.max(0.0).round() as u64,
        })
        .collect();
    Ok((
        state.frames,
        Memory {
            mode: if interval == 0 { "exact" } else { "sampled" }.to_owned(),
            sample_interval_bytes: interval.max(1),
            sites,
            peak_bytes: state.peak.round() as u64,
            peak_at_s: state.peak_at,
            end_bytes: end_bytes.round() as u64,
            timeline: points,
            labels,
            census: Vec::new(),
        },
    ))
}

/// Whether memory tracking is on (or paused before its results are taken).
pub fn is_on() -> bool {
    STATE.lock().map(|s| s.is_some()).unwrap_or(false)
}

/// Stops recording new events (what runs next is snakescope's own work);
/// [`stop_memory`] then collects the results.
pub fn pause() {
    ACTIVE.store(false, Ordering::Relaxed);
}

/// Whether memory tracking is on (for the Python side).
#[pyfunction]
pub fn memory_on() -> bool {
    is_on()
}

/// Seconds since memory tracking started (0 when it is off).
#[pyfunction]
pub fn memory_elapsed() -> f64 {
    STATE
        .lock()
        .ok()
        .and_then(|g| g.as_ref().map(|s| s.started.elapsed().as_secs_f64()))
        .unwrap_or(0.0)
}
