//! A live session: the sampler on a thread of its own, feeding the capture
//! (for `s`: written without stopping) and two windows of function-level
//! counts (the last `--window` seconds, and since the start), which the view
//! reads while sampling goes on.

use super::heap::Heap;
use snakescope_model::{
    Capture, CaptureBuilder, Frame, FrameInterner, LiveFile, LiveObjects, Meta, SampleSink,
    SharedBuilder, Tee, ThreadSample, WindowReader, WindowedSink,
};
use snakescope_remote::{NoHooks, Sampler, SamplerSettings, Target, TickCounts};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// "Since the start" is a window longer than any session.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// The sliding window's steps.
const BUCKETS: usize = 20;

/// The sampler at work and what the view reads.
pub struct Live {
    pub recent: WindowReader,
    pub since_start: WindowReader,
    pub source: CaptureSource,
    pub ticks: Arc<TickCounts>,
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<()>>,
    /// Set by the sampling thread when it stops (the target ended, or asked to).
    finished: Arc<AtomicBool>,
    pub settings: SamplerSettings,
    pub window: Duration,
    pub pid: u32,
    /// Known at the start, or (`run --live`) from the first snapshot.
    pub python_version: Arc<OnceLock<String>>,
    pub command: Vec<String>,
    /// The heap panel's figures, when the agent tracks memory (`run --live`).
    pub heap: Arc<Mutex<Option<Heap>>>,
}

/// The capture so far, for any thread (the `s` key, the live page).
#[derive(Clone)]
pub struct CaptureSource(Source);

#[derive(Clone)]
enum Source {
    /// A sampler in this process counts into `capture`.
    Sampled {
        capture: SharedBuilder,
        ticks: Arc<TickCounts>,
        meta: Box<Meta>,
        started: Instant,
    },
    /// `run --live-web`: the agent in the program writes the capture so
    /// far to a file every second.
    Snapshots(Arc<Snapshots>),
}

/// The files the agent writes (`snakescope_model::LiveFile`), and the last
/// copy of the capture read (kept when a read fails).
struct Snapshots {
    path: PathBuf,
    last: Mutex<Option<Capture>>,
    /// Why there are no object counts (memory is not tracked), if so.
    no_objects: Option<&'static str>,
}

/// Why a view of a process sampled from outside has no object counts.
const NO_AGENT: &str = "object counts by type need snakescope's agent in the program: \
                        `snakescope run --live-web app.py`";

impl Live {
    /// Starts sampling `target` on a new thread until [`Live::stop`], the
    /// target's end, or the settings' duration.
    pub fn start(
        target: Target,
        settings: SamplerSettings,
        window: Duration,
        command: Vec<String>,
    ) -> anyhow::Result<Live> {
        let pid = target.pid;
        let python_version = target.version.to_string();
        let free_threaded = !target.has_gil();
        let recent = WindowedSink::new(window, BUCKETS);
        let since = WindowedSink::new(FOREVER, 1);
        let (recent_reader, since_reader) = (recent.reader(), since.reader());
        let capture = SharedBuilder::default();
        let mut sink = Tee::new(capture.clone(), ByFunction(Tee::new(recent, since)));
        if !command.is_empty() {
            sink.name_process(pid, command.clone());
        }
        let mut sampler = Sampler::new(target, settings, NoHooks);
        let ticks = sampler.publish_ticks();
        let stop = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let (stop2, finished2) = (Arc::clone(&stop), Arc::clone(&finished));
        let started = Instant::now();
        let thread = std::thread::Builder::new()
            .name("snakescope-sampler".into())
            .spawn(move || {
                sampler.run(&mut sink, &stop2, || super::process_alive(pid));
                finished2.store(true, Ordering::Relaxed);
            })?;
        let meta = Meta {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            mode: "record".to_owned(),
            pid: Some(pid),
            python_version: Some(python_version.clone()),
            requested_rate_hz: settings.rate_hz,
            started_unix_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            include_idle: settings.include_idle,
            gil_only: settings.gil_only,
            free_threaded,
            ..Meta::default()
        };
        Ok(Live {
            recent: recent_reader,
            since_start: since_reader,
            source: CaptureSource(Source::Sampled {
                capture,
                ticks: Arc::clone(&ticks),
                meta: Box::new(meta),
                started,
            }),
            ticks,
            stop,
            sampler: Some(thread),
            finished,
            settings,
            window,
            pid,
            python_version: Arc::new(OnceLock::from(python_version)),
            command,
            heap: Arc::default(),
        })
    }

    /// `run --live`: the same view of the captures the agent in the
    /// program `pid` writes (`source`: [`CaptureSource::snapshots`]); see
    /// `follow.rs`.
    pub fn follow(
        source: CaptureSource,
        pid: u32,
        settings: SamplerSettings,
        window: Duration,
        command: Vec<String>,
    ) -> anyhow::Result<Live> {
        let recent = WindowedSink::new(window, BUCKETS);
        let since = WindowedSink::new(FOREVER, 1);
        let (recent_reader, since_reader) = (recent.reader(), since.reader());
        let mut sink = ByFunction(Tee::new(recent, since));
        sink.name_process(pid, command.clone());
        let ticks = Arc::new(TickCounts::default());
        let heap: Arc<Mutex<Option<Heap>>> = Arc::default();
        let python_version: Arc<OnceLock<String>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let thread = {
            let (source, ticks, heap) = (source.clone(), Arc::clone(&ticks), Arc::clone(&heap));
            let (stop, finished) = (Arc::clone(&stop), Arc::clone(&finished));
            let version = Arc::clone(&python_version);
            std::thread::Builder::new()
                .name("snakescope-follow".into())
                .spawn(move || {
                    let shared = super::follow::Shared {
                        ticks: &ticks,
                        heap: &heap,
                        python_version: &version,
                    };
                    super::follow::follow(&source, &mut sink, &shared, &stop, pid);
                    finished.store(true, Ordering::Relaxed);
                })?
        };
        Ok(Live {
            recent: recent_reader,
            since_start: since_reader,
            source,
            ticks,
            stop,
            sampler: Some(thread),
            finished,
            settings,
            window,
            pid,
            python_version,
            command,
            heap,
        })
    }

    /// Whether sampling has stopped (the target ended, or the duration ran out).
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed)
    }

    /// Stops sampling and waits for the sampling thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.sampler.take() {
            let _ = thread.join();
        }
    }

    /// Samples per second achieved so far: ticks that read every thread.
    pub fn achieved_hz(&self) -> f64 {
        let ticks = self.ticks.ticks.load(Ordering::Relaxed);
        let lost = self.ticks.lost.load(Ordering::Relaxed);
        let seconds = self.ticks.now_ns.load(Ordering::Relaxed) as f64 / 1e9;
        if seconds > 0.0 {
            ticks.saturating_sub(lost) as f64 / seconds
        } else {
            0.0
        }
    }

    /// The capture so far (see [`CaptureSource::now`]).
    pub fn capture_now(&self) -> snakescope_model::Capture {
        self.source.now()
    }
}

impl CaptureSource {
    /// The capture of `shared`, with `meta` but for what grows while it runs.
    pub(crate) fn new(shared: &SharedBuilder, ticks: Arc<TickCounts>, meta: Meta) -> CaptureSource {
        CaptureSource(Source::Sampled {
            capture: shared.clone(),
            ticks,
            meta: Box::new(meta),
            started: Instant::now(),
        })
    }

    /// The captures the agent writes to `path` (see [`Source::Snapshots`]);
    /// `no_objects`: why it counts no objects by type, if it does not.
    pub fn snapshots(path: PathBuf, no_objects: Option<&'static str>) -> CaptureSource {
        CaptureSource(Source::Snapshots(Arc::new(Snapshots {
            path,
            last: Mutex::default(),
            no_objects,
        })))
    }

    /// The live object counts by type so far, or why there are none.
    pub fn objects(&self) -> Result<LiveObjects, &'static str> {
        let snapshots = self.snapshots_counting_objects()?;
        let read = std::fs::read(LiveFile::Objects.path(&snapshots.path)).ok();
        Ok(read
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default())
    }

    /// Asks the agent for a census now (it looks every second).
    pub fn ask_census(&self) -> Result<(), &'static str> {
        let snapshots = self.snapshots_counting_objects()?;
        std::fs::write(LiveFile::CensusAsked.path(&snapshots.path), b"")
            .map_err(|_| "cannot ask the agent for a census (its directory is not writable)")
    }

    fn snapshots_counting_objects(&self) -> Result<&Snapshots, &'static str> {
        match &self.0 {
            Source::Sampled { .. } => Err(NO_AGENT),
            Source::Snapshots(s) => match s.no_objects {
                Some(why) => Err(why),
                None => Ok(s),
            },
        }
    }

    /// Removes the files the agent wrote (when it has stopped).
    pub fn remove_files(&self) {
        if let Source::Snapshots(s) = &self.0 {
            for file in [LiveFile::Capture, LiveFile::Objects, LiveFile::CensusAsked] {
                let _ = std::fs::remove_file(file.path(&s.path));
                let _ = std::fs::remove_file(file.temporary(&s.path));
            }
        }
    }

    /// The capture so far, as `record` would have written it had it stopped
    /// now (or the agent's last copy: empty before the first).
    pub fn now(&self) -> Capture {
        match &self.0 {
            Source::Sampled {
                capture,
                ticks,
                meta,
                started,
            } => capture.copy().finish(Meta {
                duration_s: started.elapsed().as_secs_f64(),
                ticks: ticks.ticks.load(Ordering::Relaxed),
                lost_ticks: ticks.lost.load(Ordering::Relaxed),
                ..(**meta).clone()
            }),
            Source::Snapshots(s) => {
                let mut last = s.last.lock().unwrap_or_else(|e| e.into_inner());
                let read = std::fs::read(&s.path).ok();
                if let Some(capture) = read.and_then(|b| serde_json::from_slice::<Capture>(&b).ok())
                {
                    *last = Some(capture);
                }
                last.clone()
                    .unwrap_or_else(|| CaptureBuilder::new().finish(Meta::default()))
            }
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Counts functions, not lines: every frame of a function is one frame (line
/// 0), so a function's total counts a sample once whatever lines it is at.
struct ByFunction<S>(S);

impl<S: SampleSink> FrameInterner for ByFunction<S> {
    fn intern_frame(&mut self, frame: Frame) -> usize {
        self.0.intern_frame(Frame { line: 0, ..frame })
    }
}

impl<S: SampleSink> SampleSink for ByFunction<S> {
    fn add_sample(&mut self, sample: ThreadSample<'_>, weight: u64, at_ns: u64) {
        self.0.add_sample(sample, weight, at_ns);
    }

    fn name_thread(&mut self, tid: u64, name: Option<String>) {
        self.0.name_thread(tid, name);
    }

    fn name_process(&mut self, pid: u32, command: Vec<String>) {
        self.0.name_process(pid, command);
    }
}
