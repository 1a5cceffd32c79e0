//! The sampling loop: at each tick, read every thread's stack from the target
//! and count it into the sink it was given ([`SampleSink`]: the capture
//! builder, a live view's window, or both through a `Tee`). The sampler owns
//! no sink, so one run can feed any of them; what the in-process agent
//! leaves out of samples is the agent's to say ([`SamplerHooks`]).
//!
//! Runs on a thread of its own: in the `snakescope` process for `record`, or
//! inside the target for the in-process agent (which reads its own memory the
//! same way, through `process_vm_readv` on its own pid, so a stale pointer can
//! never fault). It never takes the GIL and never stops the target, so a stack
//! can change while it is read; such torn stacks are counted and dropped.
//!
//! Without `--idle` or `--gil` a sample counts only when its thread was on a
//! CPU at that tick, as its scheduler counters confirm a few milliseconds
//! later ([`crate::oncpu`]), or, in the agent's own process, as the
//! thread's CPU clock says at once ([`crate::threadclock`]): the counts are
//! CPU time, whatever the load.
//! With `--idle` every thread counts at every tick (wall time); with `--gil`
//! the thread holding the GIL does. Both take a tick at face value, so the
//! loop's thread then runs at real-time priority where allowed (`Priority`).

mod gilwait;
mod hooks;
mod names;
mod timing;

pub use hooks::{NoHooks, SamplerHooks};
pub use names::thread_name;

use crate::asyncio::AsyncTracker;
use crate::native::NativeStacks;
use crate::oncpu::OnCpu;
use crate::opcodes::{InstrCounts, InstrKey};
use crate::reader::RemoteReader;
use crate::stack::StackWalk;
use crate::threadclock::{self, ClockJudge};
use crate::{Target, TaskState, Tasks};
use gilwait::GilWaits;
use snakescope_model::{AsyncTasks, Meta, Opcodes, SampleSink, SamplerPriority, ThreadSample};
use snakescope_unwind::{MemoryReader, ReadError, TaskLayout, ThreadInfo, WalkError};
use std::collections::{HashMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};
use timing::{set_timer_slack, wait_until, Priority};

/// What to sample and how often.
#[derive(Debug, Clone, Copy)]
pub struct SamplerSettings {
    pub rate_hz: f64,
    pub include_idle: bool,
    pub gil_only: bool,
    pub duration: Option<Duration>,
    /// Also count samples per instruction and keep the bytecode (`--opcodes`).
    pub opcodes: bool,
    /// Merge native frames into the stacks (`record --native`: each thread
    /// sampled is stopped for a moment; see [`crate::native`]).
    pub native: bool,
}

/// A running sampler's tick counts, for a live view's achieved rate
/// ([`Sampler::publish_ticks`]).
#[derive(Debug, Default)]
pub struct TickCounts {
    pub ticks: AtomicU64,
    pub lost: AtomicU64,
    /// When the latest tick began, in nanoseconds from the run's start (the
    /// samples' clock).
    pub now_ns: AtomicU64,
}

/// Samples one target, read through `R`, into the sink each run is given.
pub struct Sampler<R: MemoryReader = RemoteReader, H: SamplerHooks = NoHooks> {
    target: Target<R>,
    tasks: Tasks,
    settings: SamplerSettings,
    hooks: H,
    stack: StackWalk,
    named: HashSet<u64>,
    /// `threading` names by ident, as last read.
    python_names: HashMap<u64, String>,
    /// Threads (native id → ident) still without a `threading` name.
    unnamed: HashMap<u64, u64>,
    ticks: u64,
    lost_ticks: u64,
    torn: u64,
    /// Counting CPU time: samples wait in `on_cpu` until confirmed.
    cpu_mode: bool,
    on_cpu: HashMap<u64, OnCpu<PendingSample>>,
    /// Counting CPU time in our own process: each thread's CPU clock as last
    /// read, which judges samples on the spot ([`crate::threadclock`]).
    clocks: Option<ClockJudge<PendingSample>>,
    start: Instant,
    /// When the current tick began, in nanoseconds from `start`.
    now_ns: u64,
    /// Samples per instruction, with `--opcodes` only.
    instrs: Option<InstrCounts>,
    /// The tick counts, published at every tick once asked for.
    published: Option<Arc<TickCounts>>,
    /// asyncio's tasks, with `--async` only.
    asyncio: Option<AsyncTracker>,
    /// The task layout, while it is still being asked for.
    task_layout: Option<Receiver<TaskLayout>>,
    /// With `--native` only.
    native: Option<NativeStacks>,
    /// With `--idle` (and without `--native`, whose stacks show the wait).
    gil_waits: Option<GilWaits>,
    /// How the last run's thread was scheduled ([`Priority`]).
    priority: Option<SamplerPriority>,
}

/// A sample waiting for its thread's counters: the stack (frame ids, root
/// first), whether the thread held the GIL, and its instructions (with
/// `--opcodes`; else empty).
type PendingSample = (Vec<usize>, bool, Vec<InstrKey>);

/// What one tick found.
enum Tick {
    Sampled,
    Lost,
    Gone,
}

impl<R: MemoryReader, H: SamplerHooks> Sampler<R, H> {
    pub fn new(target: Target<R>, settings: SamplerSettings, hooks: H) -> Self {
        let mut tasks = Tasks::new(target.pid);
        let counting_cpu = !settings.include_idle && !settings.gil_only;
        let period_ns = (1e9 / settings.rate_hz) as u64;
        let clocks = (counting_cpu && threadclock::available_for(target.pid))
            .then(|| ClockJudge::new(period_ns));
        let cpu_mode =
            counting_cpu && (clocks.is_some() || tasks.cpu(u64::from(target.pid)).is_some());
        let native = settings
            .native
            .then(|| NativeStacks::new(target.pid, target.binary.clone()));
        let gil_waits = (settings.include_idle && !settings.native && target.has_gil())
            .then(|| GilWaits::new(&target.binary));
        Sampler {
            gil_waits,
            priority: None,
            native,
            target,
            tasks,
            settings,
            hooks,
            stack: StackWalk::new(),
            named: HashSet::new(),
            python_names: HashMap::new(),
            unnamed: HashMap::new(),
            ticks: 0,
            lost_ticks: 0,
            torn: 0,
            cpu_mode,
            on_cpu: HashMap::new(),
            clocks,
            start: Instant::now(),
            now_ns: 0,
            instrs: None,
            published: None,
            asyncio: None,
            task_layout: None,
        }
    }

    /// The tick counts, updated at every tick of the runs to come.
    pub fn publish_ticks(&mut self) -> Arc<TickCounts> {
        Arc::clone(self.published.get_or_insert_with(Arc::default))
    }

    /// [`Self::publish_ticks`] into counts made beforehand (by the thread
    /// that starts the sampler's own, which makes the sampler there).
    pub fn publish_ticks_to(&mut self, counts: Arc<TickCounts>) {
        self.published = Some(counts);
    }

    /// Follows asyncio's tasks (`--async`), their C `Task` laid out as
    /// `layout` says (asked of the target's interpreter).
    pub fn follow_tasks(&mut self, layout: TaskLayout) {
        let period = Duration::from_secs_f64(1.0 / self.settings.rate_hz);
        self.asyncio = Some(AsyncTracker::new(layout, period));
    }

    /// [`Self::follow_tasks`] from the tick the layout arrives on `layout`.
    pub fn follow_tasks_from(&mut self, layout: Receiver<TaskLayout>) {
        self.task_layout = Some(layout);
    }

    /// Samples into `sink` until `stop` is set, `still_running` says the
    /// target is gone, the target exits, or the duration is reached; then
    /// settles what is still pending. Returns how long it sampled.
    pub fn run<S: SampleSink + ?Sized>(
        &mut self,
        sink: &mut S,
        stop: &AtomicBool,
        mut still_running: impl FnMut() -> bool,
    ) -> Duration {
        set_timer_slack();
        // Frame ids and names are the sink's: a run starts them afresh.
        self.stack.forget_ids();
        if let Some(a) = self.asyncio.as_mut() {
            a.forget_ids();
        }
        if let Some(native) = self.native.as_mut() {
            native.forget_ids();
        }
        if let Some(waits) = self.gil_waits.as_mut() {
            waits.forget_ids();
        }
        self.named.clear();
        self.unnamed.clear();
        self.on_cpu.clear();
        if let Some(clocks) = self.clocks.as_mut() {
            clocks.clear();
        }
        self.instrs = self.settings.opcodes.then(InstrCounts::default);
        let period = Duration::from_secs_f64(1.0 / self.settings.rate_hz);
        let wall_time = self.settings.include_idle || self.settings.gil_only;
        let mut priority = Priority::raise(period, wall_time);
        let start = Instant::now();
        self.start = start;
        let mut next = start;
        let mut last_check = start;
        let mut checks = 0u32;
        loop {
            if stop.load(Ordering::Relaxed)
                || self.settings.duration.is_some_and(|d| start.elapsed() >= d)
            {
                break;
            }
            let began = Instant::now();
            if self.hooks.paused() {
                if let Some(clocks) = self.clocks.as_mut() {
                    clocks.paused();
                }
            } else if !self.count_tick(sink) {
                break; // the target exited
            }
            let now = Instant::now();
            priority.worked(now - began, now);
            if now.duration_since(last_check) >= Duration::from_millis(20) {
                last_check = now;
                checks += 1;
                if checks % 10 == 0 {
                    self.retry_names(sink); // every 200 ms
                }
                if !still_running() {
                    break;
                }
            }
            next += period;
            if now > next + period {
                // Fell more than a period behind (the machine was busy): the
                // missed instants are counted as lost, not sampled in a burst.
                let missed = (now - next).as_secs_f64() / period.as_secs_f64();
                let missed = missed as u32;
                self.ticks += u64::from(missed);
                self.lost_ticks += u64::from(missed);
                next += period * missed;
            }
            self.publish();
            wait_until(next, period);
        }
        let elapsed = start.elapsed();
        self.priority = priority.outcome();
        drop(priority); // writing the output is not sampling
        self.settle_all(sink);
        if let Some(instrs) = self.instrs.as_mut() {
            instrs.refresh(&self.target.walker, &self.target.reader, true);
        }
        elapsed
    }

    /// Takes one tick and counts it; false when the target is gone.
    fn count_tick<S: SampleSink + ?Sized>(&mut self, sink: &mut S) -> bool {
        self.ticks += 1;
        // Before the tick's samples reach the sink: a copy of the sink
        // taken before reading the counts never holds more samples of a
        // thread than ticks.
        self.publish();
        // A bug in reading a torn stack must cost one tick, not the
        // capture: the panic is reported (by the hook) and sampling goes on.
        let tick = panic::catch_unwind(AssertUnwindSafe(|| self.tick(sink)));
        match tick.unwrap_or(Tick::Lost) {
            Tick::Sampled => true,
            Tick::Lost => {
                self.lost_ticks += 1;
                true
            }
            Tick::Gone => {
                self.ticks -= 1;
                false
            }
        }
    }

    /// Makes the counts so far visible to [`Self::publish_ticks`]' readers.
    fn publish(&self) {
        if let Some(published) = &self.published {
            published.ticks.store(self.ticks, Ordering::Relaxed);
            published.lost.store(self.lost_ticks, Ordering::Relaxed);
            published.now_ns.store(self.now_ns, Ordering::Relaxed);
        }
    }

    /// Reads every thread once.
    fn tick<S: SampleSink + ?Sized>(&mut self, sink: &mut S) -> Tick {
        if let Some(clocks) = self.clocks.as_mut() {
            clocks.tick_started();
        }
        let threads = match self.target.walker.threads(&self.target.reader) {
            Ok(t) => t,
            Err(WalkError::Read(ReadError::Gone)) => return Tick::Gone,
            Err(_) => return Tick::Lost,
        };
        self.now_ns = self.start.elapsed().as_nanos() as u64;
        if let Some(layout) = self.task_layout.as_ref().and_then(|r| r.try_recv().ok()) {
            self.task_layout = None;
            self.follow_tasks(layout);
        }
        if let Some(a) = self.asyncio.as_mut() {
            a.start_tick(&self.target.walker, &self.target.reader, &threads);
        }
        for thread in &threads {
            if let Err(gone) = self.sample_thread(sink, thread) {
                return gone;
            }
        }
        if let Some(a) = self.asyncio.as_mut() {
            a.finish_tick(&mut self.target.walker, &self.target.reader, sink);
        }
        if self.ticks % 256 == 0 {
            let alive: HashSet<u64> = threads.iter().map(|t| t.native_id).collect();
            self.on_cpu.retain(|tid, _| alive.contains(tid));
            if let Some(clocks) = self.clocks.as_mut() {
                clocks.retain(|tid| alive.contains(&tid));
            }
            self.tasks.retain(|tid| alive.contains(&tid));
        }
        if let Some(instrs) = self.instrs.as_mut() {
            instrs.refresh(&self.target.walker, &self.target.reader, false);
        }
        Tick::Sampled
    }

    /// Counts the pending samples of thread `tid` that its scheduler
    /// counters show were taken on a CPU, and drops those taken while it
    /// waited for one; a thread gone takes its pending samples with it.
    fn settle<S: SampleSink + ?Sized>(&mut self, sink: &mut S, tid: u64, runnable: bool) {
        let pending = self.on_cpu.entry(tid).or_default();
        if !runnable && !pending.has_pending() {
            return;
        }
        let Some(counters) = self.tasks.cpu(tid) else {
            self.on_cpu.remove(&tid);
            return;
        };
        let (now_ns, instrs) = (self.now_ns, &mut self.instrs);
        pending.settle(now_ns, counters, |(frames, gil, keys), n| {
            sink.add_sample(cpu_sample(tid, frames, *gil), n, now_ns);
            if let Some(instrs) = instrs.as_mut() {
                instrs.add(keys, n);
            }
        });
    }

    /// Reads `thread`'s Python stack into `self.stack`: whether it is one
    /// of the program's (not torn, not empty, not the agent's own work).
    fn walk(&mut self, thread: &ThreadInfo) -> Result<bool, Tick> {
        let walker = &mut self.target.walker;
        let (stack, reader) = (&mut self.stack, &self.target.reader);
        let walked = match self.native.as_mut() {
            Some(native) => native
                .capture(thread.native_id, || {
                    // The frame pointers as they are while it is stopped: those
                    // of the thread list, read before, miss a callback from C
                    // entered or left since (its native stack would then not
                    // pair with its Python frames).
                    let now = walker.thread_at(reader, thread.addr)?;
                    let now = ThreadInfo {
                        native_id: thread.native_id,
                        thread_id: thread.thread_id,
                        holds_gil: thread.holds_gil,
                        ..now
                    };
                    stack.walk(walker, reader, &now)
                })
                .unwrap_or(Err(WalkError::Torn("thread not stopped"))),
            None => stack.walk(walker, reader, thread),
        };
        match walked {
            Ok(()) => {}
            Err(WalkError::Read(ReadError::Gone)) => return Err(Tick::Gone),
            Err(_) => {
                self.torn += 1;
                return Ok(false);
            }
        }
        let hooks = &self.hooks;
        if self.stack.is_empty()
            || self
                .stack
                .innermost(walker)
                .is_some_and(|c| hooks.is_own_code(c))
            || hooks.has_agent_code()
                && self.stack.agent_inside(
                    walker,
                    |c| hooks.is_own_code(c),
                    |c| hooks.is_agent_code(c),
                )
        {
            // A thread not running Python code, or the agent's own code
            // (starting or stopping the profiler) rather than the program's.
            return Ok(false);
        }
        Ok(true)
    }

    fn sample_thread<S: SampleSink + ?Sized>(
        &mut self,
        sink: &mut S,
        thread: &ThreadInfo,
    ) -> Result<(), Tick> {
        let gil = thread.holds_gil.unwrap_or(false);
        if self.settings.gil_only && !gil {
            return Ok(());
        }
        let clock_before = match self.clocks.as_mut() {
            Some(clocks) => match clocks.before_read(thread.native_id) {
                Some(clock) => Some(clock),
                None => return Ok(()), // not on a CPU since the last tick
            },
            None => None,
        };
        let state = match clock_before {
            Some(_) => TaskState::Running,
            None => self.tasks.state(thread.native_id),
        };
        if state == TaskState::Gone {
            // Not (or no longer) a thread of this process: one that has just
            // exited, or, in a child just forked, its copy of the parent's
            // thread list, which names the parent's threads.
            return Ok(());
        }
        let runnable = state == TaskState::Running;
        if self.cpu_mode && clock_before.is_none() {
            self.settle(sink, thread.native_id, runnable);
            if !runnable {
                return Ok(()); // not on a CPU now
            }
        }
        let idle = !gil && !runnable;
        if idle && !self.settings.include_idle {
            return Ok(());
        }
        let waits_for_gil = idle
            && self.gil_waits.is_some()
            && GilWaits::waits(&mut self.tasks, &self.target.walker, thread.native_id);
        if !self.walk(thread)? {
            return Ok(());
        }
        let (tid, now_ns) = (thread.native_id, self.now_ns);
        if clock_before.is_none() {
            self.name_once(sink, thread); // with a clock, once it has a sample
        }
        if let Some(a) = self.asyncio.as_mut() {
            a.reroot(&mut self.stack, &self.target.walker, sink);
        }
        let hooks = &self.hooks;
        let keys = match self.instrs.as_mut() {
            Some(instrs) => instrs.keys(
                &self.target.walker,
                &self.target.reader,
                self.stack.refs(),
                |c| hooks.is_own_code(c),
            ),
            None => Vec::new(),
        };
        let ids = self
            .stack
            .intern(&self.target.walker, sink, |c| hooks.is_own_code(c));
        let ids = match self.native.as_mut() {
            Some(native) => native.merge(&self.target.walker, ids, sink),
            None => ids,
        };
        if let Some(before) = clock_before {
            let read = (ids.to_vec(), gil, keys);
            self.add_clocked(sink, thread, before, read);
            return Ok(());
        }
        let instrs = &mut self.instrs;
        if self.cpu_mode {
            let pending = (ids.to_vec(), gil, keys);
            self.on_cpu
                .entry(tid)
                .or_default()
                .push(now_ns, pending, |(frames, gil, keys), n| {
                    sink.add_sample(cpu_sample(tid, frames, *gil), n, now_ns);
                    if let Some(instrs) = instrs.as_mut() {
                        instrs.add(keys, n);
                    }
                });
        } else {
            if let Some(instrs) = instrs.as_mut() {
                instrs.add(&keys, 1);
            }
            let waiting = match self.gil_waits.as_mut() {
                Some(waits) if waits_for_gil => Some(waits.ending(ids, sink)),
                _ => None,
            };
            let sample = ThreadSample {
                tid,
                idle,
                gil,
                frames: waiting.as_deref().unwrap_or(ids),
            };
            sink.add_sample(sample, 1, now_ns);
        }
        Ok(())
    }

    /// Adds the samples a read of `thread` counts for, as its CPU clock
    /// judges them ([`crate::threadclock`]).
    fn add_clocked<S: SampleSink + ?Sized>(
        &mut self,
        sink: &mut S,
        thread: &ThreadInfo,
        before: u64,
        read: PendingSample,
    ) {
        let (tid, now_ns) = (thread.native_id, self.now_ns);
        let Some(clocks) = self.clocks.as_mut() else {
            return;
        };
        if let Some(((frames, gil, keys), n)) =
            clocks.after_read(tid, before, &mut self.tasks, read)
        {
            self.name_once(sink, thread);
            if let Some(instrs) = self.instrs.as_mut() {
                instrs.add(&keys, n);
            }
            sink.add_sample(cpu_sample(tid, &frames, gil), n, now_ns);
        }
    }

    /// Settles what is still pending with the counters as they are now.
    fn settle_all<S: SampleSink + ?Sized>(&mut self, sink: &mut S) {
        self.now_ns = self.start.elapsed().as_nanos() as u64;
        let tids: Vec<u64> = self.on_cpu.keys().copied().collect();
        for tid in tids {
            self.settle(sink, tid, false);
        }
    }

    /// What `--opcodes` counted in the last run (without the opcode table,
    /// which is the interpreter's to give); `None` without `--opcodes`.
    pub fn take_opcodes(&mut self) -> Option<Opcodes> {
        let instrs = self.instrs.take()?;
        Some(instrs.into_section(&self.target.walker))
    }

    /// The task table counted in the last run; `None` without `--async`.
    pub fn take_tasks(&mut self) -> Option<AsyncTasks> {
        Some(self.asyncio.take()?.into_section())
    }

    /// How long `--native` stopped threads for (`None` without it), and
    /// how many samples' eval calls and Python frames did not pair up.
    pub fn native_stats(&self) -> Option<(crate::PauseStats, u64)> {
        self.native.as_ref().map(|n| (n.stats, n.unpaired))
    }

    /// The capture's metadata for what was sampled over `elapsed`, but for
    /// the fields the caller knows (mode, command, exit code).
    pub fn meta(&self, elapsed: Duration, started_unix_s: f64) -> Meta {
        Meta {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            mode: "record".to_owned(),
            pid: Some(self.target.pid),
            python_version: Some(self.target.version.to_string()),
            requested_rate_hz: self.settings.rate_hz,
            started_unix_s,
            duration_s: elapsed.as_secs_f64(),
            ticks: self.ticks,
            lost_ticks: self.lost_ticks,
            torn_stacks: self.torn,
            include_idle: self.settings.include_idle,
            gil_only: self.settings.gil_only,
            free_threaded: !self.target.has_gil(),
            sampler_priority: self.priority,
            ..Meta::default()
        }
    }
}

/// A sample confirmed to have been taken on a CPU.
fn cpu_sample(tid: u64, frames: &[usize], gil: bool) -> ThreadSample<'_> {
    ThreadSample {
        tid,
        idle: false,
        gil,
        frames,
    }
}
