//! Which samples were taken while their thread was on a CPU.
//!
//! A sampler that counts every runnable thread at every tick measures wall
//! time: on a busy machine a preempted thread waits on the run queue, its
//! stack frozen where it was preempted, and every tick of that wait is
//! charged to that one place. Where preemption happens is not independent of
//! the program (the scheduler notices an expired time slice at the next
//! system call or timer tick), so under load the shares drift.
//!
//! The kernel's per-thread `schedstat` says what actually happened: the CPU
//! time the thread has used (`run_ns`), the time it has waited on a run queue
//! (`wait_ns`) and how many times it was put on a CPU (`slices`). `run_ns` is
//! brought up to date only at a context switch or a scheduler tick (every 1
//! to 10 ms), so "did `run_ns` advance since the last sample" cannot judge a
//! single sample. Instead a stack read while the thread was runnable is kept
//! *pending* until the counters settle it:
//!
//! * when the thread was put on a CPU again (`slices` grew), the pending
//!   samples taken during the wait that ended there were read off the CPU:
//!   they are dropped. The wait lasted the growth of `wait_ns` and ended
//!   between the previous read and this one; taken as ending midway, a
//!   sample taken within half a period of its true start is misjudged as
//!   often one way as the other (measured under load: ending it at this
//!   read kept a frozen sample per preemption and biased a 70/30 split by
//!   +0.03 to +0.05; see `docs/architecture.md`);
//! * when `run_ns` grew, the remaining pending samples were on the CPU (it
//!   was not put on a CPU since they were read, and it ran): they count.
//!
//! So a sample counts when its thread was on a CPU at that tick, which makes
//! counts proportional to CPU time whatever the machine's load.

/// A thread's scheduler counters, from `/proc/PID/task/TID/schedstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuCounters {
    /// CPU time used, in nanoseconds.
    pub run_ns: u64,
    /// Time spent runnable but waiting for a CPU, in nanoseconds.
    pub wait_ns: u64,
    /// Times the thread was put on a CPU.
    pub slices: u64,
}

impl CpuCounters {
    /// Parses `schedstat`'s three numbers.
    pub fn parse(text: &[u8]) -> Option<CpuCounters> {
        let text = std::str::from_utf8(text).ok()?;
        let mut fields = text.split_ascii_whitespace().map(|f| f.parse::<u64>().ok());
        Some(CpuCounters {
            run_ns: fields.next()??,
            wait_ns: fields.next()??,
            slices: fields.next()??,
        })
    }
}

/// Pending samples beyond which the oldest are counted without waiting for
/// the counters (a thread that runs for this many ticks without a scheduler
/// tick: only with `nohz_full` CPUs). Consecutive equal samples share one
/// entry, so a thread waiting on the run queue never gets near it.
const MAX_PENDING: usize = 4096;

#[derive(Debug)]
struct Entry<T> {
    first_ns: u64,
    last_ns: u64,
    count: u64,
    sample: T,
}

impl<T> Entry<T> {
    /// How many of this entry's samples were taken at or after `cutoff_ns`
    /// (evenly spread between its first and last).
    fn taken_since(&self, cutoff_ns: u64) -> u64 {
        if cutoff_ns <= self.first_ns {
            self.count
        } else if cutoff_ns > self.last_ns {
            0
        } else {
            let span = (self.last_ns - self.first_ns) as f64;
            let after = (self.last_ns - cutoff_ns) as f64;
            ((after / span * (self.count - 1) as f64).floor() as u64 + 1).min(self.count)
        }
    }
}

/// One thread's pending samples and last counters.
#[derive(Debug)]
pub struct OnCpu<T> {
    last: Option<CpuCounters>,
    /// When `last` was read.
    last_ns: u64,
    pending: Vec<Entry<T>>,
}

impl<T: PartialEq> Default for OnCpu<T> {
    fn default() -> Self {
        OnCpu {
            last: None,
            last_ns: 0,
            pending: Vec::new(),
        }
    }
}

impl<T: PartialEq> OnCpu<T> {
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Settles pending samples with the counters read at `now_ns`; calls
    /// `count(sample, n)` for those that were on a CPU, oldest first.
    pub fn settle(&mut self, now_ns: u64, now: CpuCounters, mut count: impl FnMut(&T, u64)) {
        let previous_ns = std::mem::replace(&mut self.last_ns, now_ns);
        let Some(last) = self.last.replace(now) else {
            return;
        };
        if now.slices > last.slices {
            let waited = now.wait_ns.saturating_sub(last.wait_ns);
            let ended = previous_ns + now_ns.saturating_sub(previous_ns) / 2;
            self.drop_taken_since(ended.saturating_sub(waited));
        }
        if now.run_ns > last.run_ns {
            for e in self.pending.drain(..) {
                count(&e.sample, e.count);
            }
        }
    }

    /// Adds a sample read at `now_ns` while the thread was runnable.
    pub fn push(&mut self, now_ns: u64, sample: T, mut count: impl FnMut(&T, u64)) {
        if let Some(e) = self.pending.last_mut().filter(|e| e.sample == sample) {
            e.count += 1;
            e.last_ns = now_ns;
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            for e in self.pending.drain(..MAX_PENDING / 2) {
                count(&e.sample, e.count);
            }
        }
        self.pending.push(Entry {
            first_ns: now_ns,
            last_ns: now_ns,
            count: 1,
            sample,
        });
    }

    fn drop_taken_since(&mut self, cutoff_ns: u64) {
        while let Some(e) = self.pending.last_mut() {
            let late = e.taken_since(cutoff_ns);
            if late < e.count {
                e.count -= late;
                e.last_ns = e.last_ns.min(cutoff_ns.saturating_sub(1)).max(e.first_ns);
                return;
            }
            self.pending.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn counters(run_ms: u64, wait_ms: u64, slices: u64) -> CpuCounters {
        CpuCounters {
            run_ns: run_ms * MS,
            wait_ns: wait_ms * MS,
            slices,
        }
    }

    /// Replays (time ms, counters, stack seen if runnable) and returns what counted.
    fn replay(ticks: &[(u64, CpuCounters, Option<char>)]) -> String {
        let mut t = OnCpu::default();
        let mut out = String::new();
        for &(at, c, stack) in ticks {
            t.settle(at * MS, c, |s: &char, n| {
                out.extend(std::iter::repeat_n(*s, n as usize))
            });
            if let Some(s) = stack {
                t.push(at * MS, s, |s, n| {
                    out.extend(std::iter::repeat_n(*s, n as usize))
                });
            }
        }
        out
    }

    #[test]
    fn parses_schedstat() {
        assert_eq!(
            CpuCounters::parse(b"45221573 87560771 25\n"),
            Some(CpuCounters {
                run_ns: 45221573,
                wait_ns: 87560771,
                slices: 25
            })
        );
        assert_eq!(CpuCounters::parse(b"1 2\n"), None);
        assert_eq!(CpuCounters::parse(b"x 2 3\n"), None);
    }

    #[test]
    fn running_between_scheduler_ticks_counts_every_sample() {
        // On the CPU throughout; run_ns moves only every 4 ms.
        let c = |ms| counters(ms, 0, 1);
        let got = replay(&[
            (0, c(0), Some('a')),
            (1, c(0), Some('b')),
            (2, c(0), Some('c')),
            (3, c(0), Some('d')),
            (4, c(4), Some('e')),
            (5, c(4), Some('f')),
            (8, c(8), None),
        ]);
        assert_eq!(got, "abcdef");
    }

    #[test]
    fn samples_of_a_preempted_thread_are_dropped() {
        // Runs 0-2.5 ms (a, b, c), preempted at 2.5 in `p` until 9.5 (p seen
        // 3..9 while waiting), then runs again (d, e).
        let got = replay(&[
            (0, counters(0, 0, 1), Some('a')),
            (1, counters(0, 0, 1), Some('b')),
            (2, counters(0, 0, 1), Some('c')),
            (3, counters(2, 0, 1), Some('p')), // switched out at 2.5: run_ns settled
            (4, counters(2, 0, 1), Some('p')),
            (5, counters(2, 0, 1), Some('p')),
            (6, counters(2, 0, 1), Some('p')),
            (7, counters(2, 0, 1), Some('p')),
            (8, counters(2, 0, 1), Some('p')),
            (9, counters(2, 0, 1), Some('p')),
            (10, counters(2, 7, 2), Some('d')), // back on a CPU at 9.5 after 7 ms
            (11, counters(2, 7, 2), Some('e')),
            (12, counters(4, 7, 2), None),
        ]);
        assert_eq!(got, "abcde");
    }

    #[test]
    fn a_short_wait_drops_only_the_samples_inside_it() {
        // Switched out at 3.2 and in again at 3.5, between two reads: the
        // samples before the wait count.
        let got = replay(&[
            (0, counters(0, 0, 1), Some('a')),
            (1, counters(0, 0, 1), Some('b')),
            (2, counters(0, 0, 1), Some('c')),
            (3, counters(0, 0, 1), Some('d')),
            (
                4,
                CpuCounters {
                    run_ns: 3_200_000,
                    wait_ns: 300_000,
                    slices: 2,
                },
                Some('e'),
            ),
            (8, counters(7, 1, 2), None),
        ]);
        assert_eq!(got, "abcde");
    }

    #[test]
    fn nothing_counts_without_cpu_time() {
        // Runnable but never on a CPU (starved): nothing counts, and the
        // pending samples share one entry. (`wait_ns` moves when the wait
        // ends, as `run_ns` does.)
        let mut t = OnCpu::default();
        for ms in 0..10_000 {
            t.settle(ms * MS, counters(1, 0, 1), |_, _| panic!("counted"));
            t.push(ms * MS, 'w', |_, _| panic!("counted"));
        }
        assert_eq!(t.pending.len(), 1);
        // It finally runs after waiting all that time: the wait's samples go.
        t.settle(10_001 * MS, counters(1, 10_001, 2), |_, _| {
            panic!("counted")
        });
        assert!(!t.has_pending());
    }

    #[test]
    fn taken_since_splits_a_run_evenly() {
        let e = Entry {
            first_ns: 0,
            last_ns: 9,
            count: 10,
            sample: (),
        };
        assert_eq!(e.taken_since(0), 10);
        assert_eq!(e.taken_since(5), 5);
        assert_eq!(e.taken_since(9), 1);
        assert_eq!(e.taken_since(10), 0);
    }
}
