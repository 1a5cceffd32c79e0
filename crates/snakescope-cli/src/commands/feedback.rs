//! What `record` says while it records, on a terminal only: a banner at the
//! start (what is sampled, how, and how to stop) and, on long recordings, a
//! progress line redrawn in place (samples, elapsed time, effective rate),
//! erased before the summary. Nothing when stderr is not a terminal or with
//! `--quiet`, so logs and pipes get only the summary.

use snakescope_model::{Frame, FrameInterner, MemorySite, SampleSink, ThreadSample};
use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// No progress line before this: a short recording ends first.
const FIRST_DRAW: Duration = Duration::from_secs(2);
/// Between redraws.
const REDRAW: Duration = Duration::from_millis(500);

/// The banner and progress line of one recording.
pub struct Feedback {
    start: Instant,
    last_draw: Cell<Option<Instant>>,
    pub samples: AtomicU64,
}

impl Feedback {
    /// Prints the banner and returns the feedback, or `None` when stderr is
    /// not a terminal or the user asked for quiet.
    pub fn start(quiet: bool, banner: &str) -> Option<Feedback> {
        if quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        crate::stderr_line(format_args!("{banner}"));
        Some(Feedback {
            start: Instant::now(),
            last_draw: Cell::new(None),
            samples: AtomicU64::new(0),
        })
    }

    /// Redraws the progress line when it is due (called every few ms).
    pub fn tick(&self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.start);
        if elapsed < FIRST_DRAW
            || self
                .last_draw
                .get()
                .is_some_and(|t| now.duration_since(t) < REDRAW)
        {
            return;
        }
        self.last_draw.set(Some(now));
        let samples = self.samples.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let _ = write!(
            std::io::stderr().lock(),
            "\r\x1b[K  {samples} thread-samples, {secs:.1} s, {:.0} Hz",
            samples as f64 / secs
        );
    }

    /// Erases the progress line, if one was drawn.
    pub fn finish(&self) {
        if self.last_draw.get().is_some() {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }
}

/// A sink that counts the samples it passes on, for the progress line.
pub struct Counting<'a, S> {
    pub inner: S,
    pub count: Option<&'a AtomicU64>,
}

impl<S: FrameInterner> FrameInterner for Counting<'_, S> {
    fn intern_frame(&mut self, frame: Frame) -> usize {
        self.inner.intern_frame(frame)
    }
}

impl<S: SampleSink> SampleSink for Counting<'_, S> {
    fn add_sample(&mut self, sample: ThreadSample<'_>, weight: u64, at_ns: u64) {
        if let Some(count) = self.count {
            count.fetch_add(weight, Ordering::Relaxed);
        }
        self.inner.add_sample(sample, weight, at_ns);
    }

    fn name_thread(&mut self, tid: u64, name: Option<String>) {
        self.inner.name_thread(tid, name);
    }

    fn name_process(&mut self, pid: u32, command: Vec<String>) {
        self.inner.name_process(pid, command);
    }

    fn add_memory_site(&mut self, site: MemorySite) {
        self.inner.add_memory_site(site);
    }
}
