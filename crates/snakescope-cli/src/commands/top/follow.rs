//! `run --live`: the live view of a program under the in-process agent, fed
//! from the captures the agent writes every second (`CaptureSource`'s
//! snapshots) rather than from a sampler in this process.
//!
//! Each new snapshot, less the one before (stack records are only ever
//! added and counted up: `web::minus`), is what the agent sampled in that
//! second: it goes into the view's windows as samples at the snapshot's
//! time, so the sliding window and "since the start" read as they do for
//! `top`. The agent's tick counts give the achieved rate, and its memory
//! section the heap panel.

use super::heap::Heap;
use super::live::CaptureSource;
use snakescope_model::{Capture, SampleSink, ThreadSample};
use snakescope_remote::TickCounts;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How often the snapshot file is looked at.
const LOOK: Duration = Duration::from_millis(200);

/// What the view reads besides the windows.
pub(super) struct Shared<'a> {
    pub ticks: &'a TickCounts,
    pub heap: &'a Mutex<Option<Heap>>,
    pub python_version: &'a OnceLock<String>,
}

/// Feeds `sink` from `source` until `stop`, or the program `pid` has ended
/// and its last snapshot is read.
pub(super) fn follow(
    source: &CaptureSource,
    sink: &mut impl SampleSink,
    shared: &Shared<'_>,
    stop: &AtomicBool,
    pid: u32,
) {
    let mut before: Option<Capture> = None;
    let mut named = HashSet::new();
    loop {
        let alive = super::process_alive(pid);
        let now = source.now();
        let newer = before
            .as_ref()
            .map_or(!now.stacks.is_empty() || now.memory.is_some(), |b| {
                now.meta.duration_s > b.meta.duration_s
            });
        if newer {
            feed(sink, &now, before.as_ref(), &mut named);
            let ticks = shared.ticks;
            ticks.ticks.store(now.meta.ticks, Ordering::Relaxed);
            ticks.lost.store(now.meta.lost_ticks, Ordering::Relaxed);
            ticks.now_ns.store(at_ns(&now), Ordering::Relaxed);
            *shared.heap.lock().unwrap_or_else(|e| e.into_inner()) = Heap::of(&now);
            if let Some(v) = &now.meta.python_version {
                let _ = shared.python_version.set(v.clone());
            }
            before = Some(now);
        }
        if stop.load(Ordering::Relaxed) || !alive {
            return;
        }
        std::thread::sleep(LOOK);
    }
}

/// The snapshot's time, in nanoseconds from the start (the samples' clock).
fn at_ns(capture: &Capture) -> u64 {
    (capture.meta.duration_s.max(0.0) * 1e9) as u64
}

/// Adds what `now` holds beyond `before` to `sink`, at `now`'s time.
fn feed(
    sink: &mut impl SampleSink,
    now: &Capture,
    before: Option<&Capture>,
    named: &mut HashSet<u64>,
) {
    let new = match before {
        Some(b) => super::web::minus(now.clone(), b),
        None => now.clone(),
    };
    for t in &new.threads {
        if named.insert(t.tid) {
            sink.name_thread(t.tid, t.name.clone());
        }
    }
    let at = at_ns(now);
    for stack in &new.stacks {
        let Some(thread) = new.threads.get(stack.thread) else {
            continue;
        };
        let frames: Vec<usize> = stack
            .frames
            .iter()
            .filter_map(|&f| new.frames.get(f))
            .map(|f| sink.intern_frame(f.clone()))
            .collect();
        let sample = ThreadSample {
            tid: thread.tid,
            idle: stack.idle,
            gil: stack.gil,
            frames: &frames,
        };
        sink.add_sample(sample, stack.count, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snakescope_model::{CaptureBuilder, Frame, Meta, WindowedSink};

    fn add(b: &mut CaptureBuilder, name: &str, n: u64) {
        let f = b.intern_frame(Frame {
            function: name.into(),
            qualname: None,
            file: "f.py".into(),
            line: 1,
        });
        let sample = ThreadSample {
            tid: 7,
            idle: false,
            gil: true,
            frames: &[f],
        };
        b.add_sample(sample, n, 0);
    }

    #[test]
    fn each_snapshot_adds_what_it_holds_beyond_the_last() {
        let mut b = CaptureBuilder::new();
        add(&mut b, "a", 4);
        let first = b.clone().finish(Meta {
            duration_s: 1.0,
            ..Meta::default()
        });
        add(&mut b, "a", 1);
        add(&mut b, "b", 5);
        let second = b.finish(Meta {
            duration_s: 2.0,
            ..Meta::default()
        });
        let sink = WindowedSink::new(Duration::from_secs(100), 1);
        let reader = sink.reader();
        let mut sink = sink;
        let mut named = HashSet::new();
        feed(&mut sink, &first, None, &mut named);
        feed(&mut sink, &second, Some(&first), &mut named);
        let snap = reader.snapshot();
        let mut counts: Vec<(String, u64)> = snap
            .frames
            .iter()
            .map(|c| (c.frame.function.clone(), c.self_count))
            .collect();
        counts.sort();
        assert_eq!(counts, [("a".to_owned(), 5), ("b".to_owned(), 5)]);
        assert_eq!(snap.samples, 10);
        assert_eq!(named, HashSet::from([7]));
    }
}
