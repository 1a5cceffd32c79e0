//! `--async`: stacks that follow asyncio's tasks. At each tick the sampler
//! reads the pending tasks ([`TaskFinder`]: from `asyncio.tasks`' sets up
//! to 3.13, from the lists headed in the tick's thread states on 3.14+); a
//! thread's stack that runs a task's coroutine is re-rooted at a synthetic
//! frame naming the task (`<task Task-2: worker()>`, above the coroutine's
//! frame instead of the event loop's frames), and every task not running
//! is counted as waiting at the `await` its coroutine is suspended at. The
//! task table ([`AsyncTasks`]) is handed out at the end like `--opcodes`'
//! counts.

use crate::stack::{model_frame, StackWalk};
use rustc_hash::FxHashMap;
use snakescope_model::{AsyncTasks, AwaitRecord, Frame, FrameInterner, TaskRecord, TASKS_VERSION};
use snakescope_unwind::{
    type_name, MemoryReader, TaskFinder, TaskInfo, TaskLayout, ThreadInfo, Walker,
};
use std::time::{Duration, Instant};

/// Ticks between looks for `asyncio.tasks` while it has not been found
/// (a program imports asyncio when it likes), and between re-looks once
/// found (a registry could be replaced; 3.14+: an interpreter made, whose
/// list is then read too).
const LOOK_EVERY: u64 = 50;
const RELOOK_EVERY: u64 = 1000;
/// Most suspended tasks whose frame is read per tick: with more, each is
/// read every `stride` ticks (in turn) and counted `stride` times.
const MAX_WAITING: usize = 64;
/// The share of the sampling period the reading of the tasks may take.
/// Beyond it (thousands of tasks) they are read every few ticks, as many
/// as keep the reading within it on average (a reading longer than a
/// period still loses the ticks it overruns: about SCAN_SHARE / (1 +
/// SCAN_SHARE) of them), and the ticks between use the tasks last
/// read: a task made since is not followed until the next reading, and
/// one gone since is still counted until then (its frame no longer reads
/// as a suspended one, or reads as where it last waited).
const SCAN_SHARE: f64 = 0.1;
/// The most ticks between two readings of the tasks.
const MAX_SCAN_EVERY: u64 = 200;
/// The file named by a task's root frame.
pub const TASK_FILE: &str = "<asyncio>";

/// One task's counts while sampling.
#[derive(Default)]
struct Entry {
    record: TaskRecord,
    /// Its root frame's id in the sink.
    root: Option<usize>,
    awaits: FxHashMap<(Vec<usize>, String), u64>,
}

/// The task table being counted, and this tick's tasks.
pub(crate) struct AsyncTracker {
    finder: TaskFinder,
    found: bool,
    ticks: u64,
    /// The sampling period, and the tick of the next reading of the tasks.
    period: Duration,
    next_scan: u64,
    now: Vec<TaskInfo>,
    running: Vec<u64>,
    entries: Vec<Entry>,
    /// (task address, name) → entry.
    index: FxHashMap<(u64, String), usize>,
    /// (code object, serial, line) → the sink's frame id.
    frame_ids: FxHashMap<(u64, u64, u32), usize>,
}

impl AsyncTracker {
    /// Follows tasks laid out as `layout`, sampled every `period`.
    pub(crate) fn new(layout: TaskLayout, period: Duration) -> Self {
        AsyncTracker {
            finder: TaskFinder::new(layout),
            found: false,
            ticks: 0,
            period,
            next_scan: 0,
            now: Vec::new(),
            running: Vec::new(),
            entries: Vec::new(),
            index: FxHashMap::default(),
            frame_ids: FxHashMap::default(),
        }
    }

    /// Frame ids are the sink's: a new run starts them afresh.
    pub(crate) fn forget_ids(&mut self) {
        self.frame_ids.clear();
        self.entries.iter_mut().for_each(|e| e.root = None);
    }

    /// Reads the pending tasks at the start of a tick (`threads`: the
    /// tick's, whose states head lists of tasks on 3.14+).
    pub(crate) fn start_tick(
        &mut self,
        walker: &Walker,
        r: &dyn MemoryReader,
        threads: &[ThreadInfo],
    ) {
        self.ticks += 1;
        self.running.clear();
        let every = if self.found { RELOOK_EVERY } else { LOOK_EVERY };
        if self.ticks % every == 1 {
            self.finder.forget_places();
        } else if !self.found {
            self.now.clear();
            return;
        } else if self.ticks < self.next_scan {
            return; // this tick uses the tasks last read (SCAN_SHARE)
        }
        let began = Instant::now();
        self.now = self.finder.tasks(walker, r, threads);
        self.found = self.finder.knows_places();
        self.next_scan = self.ticks + scan_every(began.elapsed(), self.period);
    }

    /// When the stack just walked runs one of this tick's tasks: keeps only
    /// the frames from the task's coroutine inwards, under its root frame.
    pub(crate) fn reroot<S: FrameInterner + ?Sized>(
        &mut self,
        stack: &mut StackWalk,
        walker: &Walker,
        sink: &mut S,
    ) {
        if self.now.is_empty() {
            return;
        }
        let hit = stack.refs().iter().enumerate().find_map(|(i, f)| {
            let t = self.now.iter().position(|t| t.frame == f.frame)?;
            Some((i, t))
        });
        let Some((keep, t)) = hit else {
            return;
        };
        let task = self.now[t].clone();
        self.running.push(task.addr);
        let entry = self.entry(&task, walker);
        let root = match entry.root {
            Some(id) => id,
            None => {
                let id = sink.intern_frame(root_frame(&entry.record));
                entry.root = Some(id);
                entry.record.root_frame = Some(id);
                id
            }
        };
        stack.reroot(keep + 1, root);
    }

    /// Counts every task not found running as waiting, where it waits.
    pub(crate) fn finish_tick<S: FrameInterner + ?Sized>(
        &mut self,
        walker: &mut Walker,
        r: &dyn MemoryReader,
        sink: &mut S,
    ) {
        let now = std::mem::take(&mut self.now);
        let stride = now.len().div_ceil(MAX_WAITING).max(1);
        let turn = (self.ticks % stride as u64) as usize;
        for (i, task) in now.iter().enumerate() {
            if i % stride != turn || self.running.contains(&task.addr) {
                continue;
            }
            let Ok(frame) = walker.suspended_frame(r, task.frame) else {
                continue;
            };
            let key = (frame.code, frame.serial, frame.line);
            let id = match self.frame_ids.get(&key) {
                Some(&id) => id,
                None => {
                    let Some(code) = walker.code(frame.code) else {
                        continue;
                    };
                    let id = sink.intern_frame(model_frame(code, frame.line));
                    self.frame_ids.insert(key, id);
                    id
                }
            };
            let awaiting = awaited(&now, task.waiter, walker, r);
            let entry = self.entry(task, walker);
            entry.record.waiting += stride as u64;
            *entry.awaits.entry((vec![id], awaiting)).or_default() += stride as u64;
        }
        self.now = now;
    }

    fn entry(&mut self, task: &TaskInfo, walker: &Walker) -> &mut Entry {
        let key = (task.addr, task.name.clone());
        let next = self.entries.len();
        let i = *self.index.entry(key).or_insert(next);
        if i == next {
            let coroutine = walker
                .code(task.code)
                .map_or_else(String::new, |c| c.qualname.clone());
            self.entries.push(Entry {
                record: TaskRecord {
                    name: task.name.clone(),
                    coroutine,
                    ..TaskRecord::default()
                },
                ..Entry::default()
            });
        }
        let entry = &mut self.entries[i];
        if entry.record.coroutine.is_empty() {
            if let Some(c) = walker.code(task.code) {
                entry.record.coroutine = c.qualname.clone();
            }
        }
        entry
    }

    /// The task table counted; the running counts are the capture's to
    /// give ([`AsyncTasks::count_running`]).
    pub(crate) fn into_section(self) -> AsyncTasks {
        let tasks = self
            .entries
            .into_iter()
            .map(|e| {
                let mut record = e.record;
                let mut awaits: Vec<AwaitRecord> = e
                    .awaits
                    .into_iter()
                    .map(|((frames, awaiting), count)| AwaitRecord {
                        frames,
                        awaiting,
                        count,
                    })
                    .collect();
                awaits.sort_by(|a, b| b.count.cmp(&a.count).then(a.frames.cmp(&b.frames)));
                record.awaits = awaits;
                record
            })
            .collect();
        AsyncTasks {
            version: TASKS_VERSION,
            ticks: self.ticks,
            tasks,
        }
    }
}

/// What a task waits for: another task by name, else the awaited object's type.
fn awaited(now: &[TaskInfo], waiter: u64, walker: &Walker, r: &dyn MemoryReader) -> String {
    if waiter == 0 {
        return String::new();
    }
    if let Some(t) = now.iter().find(|t| t.addr == waiter) {
        return format!("Task {}", t.name);
    }
    type_name(r, walker.layout(), waiter).unwrap_or_default()
}

/// The synthetic frame a running task's stack hangs from.
pub fn root_frame(task: &TaskRecord) -> Frame {
    let coroutine = task.coroutine.rsplit('.').next().unwrap_or(&task.coroutine);
    Frame {
        function: format!("<task {}: {coroutine}()>", task.name),
        qualname: None,
        file: TASK_FILE.to_owned(),
        line: 0,
    }
}

/// Ticks from one reading of the tasks to the next, when one took `took`
/// of a `period` (see [`SCAN_SHARE`]): 1 while it fits.
fn scan_every(took: Duration, period: Duration) -> u64 {
    let budget = SCAN_SHARE * period.as_secs_f64();
    let every = (took.as_secs_f64() / budget).ceil();
    (every as u64).clamp(1, MAX_SCAN_EVERY)
}

#[cfg(test)]
mod tests {
    use super::scan_every;
    use std::time::Duration;

    #[test]
    fn the_tasks_are_read_as_often_as_their_share_allows() {
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        assert_eq!(scan_every(us(50), ms(1)), 1, "within a tenth of the period");
        assert_eq!(scan_every(us(100), ms(1)), 1);
        assert_eq!(scan_every(us(101), ms(1)), 2);
        assert_eq!(scan_every(ms(3), ms(1)), 30, "3 ms of reading at 1 kHz");
        assert_eq!(scan_every(ms(3), ms(10)), 3, "the same at 100 Hz");
        assert_eq!(scan_every(Duration::from_secs(5), ms(1)), 200, "bounded");
    }
}
