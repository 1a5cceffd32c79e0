//! `snakescope stat`: `/usr/bin/time --verbose` and `perf stat` in one
//! (see `docs/commands/stat.md`). Runs a command N times and reports, for
//! the whole process tree, wall/user/sys time, max RSS, page faults and
//! context switches (the kernel's `rusage` of the command and the children
//! it waited for) and the performance counters of [`counters`].
//!
//! The command's stdio, signals and exit status stay its own; the report
//! goes to stderr (or `-o FILE`).

pub mod counters;
pub mod figures;
mod report;

use crate::args::StatArgs;
use crate::launch::{self, Signals};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One run: how it ended and what it measured.
pub struct Run {
    pub status: ExitStatus,
    pub measured: figures::Measured,
}

pub fn run(args: &StatArgs) -> anyhow::Result<u8> {
    let signals = Signals::install()?;
    let child_pid = Arc::new(AtomicI32::new(0));
    forward_sigterm(&signals, &child_pid);
    let mut runs = Vec::new();
    for _ in 0..args.repeat {
        runs.push(run_once(&args.command, &child_pid)?);
        if signals.interrupted.load(Ordering::Relaxed) {
            break; // Ctrl-C: report what ran
        }
    }
    report::write(&runs, args)?;
    let failed = runs
        .iter()
        .find(|r| !r.status.success())
        .unwrap_or(&runs[runs.len() - 1]);
    Ok(launch::mirror_exit(failed.status))
}

/// Runs the command once, counting from just before it starts until it ends.
fn run_once(command: &[std::ffi::OsString], child_pid: &AtomicI32) -> anyhow::Result<Run> {
    let mut counters = counters::Counters::open();
    counters.enable();
    let start = Instant::now();
    let child = launch::spawn(command)?;
    let pid = child.id() as libc::pid_t;
    child_pid.store(pid, Ordering::SeqCst);
    let (status, usage) = wait_with_usage(pid)?;
    let wall_s = start.elapsed().as_secs_f64();
    child_pid.store(0, Ordering::SeqCst);
    Ok(Run {
        status,
        measured: figures::Measured {
            wall_s,
            usage,
            counters: counters.finish(),
        },
    })
}

/// Waits for `pid` to end; its status and its resource usage (with that of
/// the children it waited for).
fn wait_with_usage(pid: libc::pid_t) -> anyhow::Result<(ExitStatus, libc::rusage)> {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut status = 0;
    loop {
        // SAFETY: wait4 on our own child with valid pointers to locals.
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got == pid {
            return Ok((ExitStatus::from_raw(status), usage));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            anyhow::bail!("cannot wait for the command: {e}");
        }
    }
}

/// SIGTERM sent to snakescope goes on to the running command. A thread of
/// its own, started before any counter opens, so its polling is not counted.
fn forward_sigterm(signals: &Signals, child_pid: &Arc<AtomicI32>) {
    let (terminated, child_pid) = (Arc::clone(&signals.terminated), Arc::clone(child_pid));
    std::thread::spawn(move || loop {
        if terminated.swap(false, Ordering::SeqCst) {
            let pid = child_pid.load(Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: kill(2) on the pid of our own running child.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    });
}
