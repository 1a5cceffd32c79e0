//! OS-level thread state from `/proc/PID/task/TID/stat`, used to tell idle
//! threads (sleeping, blocked) from running ones.
//!
//! The stat files stay open between samples and are re-read with `pread`, so
//! a sample costs one system call per thread, not three.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

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
    buf: Vec<u8>,
}

impl Tasks {
    pub fn new(pid: u32) -> Tasks {
        Tasks {
            pid,
            files: HashMap::new(),
            buf: vec![0; 1024],
        }
    }

    /// The current state of thread `tid` of the process.
    pub fn state(&mut self, tid: u64) -> TaskState {
        if !self.files.contains_key(&tid) {
            match File::open(format!("/proc/{}/task/{tid}/stat", self.pid)) {
                Ok(f) => {
                    self.files.insert(tid, f);
                }
                Err(_) => return TaskState::Gone,
            }
        }
        let file = &self.files[&tid];
        let n = match file.read_at(&mut self.buf, 0) {
            Ok(n) => n,
            Err(_) => {
                self.files.remove(&tid);
                return TaskState::Gone;
            }
        };
        parse_state(&self.buf[..n])
    }

    /// Forgets threads not in `alive`, closing their files.
    pub fn retain(&mut self, alive: impl Fn(u64) -> bool) {
        self.files.retain(|&tid, _| alive(tid));
    }

    /// The kernel's name of a thread (`comm`), as set by `prctl` or the executable.
    pub fn name(&self, tid: u64) -> Option<String> {
        let name = std::fs::read_to_string(format!("/proc/{}/task/{tid}/comm", self.pid)).ok()?;
        Some(name.trim_end().to_owned())
    }
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
}
