//! Memory data of a capture: allocation sites with their stacks, what was
//! alive at the peak and at exit, and the timeline (see `docs/capture-format.md`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Memory recorded by the in-process agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct Memory {
    /// `sampled` (byte-interval sampling: every figure is an unbiased
    /// estimate) or `exact` (every allocation).
    #[schemars(extend("enum" = ["sampled", "exact"]))]
    pub mode: String,
    /// Mean bytes between samples in `sampled` mode; 1 in `exact` mode.
    #[schemars(range(min = 1))]
    pub sample_interval_bytes: u64,
    /// Allocation sites: one per distinct (stack, source) with allocations.
    pub sites: Vec<MemorySite>,
    /// The highest tracked live total seen.
    pub peak_bytes: u64,
    /// When the peak was seen, in seconds from the start.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub peak_at_s: f64,
    /// Tracked live bytes when recording stopped (at exit: what leaked, before
    /// interpreter shutdown frees anything).
    pub end_bytes: u64,
    /// Heap and RSS over time.
    #[serde(default)]
    pub timeline: Vec<MemoryPoint>,
    /// User labels (`with snakescope.label("load")`), as time spans.
    #[serde(default)]
    pub labels: Vec<MemoryLabel>,
    /// Live objects by type (the garbage collector's view), per census taken.
    #[serde(default)]
    pub census: Vec<Census>,
    /// Module globals holding memory at exit, most bytes first (at most
    /// 100); absent in older captures and on 3.13t.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub globals: Vec<MemoryGlobal>,
}

/// Where allocations came from: a Python stack, and which allocator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct MemorySite {
    /// Indices into the capture's `frames`, root first; empty when the
    /// allocating thread had no Python frame.
    pub frames: Vec<usize>,
    /// `python` (the interpreter's object/memory allocators) or `native`
    /// (malloc and friends, mmap: C extensions, buffers, arrays).
    #[schemars(extend("enum" = ["python", "native"]))]
    pub source: String,
    /// Allocations made here (an estimate when sampled).
    pub allocations: u64,
    /// Bytes allocated here (an estimate when sampled).
    pub allocated_bytes: u64,
    /// Of those allocations, the ones freed before recording stopped.
    pub frees: u64,
    /// Bytes allocated here and freed (by anyone) before recording stopped.
    pub freed_bytes: u64,
    /// Bytes allocated here that were alive at the peak.
    pub peak_bytes: u64,
    /// Bytes allocated here still alive when recording stopped.
    pub end_bytes: u64,
    /// Of `end_bytes`, those still reachable from a module global at exit
    /// (not leaked: see `Memory.globals`). Written only when not 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub global_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A module global and what it holds at exit: the live tracked bytes
/// (estimates when sampled) of the objects it reaches first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
pub struct MemoryGlobal {
    /// The module's name (`__main__` for the script).
    pub module: String,
    /// The global's name in it.
    pub name: String,
    /// Objects reached from it (untracked ones once per reference).
    pub objects: u64,
    /// Live bytes of the allocations those objects own.
    pub bytes: u64,
    /// Objects and bytes are estimates: it reaches a container with more
    /// than 65,536 references, whose references were sampled (every
    /// reference's own block is still looked up). Written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

/// One point of the memory timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryPoint {
    /// Seconds from the start of recording.
    pub t: f64,
    /// Tracked live bytes.
    pub heap: u64,
    /// The process's resident set size.
    pub rss: u64,
}

/// A labelled span of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryLabel {
    /// The name given to `snakescope.label`.
    pub name: String,
    /// When the span began, in seconds from the start of recording.
    pub start_s: f64,
    /// When the span ended, in seconds from the start of recording.
    pub end_s: f64,
}

/// Live objects by type at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Census {
    /// Why it was taken: `checkpoint`, `heap`, `peak`, `exit`.
    pub when: String,
    /// When it was taken, in seconds from the start of recording.
    pub t: f64,
    /// Tracked live bytes when it was taken (absent in older captures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_bytes: Option<u64>,
    pub types: Vec<CensusRow>,
    /// The counts and bytes are estimates: the native census counted one in
    /// `sampled_one_in` untracked objects, or (without it, the Python census)
    /// the items of containers with more than 100,000 of them were sampled,
    /// every k-th standing for k. Written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    /// References the native census visited (its work; absent from the
    /// Python census of a free-threaded build and in older captures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visited: Option<u64>,
    /// The native census counted one in this many untracked objects (a
    /// distinct sample by address hash), each standing for this many;
    /// absent when it counted each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_one_in: Option<u64>,
}

/// The live objects of one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CensusRow {
    /// The type's name.
    pub type_name: String,
    /// How many objects of the type were alive.
    pub count: i64,
    /// Their size in bytes.
    pub bytes: i64,
}
