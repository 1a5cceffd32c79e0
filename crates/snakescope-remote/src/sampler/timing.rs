//! The sampling loop's clock: sleeping to absolute deadlines, or spinning
//! at rates the kernel's wake-ups cannot keep.

use std::time::{Duration, Instant};

/// Below this period (above 20 kHz) the loop spins instead of sleeping: the
/// kernel's wake-up latency (tens of microseconds) would eat the period. Above
/// it, sleeping to absolute deadlines keeps the rate exact without burning a core.
const SPIN_BELOW: Duration = Duration::from_micros(50);

pub(super) fn wait_until(deadline: Instant, period: Duration) {
    if period >= SPIN_BELOW {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    while Instant::now() < deadline {
        std::hint::spin_loop();
    }
}

/// Asks the kernel to wake this thread on time rather than up to 50 µs late.
pub(super) fn set_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and only changes
    // this thread's timer slack; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}
