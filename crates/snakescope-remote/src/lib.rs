//! Out-of-process access to a running CPython: finds the interpreter in a
//! process's memory map, picks its layout, and reads its memory with
//! `process_vm_readv` without stopping it. Nothing is loaded into the target.
//!
//! Linux only. Never prints; errors say what failed with the value involved and
//! carry a hint where the user can act.

mod asyncio;
mod attach;
mod elf;
mod inject;
mod limits;
mod maps;
mod native;
mod oncpu;
mod opcodes;
mod program;
mod reader;
mod sampler;
mod stack;
mod tasks;
mod threadclock;

pub use asyncio::{root_frame, TASK_FILE};
pub use attach::{AttachError, Target};
pub use inject::{run_python_soon, InjectError, Injected};
pub use limits::{check_duration, check_rate, LimitError, MAX_RATE_HZ, MIN_RATE_HZ};
pub use native::{NativeStacks, PauseError, PauseStats};
pub use oncpu::CpuCounters;
pub use program::may_run_python;
pub use reader::RemoteReader;
pub use sampler::{thread_name, NoHooks, Sampler, SamplerHooks, SamplerSettings, TickCounts};
pub use snakescope_unwind::{TaskLayout, TaskLists};
pub use stack::{model_frame, StackWalk};
pub use tasks::{TaskState, Tasks};

/// The kernel's resource usage of `who` (`RUSAGE_SELF`, `RUSAGE_CHILDREN`, …).
pub fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is valid for writing; getrusage has no other precondition.
    unsafe { libc::getrusage(who, &mut u) };
    u
}

/// `getrusage(who)`: CPU times and peak RSS of this process
/// (`RUSAGE_SELF`) or of its waited-for children (`RUSAGE_CHILDREN`).
pub fn usage(who: libc::c_int) -> snakescope_model::Usage {
    let u = rusage(who);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    snakescope_model::Usage {
        user_s: secs(u.ru_utime),
        sys_s: secs(u.ru_stime),
        peak_rss_bytes: u.ru_maxrss.max(0) as u64 * 1024,
    }
}
