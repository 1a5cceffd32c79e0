//! The kernel's performance counters `stat` reads (`perf_event_open`, through
//! the perf-event2 crate), one table: what `perf stat` shows by default.
//!
//! The counters are opened on snakescope's own process with `inherit`, just
//! before the command is started, so they count the command and every
//! process it starts (each child's counts join its parent's when it exits).
//! They also count snakescope's own fork of the command, tens of
//! microseconds. A counter the machine or its settings refuse is reported
//! with the reason, and the rest still work.

use perf_event::events::{Event, Hardware, Software};
use perf_event::{Builder, Counter};

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
