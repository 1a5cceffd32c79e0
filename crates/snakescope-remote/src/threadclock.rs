//! Exact CPU time of the threads of this very process, for the in-process
//! agent (`snakescope run`), and the judgement of samples it allows.
//!
//! A thread's CPU clock (`clock_gettime` on the clock id Linux derives from
//! its tid) is brought up to the nanosecond at every read, also while the
//! thread runs on another CPU, whereas `schedstat`'s `run_ns` is settled only
//! at context switches and scheduler ticks (see [`crate::oncpu`], which must
//! therefore guess when a wait ended). Linux serves thread clocks only within
//! the caller's own thread group, so `record`, which samples another
//! process, cannot use them.
//!
//! A sample stands for the CPU time its thread used since its last read,
//! not for a tick: each thread banks its clock's advance and a sample taken
//! while it runs draws whole periods from the bank (none, one, or several
//! after a stall of the sampler). Counting one sample per tick instead let
//! off-grid ticks weigh as much as on-grid ones: under a CPU quota the
//! sampler wakes at once when the group is let run again, an extra sample
//! of whatever phase the throttle caught, and a program whose rounds lock
//! onto the quota's period had that phase over-counted (-0.08 of a 70/30
//! split in CI).
//!
//! A stack read while its thread's clock advanced was read while the thread
//! ran: it counts. A stack read while the clock stood still was read off a
//! CPU, and there are two cases. Either the thread had been off a CPU for a
//! while (waiting for one, or asleep): the sample does not count. Or the
//! sampler itself took the thread's CPU when it woke for this tick (on a
//! busy machine, or a container's share of one CPU, there is no other CPU
//! for it): the thread was running at the tick, where its stack still is,
//! and the sample counts. Which case it is follows from the books since the
//! thread's last read: the wall time elapsed is the CPU time it used, plus
//! the waits for a CPU it completed (`schedstat`'s `wait_ns`, settled when
//! a wait ends), plus the time since it last left a CPU. That last term
//! tells when it left: at (or after) the start of this tick, it was taken
//! off by the sampler.
//!
//! Time stolen from a virtual CPU by its host counts as CPU time nowhere in
//! the guest until the host reports it, and is not judged here.

use std::collections::HashMap;
use std::time::Instant;

use crate::Tasks;

/// `CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED` of `linux/posix-timers.h`: the
/// low bits of a thread's CPU clock id; the tid, inverted, fills the rest.
const THREAD_SCHED_CLOCK: u32 = 4 | 2;

/// How long before a tick's start (as the sampler notes it) a thread may
/// have left its CPU and still count as taken off by the sampler's wake-up:
/// the time from the wake-up to the note, a few microseconds, with margin.
const WAKE_SLACK_NS: u64 = 50_000;

/// The CPU time thread `tid` of this process has used, in nanoseconds; `None`
/// when it has ended (or `tid` is not one of this process's threads).
pub fn thread_cpu_ns(tid: u64) -> Option<u64> {
    let tid = u32::try_from(tid).ok()?;
    let clock = ((!tid) << 3 | THREAD_SCHED_CLOCK) as libc::clockid_t;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; an id naming no clock (a
    // thread gone, another process's) makes the call fail with EINVAL.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Whether thread clocks can be read for process `pid`: only our own.
pub fn available_for(pid: u32) -> bool {
    pid == std::process::id() && thread_cpu_ns(u64::from(pid)).is_some()
}

/// One thread's books at its last read.
#[derive(Debug, Clone, Copy)]
struct Books {
    /// When (ns from the judge's origin).
    at_ns: u64,
    cpu_ns: u64,
    /// Completed waits for a CPU (`schedstat`), 0 without it.
    wait_ns: u64,
    /// CPU time used and not yet drawn as samples.
    banked_ns: u64,
}

/// Judges the samples of the threads of this process by their CPU clocks;
/// `T` is a stack as the sampler keeps it.
#[derive(Debug)]
pub struct ClockJudge<T> {
    /// The sampling period: the CPU time one sample stands for.
    period_ns: u64,
    origin: Instant,
    tick_ns: u64,
    /// When the tick before this one began (0: none yet).
    last_tick_ns: u64,
    books: HashMap<u64, Books>,
    /// Each thread's stack at its last read on a CPU.
    running_stacks: HashMap<u64, T>,
}

impl<T: Clone> ClockJudge<T> {
    /// A judge for samples taken every `period_ns`.
    pub fn new(period_ns: u64) -> Self {
        ClockJudge {
            period_ns: period_ns.max(1),
            origin: Instant::now(),
            tick_ns: 0,
            last_tick_ns: 0,
            books: HashMap::new(),
            running_stacks: HashMap::new(),
        }
    }
}

impl<T: Clone> ClockJudge<T> {
    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Notes that a tick starts (the sampler has just woken).
    pub fn tick_started(&mut self) {
        self.last_tick_ns = self.tick_ns;
        self.tick_ns = self.now_ns();
    }

    /// Sampling is paused (the agent's own work runs in the program's
    /// threads, e.g. a heap census): what the threads use meanwhile is not
    /// the program's, so no bank carries it past the pause, and the next
    /// tick counts from now.
    pub fn paused(&mut self) {
        self.clear();
        self.tick_ns = self.now_ns();
    }

    /// Forgets every thread.
    pub fn clear(&mut self) {
        self.books.clear();
        self.running_stacks.clear();
    }

    /// Forgets the threads not in `alive`.
    pub fn retain(&mut self, alive: impl Fn(u64) -> bool) {
        self.books.retain(|&tid, _| alive(tid));
        self.running_stacks.retain(|&tid, _| alive(tid));
    }

    /// Before reading thread `tid`'s stack: its CPU clock, or `None` when
    /// the stack need not be read (the thread has not run since its last
    /// read, or is gone).
    pub fn before_read(&mut self, tid: u64) -> Option<u64> {
        let cpu_ns = thread_cpu_ns(tid)?;
        match self.books.get(&tid) {
            Some(last) if last.cpu_ns == cpu_ns => None,
            _ => Some(cpu_ns),
        }
    }

    /// After reading thread `tid`'s stack, `stack`, begun when its clock
    /// read `before`: the stack its samples go to and how many (see the
    /// module's overview), or `None` for none.
    pub fn after_read(
        &mut self,
        tid: u64,
        before: u64,
        tasks: &mut Tasks,
        stack: T,
    ) -> Option<(T, u64)> {
        let cpu_ns = thread_cpu_ns(tid)?;
        let wait_ns = tasks.cpu(tid).map_or(0, |c| c.wait_ns);
        let last = self.books.get(&tid).copied();
        let used = match last {
            Some(last) => cpu_ns.saturating_sub(last.cpu_ns),
            // First seen: a thread older than the sampler has its whole
            // life on its clock; only the time since the last tick is new.
            None => cpu_ns.min(self.tick_ns.saturating_sub(self.last_tick_ns)),
        };
        let mut now = Books {
            at_ns: self.now_ns(),
            cpu_ns,
            wait_ns,
            banked_ns: last.map_or(0, |l| l.banked_ns).saturating_add(used),
        };
        let running = cpu_ns > before || last.is_some_and(|last| self.left_at_this_tick(last, now));
        let before_stall = self
            .late()
            .then(|| self.running_stacks.get(&tid).cloned())
            .flatten();
        let to = match (before_stall, running) {
            (Some(earlier), _) => Some(earlier),
            (None, true) => Some(stack.clone()),
            (None, false) => None,
        };
        if running {
            self.running_stacks.insert(tid, stack);
        }
        let drawn = to.as_ref().map_or(0, |_| draw(&mut now, self.period_ns));
        self.books.insert(tid, now);
        to.filter(|_| drawn > 0).map(|to| (to, drawn))
    }

    /// Whether this tick began more than half a period late: the sampler,
    /// and under a CPU quota the whole process, was kept from running. What
    /// a thread used since its last read then lies mostly before the stall,
    /// in the stack it had then (a throttle stops it where it is; right
    /// after one, the stack read is often a phase the throttle's own
    /// enforcement point began, at the thread's next system call).
    fn late(&self) -> bool {
        self.last_tick_ns > 0
            && self.tick_ns.saturating_sub(self.last_tick_ns) > self.period_ns + self.period_ns / 2
    }

    /// Whether a thread off a CPU now left it at this tick's start or later.
    fn left_at_this_tick(&self, last: Books, now: Books) -> bool {
        left_at_or_after(last, now, self.tick_ns.saturating_sub(WAKE_SLACK_NS))
    }
}

/// Draws the whole periods banked in `books`: the samples its read counts for.
fn draw(books: &mut Books, period_ns: u64) -> u64 {
    let drawn = books.banked_ns / period_ns;
    books.banked_ns -= drawn * period_ns;
    drawn
}

/// Whether a thread whose books were `last` and are `now`, off a CPU now,
/// left its CPU at `since_ns` or later: the wall time since `last` that its
/// CPU time and completed waits do not account for is the time since it left.
fn left_at_or_after(last: Books, now: Books, since_ns: u64) -> bool {
    let elapsed = now.at_ns.saturating_sub(last.at_ns);
    let accounted = (now.cpu_ns.saturating_sub(last.cpu_ns))
        .saturating_add(now.wait_ns.saturating_sub(last.wait_ns));
    let off_for = elapsed.saturating_sub(accounted);
    now.at_ns.saturating_sub(off_for) >= since_ns
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1_000;

    fn books(at_us: u64, cpu_us: u64, wait_us: u64) -> Books {
        Books {
            at_ns: at_us * US,
            cpu_ns: cpu_us * US,
            wait_ns: wait_us * US,
            banked_ns: 0,
        }
    }

    #[test]
    fn ran_until_the_tick_counts() {
        // Read at 0; ran until the tick at 1000 took its CPU, and has
        // been off it for the 10 us the sampler took to read it.
        let (last, now) = (books(0, 5_000, 700), books(1_010, 6_000, 700));
        assert!(left_at_or_after(last, now, 1_000 * US));
    }

    #[test]
    fn waiting_since_before_the_tick_does_not() {
        // Ran 400 us, then waited for a CPU from 400 us on (a wait not
        // yet settled into wait_ns): off its CPU long before the tick.
        let (last, now) = (books(0, 5_000, 700), books(1_010, 5_400, 700));
        assert!(!left_at_or_after(last, now, 1_000 * US));
    }

    #[test]
    fn a_settled_wait_then_running_until_the_tick_counts() {
        // Waited 500 us (settled when it got a CPU back), then ran until
        // the sampler took its CPU at 1000.
        let (last, now) = (books(0, 5_000, 700), books(1_010, 5_500, 1_200));
        assert!(left_at_or_after(last, now, 1_000 * US));
        // The same, but it left its CPU 300 us before the tick.
        let (last, now) = (books(0, 5_000, 700), books(1_010, 5_200, 1_200));
        assert!(!left_at_or_after(last, now, 1_000 * US));
    }

    #[test]
    fn a_sample_stands_for_the_cpu_time_banked() {
        // 2.5 periods used since the last read: two samples, half a period kept.
        let mut b = books(0, 0, 0);
        b.banked_ns = 2_500 * US;
        assert_eq!(draw(&mut b, 1_000 * US), 2);
        assert_eq!(b.banked_ns, 500 * US);
        // Another 0.4 of a period (an off-grid tick, as after a throttled
        // spell): nothing drawn; 0.1 more and the next read draws one.
        b.banked_ns += 400 * US;
        assert_eq!(draw(&mut b, 1_000 * US), 0);
        b.banked_ns += 100 * US;
        assert_eq!(draw(&mut b, 1_000 * US), 1);
        assert_eq!(b.banked_ns, 0);
    }

    #[test]
    fn counters_going_backwards_never_underflow() {
        let (last, now) = (books(2_000, 9_000, 900), books(1_000, 5_000, 100));
        assert!(!left_at_or_after(last, now, 1_500 * US));
    }

    fn own_tid() -> u64 {
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() as u64 }
    }

    #[test]
    fn agrees_with_our_own_thread_clock() {
        let tid = own_tid();
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let before = thread_cpu_ns(tid).expect("our own thread's clock");
        // SAFETY: valid out-pointer.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        let after = thread_cpu_ns(tid).unwrap();
        let own = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        assert!(
            before <= own && own <= after,
            "{before} <= {own} <= {after}"
        );
    }

    #[test]
    fn a_spinning_thread_advances_a_sleeping_one_does_not() {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let stop = Arc::new(AtomicBool::new(false));
        let tids = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let spin = {
            let (stop, tids) = (stop.clone(), tids.clone());
            std::thread::spawn(move || {
                tids[0].store(own_tid(), Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        let sleep = {
            let (stop, tids) = (stop.clone(), tids.clone());
            std::thread::spawn(move || {
                tids[1].store(own_tid(), Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            })
        };
        while tids.iter().any(|t| t.load(Ordering::SeqCst) == 0) {
            std::thread::yield_now();
        }
        let (spinner, sleeper) = (
            tids[0].load(Ordering::SeqCst),
            tids[1].load(Ordering::SeqCst),
        );
        let at = |tid| thread_cpu_ns(tid).unwrap();
        let (s0, z0, t0) = (at(spinner), at(sleeper), std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(200));
        let (s1, z1, wall) = (at(spinner), at(sleeper), t0.elapsed().as_nanos() as u64);
        stop.store(true, Ordering::Relaxed);
        spin.join().unwrap();
        sleep.join().unwrap();
        // The spinner ran for some of the 200 ms (all of it on an idle core;
        // at least a share on a busy one); the sleeper woke 4 times for microseconds.
        assert!(s1 - s0 > wall / 20, "spinner used {} of {wall} ns", s1 - s0);
        assert!(z1 - z0 < wall / 20, "sleeper used {} of {wall} ns", z1 - z0);
        assert!(available_for(std::process::id()));
        assert!(!available_for(1));
    }
}
