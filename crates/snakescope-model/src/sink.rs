//! Where samples go: [`SampleSink`], implemented by the capture builder (a
//! capture written at the end), the windowed sink (counts over the last
//! seconds, read while sampling goes on) and [`Tee`] (two sinks at once).
//!
//! A reader (the sampler, `dump`, later the memory hooks) interns each frame
//! once and passes stacks as the ids it got back, so a sample of a known
//! stack costs no allocation.

use crate::aggregate::ThreadSample;
use crate::capture::Frame;
use crate::frames::FrameTable;
use crate::memory::MemorySite;

/// Numbers frames: all a reader needs to turn a stack into ids (see
/// `snakescope_remote::StackWalk`). Every sink is one, and so is the
/// interner itself, [`FrameTable`], for a reader that keeps frames until it
/// hands them to a sink (the memory hooks' allocation sites).
pub trait FrameInterner {
    /// The id of `frame`, adding it if it is new. Ids are dense: 0, 1, 2…
    /// in the order frames were first interned.
    fn intern_frame(&mut self, frame: Frame) -> usize;
}

impl FrameInterner for FrameTable {
    fn intern_frame(&mut self, frame: Frame) -> usize {
        self.intern(frame)
    }
}

impl<S: FrameInterner + ?Sized> FrameInterner for &mut S {
    fn intern_frame(&mut self, frame: Frame) -> usize {
        (**self).intern_frame(frame)
    }
}

/// Receives what a reader of a Python process finds; frame ids are those
/// of its [`FrameInterner`].
pub trait SampleSink: FrameInterner {
    /// Counts `weight` samples of one thread with this stack and state
    /// (`sample.frames`: ids from [`Self::intern_frame`], root first), taken
    /// at `at_ns` nanoseconds from the start of the recording (a sample that
    /// waited for its thread's CPU counters carries the time it was
    /// confirmed, a few milliseconds later).
    fn add_sample(&mut self, sample: ThreadSample<'_>, weight: u64, at_ns: u64);

    /// Names a thread (`None`: no name known; a name set before stays).
    fn name_thread(&mut self, tid: u64, name: Option<String>);

    /// Names the process sampled: its pid and command line.
    fn name_process(&mut self, pid: u32, command: Vec<String>);

    /// Adds one allocation site's totals (`site.frames`: ids from
    /// [`Self::intern_frame`]). A sink that shows only time ignores it.
    fn add_memory_site(&mut self, site: MemorySite) {
        let _ = site;
    }
}

impl<S: SampleSink + ?Sized> SampleSink for &mut S {
    fn add_sample(&mut self, sample: ThreadSample<'_>, weight: u64, at_ns: u64) {
        (**self).add_sample(sample, weight, at_ns);
    }

    fn name_thread(&mut self, tid: u64, name: Option<String>) {
        (**self).name_thread(tid, name);
    }

    fn name_process(&mut self, pid: u32, command: Vec<String>) {
        (**self).name_process(pid, command);
    }

    fn add_memory_site(&mut self, site: MemorySite) {
        (**self).add_memory_site(site);
    }
}

/// Two sinks fed the same samples (e.g. the capture and a live view). Its
/// frame ids are the first sink's; the second's are mapped, so every frame
/// a sample names must have been interned through the tee.
#[derive(Debug)]
pub struct Tee<A, B> {
    pub first: A,
    pub second: B,
    /// The second sink's id of each of the first sink's ids.
    second_ids: Vec<usize>,
    buffer: Vec<usize>,
}

impl<A: SampleSink, B: SampleSink> Tee<A, B> {
    pub fn new(first: A, second: B) -> Self {
        Tee {
            first,
            second,
            second_ids: Vec::new(),
            buffer: Vec::new(),
        }
    }

    /// The two sinks.
    pub fn into_inner(self) -> (A, B) {
        (self.first, self.second)
    }

    fn map(&mut self, frames: &[usize]) {
        self.buffer.clear();
        self.buffer
            .extend(frames.iter().map(|&id| self.second_ids[id]));
    }
}

impl<A: SampleSink, B: SampleSink> FrameInterner for Tee<A, B> {
    fn intern_frame(&mut self, frame: Frame) -> usize {
        let second = self.second.intern_frame(frame.clone());
        let first = self.first.intern_frame(frame);
        if self.second_ids.len() <= first {
            self.second_ids.resize(first + 1, usize::MAX);
        }
        self.second_ids[first] = second;
        first
    }
}

impl<A: SampleSink, B: SampleSink> SampleSink for Tee<A, B> {
    fn add_sample(&mut self, sample: ThreadSample<'_>, weight: u64, at_ns: u64) {
        self.first.add_sample(sample, weight, at_ns);
        self.map(sample.frames);
        let frames = std::mem::take(&mut self.buffer);
        self.second.add_sample(
            ThreadSample {
                frames: &frames,
                ..sample
            },
            weight,
            at_ns,
        );
        self.buffer = frames;
    }

    fn name_thread(&mut self, tid: u64, name: Option<String>) {
        self.second.name_thread(tid, name.clone());
        self.first.name_thread(tid, name);
    }

    fn name_process(&mut self, pid: u32, command: Vec<String>) {
        self.second.name_process(pid, command.clone());
        self.first.name_process(pid, command);
    }

    fn add_memory_site(&mut self, site: MemorySite) {
        self.map(&site.frames);
        let second = MemorySite {
            frames: self.buffer.clone(),
            ..site.clone()
        };
        self.second.add_memory_site(second);
        self.first.add_memory_site(site);
    }
}
