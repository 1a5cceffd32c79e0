//! The timeline thread: the tracked heap and the process's RSS every
//! period (10 ms by default), bounded to 4,000 points by halving; it also
//! watches for a plateau at the peak and queues the census there (see
//! [`super::census`]).

use super::census::{request_census, PeakWatch};
use super::live::LIVE;
use snakescope_model::MemoryPoint;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Timeline sampler: tracked heap and RSS every `period`.
struct Timeline {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<MemoryPoint>>,
}

static TIMELINE: Mutex<Option<Timeline>> = Mutex::new(None);

/// At most this many points are kept (then every other one, and the period doubles).
const MAX_POINTS: usize = 4000;

fn rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

/// Starts the timeline thread (tracking started at `started`).
pub(super) fn start(started: Instant, period: Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("snakescope-memory".into())
        .spawn(move || run(&flag, started, period))
        .expect("memory timeline thread");
    *TIMELINE.lock().expect("timeline") = Some(Timeline { stop, thread });
}

/// The timeline thread's loop, until `stop`.
fn run(stop: &AtomicBool, started: Instant, mut period: Duration) -> Vec<MemoryPoint> {
    let mut watch = PeakWatch::new(Instant::now());
    while !stop.load(Ordering::Relaxed) {
        watch.check(Instant::now(), started);
        request_census();
        let point = MemoryPoint {
            t: started.elapsed().as_secs_f64(),
            heap: LIVE.load(Ordering::Relaxed).max(0) as u64,
            rss: rss_bytes(),
        };
        let mut points = POINTS.lock().unwrap_or_else(|e| e.into_inner());
        points.push(point);
        if points.len() >= MAX_POINTS {
            // Bounded: keep every other point and sample half as often.
            let kept: Vec<MemoryPoint> = points.iter().step_by(2).copied().collect();
            *points = kept;
            period *= 2;
        }
        drop(points);
        // Woken early by stop (unpark), which then needs no wait.
        std::thread::park_timeout(period);
    }
    std::mem::take(&mut *POINTS.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The timeline's points so far (shared with the live snapshots, which copy them).
static POINTS: Mutex<Vec<MemoryPoint>> = Mutex::new(Vec::new());

/// A copy of the timeline's points so far.
pub(super) fn points() -> Vec<MemoryPoint> {
    POINTS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Stops the timeline thread (when running) and returns its points.
pub(super) fn stop() -> Result<Vec<MemoryPoint>, String> {
    let timeline = TIMELINE.lock().map_err(|e| e.to_string())?.take();
    Ok(match timeline {
        Some(t) => {
            t.stop.store(true, Ordering::Relaxed);
            t.thread.thread().unpark();
            t.thread.join().unwrap_or_default()
        }
        None => Vec::new(),
    })
}
