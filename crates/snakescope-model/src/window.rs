//! A sink for a live view: per-frame counts over the last few seconds, read
//! from another thread while sampling goes on.
//!
//! Samples fall into time buckets (`window / buckets` wide, by the time the
//! reader gives each sample); the window is the newest bucket and the ones
//! before it, up to `buckets` of them. A sample older than that is dropped,
//! and so is a bucket once a newer sample pushes it out. Each bucket keeps,
//! per frame, its *self* count (samples whose innermost frame it is) and its
//! *total* count (samples with it anywhere on the stack, once per sample
//! however often it recurs). The sampling thread takes an uncontended lock
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

#[derive(Debug)]
struct Bucket {
    index: u64,
    samples: u64,
    counts: HashMap<usize, Counts>,
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
                samples: 0,
                counts: HashMap::new(),
            };
            self.ring.insert(at, bucket);
        }
        self.ring.get_mut(at)
    }

    fn snapshot(&self) -> WindowSnapshot {
        let mut sum: HashMap<usize, Counts> = HashMap::new();
        let mut samples = 0;
        for b in &self.ring {
            samples += b.samples;
            for (&id, c) in &b.counts {
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
        }
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
        lock(&self.shared).snapshot()
    }
}

impl WindowReader {
    /// What the window holds now.
    pub fn snapshot(&self) -> WindowSnapshot {
        lock(&self.shared).snapshot()
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
        let Some(bucket) = window.bucket(at_ns) else {
            return;
        };
        bucket.samples += weight;
        for &id in &self.distinct {
            bucket.counts.entry(id).or_default().total += weight;
        }
        if let Some(&leaf) = sample.frames.last() {
            bucket.counts.entry(leaf).or_default().self_count += weight;
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
