//! Handing Python code to a running interpreter (`snakescope attach` on
//! 3.8–3.13): the main thread is stopped with ptrace, made to call two
//! functions as a debugger's `call` does, and let go.
//!
//! 1. `PTRACE_SEIZE` + `PTRACE_INTERRUPT` stop the main thread alone (the
//!    other threads keep running); its registers are saved.
//! 2. It calls libc's `mmap` for a private page, into which the code's text
//!    is written through `/proc/PID/mem`. `mmap` takes no lock, so a thread
//!    stopped anywhere — inside `malloc` holding its lock included — can
//!    call it. (The page stays: one page per attach.)
//! 3. It calls `Py_AddPendingCall(PyRun_SimpleString, page)`: the interpreter
//!    runs the text on its main thread at its next safe point, with the
//!    GIL, as it runs a signal handler. This takes the pending calls' own
//!    lock only; a thread stopped inside one of the functions that hold it
//!    is let go and stopped again a little later (see [`AVOID`]); should the
//!    call still not return (the lock held by a caller further up), it is
//!    abandoned after a timeout: the thread is stopped again and its
//!    registers restored, and the attach fails with nothing scheduled.
//! 4. The saved registers are restored and the thread detached.
//!
//! Each call starts on a 16-byte aligned stack 512 bytes below the thread's
//! (past the 128-byte red zone), with a return address of 0: the return
//! faults at address 0, which ends the call. `orig_rax` is set to -1 during
//! the calls so that a thread stopped in an interrupted system call does not
//! restart it at the wrong place; restoring the saved registers (with
//! `orig_rax` and the `-ERESTART…` result) lets the kernel restart that call
//! after the detach, as after any signal. Signals that arrive while the
//! thread is held are kept and delivered when it is let go.

use crate::elf::Functions;
use crate::maps::{parse_maps, Mapping};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Functions that hold the pending calls' lock (3.8–3.13): a thread stopped
/// inside one is let go and stopped again.
const AVOID: [&str; 6] = [
    "Py_AddPendingCall",
    "_PyEval_AddPendingCall",
    "_push_pending_call",
    "_pop_pending_call",
    "make_pending_calls",
    "_PyEval_MakePendingCalls",
];

/// How long one call may take before it is abandoned.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("not permitted to ptrace process {pid}: {why}")]
    Permission { pid: u32, why: String },
    #[error("process {pid} exited")]
    Gone { pid: u32 },
    #[error("cannot find `{name}` in process {pid} ({file})")]
    Missing {
        pid: u32,
        name: String,
        file: String,
    },
    #[error("{0}")]
    Failed(String),
}

/// What the injection did: how long the main thread was held.
#[derive(Debug, Clone, Copy)]
pub struct Injected {
    pub paused: Duration,
}

/// Makes process `pid`'s interpreter (in `interpreter`, the file the
/// [`crate::Target`] found) run `code` (Python source, no NUL byte) on its
/// main thread at its next safe point.
pub fn run_python_soon(pid: u32, interpreter: &Path, code: &str) -> Result<Injected, InjectError> {
    let at = Addresses::find(pid, interpreter)?;
    let mut text = code.as_bytes().to_vec();
    text.push(0);
    let size = (text.len() as u64 + 4095) & !4095;
    for _attempt in 0..50 {
        let mut thread = Held::seize(pid)?;
        let started = Instant::now();
        if at
            .avoid
            .iter()
            .any(|&(lo, hi)| (lo..hi).contains(&thread.saved.rip))
        {
            thread.release()?;
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let page = thread.call(at.mmap, &[0, size, 3, 0x22, u64::MAX, 0])?;
        if page as i64 == -1 || page == 0 {
            thread.release()?;
            return Err(InjectError::Failed(
                "mmap failed in the target (out of memory?)".into(),
            ));
        }
        thread.write(page, &text)?;
        let queued = thread.call(at.add_pending, &[at.run_simple, page])?;
        thread.release()?;
        if queued as i32 != 0 {
            return Err(InjectError::Failed(
                "the interpreter's queue of pending calls is full; try again".into(),
            ));
        }
        return Ok(Injected {
            paused: started.elapsed(),
        });
    }
    Err(InjectError::Failed(
        "the main thread stayed inside the interpreter's pending calls; try again".into(),
    ))
}

/// The functions called in the target, at their addresses there.
struct Addresses {
    mmap: u64,
    add_pending: u64,
    run_simple: u64,
    avoid: Vec<(u64, u64)>,
}

impl Addresses {
    fn find(pid: u32, interpreter: &Path) -> Result<Addresses, InjectError> {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
            .map(|t| parse_maps(&t))
            .map_err(|_| InjectError::Gone { pid })?;
        let libc = maps
            .iter()
            .map(|m| m.path.clone())
            .find(|p| is_libc(p))
            .ok_or_else(|| missing(pid, "mmap", Path::new("libc.so.6")))?;
        let libc_fns = functions_at(pid, &maps, &libc, &["mmap"])?;
        let mut names = vec!["Py_AddPendingCall", "PyRun_SimpleString"];
        names.extend(AVOID);
        let py = functions_at(pid, &maps, interpreter, &names)?;
        let addr = |fns: &Functions, name: &str, file: &Path| {
            fns.get(name)
                .map(|&(a, _)| a)
                .ok_or_else(|| missing(pid, name, file))
        };
        Ok(Addresses {
            mmap: addr(&libc_fns, "mmap", &libc)?,
            add_pending: addr(&py, "Py_AddPendingCall", interpreter)?,
            run_simple: addr(&py, "PyRun_SimpleString", interpreter)?,
            avoid: AVOID
                .iter()
                .filter_map(|n| py.get(*n))
                .map(|&(a, size)| (a, a + size.max(1)))
                .collect(),
        })
    }
}

fn missing(pid: u32, name: &str, file: &Path) -> InjectError {
    InjectError::Missing {
        pid,
        name: name.to_owned(),
        file: file.display().to_string(),
    }
}

/// `libc.so.6`, or an old glibc's `libc-2.31.so`.
fn is_libc(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("libc.so") || (n.starts_with("libc-") && n.ends_with(".so")))
}

/// `wanted` functions of the mapped file `path`, relocated: (address, size).
fn functions_at(
    pid: u32,
    maps: &[Mapping],
    path: &Path,
    wanted: &[&str],
) -> Result<Functions, InjectError> {
    let base = maps
        .iter()
        .filter(|m| m.path == path)
        .map(|m| m.start - m.offset)
        .min()
        .ok_or_else(|| missing(pid, wanted[0], path))?;
    let (fns, first) = crate::elf::functions(&crate::attach::in_root(pid, path), wanted)
        .map_err(|e| InjectError::Failed(format!("cannot read `{}`: {e}", path.display())))?;
    let bias = base.wrapping_sub(first);
    Ok(fns
        .into_iter()
        .map(|(n, (a, s))| (n, (a.wrapping_add(bias), s)))
        .collect())
}

/// The target's main thread, stopped under ptrace.
struct Held {
    pid: i32,
    saved: libc::user_regs_struct,
    mem: File,
    /// Signals that arrived meanwhile, delivered on release.
    signals: Vec<i32>,
    /// `saved` holds the thread's registers (not yet when the first stop failed).
    have_regs: bool,
    released: bool,
}

impl Held {
    fn seize(pid: u32) -> Result<Held, InjectError> {
        let tid = pid as libc::pid_t;
        // SAFETY: PTRACE_SEIZE takes no pointers (addr and data 0: no options).
        if unsafe { libc::ptrace(libc::PTRACE_SEIZE, tid, 0usize, 0usize) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::ESRCH) => InjectError::Gone { pid },
                _ => InjectError::Permission {
                    pid,
                    why: e.to_string(),
                },
            });
        }
        let mem = File::options()
            .read(true)
            .write(true)
            .open(PathBuf::from(format!("/proc/{pid}/mem")));
        let mut held = Held {
            pid: tid,
            // SAFETY: an all-zero register set is a valid plain C struct.
            saved: unsafe { std::mem::zeroed() },
            mem: mem.map_err(|e| InjectError::Permission {
                pid,
                why: format!("/proc/{pid}/mem: {e}"),
            })?,
            signals: Vec::new(),
            have_regs: false,
            released: false,
        };
        // SAFETY: PTRACE_INTERRUPT on a tracee we seized; no pointers.
        unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, tid, 0usize, 0usize) };
        let sig = held.wait_stop(CALL_TIMEOUT)?;
        if sig != 0 && sig != libc::SIGSTOP && sig != libc::SIGTRAP {
            held.signals.push(sig);
        }
        held.saved = held.regs()?;
        held.have_regs = true;
        Ok(held)
    }

    /// Waits for the thread's next stop; a signal that stopped it is kept.
    /// Returns the stopping signal (0 for ptrace's own stops).
    fn wait_stop(&mut self, limit: Duration) -> Result<i32, InjectError> {
        let started = Instant::now();
        loop {
            let mut status = 0;
            // SAFETY: waits for our tracee; `status` is valid for writing.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::__WALL | libc::WNOHANG) };
            if r == self.pid {
                if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                    self.released = true;
                    return Err(InjectError::Gone {
                        pid: self.pid as u32,
                    });
                }
                if libc::WIFSTOPPED(status) {
                    let sig = libc::WSTOPSIG(status);
                    // Event stops (PTRACE_EVENT_STOP, our interrupt) carry the event above the signal.
                    return Ok(if status >> 16 != 0 { 0 } else { sig });
                }
            } else if r < 0 {
                return Err(InjectError::Gone {
                    pid: self.pid as u32,
                });
            }
            if started.elapsed() > limit {
                return Err(InjectError::Failed(
                    "the target's main thread did not answer in time; nothing was scheduled".into(),
                ));
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    fn regs(&self) -> Result<libc::user_regs_struct, InjectError> {
        // SAFETY: an all-zero register set is a valid plain C struct.
        let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
        // SAFETY: the tracee is stopped; `regs` is valid for the kernel to fill.
        let r = unsafe { libc::ptrace(libc::PTRACE_GETREGS, self.pid, 0usize, &mut regs) };
        if r != 0 {
            return Err(InjectError::Failed(format!(
                "cannot read the target's registers: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(regs)
    }

    fn set_regs(&self, regs: &libc::user_regs_struct) -> Result<(), InjectError> {
        // SAFETY: the tracee is stopped; `regs` is a full register set.
        let r = unsafe { libc::ptrace(libc::PTRACE_SETREGS, self.pid, 0usize, regs) };
        if r != 0 {
            return Err(InjectError::Failed(format!(
                "cannot set the target's registers: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(())
    }

    fn write(&self, addr: u64, bytes: &[u8]) -> Result<(), InjectError> {
        self.mem
            .write_all_at(bytes, addr)
            .map_err(|e| InjectError::Failed(format!("cannot write into the target: {e}")))
    }

    /// Calls `func(args…)` (up to six integer arguments) on the held thread
    /// and returns `rax`.
    fn call(&mut self, func: u64, args: &[u64]) -> Result<u64, InjectError> {
        let mut regs = self.saved;
        let sp = ((self.saved.rsp - 512) & !0xf) - 8;
        self.write(sp, &0u64.to_ne_bytes())?;
        regs.rsp = sp;
        regs.rip = func;
        regs.rax = 0;
        regs.orig_rax = u64::MAX;
        let slots = [
            &mut regs.rdi,
            &mut regs.rsi,
            &mut regs.rdx,
            &mut regs.rcx,
            &mut regs.r8,
            &mut regs.r9,
        ];
        for (slot, &value) in slots.into_iter().zip(args) {
            *slot = value;
        }
        // The kernel's calling convention for the fourth argument of a
        // system call is r10; libc functions take it in rcx, as set above.
        self.set_regs(&regs)?;
        let started = Instant::now();
        loop {
            // SAFETY: resumes our stopped tracee; no pointers.
            unsafe { libc::ptrace(libc::PTRACE_CONT, self.pid, 0usize, 0usize) };
            let left = CALL_TIMEOUT.saturating_sub(started.elapsed());
            let sig = match self.wait_stop(left) {
                Ok(sig) => sig,
                Err(InjectError::Failed(_)) => return Err(self.abandon()),
                Err(e) => return Err(e),
            };
            if sig == libc::SIGSEGV {
                let now = self.regs()?;
                if now.rip == 0 {
                    return Ok(now.rax);
                }
                return Err(InjectError::Failed(format!(
                    "the call into the target faulted at {:#x}; the target was restored",
                    now.rip
                )));
            }
            if sig != 0 && sig != libc::SIGSTOP && sig != libc::SIGTRAP {
                self.signals.push(sig);
            }
        }
    }

    /// A call that did not return: stops the thread again (its registers
    /// are restored on release).
    fn abandon(&mut self) -> InjectError {
        // SAFETY: PTRACE_INTERRUPT on our tracee; no pointers.
        unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, self.pid, 0usize, 0usize) };
        let _ = self.wait_stop(CALL_TIMEOUT);
        InjectError::Failed(
            "the target's main thread is busy in the interpreter's pending calls; \
             nothing was scheduled, try again"
                .into(),
        )
    }

    /// Restores the saved registers and lets the thread go, with the
    /// signals that arrived meanwhile.
    fn release(mut self) -> Result<(), InjectError> {
        self.released = true;
        let restored = self.set_regs(&self.saved);
        let first = self.signals.first().copied().unwrap_or(0);
        // SAFETY: detaches our stopped tracee, delivering `first` (0: none).
        unsafe { libc::ptrace(libc::PTRACE_DETACH, self.pid, 0usize, first as usize) };
        for &sig in self.signals.iter().skip(1) {
            // SAFETY: sends a signal the thread received while held, to that thread.
            unsafe { libc::syscall(libc::SYS_tgkill, self.pid, self.pid, sig) };
        }
        restored
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.released {
            // An error left it held: its own registers back, and let go.
            if self.have_regs {
                let _ = self.set_regs(&self.saved);
            }
            // SAFETY: detaches our tracee; no pointers.
            unsafe { libc::ptrace(libc::PTRACE_DETACH, self.pid, 0usize, 0usize) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libc_names() {
        assert!(is_libc(Path::new("/lib/x86_64-linux-gnu/libc.so.6")));
        assert!(is_libc(Path::new("/lib/libc-2.31.so")));
        assert!(!is_libc(Path::new("/lib/libcrypt.so.1")));
        assert!(!is_libc(Path::new("/lib/libc_malloc_debug.so.0")));
    }
}
