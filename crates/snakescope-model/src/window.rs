//! A sink for a live view: per-frame counts over the last few seconds, read
//! from another thread while sampling goes on.
//!
//! Samples fall into time buckets (`window / buckets` wide, by the time the
//! reader gives each sample); the window is the newest bucket and the ones
//! before it, up to `buckets` of them. A sample older than that is dropped,
//! and so is a bucket once a newer sample pushes it out. Each bucket keeps,
//! per frame, its *self* count (samples whose innermost frame it is) and its
//! *total* count (samples with it anywhere on the stack, once per sample
//! however often it recurs), kept per thread so that a view can show one
//! thread alone ([`WindowReader::snapshot_thread`]), and each thread's
//! activity ([`ThreadActivity`]). The sampling thread takes an uncontended lock
//! per sample; [`WindowReader::snapshot`] takes it once to add the buckets up.

use crate::aggregate::ThreadSample;
use crate::capture::Frame;
use crate::frames::FrameTable;
use crate::sink::{FrameInterner, SampleSink};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// One frame's counts in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameCounts {
    pub frame: Frame,
    /// Samples in the window whose innermost frame this is.
    pub self_count: u64,
    /// Samples in the window with this frame anywhere on their stack.
    pub total: u64,
}

/// What the window holds at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WindowSnapshot {
    /// The window's span, in nanoseconds from the start of the recording.
    pub from_ns: u64,
    pub to_ns: u64,
    /// Samples in the window.
    pub samples: u64,
    /// Every frame with a sample in the window, by total (then self) count,
    /// highest first.
    pub frames: Vec<FrameCounts>,
    /// Thread names given so far, by thread id.
    pub threads: Vec<(u64, String)>,
    /// The process, once named: pid and command line.
    pub process: Option<(u32, Vec<String>)>,
    /// Every thread with a sample since the start, by thread id: its
    /// samples in the window (of every thread, whatever the snapshot's
    /// thread) and its latest sample.
    pub activity: Vec<ThreadActivity>,
}

/// One thread's samples in the window, and its latest sample ever.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadActivity {
    pub tid: u64,
    /// Samples in the window, and how many of them were idle / held the GIL.
    pub samples: u64,
    pub idle: u64,
    pub gil: u64,
    /// The latest sample: when (nanoseconds from the start), idle, GIL.
    pub last_ns: u64,
    pub last_idle: bool,
    pub last_gil: bool,
}

impl WindowSnapshot {
    /// The counts of the first frame of function `function`, if in the window.
    pub fn function(&self, function: &str) -> Option<&FrameCounts> {
        self.frames.iter().find(|c| c.frame.function == function)
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    self_count: u64,
    total: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    samples: u64,
    idle: u64,
    gil: u64,
}

#[derive(Debug)]
struct Bucket {
    index: u64,
    /// Counts by (thread id, frame id).
    counts: HashMap<(u64, usize), Counts>,
    threads: HashMap<u64, Tally>,
}

#[derive(Debug)]
struct Window {
    bucket_ns: u64,
    buckets: usize,
    /// Oldest first; indices increasing, the last one the newest.
    ring: VecDeque<Bucket>,
    frames: FrameTable,
    threads: HashMap<u64, String>,
    process: Option<(u32, Vec<String>)>,
    /// Each thread's latest sample: time, idle, GIL.
    latest: HashMap<u64, (u64, bool, bool)>,
}

impl Window {
    /// The bucket for a sample at `at_ns` (buckets older than the window
    /// dropped), or `None` when the sample is older than the window.
    fn bucket(&mut self, at_ns: u64) -> Option<&mut Bucket> {
        let index = at_ns / self.bucket_ns;
        let newest = self.ring.back().map_or(index, |b| b.index.max(index));
        let oldest_kept = (newest + 1).saturating_sub(self.buckets as u64);
        if index < oldest_kept {
            return None;
        }
        while self.ring.front().is_some_and(|b| b.index < oldest_kept) {
            self.ring.pop_front();
        }
        // A bucket exists once it has a sample: found, or inserted in order.
        let at = self.ring.partition_point(|b| b.index < index);
        if self.ring.get(at).map(|b| b.index) != Some(index) {
            let bucket = Bucket {
                index,
                counts: HashMap::new(),
                threads: HashMap::new(),
            };
            self.ring.insert(at, bucket);
        }
        self.ring.get_mut(at)
    }

    /// The window's counts, of thread `only` alone when given.
    fn snapshot(&self, only: Option<u64>) -> WindowSnapshot {
        let mut sum: HashMap<usize, Counts> = HashMap::new();
        let mut samples = 0;
        let mut tallies: HashMap<u64, Tally> = HashMap::new();
        for b in &self.ring {
            for (&tid, t) in &b.threads {
                if !only.is_some_and(|o| o != tid) {
                    samples += t.samples;
                }
                let sum = tallies.entry(tid).or_default();
                sum.samples += t.samples;
                sum.idle += t.idle;
                sum.gil += t.gil;
            }
            for (&(tid, id), c) in &b.counts {
                if only.is_some_and(|o| o != tid) {
                    continue;
                }
                let s = sum.entry(id).or_default();
                s.self_count += c.self_count;
                s.total += c.total;
            }
        }
        let mut frames: Vec<FrameCounts> = sum
            .into_iter()
            .filter_map(|(id, c)| {
                Some(FrameCounts {
                    frame: self.frames.get(id)?.clone(),
                    self_count: c.self_count,
                    total: c.total,
                })
            })
            .collect();
        frames.sort_by(|a, b| {
            (
                b.total,
                b.self_count,
                &a.frame.function,
                &a.frame.file,
                a.frame.line,
            )
                .cmp(&(
                    a.total,
                    a.self_count,
                    &b.frame.function,
                    &b.frame.file,
                    b.frame.line,
                ))
        });
        let mut threads: Vec<(u64, String)> =
            self.threads.iter().map(|(&t, n)| (t, n.clone())).collect();
        threads.sort();
        let newest = self.ring.back().map_or(0, |b| b.index);
        WindowSnapshot {
            from_ns: (newest + 1).saturating_sub(self.buckets as u64) * self.bucket_ns,
            to_ns: (newest + 1) * self.bucket_ns,
            samples,
            frames,
            threads,
            process: self.process.clone(),
            activity: self.activity(&tallies),
        }
    }

    fn activity(&self, tallies: &HashMap<u64, Tally>) -> Vec<ThreadActivity> {
        let mut activity: Vec<ThreadActivity> = self
            .latest
            .iter()
            .map(|(&tid, &(last_ns, last_idle, last_gil))| {
                let t = tallies.get(&tid).copied().unwrap_or_default();
                ThreadActivity {
                    tid,
                    samples: t.samples,
                    idle: t.idle,
                    gil: t.gil,
                    last_ns,
                    last_idle,
                    last_gil,
                }
            })
            .collect();
        activity.sort_by_key(|a| a.tid);
        activity
    }
}

/// Counts over the last `window` of samples (see the module docs).
#[derive(Debug)]
pub struct WindowedSink {
    shared: Arc<Mutex<Window>>,
    /// One sample's distinct frames.
    distinct: Vec<usize>,
}

/// Reads a [`WindowedSink`] from another thread.
#[derive(Debug, Clone)]
pub struct WindowReader {
    shared: Arc<Mutex<Window>>,
}

fn lock(shared: &Mutex<Window>) -> MutexGuard<'_, Window> {
    // A panic while counting leaves counts, never a broken structure.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl WindowedSink {
    /// Counts over the last `window`, in `buckets` steps (at least one; a
    /// bucket is at least a nanosecond).
    pub fn new(window: Duration, buckets: usize) -> Self {
        let buckets = buckets.max(1);
        let window_ns = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        let window = Window {
            bucket_ns: (window_ns / buckets as u64).max(1),
            buckets,
            ring: VecDeque::with_capacity(buckets + 1),
            frames: FrameTable::new(),
            threads: HashMap::new(),
            process: None,
            latest: HashMap::new(),
        };
        WindowedSink {
            shared: Arc::new(Mutex::new(window)),
            distinct: Vec::new(),
        }
    }

    /// A handle for another thread.
    pub fn reader(&self) -> WindowReader {
        WindowReader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// What the window holds now.
    pub fn snapshot(&self) -> WindowSnapshot {
        lock(&self.shared).snapshot(None)
    }
}

impl WindowReader {
    /// What the window holds now.
    pub fn snapshot(&self) -> WindowSnapshot {
        lock(&self.shared).snapshot(None)
    }

    /// What the window holds now of thread `tid` alone (`samples` and
    /// `frames` that thread's; `activity` every thread's).
    pub fn snapshot_thread(&self, tid: u64) -> WindowSnapshot {
        lock(&self.shared).snapshot(Some(tid))
    }
}

impl FrameInterner for WindowedSink {
    fn intern_frame(&mut self, frame: Frame) -> usize {
        lock(&self.shared).frames.intern(frame)
    }
}

impl SampleSink for WindowedSink {
    fn add_sample(&mut self, sample: ThreadSample<'_>, weight: u64, at_ns: u64) {
        self.distinct.clear();
        self.distinct.extend_from_slice(sample.frames);
        self.distinct.sort_unstable();
        self.distinct.dedup();
        let mut window = lock(&self.shared);
        let tid = sample.tid;
        let latest = window.latest.entry(tid).or_insert((0, false, false));
        if at_ns >= latest.0 {
            *latest = (at_ns, sample.idle, sample.gil);
        }
        let Some(bucket) = window.bucket(at_ns) else {
            return;
        };
        let tally = bucket.threads.entry(tid).or_default();
        tally.samples += weight;
        tally.idle += if sample.idle { weight } else { 0 };
        tally.gil += if sample.gil { weight } else { 0 };
        for &id in &self.distinct {
            bucket.counts.entry((tid, id)).or_default().total += weight;
        }
        if let Some(&leaf) = sample.frames.last() {
            bucket.counts.entry((tid, leaf)).or_default().self_count += weight;
        }
    }

    fn name_thread(&mut self, tid: u64, name: Option<String>) {
        if let Some(name) = name {
            lock(&self.shared).threads.insert(tid, name);
        }
    }

    fn name_process(&mut self, pid: u32, command: Vec<String>) {
        lock(&self.shared).process = Some((pid, command));
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
