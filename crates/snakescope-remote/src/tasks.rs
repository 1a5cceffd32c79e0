//! OS-level thread state from `/proc/PID/task/TID/stat`, used to tell idle
//! threads (sleeping, blocked) from running ones, and scheduler counters from
//! `/proc/PID/task/TID/schedstat` (CPU time used, see [`crate::oncpu`]).
//!
//! The files stay open between samples and are re-read with `pread` at
//! offset 0 (both are seq files, which regenerate their text on a read from
//! the start), so a read costs one system call, not three.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::oncpu::CpuCounters;

/// What the kernel says a thread is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// On a CPU or ready to run (`R`).
    Running,
    /// Sleeping, blocked on I/O, stopped or anything else.
    Waiting,
    /// The thread no longer exists.
    Gone,
}

/// Open stat files of the threads of one process.
#[derive(Debug)]
pub struct Tasks {
    pid: u32,
    files: HashMap<u64, File>,
    schedstat: HashMap<u64, File>,
    syscall: HashMap<u64, File>,
    buf: Vec<u8>,
}

impl Tasks {
    pub fn new(pid: u32) -> Tasks {
        Tasks {
            pid,
            files: HashMap::new(),
            schedstat: HashMap::new(),
            syscall: HashMap::new(),
            buf: vec![0; 1024],
        }
    }

    /// The current state of thread `tid` of the process.
    pub fn state(&mut self, tid: u64) -> TaskState {
        match read_task_file(&mut self.files, &mut self.buf, self.pid, tid, "stat") {
            Some(n) => parse_state(&self.buf[..n]),
            None => TaskState::Gone,
        }
    }

    /// The scheduler counters of thread `tid`: `None` when the thread is
    /// gone or the kernel has no `schedstat` (built without `SCHED_INFO`).
    pub fn cpu(&mut self, tid: u64) -> Option<CpuCounters> {
        let n = read_task_file(
            &mut self.schedstat,
            &mut self.buf,
            self.pid,
            tid,
            "schedstat",
        )?;
        CpuCounters::parse(&self.buf[..n])
    }

    /// The address thread `tid` is blocked on in a `futex` system call
    /// (`/proc/PID/task/TID/syscall`: the call's number, then its
    /// arguments, the first being the futex's address); `None` when it is
    /// running, in another call, or cannot be read.
    pub fn futex_wait(&mut self, tid: u64) -> Option<u64> {
        let n = read_task_file(&mut self.syscall, &mut self.buf, self.pid, tid, "syscall")?;
        parse_futex(&self.buf[..n])
    }

    /// Forgets threads not in `alive`, closing their files.
    pub fn retain(&mut self, alive: impl Fn(u64) -> bool) {
        self.files.retain(|&tid, _| alive(tid));
        self.schedstat.retain(|&tid, _| alive(tid));
        self.syscall.retain(|&tid, _| alive(tid));
    }

    /// The kernel's name of a thread (`comm`), as set by `prctl` or the executable.
    pub fn name(&self, tid: u64) -> Option<String> {
        let name = std::fs::read_to_string(format!("/proc/{}/task/{tid}/comm", self.pid)).ok()?;
        Some(name.trim_end().to_owned())
    }
}

/// Reads `/proc/PID/task/TID/NAME` into `buf` through the file kept open in
/// `files`; `None` (and the file closed) when the thread is gone.
fn read_task_file(
    files: &mut HashMap<u64, File>,
    buf: &mut [u8],
    pid: u32,
    tid: u64,
    name: &str,
) -> Option<usize> {
    let file = match files.entry(tid) {
        Entry::Occupied(open) => open.into_mut(),
        Entry::Vacant(slot) => {
            slot.insert(File::open(format!("/proc/{pid}/task/{tid}/{name}")).ok()?)
        }
    };
    match file.read_at(buf, 0) {
        Ok(n) => Some(n),
        Err(_) => {
            files.remove(&tid);
            None
        }
    }
}

/// `futex`'s number in the system call table of this architecture.
#[cfg(target_arch = "x86_64")]
const SYS_FUTEX: u64 = 202;
#[cfg(target_arch = "aarch64")]
const SYS_FUTEX: u64 = 98;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SYS_FUTEX: u64 = u64::MAX;

/// The futex address of a `syscall` file's line `NR ARG1 …` (hex
/// arguments) when `NR` is `futex`.
fn parse_futex(line: &[u8]) -> Option<u64> {
    let line = std::str::from_utf8(line).ok()?;
    let mut fields = line.split_ascii_whitespace();
    if fields.next()?.parse::<u64>().ok()? != SYS_FUTEX {
        return None;
    }
    u64::from_str_radix(fields.next()?.strip_prefix("0x")?, 16).ok()
}

/// The state letter follows the last `)`, which closes the command name.
fn parse_state(stat: &[u8]) -> TaskState {
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return TaskState::Gone;
    };
    match stat.get(close + 2) {
        Some(b'R') => TaskState::Running,
        Some(_) => TaskState::Waiting,
        None => TaskState::Gone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_futex_wait_gives_its_address() {
        let line = format!("{SYS_FUTEX} 0x7f3a2c0 0x189 0x0 0x0 0x0 0xffffffff 0x7ffd 0x7f3b\n");
        assert_eq!(parse_futex(line.as_bytes()), Some(0x7f3a2c0));
        assert_eq!(parse_futex(b"running\n"), None);
        assert_eq!(parse_futex(b"-1 0x7ffd 0x7f3b\n"), None);
        assert_eq!(parse_futex(b"7 0x7f3a2c0 0x1 0x0\n"), None); // poll
    }

    #[test]
    fn state_follows_the_last_paren() {
        assert_eq!(parse_state(b"12 (py) thon) R 1 2"), TaskState::Running);
        assert_eq!(parse_state(b"12 (python3) S 1 2"), TaskState::Waiting);
        assert_eq!(parse_state(b"12 (python3"), TaskState::Gone);
    }

    #[test]
    fn reads_our_own_thread() {
        let mut tasks = Tasks::new(std::process::id());
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u64;
        assert_eq!(tasks.state(tid), TaskState::Running);
        assert_eq!(tasks.state(u64::from(u32::MAX)), TaskState::Gone);
        assert!(tasks.name(tid).is_some());
    }

    #[test]
    fn a_thread_blocked_on_a_lock_waits_on_its_futex() {
        let lock = std::sync::Arc::new(std::sync::Mutex::new(()));
        let held = lock.lock().expect("unpoisoned");
        let (send, tid) = std::sync::mpsc::channel();
        let waiter = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                // SAFETY: gettid has no preconditions.
                send.send(unsafe { libc::gettid() } as u64)
                    .expect("main listens");
                drop(lock.lock());
            })
        };
        let tid = tid.recv().expect("the thread starts");
        let mut tasks = Tasks::new(std::process::id());
        let span = std::sync::Arc::as_ptr(&lock) as u64;
        let span = span..span + std::mem::size_of::<std::sync::Mutex<()>>() as u64;
        let start = std::time::Instant::now();
        let mut seen = None;
        while seen.is_none() && start.elapsed() < std::time::Duration::from_secs(10) {
            seen = tasks.futex_wait(tid).filter(|a| span.contains(a));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(held);
        waiter.join().expect("the waiter ends");
        assert!(
            seen.is_some(),
            "never seen waiting on the lock's futex {span:x?}"
        );
        // Ours, running (reading its own file), is in no futex.
        // SAFETY: gettid has no preconditions.
        assert_eq!(tasks.futex_wait(unsafe { libc::gettid() } as u64), None);
    }

    #[test]
    fn schedstat_rereads_at_offset_zero() {
        let mut tasks = Tasks::new(std::process::id());
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as u64;
        let before = tasks.cpu(tid).expect("this kernel has schedstat");
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(30) {
            std::hint::spin_loop();
        }
        // The same open file, read again from the start, shows the new CPU time.
        let after = tasks.cpu(tid).expect("still readable");
        assert!(after.run_ns > before.run_ns, "{before:?} -> {after:?}");
        assert_eq!(tasks.schedstat.len(), 1);
        assert_eq!(tasks.cpu(u64::from(u32::MAX)), None);
    }
}
