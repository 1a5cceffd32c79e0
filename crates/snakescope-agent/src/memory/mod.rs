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
//! under one lock: its key when the stack was seen before, else a walk by
//! the sampler's own path (the walker and `StackWalk`), both with plain
//! loads of that thread's own live frames (see [`sites`]); unsampled ones cost a subtraction (thread-local for native
//! allocations and on a free-threaded build; one shared countdown for the
//! `PyMem` domains, which the GIL serialises). Frees of sampled blocks are
//! found through a counting filter, so other frees cost one load — and when
//! sampling over pymalloc, the program's frees do not reach snakescope at
//! all: a sampled block is made outside pymalloc's pools, and its free is
//! found in the raw domain (see [`hooks`]).
//!
//! Where each part lives: [`sampling`] (the maths: exponential distances,
//! weights), [`recording`] (the hooks' countdowns and their way into the
//! records), [`filter`] (which frees may be of sampled blocks), [`state`]
//! (the session behind one lock, turned into the capture at the end),
//! [`sites`] (the calling thread's stack → a site), [`live`] (live blocks,
//! sites' totals, the peak, mappings), [`census`] (the heap census near the
//! peak), [`objects`] (live censuses for the live page), [`kicker`] (the GIL
//! handover that makes 3.9–3.12 run them promptly), [`timeline`] (heap and RSS over time), [`pymem`] (installing the
//! `PyMem` hooks), [`hooks`] and [`raw`] (the hooks themselves), [`got`] and
//! [`dlsym`] (reaching native allocations), [`python`] (the functions the
//! Python side calls).

mod census;
mod dlsym;
mod filter;
mod globals;
mod got;
mod heap;
mod heapcount;
mod hooks;
mod kicker;
mod live;
pub mod objects;
mod pymem;
mod python;
mod raw;
pub(crate) mod real;
mod recording;
mod sampling;
mod sites;
mod state;
mod timeline;

pub use census::{into_census, take_peak_census, CensusRows, CENSUS_RUNNING};
pub use heapcount::heap_census;
pub use kicker::census_kicker_run;
pub use python::{
    memory_close_censuses, memory_elapsed, memory_hooks, memory_label, memory_on, memory_pause,
    memory_restore_allocators, memory_resume, memory_start,
};
pub use state::{is_on, pause, snapshot, stop_memory};

use std::sync::atomic::{AtomicBool, Ordering};

/// Tracking is on: the hooks record (off before start, after stop or
/// `pause`, in a fork child, and after a failure inside the agent).
pub(crate) static ACTIVE: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Source {
    Python,
    Native,
    /// An anonymous mapping of this many bytes (a native site; see [`live`]).
    Mapped(usize),
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

extern "C" fn in_forked_child() {
    // The child may have been forked while another thread held the state
    // lock: it stops tracking and never touches the lock.
    ACTIVE.store(false, Ordering::Relaxed);
}
