//! The kernel's performance counters `stat` reads (`perf_event_open`, through
//! the perf-event2 crate), one table: what `perf stat` shows by default.
//!
//! The counters are opened on snakescope's own process with `inherit`, just
//! before the command is started, so they count the command and every
//! process it starts (each child's counts join its parent's when it exits).
//! They also count snakescope's own fork of the command, tens of
//! microseconds. A counter the machine or its settings refuse is reported
//! with the reason, and the rest still work.

use crate::launch;
use crate::UserError;
use perf_event::events::{Event, Hardware, Software};
use perf_event::{Builder, Counter};
use std::ffi::OsString;
use std::process::Child;
use std::sync::mpsc;

/// One counter: its name in the report and how to open it.
pub struct Spec {
    pub name: &'static str,
    open: fn() -> Builder<'static>,
}

fn builder(event: impl Event + 'static) -> Builder<'static> {
    let mut b = Builder::new(event);
    b.observe_self().inherit(true).include_kernel();
    b
}

/// Every counter, in the report's order.
pub const SPECS: [Spec; 8] = [
    Spec {
        name: "task-clock",
        open: || builder(Software::TASK_CLOCK),
    },
    Spec {
        name: "cpu-migrations",
        open: || builder(Software::CPU_MIGRATIONS),
    },
    Spec {
        name: "cycles",
        open: || builder(Hardware::CPU_CYCLES),
    },
    Spec {
        name: "instructions",
        open: || builder(Hardware::INSTRUCTIONS),
    },
    Spec {
        name: "cache-references",
        open: || builder(Hardware::CACHE_REFERENCES),
    },
    Spec {
        name: "cache-misses",
        open: || builder(Hardware::CACHE_MISSES),
    },
    Spec {
        name: "branches",
        open: || builder(Hardware::BRANCH_INSTRUCTIONS),
    },
    Spec {
        name: "branch-misses",
        open: || builder(Hardware::BRANCH_MISSES),
    },
];

/// The counters of one run, open (or the reason each is not).
pub struct Counters(Vec<Result<Counter, String>>);

impl Counters {
    /// Opens every counter, disabled. A counter refused with the kernel
    /// included is tried again for user space only (`perf_event_paranoid` 2).
    pub fn open() -> Counters {
        Counters(SPECS.iter().map(open_one).collect())
    }

    /// Starts counting.
    pub fn enable(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.enable();
        }
    }

    /// Stops counting and reads every counter: its count (scaled up when
    /// the kernel had to share the hardware), or the reason it has none.
    pub fn finish(mut self) -> Vec<Result<f64, String>> {
        self.0
            .iter_mut()
            .map(|c| {
                let c = c.as_mut().map_err(|why| why.clone())?;
                let _ = c.disable();
                let read = c
                    .read_count_and_time()
                    .map_err(|e| format!("cannot be read: {e}"))?;
                if read.time_running == 0 {
                    return Err("not counted: the hardware was taken by other counters".to_owned());
                }
                let scale = read.time_enabled as f64 / read.time_running as f64;
                Ok(read.count as f64 * scale)
            })
            .collect()
    }
}

/// The counters of a command started by [`spawn_counted`], read once it ended.
pub struct CountedChild {
    finish: mpsc::Sender<()>,
    counts: mpsc::Receiver<Vec<Result<f64, String>>>,
}

/// Starts `command` from a thread of its own that opened the counters
/// first: they count that thread and what it starts (the command and its
/// children), not the calling thread — for `record --stat`, where the
/// calling thread goes on to sample. The thread then sleeps until
/// [`CountedChild::finish`].
pub fn spawn_counted(command: &[OsString]) -> Result<(Child, CountedChild), UserError> {
    let command = command.to_vec();
    let (child_tx, child_rx) = mpsc::channel();
    let (finish, finish_rx) = mpsc::channel::<()>();
    let (counts_tx, counts) = mpsc::channel();
    std::thread::Builder::new()
        .name("snakescope-counters".into())
        .spawn(move || {
            let mut counters = Counters::open();
            counters.enable();
            let child = launch::spawn(&command);
            let started = child.is_ok();
            if child_tx.send(child).is_ok() && started && finish_rx.recv().is_ok() {
                let _ = counts_tx.send(counters.finish());
            }
        })
        .map_err(|e| UserError::new(format!("cannot start the counters' thread: {e}")))?;
    let child = child_rx
        .recv()
        .map_err(|_| UserError::new("the counters' thread ended before starting the command"))??;
    Ok((child, CountedChild { finish, counts }))
}

impl CountedChild {
    /// Stops counting (call it once the command ended) and reads the counts.
    pub fn finish(self) -> Vec<Result<f64, String>> {
        let lost = || vec![Err("not counted: the counters' thread ended".to_owned()); SPECS.len()];
        if self.finish.send(()).is_err() {
            return lost();
        }
        self.counts.recv().unwrap_or_else(|_| lost())
    }
}

fn open_one(spec: &Spec) -> Result<Counter, String> {
    match (spec.open)().build() {
        Ok(c) => Ok(c),
        Err(e) if denied(&e) => {
            let mut user_only = (spec.open)();
            user_only.exclude_kernel(true);
            user_only.build().map_err(|e| why(&e))
        }
        Err(e) => Err(why(&e)),
    }
}

fn denied(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::EPERM))
}

/// Why a counter cannot be opened, in the user's terms.
fn why(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::EOPNOTSUPP) | Some(libc::ENODEV) => {
            "not supported: this CPU exposes no such counter (a virtual machine often has no PMU)"
                .to_owned()
        }
        Some(libc::EACCES) | Some(libc::EPERM) => format!(
            "not allowed: kernel.perf_event_paranoid is {} (lower it, or run with CAP_PERFMON)",
            std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
                .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned())
        ),
        Some(libc::ENOSYS) => "not supported: this kernel has no perf_event_open".to_owned(),
        _ => format!("not available: {e}"),
    }
}
