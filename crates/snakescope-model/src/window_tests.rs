//! The windowed sink, with samples whose counts are known by construction.

use super::*;
use crate::{CaptureBuilder, Meta, Tee};

fn frame(name: &str) -> Frame {
    Frame {
        function: name.into(),
        qualname: None,
        file: "w.py".into(),
        line: 1,
    }
}

const MS: u64 = 1_000_000;

fn add(sink: &mut impl SampleSink, frames: &[usize], weight: u64, at_ns: u64) {
    let sample = ThreadSample {
        tid: 1,
        idle: false,
        gil: true,
        frames,
    };
    sink.add_sample(sample, weight, at_ns);
}

fn counts(s: &WindowSnapshot, name: &str) -> (u64, u64) {
    s.function(name).map_or((0, 0), |c| (c.self_count, c.total))
}

#[test]
fn self_and_total_counts_within_the_window() {
    let mut w = WindowedSink::new(Duration::from_secs(1), 10);
    let [main, work, leaf, other, rec] =
        ["main", "work", "leaf", "other", "rec"].map(|n| w.intern_frame(frame(n)));
    add(&mut w, &[main, work, leaf], 3, 10 * MS);
    add(&mut w, &[main, other], 1, 20 * MS);
    add(&mut w, &[main, other], 1, 950 * MS);
    // Recursion: `rec` twice on one stack is one sample of it.
    add(&mut w, &[main, rec, rec], 1, 500 * MS);
    let s = w.snapshot();
    assert_eq!(s.samples, 6);
    assert_eq!(counts(&s, "main"), (0, 6));
    assert_eq!(counts(&s, "work"), (0, 3));
    assert_eq!(counts(&s, "leaf"), (3, 3));
    assert_eq!(counts(&s, "other"), (2, 2));
    assert_eq!(counts(&s, "rec"), (1, 1));
    assert_eq!(s.frames[0].frame.function, "main", "highest total first");
    assert_eq!((s.from_ns, s.to_ns), (0, 1000 * MS));
    let self_sum: u64 = s.frames.iter().map(|c| c.self_count).sum();
    assert_eq!(self_sum, s.samples, "every sample has one innermost frame");
}

#[test]
fn older_samples_are_dropped() {
    // 1 s in 100 ms buckets.
    let mut w = WindowedSink::new(Duration::from_secs(1), 10);
    let [a, b, c] = ["a", "b", "c"].map(|n| w.intern_frame(frame(n)));
    add(&mut w, &[a], 1, 50 * MS); // bucket 0
    add(&mut w, &[b], 2, 550 * MS); // bucket 5
    assert_eq!(w.snapshot().samples, 3);
    add(&mut w, &[c], 4, 1050 * MS); // bucket 10: the window is 1..=10
    let s = w.snapshot();
    assert_eq!(
        (s.samples, counts(&s, "a"), counts(&s, "b")),
        (6, (0, 0), (2, 2))
    );
    assert_eq!((s.from_ns, s.to_ns), (100 * MS, 1100 * MS));
    // A sample arriving late, older than the window: not counted.
    add(&mut w, &[a], 1, 20 * MS);
    assert_eq!(w.snapshot().samples, 6);
    // One in an earlier bucket still inside the window: counted.
    add(&mut w, &[a], 1, 120 * MS);
    assert_eq!(counts(&w.snapshot(), "a"), (1, 1));
    add(&mut w, &[c], 1, 1560 * MS); // bucket 15: the window is 6..=15
    let s = w.snapshot();
    assert_eq!(
        (s.samples, counts(&s, "a"), counts(&s, "b")),
        (5, (0, 0), (0, 0))
    );
    assert_eq!(counts(&s, "c"), (5, 5));
    // Long after: only the newest sample.
    add(&mut w, &[b], 1, 60_000 * MS);
    let s = w.snapshot();
    assert_eq!(
        (s.samples, counts(&s, "b"), counts(&s, "c")),
        (1, (1, 1), (0, 0))
    );
}

#[test]
fn read_from_another_thread_while_sampling() {
    let mut w = WindowedSink::new(Duration::from_secs(10), 5);
    let reader = w.reader();
    let f = w.intern_frame(frame("f"));
    w.name_thread(1, Some("MainThread".into()));
    w.name_process(42, vec!["python3".into(), "x.py".into()]);
    let watcher = std::thread::spawn(move || {
        let mut seen = 0;
        while seen < 1000 {
            let now = reader.snapshot().samples;
            assert!(now >= seen, "counts only grow within the window");
            seen = now;
            std::thread::yield_now();
        }
        reader.snapshot()
    });
    for i in 0..1000 {
        add(&mut w, &[f], 1, i * MS);
    }
    let s = watcher.join().unwrap();
    assert_eq!(counts(&s, "f"), (1000, 1000));
    assert_eq!(s.threads, vec![(1, "MainThread".to_owned())]);
    assert_eq!(s.process, Some((42, vec!["python3".into(), "x.py".into()])));
}

#[test]
fn a_tee_gives_both_sinks_the_same_samples() {
    let mut window = WindowedSink::new(Duration::from_secs(1), 4);
    // The second sink numbers frames differently from the first.
    window.intern_frame(frame("seen before"));
    let reader = window.reader();
    let mut tee = Tee::new(CaptureBuilder::new(), window);
    let main = tee.intern_frame(frame("main"));
    let work = tee.intern_frame(frame("work"));
    add(&mut tee, &[main, work], 2, MS);
    add(&mut tee, &[main], 1, 2 * MS);
    tee.name_thread(1, Some("T".into()));
    let (builder, _) = tee.into_inner();
    let capture = builder.finish(Meta::default());
    assert_eq!(capture.total_samples(), 3);
    assert_eq!(capture.threads[0].name.as_deref(), Some("T"));
    let s = reader.snapshot();
    assert_eq!((counts(&s, "main"), counts(&s, "work")), ((1, 3), (2, 2)));
    assert_eq!(counts(&s, "seen before"), (0, 0));
}

#[test]
fn a_tee_maps_memory_sites_to_each_sinks_frames() {
    let mut second = CaptureBuilder::new();
    second.intern_frame(frame("only in the second"));
    let mut tee = Tee::new(CaptureBuilder::new(), second);
    let f = tee.intern_frame(frame("alloc"));
    tee.add_memory_site(crate::MemorySite {
        frames: vec![f],
        source: "native".into(),
        allocations: 1,
        allocated_bytes: 64,
        ..crate::MemorySite::default()
    });
    tee.name_process(5, vec!["p".into()]);
    let (a, b) = tee.into_inner();
    for c in [a.finish(Meta::default()), b.finish(Meta::default())] {
        let site = &c.memory.as_ref().unwrap().sites[0];
        assert_eq!(c.frames[site.frames[0]].function, "alloc");
        assert_eq!((site.allocated_bytes, c.meta.pid), (64, Some(5)));
    }
}

fn on(tid: u64, idle: bool, gil: bool, frames: &[usize]) -> ThreadSample<'_> {
    ThreadSample {
        tid,
        idle,
        gil,
        frames,
    }
}

#[test]
fn one_thread_alone_and_every_threads_activity() {
    let mut w = WindowedSink::new(Duration::from_secs(1), 10);
    let reader = w.reader();
    let [a, b] = ["a", "b"].map(|n| w.intern_frame(frame(n)));
    w.add_sample(on(1, false, true, &[a]), 3, 10 * MS);
    w.add_sample(on(2, true, false, &[a, b]), 2, 20 * MS);
    w.add_sample(on(2, false, true, &[b]), 1, 30 * MS);
    let all = reader.snapshot();
    assert_eq!(
        (all.samples, counts(&all, "a"), counts(&all, "b")),
        (6, (3, 5), (3, 3))
    );
    let two = reader.snapshot_thread(2);
    assert_eq!(
        (two.samples, counts(&two, "a"), counts(&two, "b")),
        (3, (0, 2), (3, 3))
    );
    assert_eq!(reader.snapshot_thread(7).samples, 0);
    let t2 = &two.activity[1];
    assert_eq!(two.activity.len(), 2);
    assert_eq!((t2.tid, t2.samples, t2.idle, t2.gil), (2, 3, 2, 1));
    assert_eq!(
        (t2.last_ns, t2.last_idle, t2.last_gil),
        (30 * MS, false, true)
    );
    // Out of the window: no samples counted there, the latest sample kept.
    w.add_sample(on(2, false, false, &[b]), 1, 5000 * MS);
    let t1 = &reader.snapshot().activity[0];
    assert_eq!((t1.tid, t1.samples, t1.last_ns), (1, 0, 10 * MS));
}
