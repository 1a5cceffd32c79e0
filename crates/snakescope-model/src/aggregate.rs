//! Aggregation while sampling: interns frames and stacks so that recording one
//! more sample of a known stack costs two hash lookups and no allocation.

use crate::capture::{
    Capture, Frame, Meta, StackRecord, ThreadRecord, FORMAT_NAME, FORMAT_VERSION,
};
use crate::exact::{ExactStats, LineTimings};
use crate::frames::FrameTable;
use crate::memory::{Memory, MemorySite};
use crate::sink::{FrameInterner, SampleSink};
use std::collections::HashMap;

/// One thread's stack at one sampling instant.
#[derive(Debug, Clone, Copy)]
pub struct ThreadSample<'a> {
    pub tid: u64,
    pub idle: bool,
    pub gil: bool,
    /// Interned frame ids (from [`CaptureBuilder::intern_frame`]), root first.
    pub frames: &'a [usize],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct StackKey {
    thread: usize,
    stack: usize,
    idle: bool,
    gil: bool,
}

/// Builds a [`Capture`] incrementally.
#[derive(Debug, Default, Clone)]
pub struct CaptureBuilder {
    frames: FrameTable,
    threads: Vec<ThreadRecord>,
    thread_ids: HashMap<u64, usize>,
    /// Names given to threads that have no sample yet.
    names: HashMap<u64, String>,
    /// Each distinct stack's id, numbered in order of first sight.
    stack_ids: HashMap<Vec<usize>, usize>,
    records: Vec<StackRecord>,
    record_ids: HashMap<StackKey, usize>,
    /// The process, when named ([`SampleSink::name_process`]).
    process: Option<(u32, Vec<String>)>,
    /// Memory data, once any was added.
    memory: Option<Memory>,
    /// Index of each memory site by (stack, source).
    site_ids: HashMap<(Vec<usize>, String), usize>,
    exact: Option<ExactStats>,
    lines: Option<LineTimings>,
}

impl CaptureBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the id of `frame`, adding it if it is new.
    pub fn intern_frame(&mut self, frame: Frame) -> usize {
        self.frames.intern(frame)
    }

    /// The frame with id `id`.
    pub fn frame(&self, id: usize) -> Option<&Frame> {
        self.frames.get(id)
    }

    /// Sets the name of a thread. A thread has a record only once it has a
    /// sample: the name waits until then.
    pub fn name_thread(&mut self, tid: u64, name: Option<String>) {
        let Some(name) = name else { return };
        match self.thread_ids.get(&tid) {
            Some(&index) => self.threads[index].name = Some(name),
            None => {
                self.names.insert(tid, name);
            }
        }
    }

    /// Counts one sample of one thread.
    pub fn add(&mut self, sample: ThreadSample<'_>) {
        self.add_many(sample, 1);
    }

    /// Counts `n` samples of one thread with the same stack and state.
    pub fn add_many(&mut self, sample: ThreadSample<'_>, n: u64) {
        let thread = self.thread_index(sample.tid);
        let stack = self.stack_index(sample.frames);
        let key = StackKey {
            thread,
            stack,
            idle: sample.idle,
            gil: sample.gil,
        };
        let record = match self.record_ids.get(&key) {
            Some(&r) => r,
            None => {
                let r = self.records.len();
                self.records.push(StackRecord {
                    thread,
                    frames: sample.frames.to_vec(),
                    idle: sample.idle,
                    gil: sample.gil,
                    count: 0,
                });
                self.record_ids.insert(key, r);
                r
            }
        };
        self.records[record].count += n;
        let t = &mut self.threads[thread];
        t.samples += n;
        t.idle_samples += u64::from(sample.idle) * n;
        t.gil_samples += u64::from(sample.gil) * n;
    }

    /// Sets what memory data has besides its sites (mode, peak, timeline,
    /// census…); the sites added with [`SampleSink::add_memory_site`] stay.
    pub fn set_memory(&mut self, mut memory: Memory) {
        if let Some(old) = self.memory.take() {
            memory.sites = old.sites;
        } else {
            memory.sites.clear();
        }
        self.memory = Some(memory);
    }

    /// Adds one allocation site's totals (`site.frames`: ids from
    /// [`Self::intern_frame`]); a site with the same stack and source as one
    /// already added is added to it.
    pub fn add_memory_site(&mut self, site: MemorySite) {
        let memory = self.memory.get_or_insert_with(Memory::default);
        let key = (site.frames.clone(), site.source.clone());
        match self.site_ids.get(&key) {
            Some(&i) => {
                let s = &mut memory.sites[i];
                s.allocations += site.allocations;
                s.allocated_bytes += site.allocated_bytes;
                s.frees += site.frees;
                s.freed_bytes += site.freed_bytes;
                s.peak_bytes += site.peak_bytes;
                s.end_bytes += site.end_bytes;
                s.global_bytes += site.global_bytes;
            }
            None => {
                self.site_ids.insert(key, memory.sites.len());
                memory.sites.push(site);
            }
        }
    }

    /// Finishes the capture with its metadata (its pid and command are the
    /// process's when it was named).
    pub fn finish(self, mut meta: Meta) -> Capture {
        if let Some((pid, command)) = self.process {
            meta.pid = Some(pid);
            meta.command = command;
        }
        Capture {
            format: FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            meta,
            threads: self.threads,
            frames: self.frames.into_frames(),
            stacks: self.records,
            memory: self.memory,
            exact: self.exact,
            lines: self.lines,
            opcodes: None,
            stat: None,
            processes: Vec::new(),
            findings: None,
            tasks: None,
        }
    }

    /// Sets the exact function statistics (their frames interned here).
    pub fn set_exact(&mut self, exact: ExactStats) {
        self.exact = Some(exact);
    }

    /// Sets the line timings (their frames interned here).
    pub fn set_lines(&mut self, lines: LineTimings) {
        self.lines = Some(lines);
    }

    fn thread_index(&mut self, tid: u64) -> usize {
        if let Some(&i) = self.thread_ids.get(&tid) {
            return i;
        }
        let i = self.threads.len();
        self.threads.push(ThreadRecord {
            tid,
            name: self.names.remove(&tid),
            samples: 0,
            idle_samples: 0,
            gil_samples: 0,
            pid: None,
        });
        self.thread_ids.insert(tid, i);
        i
    }

    fn stack_index(&mut self, frames: &[usize]) -> usize {
        if let Some(&i) = self.stack_ids.get(frames) {
            return i;
        }
        let i = self.stack_ids.len();
        self.stack_ids.insert(frames.to_vec(), i);
        i
    }
}

impl FrameInterner for CaptureBuilder {
    fn intern_frame(&mut self, frame: Frame) -> usize {
        CaptureBuilder::intern_frame(self, frame)
    }
}

impl SampleSink for CaptureBuilder {
    fn add_sample(&mut self, sample: ThreadSample<'_>, weight: u64, _at_ns: u64) {
        self.add_many(sample, weight);
    }

    fn name_thread(&mut self, tid: u64, name: Option<String>) {
        CaptureBuilder::name_thread(self, tid, name);
    }

    fn name_process(&mut self, pid: u32, command: Vec<String>) {
        self.process = Some((pid, command));
    }

    fn add_memory_site(&mut self, site: MemorySite) {
        CaptureBuilder::add_memory_site(self, site);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str, line: u32) -> Frame {
        Frame {
            function: name.into(),
            qualname: None,
            file: "a.py".into(),
            line,
        }
    }

    #[test]
    fn identical_samples_share_one_record() {
        let mut b = CaptureBuilder::new();
        b.name_thread(7, Some("worker".into()));
        let main = b.intern_frame(frame("main", 1));
        let work = b.intern_frame(frame("work", 5));
        assert_eq!(b.intern_frame(frame("work", 5)), work);
        for _ in 0..3 {
            b.add(ThreadSample {
                tid: 7,
                idle: false,
                gil: true,
                frames: &[main, work],
            });
        }
        b.add(ThreadSample {
            tid: 7,
            idle: true,
            gil: false,
            frames: &[main, work],
        });
        b.name_thread(8, Some("never sampled".into()));
        let c = b.finish(Meta::default());
        assert_eq!(
            c.threads.len(),
            1,
            "a named thread without samples has no record"
        );
        assert_eq!(c.stacks.len(), 2);
        assert_eq!(c.stacks[0].count, 3);
        assert_eq!(c.threads[0].samples, 4);
        assert_eq!(c.threads[0].name.as_deref(), Some("worker"));
        assert_eq!(c.threads[0].idle_samples, 1);
        assert_eq!(c.threads[0].gil_samples, 3);
        assert_eq!(c.total_samples(), 4);
    }

    #[test]
    fn round_trip_and_validation() {
        let mut b = CaptureBuilder::new();
        let f = b.intern_frame(frame("f", 2));
        b.add(ThreadSample {
            tid: 1,
            idle: false,
            gil: false,
            frames: &[f],
        });
        let c = b.finish(Meta {
            duration_s: 1.0,
            ticks: 10,
            lost_ticks: 2,
            ..Meta::default()
        });
        assert_eq!(c.meta.effective_rate_hz(), 8.0);
        let mut buf = Vec::new();
        c.write_to(&mut buf).unwrap();
        assert_eq!(Capture::read_from(&buf[..]).unwrap(), c);

        let mut bad = c.clone();
        bad.stacks[0].frames = vec![9];
        let mut buf = Vec::new();
        bad.write_to(&mut buf).unwrap();
        assert!(matches!(
            Capture::read_from(&buf[..]),
            Err(crate::CaptureError::Inconsistent(_))
        ));
        assert!(matches!(
            Capture::read_from(&b"{\"format\":\"x\"}"[..]),
            Err(crate::CaptureError::WrongFormat(_))
        ));
        assert!(matches!(
            Capture::read_from(&b"{not json"[..]),
            Err(crate::CaptureError::Json(_))
        ));
    }

    fn site(frames: Vec<usize>, source: &str, bytes: u64) -> MemorySite {
        MemorySite {
            frames,
            source: source.into(),
            allocations: 1,
            allocated_bytes: bytes,
            frees: 1,
            freed_bytes: bytes / 2,
            peak_bytes: bytes,
            end_bytes: bytes / 2,
            global_bytes: 0,
        }
    }

    #[test]
    fn memory_sites_and_process_through_the_sink() {
        let mut b = CaptureBuilder::new();
        let sink: &mut dyn SampleSink = &mut b;
        let f = sink.intern_frame(frame("alloc", 3));
        sink.add_memory_site(site(vec![f], "python", 100));
        sink.add_memory_site(site(vec![f], "native", 10));
        sink.add_memory_site(site(vec![f], "python", 50));
        sink.name_process(9, vec!["python3".into(), "m.py".into()]);
        b.set_memory(Memory {
            mode: "exact".into(),
            sample_interval_bytes: 1,
            peak_bytes: 160,
            sites: vec![site(vec![7], "ignored", 1)],
            ..Memory::default()
        });
        let c = b.finish(Meta {
            pid: Some(1),
            ..Meta::default()
        });
        assert_eq!((c.meta.pid, c.meta.command.len()), (Some(9), 2));
        let m = c.memory.expect("memory was added");
        assert_eq!((m.mode.as_str(), m.peak_bytes), ("exact", 160));
        assert_eq!(m.sites.len(), 2, "equal stack and source: one site");
        let python = &m.sites[0];
        assert_eq!(python.source, "python");
        assert_eq!(
            (
                python.allocations,
                python.allocated_bytes,
                python.freed_bytes
            ),
            (2, 150, 75)
        );
        assert_eq!((python.peak_bytes, python.end_bytes), (150, 75));
        assert_eq!(m.sites[1].allocated_bytes, 10);
        assert_eq!(c.frames[m.sites[1].frames[0]].function, "alloc");
        // Memory set before any site: no sites, not the ones given.
        let mut b = CaptureBuilder::new();
        b.set_memory(Memory {
            sites: vec![site(vec![0], "python", 1)],
            ..Memory::default()
        });
        assert_eq!(
            b.finish(Meta::default()).memory.map(|m| m.sites.len()),
            Some(0)
        );
    }
}
