//! The sampling loop's clock: sleeping to absolute deadlines, or spinning
//! at rates the kernel's wake-ups cannot keep; and the sampler thread's
//! scheduling priority ([`Priority`]).

use snakescope_model::SamplerPriority;
use std::marker::PhantomData;
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

/// The sampler thread at real-time priority (`SCHED_FIFO` 1) for one run
/// that samples wall time (`--idle`, `--gil`), when the process may have it
/// (root, `CAP_SYS_NICE`, or `RLIMIT_RTPRIO` above 0).
///
/// Why: those modes take what each tick sees at face value, so when a tick
/// runs must not depend on what the program does. At normal priority, on a
/// machine whose cores are all busy, a woken sampler waits for a CPU, and
/// one falls free mostly when a thread blocks — on the GIL, often — which
/// the late tick then sees: with `--idle`, GIL waits came out 4–13 points
/// too high while ticks were lost. At `SCHED_FIFO` the tick runs when its
/// timer fires (`docs/architecture.md` has the measurements).
///
/// Not when counting CPU time (the default): each sample there is judged
/// by its thread's counters, and a sampler that preempts the program's
/// threads at every tick made that judgement worse (heavy's share of
/// `split_70_30.py` under load +0.027, sd 0.021, against +0.007, sd 0.010).
/// Not while spinning (above 20 kHz: a real-time thread that never sleeps
/// would keep a CPU from everything else), and given up, for the rest of
/// the run, when the sampler's own work takes more than half of a second
/// (too many threads for the rate): a real-time thread is never preempted
/// by the program's. `SCHED_RESET_ON_FORK`: a thread or process the
/// sampler's thread starts gets a normal priority. The thread's previous
/// policy is put back when the run ends (dropped).
pub(super) struct Priority {
    outcome: Option<SamplerPriority>,
    /// The policy and priority to put back, while raised.
    previous: Option<(libc::c_int, libc::sched_param)>,
    window: Instant,
    busy: Duration,
    /// Not `Send`: it changes, and puts back, the scheduling of the thread
    /// that made it.
    _thread: PhantomData<*const ()>,
}

/// The window over which the sampler's busy share is judged.
const BUSY_WINDOW: Duration = Duration::from_secs(1);

impl Priority {
    /// Raises the calling thread for a run at `period` that samples wall
    /// time (`wall_time`; else nothing is tried).
    pub(super) fn raise(period: Duration, wall_time: bool) -> Priority {
        let mut p = Priority {
            outcome: None,
            previous: None,
            window: Instant::now(),
            busy: Duration::ZERO,
            _thread: PhantomData,
        };
        if !wall_time || period < SPIN_BELOW {
            return p;
        }
        // SAFETY: sched_getscheduler reads the calling thread's (pid 0) policy;
        // no memory is passed.
        let policy = unsafe { libc::sched_getscheduler(0) };
        let mut param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `param` is a valid, writable sched_param for the call.
        let got = unsafe { libc::sched_getparam(0, &mut param) };
        if policy < 0 || got != 0 {
            p.outcome = Some(SamplerPriority::Refused);
            return p;
        }
        let policy = policy & !libc::SCHED_RESET_ON_FORK;
        if policy == libc::SCHED_FIFO || policy == libc::SCHED_RR {
            // Already real-time (`chrt`): left as it is.
            p.outcome = Some(SamplerPriority::Realtime);
            return p;
        }
        let fifo = libc::sched_param { sched_priority: 1 };
        // SAFETY: changes the calling thread's (pid 0) scheduling only;
        // `fifo` is a valid sched_param read during the call.
        let raised = unsafe {
            libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &fifo)
        };
        if raised == 0 {
            p.outcome = Some(SamplerPriority::Realtime);
            p.previous = Some((policy, param));
        } else {
            p.outcome = Some(SamplerPriority::Refused);
        }
        p
    }

    /// Counts `busy`, the time one tick's work took, ending at `now`; gives
    /// real-time priority up when that work took more than half a window.
    pub(super) fn worked(&mut self, busy: Duration, now: Instant) {
        if self.previous.is_none() {
            return;
        }
        self.busy += busy;
        let window = now.saturating_duration_since(self.window);
        if window < BUSY_WINDOW {
            return;
        }
        if self.busy * 2 > window {
            self.lower();
            self.outcome = Some(SamplerPriority::GaveUp);
        }
        self.window = now;
        self.busy = Duration::ZERO;
    }

    /// How the run was scheduled: `None` when real-time was not tried.
    pub(super) fn outcome(&self) -> Option<SamplerPriority> {
        self.outcome
    }

    fn lower(&mut self) {
        if let Some((policy, param)) = self.previous.take() {
            // SAFETY: changes the calling thread's (pid 0) scheduling only,
            // the thread that raised it (`Priority` is not `Send`); `param`
            // is a valid sched_param. Lowering is always allowed.
            unsafe {
                libc::sched_setscheduler(0, policy, &param);
            }
        }
    }
}

impl Drop for Priority {
    fn drop(&mut self) {
        self.lower();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> libc::c_int {
        // SAFETY: reads the calling thread's policy; no memory is passed.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn raised_for_a_run_then_put_back() {
        std::thread::spawn(|| {
            let before = policy();
            if before != libc::SCHED_OTHER {
                return; // already real-time (run under chrt): left alone
            }
            let p = Priority::raise(Duration::from_millis(1), true);
            match p.outcome() {
                Some(SamplerPriority::Realtime) => assert_eq!(
                    policy(),
                    libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK,
                    "raised means SCHED_FIFO, reset on fork"
                ),
                Some(SamplerPriority::Refused) => assert_eq!(policy(), before),
                other => panic!("a 1 ms period tries real-time: {other:?}"),
            }
            // A thread it starts runs at a normal priority.
            let child = std::thread::spawn(policy).join().expect("child runs");
            assert_eq!(child, libc::SCHED_OTHER);
            drop(p);
            assert_eq!(policy(), before);
        })
        .join()
        .expect("the test thread ends");
    }

    #[test]
    fn not_tried_while_spinning_or_counting_cpu_time() {
        std::thread::spawn(|| {
            let before = policy();
            let p = Priority::raise(Duration::from_micros(20), true);
            assert_eq!(p.outcome(), None);
            assert_eq!(policy(), before);
            let p = Priority::raise(Duration::from_millis(1), false);
            assert_eq!(p.outcome(), None, "counting CPU time: not tried");
            assert_eq!(policy(), before);
        })
        .join()
        .expect("the test thread ends");
    }

    #[test]
    fn given_up_when_busy_more_than_half_the_time() {
        std::thread::spawn(|| {
            if policy() != libc::SCHED_OTHER {
                return; // already real-time (run under chrt): left alone
            }
            let mut p = Priority::raise(Duration::from_millis(1), true);
            if p.outcome() != Some(SamplerPriority::Realtime) {
                return; // refused here: nothing to give up
            }
            let start = p.window;
            p.worked(
                Duration::from_millis(400),
                start + Duration::from_millis(500),
            );
            assert_eq!(p.outcome(), Some(SamplerPriority::Realtime));
            // 400 + 100 ms of work in 1.1 s: kept.
            p.worked(
                Duration::from_millis(100),
                start + Duration::from_millis(1100),
            );
            assert_eq!(p.outcome(), Some(SamplerPriority::Realtime));
            // 700 ms of work in the next second: given up.
            p.worked(
                Duration::from_millis(700),
                start + Duration::from_millis(2200),
            );
            assert_eq!(p.outcome(), Some(SamplerPriority::GaveUp));
            assert_eq!(policy(), libc::SCHED_OTHER);
        })
        .join()
        .expect("the test thread ends");
    }
}
