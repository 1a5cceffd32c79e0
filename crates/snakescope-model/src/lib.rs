//! The data model shared by every reader and every output: frames, stacks,
//! threads and the aggregated [`Capture`].
//!
//! A capture is aggregated while it is collected (stack → count), so its size
//! grows with the number of distinct stacks, never with run time. This crate is
//! pure: no I/O beyond (de)serialising from a reader/writer the caller gives it,
//! no printing. The on-disk format is documented in `docs/capture-format.md`.

mod aggregate;
mod capture;
mod exact;
mod findings;
mod frames;
mod kinds;
mod live;
mod memory;
mod opcodes;
mod own;
mod processes;
mod schema;
mod shared;
mod sink;
mod stat;
mod stats;
mod tasks;
pub mod timing;
mod window;

pub use aggregate::{CaptureBuilder, ThreadSample};
pub use capture::{
    Capture, CaptureError, Frame, Meta, SamplerPriority, StackRecord, ThreadRecord, Usage,
    FORMAT_NAME, FORMAT_VERSION, MAX_TOTAL, READABLE_VERSIONS,
};
pub use exact::{
    ExactCaller, ExactFunction, ExactStats, ExactTotals, LineFunction, LineTiming, LineTimings,
    SECTION_VERSION,
};
pub use findings::{Finding, Findings, Verification};
pub use frames::FrameTable;
pub use kinds::{KindCounts, KindRow, KindSplit, SampleKind, GIL_WAIT_FUNCTIONS};
pub use live::{LiveFile, LiveObjects};
pub use memory::{Census, CensusRow, Memory, MemoryGlobal, MemoryLabel, MemoryPoint, MemorySite};
pub use opcodes::{CodeSamples, InstructionSamples, OpcodeTable, Opcodes, OPCODES_VERSION};
pub use own::is_own_file;
pub use processes::{role_of, ProcessRecord, ROLE_MAIN, ROLE_POOL_WORKER};
pub use schema::{capture_schema, schema_text, written_schema};
pub use shared::SharedBuilder;
pub use sink::{FrameInterner, SampleSink, Tee};
pub use stat::{thousands, Stat, StatFigure, StatUnit};
pub use stats::{FunctionStat, LineStat, Stats};
pub use tasks::{AsyncTasks, AwaitRecord, TaskRecord, TASKS_VERSION};
pub use window::{FrameCounts, ThreadActivity, WindowReader, WindowSnapshot, WindowedSink};
