//! Stopping one thread of another process for a moment, to read its
//! registers and a consistent copy of its stack: `PTRACE_SEIZE` (which sends
//! no signal), `PTRACE_INTERRUPT`, wait for the stop, `PTRACE_GETREGS`, the
//! caller's reads, `PTRACE_DETACH`. The thread is attached only while it is
//! stopped, so signals sent to the program never pass through snakescope; a
//! signal that arrives during the stop is handed back on detach.
//!
//! A thread that exits while attached: its exit is only peeked at
//! (`WNOWAIT`); the leader is then left to the program's parent (maybe
//! `record` itself), which collects the exit status, and any other thread
//! is reaped here, since only its tracer can ([`reap_exited_thread`]).

use std::time::{Duration, Instant};

/// The registers an unwinder starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regs {
    pub ip: u64,
    pub sp: u64,
    pub bp: u64,
}

/// Why a thread could not be stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseError {
    /// The thread is gone (or going).
    Gone,
    /// ptrace is refused (permissions, Yama's `ptrace_scope`, a seccomp policy).
    Refused(i32),
    /// This architecture's registers are not read (only x86-64 is).
    Unsupported,
}

/// What a pause cost: how many and how long the thread was stopped, and
/// where that time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct PauseStats {
    pub pauses: u64,
    pub longest: Duration,
    /// Seizing the thread until it is stopped.
    pub stopping: Duration,
    /// Its registers and the caller's reads.
    pub reading: Duration,
    /// Letting it go.
    pub releasing: Duration,
}

impl PauseStats {
    fn add(&mut self, started: Instant, stopped: Instant, read: Instant) {
        let now = Instant::now();
        self.pauses += 1;
        self.longest = self.longest.max(now - started);
        self.stopping += stopped.saturating_duration_since(started);
        self.reading += read.saturating_duration_since(stopped);
        self.releasing += now.saturating_duration_since(read);
    }

    /// All the pauses together.
    pub fn total(&self) -> Duration {
        self.stopping + self.reading + self.releasing
    }

    /// The mean pause.
    pub fn mean(&self) -> Duration {
        self.total() / u32::try_from(self.pauses.max(1)).unwrap_or(u32::MAX)
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn ptrace(request: libc::c_uint, tid: i32, data: usize) -> Result<(), i32> {
    // SAFETY: the requests used here (SEIZE, INTERRUPT, DETACH) take no
    // pointer; `data` is an option word or a signal number.
    let r = unsafe { libc::ptrace(request, tid, 0usize, data) };
    if r == -1 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Stops thread `tid`, reads its registers, runs `f` while it stays stopped
/// (reads of its memory are then consistent), and lets it go.
pub fn while_stopped<T>(
    tid: i32,
    stats: &mut PauseStats,
    f: impl FnOnce(Regs) -> T,
) -> Result<T, PauseError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(PauseError::Unsupported);
    }
    let started = Instant::now();
    match ptrace(libc::PTRACE_SEIZE, tid, 0) {
        Ok(()) => {}
        Err(libc::ESRCH) => return Err(PauseError::Gone),
        Err(e) => return Err(PauseError::Refused(e)),
    }
    let mut stopped_at = started;
    let (result, read_at) = {
        // Detaches however this block is left, a panic in `f` included: a
        // thread must never stay stopped.
        let mut attached = Attached { tid, signal: None };
        let r = stopped(tid).and_then(|signal| {
            attached.signal = signal;
            stopped_at = Instant::now();
            get_regs(tid).map(f)
        });
        (r, Instant::now())
    };
    stats.add(started, stopped_at, read_at);
    result
}

/// Interrupts the seized thread and waits for it to stop; the signal it
/// stopped for, if it was a signal's delivery (to be handed back on detach).
fn stopped(tid: i32) -> Result<Option<i32>, PauseError> {
    ptrace(libc::PTRACE_INTERRUPT, tid, 0).map_err(|_| PauseError::Gone)?;
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value of the plain C struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WSTOPPED | libc::WEXITED | libc::WNOWAIT | libc::__WALL;
        // SAFETY: `info` is valid for writing; waitid has no other precondition.
        let r = unsafe { libc::waitid(libc::P_PID, tid as libc::id_t, &mut info, flags) };
        if r == -1 {
            if errno() == libc::EINTR {
                continue;
            }
            return Err(PauseError::Gone);
        }
        if info.si_code != libc::CLD_TRAPPED {
            return Err(PauseError::Gone); // exited: left for its parent to reap
        }
        let mut status = 0;
        // SAFETY: `status` is valid for writing; the stop peeked at above is
        // consumed (a ptrace stop, which only its tracer — this thread — sees).
        let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL | libc::WNOHANG) };
        if r != tid || !libc::WIFSTOPPED(status) {
            continue;
        }
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        let delivered = event == 0 && sig != libc::SIGTRAP;
        return Ok(delivered.then_some(sig));
    }
}

#[cfg(target_arch = "x86_64")]
fn get_regs(tid: i32) -> Result<Regs, PauseError> {
    // SAFETY: an all-zero user_regs_struct is a valid value of the plain C struct.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    // SAFETY: the thread is in a ptrace stop of ours; `regs` is valid for the
    // kernel to write a user_regs_struct into.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGS,
            tid,
            0usize,
            &mut regs as *mut libc::user_regs_struct,
        )
    };
    if r == -1 {
        return Err(PauseError::Gone);
    }
    Ok(Regs {
        ip: regs.rip,
        sp: regs.rsp,
        bp: regs.rbp,
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn get_regs(_tid: i32) -> Result<Regs, PauseError> {
    Err(PauseError::Unsupported)
}

/// A seized thread, detached when dropped (with the signal it stopped for,
/// if any, handed back); detaching a thread gone is a harmless error.
struct Attached {
    tid: i32,
    signal: Option<i32>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        let sig = self.signal.map_or(0, |s| s as usize);
        if ptrace(libc::PTRACE_DETACH, self.tid, sig).is_err() {
            reap_exited_thread(self.tid);
        }
    }
}

/// A thread that exits while seized becomes a zombie only its tracer can
/// reap, and its process cannot be reaped before it: the program's parent
/// would wait for ever. A thread other than the leader has no one else to
/// wait for it, so it is reaped here (its exit may take a moment to finish).
/// The leader is left alone: its exit status is its parent's.
fn reap_exited_thread(tid: i32) {
    let tgid = std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:")?.trim().parse::<i32>().ok())
        });
    if tgid.map_or(true, |leader| leader == tid) {
        return;
    }
    let deadline = Instant::now() + Duration::from_millis(100);
    loop {
        let mut status = 0;
        // SAFETY: `status` is valid for writing; WNOHANG never blocks, and a
        // non-leader thread's exit is waited for by its tracer only.
        let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL | libc::WNOHANG) };
        if r != 0 || Instant::now() >= deadline {
            return; // reaped, or not ours to reap (-1), or still running
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    fn state(pid: u32) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after = stat.rsplit_once(") ").unwrap().1;
        after.chars().next().unwrap()
    }

    /// A thread of `pid` other than its leader, once it has one.
    fn second_thread(pid: u32) -> i32 {
        for _ in 0..500 {
            let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
            if let Some(tid) = tasks
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
                .find(|&t| t != pid)
            {
                return tid as i32;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no second thread");
    }

    #[test]
    fn a_thread_that_exits_while_seized_does_not_keep_its_process_unreaped() {
        // A thread sleeps 0.3 s and ends; the process ends 0.2 s later.
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import threading, time\n\
                 t = threading.Thread(target=time.sleep, args=(0.3,)); t.start(); t.join()\n\
                 time.sleep(0.2)",
            ])
            .spawn()
            .unwrap();
        let tid = second_thread(child.id());
        ptrace(libc::PTRACE_SEIZE, tid, 0).unwrap();
        // Seized, it runs on and exits: a zombie only its tracer may reap.
        let exited = |tid: i32| {
            std::fs::read_to_string(format!("/proc/{}/task/{tid}/stat", child.id()))
                .map_or(true, |s| {
                    s.rsplit_once(") ").unwrap().1.starts_with(['Z', 'X'])
                })
        };
        let start = Instant::now();
        while !exited(tid) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(Attached { tid, signal: None }); // the detach fails: reaped instead
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the process was never reaped"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_thread_is_let_go_even_when_the_reader_panics() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut stats = PauseStats::default();
        let regs = while_stopped(pid as i32, &mut stats, |regs| {
            assert_eq!(state(pid), 't', "stopped while read");
            regs
        })
        .unwrap();
        assert!(regs.sp != 0 && regs.ip != 0);
        let panicked = std::panic::catch_unwind(|| {
            let mut stats = PauseStats::default();
            let _ = while_stopped(pid as i32, &mut stats, |_| panic!("a reader's bug"));
        });
        assert!(panicked.is_err());
        assert_ne!(state(pid), 't', "left stopped after a panic");
        assert_eq!(stats.pauses, 1);
        child.kill().unwrap();
        assert!(
            !child.wait().unwrap().success(),
            "its parent reaps it as usual"
        );
    }
}
