//! Memory outputs: the text report (top allocation sites, what was alive at
//! the peak, what leaked, memory per line), a capture whose stacks are
//! weighted by bytes (so every stack format draws memory), and the
//! timeline chart (SVG, `mprof plot`'s picture).
//!
//! The text report is in `text`, the timeline chart in `timeline`; this
//! module holds the byte-weighted views and what they share.

mod text;
mod timeline;

pub use text::write_text;
pub use timeline::write_timeline_svg;

use snakescope_model::{Capture, Frame, Memory, MemorySite, Meta, StackRecord, ThreadRecord};
use std::collections::HashMap;

/// Which bytes a memory view weighs stacks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryMetric {
    /// Everything allocated, freed or not.
    Allocated,
    /// What was alive at the peak.
    Peak,
    /// What was still alive when recording stopped.
    Leaked,
}

impl MemoryMetric {
    pub fn from_name(name: &str) -> Option<MemoryMetric> {
        match name {
            "allocated" | "alloc" => Some(MemoryMetric::Allocated),
            "peak" => Some(MemoryMetric::Peak),
            "leaked" | "leaks" | "end" => Some(MemoryMetric::Leaked),
            _ => None,
        }
    }

    fn of(&self, site: &MemorySite) -> u64 {
        match self {
            MemoryMetric::Allocated => site.allocated_bytes,
            MemoryMetric::Peak => site.peak_bytes,
            MemoryMetric::Leaked => site.end_bytes.saturating_sub(site.global_bytes),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            MemoryMetric::Allocated => "allocated",
            MemoryMetric::Peak => "peak",
            MemoryMetric::Leaked => "leaked",
        }
    }

    /// Its sample type in a pprof heap profile (Go's names where Go has one).
    pub(crate) fn pprof_type(&self) -> &'static str {
        match self {
            MemoryMetric::Allocated => "alloc_space",
            MemoryMetric::Peak => "peak_space",
            MemoryMetric::Leaked => "inuse_space",
        }
    }

    /// The metric of a memory view ([`memory_view`]), whose stacks count
    /// bytes, not samples; `None` for any other capture.
    pub fn of_view(capture: &Capture) -> Option<MemoryMetric> {
        let name = capture.meta.mode.strip_prefix(VIEW_MODE_PREFIX)?;
        MemoryMetric::from_name(name)
    }
}

/// A memory view's `meta.mode` is this and its metric's name (`memory:peak`):
/// what every writer reads to draw its counts as bytes ([`MemoryMetric::of_view`]).
const VIEW_MODE_PREFIX: &str = "memory:";

/// The capture's memory as a capture of stacks weighted by bytes (one
/// "sample" per byte), so the flame graph, speedscope, collapsed and pprof
/// writers draw it, each in bytes ([`MemoryMetric::of_view`]); `None`
/// without memory data.
pub fn memory_view(capture: &Capture, metric: MemoryMetric) -> Option<Capture> {
    let memory = capture.memory.as_ref()?;
    let mut frames = capture.frames.clone();
    let native = frames.len();
    frames.push(Frame {
        function: "[native allocation]".into(),
        qualname: None,
        file: "<native>".into(),
        line: 0,
    });
    let mut stacks: HashMap<Vec<usize>, u64> = HashMap::new();
    for site in &memory.sites {
        let bytes = metric.of(site);
        if bytes == 0 {
            continue;
        }
        let mut stack = site.frames.clone();
        if site.source == "native" {
            stack.push(native);
        }
        *stacks.entry(stack).or_default() += bytes;
    }
    let total: u64 = stacks.values().sum();
    let mut records: Vec<StackRecord> = stacks
        .into_iter()
        .map(|(frames, count)| StackRecord {
            thread: 0,
            frames,
            idle: false,
            gil: false,
            count,
        })
        .collect();
    records.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.frames.cmp(&b.frames)));
    Some(Capture {
        format: capture.format.clone(),
        version: capture.version,
        meta: Meta {
            mode: format!("{VIEW_MODE_PREFIX}{}", metric.name()),
            requested_rate_hz: 0.0,
            ticks: total,
            ..capture.meta.clone()
        },
        threads: vec![ThreadRecord {
            tid: 0,
            name: Some(format!("memory ({} bytes)", metric.name())),
            samples: total,
            idle_samples: 0,
            gil_samples: 0,
            pid: None,
        }],
        frames,
        stacks: records,
        memory: None,
        exact: None,
        lines: None,
        opcodes: None,
        stat: None,
        processes: Vec::new(),
        findings: None,
        tasks: None,
    })
}

/// Whether a frame belongs to the program rather than the standard library,
/// installed packages, import machinery or snakescope itself.
pub fn is_program_frame(frame: &Frame) -> bool {
    let f = &frame.file;
    !(f.starts_with('<')
        || f.contains("/lib/python3")
        || f.contains("site-packages")
        || f.contains("dist-packages")
        || f.contains("/snakescope/"))
}

/// A frame of the import machinery: what an import allocates (code objects,
/// module dictionaries) lives as long as the module, by design.
pub fn is_import_frame(frame: &Frame) -> bool {
    frame.file.starts_with("<frozen importlib")
        || frame.file.ends_with("importlib/_bootstrap.py")
        || frame.file.ends_with("importlib/_bootstrap_external.py")
}

pub fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut i = 0;
    while v.abs() >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", units[i])
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// Per (file, line), inclusive: every line on a site's stack counts the
/// site's bytes once.
#[derive(Default, Clone)]
pub struct LineMemory {
    pub allocated: u64,
    pub freed: u64,
    pub peak: u64,
    pub end: u64,
    pub allocations: u64,
}

/// Memory per source line of the program, inclusive of what the line's
/// callees allocated (memory_profiler's "Increment" includes callees too).
pub fn lines(capture: &Capture, memory: &Memory) -> HashMap<(String, u32), LineMemory> {
    let mut out: HashMap<(String, u32), LineMemory> = HashMap::new();
    for site in &memory.sites {
        let mut seen = std::collections::HashSet::new();
        for &i in &site.frames {
            let f = &capture.frames[i];
            if f.line == 0 || !is_program_frame(f) || !seen.insert((f.file.as_str(), f.line)) {
                continue;
            }
            let e = out.entry((f.file.clone(), f.line)).or_default();
            e.allocated += site.allocated_bytes;
            e.freed += site.freed_bytes;
            e.peak += site.peak_bytes;
            e.end += site.end_bytes;
            e.allocations += site.allocations;
        }
    }
    out
}
