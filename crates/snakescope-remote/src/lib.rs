//! Out-of-process access to a running CPython: finds the interpreter in a
//! process's memory map, picks its layout, and reads its memory with
//! `process_vm_readv` without stopping it. Nothing is loaded into the target.
//!
//! Linux only. Never prints; errors say what failed with the value involved and
//! carry a hint where the user can act.

mod attach;
mod elf;
mod maps;
mod reader;
mod sampler;
mod tasks;

pub use attach::{AttachError, Target};
pub use reader::RemoteReader;
pub use sampler::{thread_name, Sampler, SamplerSettings, StopReason};
pub use tasks::{TaskState, Tasks};
