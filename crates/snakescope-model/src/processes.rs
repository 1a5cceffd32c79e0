//! Several processes in one capture (`record --subprocesses`): each
//! process's threads carry its pid, and the capture's `processes` table
//! says what each process was. A capture of one process has no table and
//! looks as it always did.

use crate::capture::{Capture, StackRecord, ThreadRecord};
use crate::frames::FrameTable;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One process of a capture that followed a program's child processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProcessRecord {
    /// The process id.
    pub pid: u32,
    /// The parent's process id, when known.
    #[serde(default)]
    pub ppid: Option<u32>,
    /// Its command line, as `/proc/PID/cmdline` gave it when first seen.
    #[serde(default)]
    pub command: Vec<String>,
    /// `main` (the process recorded), `pool worker` (a `multiprocessing`
    /// pool's or a `ProcessPoolExecutor`'s worker), `worker` (another
    /// `multiprocessing` process), `forkserver`, `resource tracker`, or
    /// `child` (any other Python process it started).
    pub role: String,
    /// When it was first sampled, in seconds from the start of the recording.
    #[schemars(range(min = 0))]
    pub start_s: f64,
    /// When sampling it ended (it exited, or the recording stopped), in
    /// seconds from the start of the recording.
    #[schemars(range(min = 0))]
    pub end_s: f64,
    /// Its exit status (`-N`: killed by signal `N`), when known: only the
    /// launched command's is, since the others are not snakescope's children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Sampling instants of this process, and of those the ones lost (see
    /// `meta.ticks` and `meta.lost_ticks`).
    #[serde(default)]
    pub ticks: u64,
    #[serde(default)]
    pub lost_ticks: u64,
    /// Samples of its threads.
    pub samples: u64,
    /// Of those, the ones where a thread was idle.
    #[serde(default)]
    pub idle_samples: u64,
}

/// Roles given by [`role_of`] from what a process ran.
pub const ROLE_MAIN: &str = "main";
pub const ROLE_POOL_WORKER: &str = "pool worker";

/// The role of a process that is not the main one, from the files and
/// functions its samples show and else its command line.
pub fn role_of(capture: &Capture, pid: u32, command: &[String]) -> &'static str {
    let frames: Vec<&crate::capture::Frame> = capture
        .stacks
        .iter()
        .filter(|s| capture.threads[s.thread].pid == Some(pid))
        .flat_map(|s| s.frames.iter().map(|&f| &capture.frames[f]))
        .collect();
    let any = |file: &str, function: &str| {
        frames
            .iter()
            .any(|f| f.file.ends_with(file) && f.function == function)
    };
    if any("multiprocessing/pool.py", "worker")
        || any("concurrent/futures/process.py", "_process_worker")
    {
        return ROLE_POOL_WORKER;
    }
    let line = command.join(" ");
    if any("multiprocessing/forkserver.py", "main") || line.contains("multiprocessing.forkserver") {
        return "forkserver";
    }
    if any("multiprocessing/resource_tracker.py", "main")
        || line.contains("multiprocessing.resource_tracker")
    {
        return "resource tracker";
    }
    if any("multiprocessing/process.py", "_bootstrap") || line.contains("--multiprocessing-fork") {
        return "worker";
    }
    "child"
}

impl Capture {
    /// Whether this capture holds several processes' samples.
    pub fn has_processes(&self) -> bool {
        self.processes.len() > 1
    }

    /// The pid of the process thread `thread` (an index into `threads`)
    /// belongs to: its own when recorded, else the capture's.
    pub fn thread_pid(&self, thread: usize) -> Option<u32> {
        self.threads
            .get(thread)
            .and_then(|t| t.pid)
            .or(self.meta.pid)
    }

    /// Marks every thread as `pid`'s (before merging other processes in).
    pub fn set_thread_pids(&mut self, pid: u32) {
        for t in &mut self.threads {
            t.pid = Some(pid);
        }
    }

    /// Adds `other`'s samples (another process's, its threads marked with
    /// its pid by [`Self::set_thread_pids`]): frames are shared, threads
    /// and stacks appended, or added to those of the same thread (pid and
    /// tid: a process sampled twice, before and after an `exec`). Its
    /// metadata is left out, but for its torn stacks.
    pub fn merge_samples(&mut self, other: Capture) {
        let mut table = FrameTable::default();
        for f in std::mem::take(&mut self.frames) {
            table.intern(f);
        }
        let ids: Vec<usize> = other.frames.into_iter().map(|f| table.intern(f)).collect();
        self.frames = table.into_frames();
        let threads: Vec<usize> = other
            .threads
            .into_iter()
            .map(|t| self.merge_thread(t))
            .collect();
        let mut known: HashMap<(usize, Vec<usize>, bool, bool), usize> = self
            .stacks
            .iter()
            .enumerate()
            .map(|(i, s)| ((s.thread, s.frames.clone(), s.idle, s.gil), i))
            .collect();
        for s in other.stacks {
            let frames: Vec<usize> = s.frames.iter().map(|&f| ids[f]).collect();
            let key = (threads[s.thread], frames, s.idle, s.gil);
            match known.get(&key) {
                Some(&i) => self.stacks[i].count += s.count,
                None => {
                    known.insert(key.clone(), self.stacks.len());
                    self.stacks.push(StackRecord {
                        thread: key.0,
                        frames: key.1,
                        ..s
                    });
                }
            }
        }
        self.meta.torn_stacks += other.meta.torn_stacks;
    }

    /// The index of `thread` among this capture's threads once added: that
    /// of the same pid and tid, its counts added, or a new one.
    fn merge_thread(&mut self, thread: ThreadRecord) -> usize {
        let same = |t: &ThreadRecord| t.tid == thread.tid && t.pid == thread.pid;
        match self.threads.iter().position(same) {
            Some(i) => {
                let t = &mut self.threads[i];
                t.samples += thread.samples;
                t.idle_samples += thread.idle_samples;
                t.gil_samples += thread.gil_samples;
                t.name = thread.name.or(t.name.take());
                i
            }
            None => {
                self.threads.push(thread);
                self.threads.len() - 1
            }
        }
    }

    /// Keeps only process `pid`'s threads and samples (`report --pid`); its
    /// row of the process table stays, as the only one.
    pub fn keep_process(&mut self, pid: u32) {
        let keep: Vec<bool> = (0..self.threads.len())
            .map(|t| self.thread_pid(t) == Some(pid))
            .collect();
        let mut new_index = vec![usize::MAX; keep.len()];
        let mut threads: Vec<ThreadRecord> = Vec::new();
        for (i, t) in std::mem::take(&mut self.threads).into_iter().enumerate() {
            if keep[i] {
                new_index[i] = threads.len();
                threads.push(t);
            }
        }
        self.threads = threads;
        self.stacks.retain(|s| keep[s.thread]);
        for s in &mut self.stacks {
            s.thread = new_index[s.thread];
        }
        self.processes.retain(|p| p.pid == pid);
        self.meta.pid = Some(pid);
        if let Some(p) = self.processes.first() {
            self.meta.command = p.command.clone();
        }
    }

    /// The pids a capture holds samples of, in the order of its table (or
    /// its own pid).
    pub fn pids(&self) -> Vec<u32> {
        if self.processes.is_empty() {
            return self.meta.pid.into_iter().collect();
        }
        self.processes.iter().map(|p| p.pid).collect()
    }

    /// Fills each process's sample counts from its threads.
    pub fn count_process_samples(&mut self) {
        for p in &mut self.processes {
            let mine = self.threads.iter().filter(|t| t.pid == Some(p.pid));
            (p.samples, p.idle_samples) =
                mine.fold((0, 0), |(s, i), t| (s + t.samples, i + t.idle_samples));
        }
    }

    /// The label of the process of thread `thread` at the root of a merged
    /// stack (`process 1234 (pool worker)`), when the capture holds several.
    pub fn process_label(&self, thread: usize) -> Option<String> {
        if !self.has_processes() {
            return None;
        }
        let pid = self.thread_pid(thread)?;
        let role = self
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .map_or("child", |p| p.role.as_str());
        Some(format!("process {pid} ({role})"))
    }
}

#[cfg(test)]
mod tests {
    use crate::{CaptureBuilder, Frame, Meta, ThreadSample};

    fn one(pid: u32, function: &str, n: u64) -> crate::Capture {
        let mut b = CaptureBuilder::new();
        let shared = b.intern_frame(Frame {
            function: "main".into(),
            qualname: None,
            file: "m.py".into(),
            line: 1,
        });
        let own = b.intern_frame(Frame {
            function: function.into(),
            qualname: None,
            file: "m.py".into(),
            line: 2,
        });
        b.add_many(
            ThreadSample {
                tid: u64::from(pid),
                idle: false,
                gil: true,
                frames: &[shared, own],
            },
            n,
        );
        let mut c = b.finish(Meta {
            pid: Some(pid),
            ..Meta::default()
        });
        c.set_thread_pids(pid);
        c
    }

    fn process(pid: u32, role: &str) -> super::ProcessRecord {
        super::ProcessRecord {
            pid,
            ppid: None,
            command: vec![format!("p{pid}")],
            role: role.into(),
            start_s: 0.0,
            end_s: 1.0,
            exit_code: None,
            ticks: 0,
            lost_ticks: 0,
            samples: 0,
            idle_samples: 0,
        }
    }

    #[test]
    fn merging_shares_frames_and_keeps_each_process_apart() {
        let mut c = one(10, "parent", 3);
        c.merge_samples(one(11, "child", 5));
        c.processes = vec![process(10, "main"), process(11, "pool worker")];
        c.count_process_samples();
        assert_eq!(c.frames.len(), 3, "the shared frame is interned once");
        assert_eq!(c.total_samples(), 8);
        assert_eq!((c.processes[0].samples, c.processes[1].samples), (3, 5));
        assert_eq!(
            c.process_label(1).as_deref(),
            Some("process 11 (pool worker)")
        );
        let child = &c.stacks[1];
        assert_eq!(c.frames[child.frames[1]].function, "child");
        let mut only = c.clone();
        only.keep_process(11);
        assert_eq!((only.total_samples(), only.threads.len()), (5, 1));
        assert_eq!(only.process_label(0), None, "one process: no label");
        assert_eq!(only.meta.pid, Some(11));
        let mut buf = Vec::new();
        c.write_to(&mut buf).unwrap();
        assert_eq!(crate::Capture::read_from(&buf[..]).unwrap(), c);
        // The same process again (sampled before and after an `exec`): one
        // thread, one stack record, the counts added.
        c.merge_samples(one(11, "child", 2));
        c.count_process_samples();
        assert_eq!((c.threads.len(), c.stacks.len()), (2, 2));
        assert_eq!((c.processes[1].samples, c.stacks[1].count), (7, 7));
    }

    #[test]
    fn one_process_writes_no_table_and_no_thread_pid() {
        let mut b = CaptureBuilder::new();
        b.add(ThreadSample {
            tid: 1,
            idle: false,
            gil: false,
            frames: &[],
        });
        let json = serde_json::to_string(&b.finish(Meta::default())).unwrap();
        assert!(!json.contains("processes") && !json.contains("\"pid\":null,\"n"));
        assert!(!json.contains("ppid"));
    }
}
