//! The clock of the deterministic profilers (exact functions and lines).
//!
//! The CPU's time-stamp counter on x86-64 (a few nanoseconds to read,
//! against tens for `clock_gettime`, and it is read on every event),
//! converted to seconds with a rate measured between [`Calibration::start`]
//! and the end of profiling; nanoseconds since first use elsewhere.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

#[cfg(target_arch = "x86_64")]
pub fn now_ticks() -> i64 {
    // SAFETY: RDTSC has no preconditions on x86-64.
    unsafe { core::arch::x86_64::_rdtsc() as i64 }
}

#[cfg(not(target_arch = "x86_64"))]
pub fn now_ticks() -> i64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as i64
}

/// Where both clocks stood when a profile started.
#[derive(Clone, Copy)]
pub struct Calibration {
    at: Instant,
    ticks: i64,
}

impl Calibration {
    pub fn start() -> Self {
        EPOCH.get_or_init(Instant::now);
        Self {
            at: Instant::now(),
            ticks: now_ticks(),
        }
    }

    /// Seconds per tick, measured over the whole profile so far.
    pub fn secs_per_tick(&self) -> f64 {
        let ticks = now_ticks() - self.ticks;
        if ticks <= 0 {
            return 1e-9;
        }
        self.at.elapsed().as_secs_f64() / ticks as f64
    }
}
