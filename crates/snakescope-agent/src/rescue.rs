//! The capture survives a fatal signal.
//!
//! `snakescope run` writes its capture at interpreter exit, which a program
//! that dies by SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT never reaches. When
//! armed (by the bootstrap, before the program starts), a handler for those
//! signals wakes a thread of the agent's own through a pipe and waits (at most
//! [`RESCUE_TIMEOUT_MS`]) while that thread stops the sampler and writes what
//! was recorded up to the fault; then it restores the handler that was there
//! before (the default, or faulthandler's) and raises the signal again, so the
//! program dies as it would have without snakescope: same signal, same core
//! dump, same faulthandler traceback.
//!
//! The handler itself only calls async-signal-safe functions (`getpid`,
//! `write`, `poll`, `sigaction`, `raise`). The writing thread is an ordinary
//! thread: it allocates and takes the agent's locks, so a fault inside the
//! C allocator or with one of those locks held can make it hang; the timeout
//! bounds that, and the program then dies as it would have, without a capture.
//! It never takes the GIL (the faulting thread may hold it): no census at exit
//! is taken and `--exact` data, which needs Python objects, is not rescued.

use pyo3::prelude::*;
use snakescope_formats::Format;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

/// How long the faulting thread waits for the capture to be written.
const RESCUE_TIMEOUT_MS: i32 = 10_000;
/// The signals a program dies of that can be caught.
const FATAL: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
];
/// The alternate signal stack of the arming thread (a stack overflow can
/// still be caught there).
const ALT_STACK_BYTES: usize = 64 * 1024;

/// Where and how the capture is written.
#[derive(Clone)]
struct Plan {
    output: PathBuf,
    format: Format,
    command: Vec<String>,
    quiet: bool,
}

static PLAN: Mutex<Option<Plan>> = Mutex::new(None);
/// The process that armed the rescue (a forked child has no rescue thread).
static ARMED_PID: AtomicI32 = AtomicI32::new(0);
/// Set by the first fatal signal, and when the capture was written normally:
/// later signals go straight to the previous handler.
static SPENT: AtomicBool = AtomicBool::new(false);
/// Write end of the pipe that wakes the rescue thread.
static WAKE: AtomicI32 = AtomicI32::new(-1);
/// Read end of the pipe on which the rescue thread says it is done.
static DONE: AtomicI32 = AtomicI32::new(-1);
/// The handlers that were installed before ours, in the order of [`FATAL`].
static PREVIOUS: OnceLock<[libc::sigaction; FATAL.len()]> = OnceLock::new();

/// Arms the rescue: after this, a fatal signal writes the capture to
/// `output` (in `format`, or the one its name says) before the program dies.
/// Calling it again in the same process only updates where the capture goes.
#[pyfunction]
#[pyo3(signature = (output, format = None, command = Vec::new(), quiet = false))]
pub fn rescue_arm(
    output: PathBuf,
    format: Option<&str>,
    command: Vec<std::ffi::OsString>,
    quiet: bool,
) -> PyResult<()> {
    // As `stop` records it: bytes that are not UTF-8 (a surrogate-escaped
    // argument) shown as U+FFFD.
    let command = command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let format = crate::capture_py::format_named(format, &output, Format::Flamegraph)?;
    let plan = Plan {
        output,
        format,
        command,
        quiet,
    };
    *PLAN.lock().unwrap_or_else(|e| e.into_inner()) = Some(plan);
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    if ARMED_PID.swap(pid, Ordering::SeqCst) == pid {
        return Ok(());
    }
    SPENT.store(false, Ordering::SeqCst);
    start_thread().map_err(pyo3::exceptions::PyRuntimeError::new_err)?;
    alternate_stack();
    install_handlers();
    Ok(())
}

/// The capture was written the normal way: a later fatal signal has nothing
/// to rescue.
pub fn disarm() {
    SPENT.store(true, Ordering::SeqCst);
}

/// The pipes and the thread that writes the capture when woken.
fn start_thread() -> Result<(), String> {
    let (wake_r, wake_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    WAKE.store(wake_w, Ordering::SeqCst);
    DONE.store(done_r, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("snakescope-rescue".into())
        .spawn(move || {
            block_fatal_signals();
            let mut byte = 0u8;
            // SAFETY: reads one byte into a valid local from a pipe we own.
            while unsafe { libc::read(wake_r, (&mut byte as *mut u8).cast(), 1) } == 1 {
                rescue(i32::from(byte));
                // SAFETY: writes one byte from a valid local to a pipe we own.
                unsafe { libc::write(done_w, (&byte as *const u8).cast(), 1) };
            }
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the rescue thread: {e}"))
}

fn pipe() -> Result<(i32, i32), String> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into a valid two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    Ok((fds[0], fds[1]))
}

/// A signal sent to the whole process (`kill -SEGV`) must not be delivered to
/// the thread that is to write the capture.
fn block_fatal_signals() {
    // SAFETY: sigemptyset/sigaddset fill a local set; pthread_sigmask changes
    // only this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in FATAL {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Gives the arming (main) thread an alternate signal stack when it has none,
/// so a fault from a stack overflow still reaches the handler.
fn alternate_stack() {
    // SAFETY: stack_t is plain data, valid when zeroed.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigaltstack with a null new stack only reads the current one
    // into a valid local.
    if unsafe { libc::sigaltstack(std::ptr::null(), &mut current) } != 0
        || current.ss_flags & libc::SS_DISABLE == 0
    {
        return;
    }
    // SAFETY: an anonymous private mapping; checked for failure below. It is
    // never unmapped: the stack must outlive every signal on this thread.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            ALT_STACK_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return;
    }
    let alt = libc::stack_t {
        ss_sp: stack,
        ss_flags: 0,
        ss_size: ALT_STACK_BYTES,
    };
    // SAFETY: `alt` describes the mapping just made, which stays mapped.
    unsafe { libc::sigaltstack(&alt, std::ptr::null_mut()) };
}

/// Installs [`on_fatal`] for every fatal signal, keeping the previous
/// handlers to chain to. A signal the program ignores stays ignored.
fn install_handlers() {
    let previous = PREVIOUS.get_or_init(|| {
        // SAFETY: sigaction with a null new action only reads the current
        // one into a zeroed local of the right type.
        FATAL.map(|sig| unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old);
            old
        })
    });
    for (sig, old) in FATAL.iter().zip(previous) {
        if old.sa_sigaction == libc::SIG_IGN {
            continue;
        }
        // SAFETY: a zeroed sigaction filled with a valid handler of the
        // SA_SIGINFO signature, an empty mask and valid flags.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fatal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(*sig, &action, std::ptr::null_mut());
        }
    }
}

/// The signal handler: async-signal-safe calls only.
extern "C" fn on_fatal(sig: libc::c_int, _info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // SAFETY: getpid is async-signal-safe.
    let here = unsafe { libc::getpid() } == ARMED_PID.load(Ordering::SeqCst);
    if here && !SPENT.swap(true, Ordering::SeqCst) {
        let byte = sig as u8;
        let mut done = libc::pollfd {
            fd: DONE.load(Ordering::SeqCst),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: write and poll are async-signal-safe; the buffer and the
        // pollfd are valid locals; the descriptors are the agent's pipes.
        unsafe {
            if libc::write(WAKE.load(Ordering::SeqCst), (&byte as *const u8).cast(), 1) == 1 {
                libc::poll(&mut done, 1, RESCUE_TIMEOUT_MS);
            }
        }
    }
    let index = FATAL.iter().position(|&s| s == sig);
    let previous = index.and_then(|i| PREVIOUS.get().map(|p| p[i]));
    // SAFETY: sigaction and raise are async-signal-safe. Restoring the
    // previous action (or the default) and raising the signal again makes
    // the process end as it would have without snakescope; the signal stays
    // blocked until this handler returns.
    unsafe {
        match previous {
            Some(old) => libc::sigaction(sig, &old, std::ptr::null_mut()),
            None => {
                libc::signal(sig, libc::SIG_DFL);
                0
            }
        };
        libc::raise(sig);
    }
}

/// On the rescue thread: stops the sampler and writes what it recorded.
fn rescue(sig: i32) {
    let Some(plan) = PLAN.try_lock().ok().and_then(|p| p.clone()) else {
        return;
    };
    let Ok(mut recording) = crate::stop_sampler_unlocked() else {
        return;
    };
    crate::add_memory_without_census(&mut recording);
    let mut capture = recording.finish();
    capture
        .meta
        .set_usage(snakescope_remote::usage(libc::RUSAGE_SELF));
    capture.meta.command = plan.command;
    capture.meta.exit_code = Some(-sig);
    let out = snakescope_cli::write_profile::ProfileOutput {
        path: &plan.output,
        format: plan.format,
        quiet: plan.quiet,
        summary: true,
        color: false,
        empty_because: crate::EMPTY_RUN,
    };
    if let Err(e) = snakescope_cli::write_profile::write_profile(&capture, &out) {
        crate::note_raw(&format!("snakescope: could not write the profile: {e}"));
    }
}
