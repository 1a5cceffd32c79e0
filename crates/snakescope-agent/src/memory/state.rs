//! The tracking session's state, behind one lock: the sites, the live
//! sampled blocks, the peak, the labels. What the hooks do to it is in
//! [`super::live`] (blocks and sites' totals) and [`super::sites`] (which
//! site an allocation belongs to); this file makes it and turns it into the
//! capture's memory section at the end.

use super::{Source, ACTIVE};
use crate::ptrmap::PtrHasher;
use rustc_hash::FxHashMap;
use snakescope_model::{
    Frame, FrameTable, Memory, MemoryGlobal, MemoryLabel, MemoryPoint, MemorySite,
};
use snakescope_remote::StackWalk;
use snakescope_unwind::Walker;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Default)]
pub(super) struct Site {
    pub(super) allocations: f64,
    pub(super) bytes: f64,
    pub(super) frees: f64,
    pub(super) freed: f64,
    pub(super) live: f64,
    pub(super) at_peak: f64,
    /// Of `live` at exit, what module globals hold (see [`super::globals`]).
    pub(super) global: f64,
    /// The peak epoch of the last change (see [`super::live`]).
    pub(super) epoch: u64,
}

pub(super) struct Live {
    pub(super) site: u32,
    pub(super) bytes: f64,
    pub(super) count: f64,
    /// A mapped piece's length in bytes (0: not a mapping).
    pub(super) mapped_len: usize,
}

pub(super) struct State {
    /// The walker of this process, reading live objects only (see
    /// [`super::sites`]).
    pub(super) walker: Walker,
    pub(super) hidden: HashSet<String>,
    /// Walks into `frames`, which the sites' stacks index.
    pub(super) walk: StackWalk,
    pub(super) frames: FrameTable,
    pub(super) site_ids: FxHashMap<(Vec<usize>, Source), u32>,
    pub(super) sites: Vec<(Vec<usize>, Source, Site)>,
    pub(super) live: HashMap<usize, Live, BuildHasherDefault<PtrHasher>>,
    /// Key of a thread's stack (see [`super::sites`]) → site, so a stack
    /// seen before costs no walk.
    pub(super) known: HashMap<(u64, Source), u32, BuildHasherDefault<PtrHasher>>,
    pub(super) started: Instant,
    pub(super) peak: f64,
    pub(super) peak_at: f64,
    /// How many times the peak grew (see [`super::live`]).
    pub(super) peak_epoch: u64,
    /// Mapped pieces: start → length (see [`super::live`]).
    pub(super) mapped: BTreeMap<usize, usize>,
    pub(super) stack: Vec<usize>,
    pub(super) labels: Vec<MemoryLabel>,
    pub(super) open_labels: Vec<(String, f64)>,
    /// Module globals holding memory at exit (see [`super::globals`]).
    pub(super) globals: Vec<MemoryGlobal>,
}

pub(super) static STATE: Mutex<Option<State>> = Mutex::new(None);

impl State {
    /// A fresh session reading this process with `walker`, leaving out
    /// frames of `hidden` files at the root of stacks.
    pub(super) fn new(mut walker: Walker, hidden: HashSet<String>, started: Instant) -> State {
        // The walk reads with plain loads: nothing but live objects.
        walker.read_live_objects_only(true);
        State {
            walker,
            hidden,
            walk: StackWalk::new(),
            frames: FrameTable::new(),
            site_ids: FxHashMap::default(),
            sites: Vec::new(),
            live: HashMap::default(),
            known: HashMap::default(),
            started,
            peak: 0.0,
            peak_at: 0.0,
            peak_epoch: 0,
            mapped: BTreeMap::new(),
            stack: Vec::new(),
            labels: Vec::new(),
            open_labels: Vec::new(),
            globals: Vec::new(),
        }
    }

    /// Opens (`start`) or closes the labelled span `name` of the timeline.
    pub(super) fn label(&mut self, name: String, start: bool) {
        let now = self.started.elapsed().as_secs_f64();
        if start {
            self.open_labels.push((name, now));
        } else if let Some(i) = self.open_labels.iter().rposition(|(n, _)| *n == name) {
            let (name, start_s) = self.open_labels.remove(i);
            self.labels.push(MemoryLabel {
                name,
                start_s,
                end_s: now,
            });
        }
    }

    /// The session's results: its frames, and the memory section whose
    /// sites index them (`interval`: the mean bytes between samples, 0 for
    /// exact; `timeline`: the timeline thread's points).
    pub(super) fn into_memory(
        mut self,
        interval: u64,
        timeline: Vec<MemoryPoint>,
    ) -> (Vec<Frame>, Memory) {
        self.settle_peak();
        let end = self.started.elapsed().as_secs_f64();
        let mut labels = std::mem::take(&mut self.labels);
        labels.extend(
            std::mem::take(&mut self.open_labels)
                .into_iter()
                .map(|(name, start_s)| MemoryLabel {
                    name,
                    start_s,
                    end_s: end,
                }),
        );
        let globals = std::mem::take(&mut self.globals);
        let memory = self.section(interval, timeline, labels, globals);
        (self.frames.into_frames(), memory)
    }

    /// The memory section as the state has it now.
    fn section(
        &self,
        interval: u64,
        timeline: Vec<MemoryPoint>,
        labels: Vec<MemoryLabel>,
        globals: Vec<MemoryGlobal>,
    ) -> Memory {
        let end_bytes: f64 = self.sites.iter().map(|(_, _, s)| s.live.max(0.0)).sum();
        Memory {
            mode: if interval == 0 { "exact" } else { "sampled" }.to_owned(),
            sample_interval_bytes: interval.max(1),
            sites: self
                .sites
                .iter()
                .filter(|(_, _, s)| s.allocations > 0.0)
                .map(|(frames, source, s)| memory_site(frames.clone(), *source, s))
                .collect(),
            peak_bytes: self.peak.round() as u64,
            peak_at_s: self.peak_at,
            end_bytes: end_bytes.round() as u64,
            timeline,
            labels,
            census: Vec::new(),
            globals,
        }
    }
}

/// The memory data so far, without stopping (the live snapshots): the
/// sites' frames and the section, with the timeline's points so far; `None`
/// when tracking is off. Alive-at-the-peak is as last settled.
pub fn snapshot() -> Option<(Vec<Frame>, Memory)> {
    let timeline = super::timeline::points();
    let interval = super::recording::INTERVAL.load(Ordering::Relaxed);
    let guard = STATE.lock().ok()?;
    let state = guard.as_ref()?;
    let memory = state.section(interval, timeline, state.labels.clone(), Vec::new());
    Some((state.frames.clone().into_frames(), memory))
}

/// A site's totals as the capture has them (rounded estimates).
fn memory_site(frames: Vec<usize>, source: Source, s: &Site) -> MemorySite {
    MemorySite {
        frames,
        source: match source {
            Source::Python => "python",
            Source::Native | Source::Mapped(_) => "native",
        }
        .to_owned(),
        allocations: s.allocations.round() as u64,
        allocated_bytes: s.bytes.round() as u64,
        frees: s.frees.round() as u64,
        freed_bytes: s.freed.round() as u64,
        peak_bytes: s.at_peak.max(0.0).round() as u64,
        end_bytes: s.live.max(0.0).round() as u64,
        global_bytes: s.global.clamp(0.0, s.live.max(0.0)).round() as u64,
    }
}

/// Whether memory tracking is on (or paused before its results are taken).
pub fn is_on() -> bool {
    STATE.lock().map(|s| s.is_some()).unwrap_or(false)
}

/// Stops recording new events (what runs next is snakescope's own work);
/// [`stop_memory`] then collects the results.
pub fn pause() {
    ACTIVE.store(false, Ordering::Relaxed);
}

/// Stops tracking and returns the memory data with its frames (the sites
/// index those frames).
pub fn stop_memory() -> Result<(Vec<Frame>, Memory), String> {
    ACTIVE.store(false, Ordering::Relaxed);
    let points = super::timeline::stop()?;
    let state = STATE
        .lock()
        .map_err(|e| e.to_string())?
        .take()
        .ok_or("memory tracking is not on")?;
    super::live::MAPPED_PIECES.store(0, Ordering::Relaxed);
    // No writer is left (the state is gone): empty the filter, saturated
    // slots included, for the next session.
    super::filter::clear();
    let interval = super::recording::INTERVAL.load(Ordering::Relaxed);
    Ok(state.into_memory(interval, points))
}
