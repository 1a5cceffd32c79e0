//! The stack walker: reads CPython's threads, frames and code objects through
//! a [`MemoryReader`] and turns them into (function, file, line) frames.
//!
//! Both readers (remote `process_vm_readv`, and later the in-process agent)
//! implement [`MemoryReader`], so both produce the same samples. The walker
//! never writes to the target, never stops it, and treats every value it reads
//! as untrusted: the target keeps running while it is read, so a read may see a
//! half-updated stack ("torn"); such stacks are detected and reported, not
//! returned as wrong data.

mod asyncio;
mod code;
mod linetable;
mod objects;
mod reader;
mod strings;
mod walker;

pub use asyncio::{type_name, TaskFinder, TaskInfo, TaskLayout, TaskLists};
pub use code::CodeInfo;
pub use linetable::{line_310, line_for_offset, line_lnotab};
pub use objects::ObjectReader;
pub use reader::{MemoryReader, ReadError};
pub use walker::{FrameRef, ThreadInfo, TypeAddresses, WalkError, Walker, MAX_DEPTH, NOT_STARTED};
