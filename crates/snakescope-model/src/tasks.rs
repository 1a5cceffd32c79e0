//! The asyncio task table (`record --async`, `run`): per task, how many
//! sampling instants found it running on its thread and how many found it
//! suspended, and where it waited (the `await` it was suspended at).

use crate::capture::StackRecord;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version of the task section's shape.
pub const TASKS_VERSION: u32 = 1;

/// What `--async` found of asyncio's tasks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AsyncTasks {
    /// Always [`TASKS_VERSION`] when written.
    pub version: u32,
    /// Sampling instants at which the tasks were read.
    pub ticks: u64,
    /// One entry per task seen pending, in order of first sight.
    pub tasks: Vec<TaskRecord>,
}

/// One asyncio task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct TaskRecord {
    /// The task's name (`Task.get_name()`).
    pub name: String,
    /// The qualified name of the task's coroutine function.
    pub coroutine: String,
    /// Index into the capture's `frames` of the task's root frame
    /// (`<task NAME: coroutine()>`), when a stack of it was sampled.
    #[serde(default)]
    pub root_frame: Option<usize>,
    /// Samples of the task running: those of the capture's stacks under
    /// its root frame (CPU samples, or wall-time ones with `--idle`).
    pub running: u64,
    /// Instants at which the task was suspended, waiting.
    pub waiting: u64,
    /// Where it waited: one entry per distinct await chain.
    pub awaits: Vec<AwaitRecord>,
}

/// Where a suspended task waited, and how often.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AwaitRecord {
    /// Indices into the capture's `frames`: the task's coroutine at the
    /// `await` it is suspended at.
    pub frames: Vec<usize>,
    /// What that `await` waits for: the awaited object's type
    /// (`_asyncio.Future`), or `Task NAME` for another task; empty when
    /// the task is ready to run again.
    pub awaiting: String,
    /// Instants it was found waiting there.
    pub count: u64,
}

impl AsyncTasks {
    /// Refuses frames out of range and an unknown version.
    pub(crate) fn check(&self, frames: usize) -> Result<(), String> {
        if self.version != TASKS_VERSION {
            return Err(format!(
                "task section version {} (this snakescope reads {TASKS_VERSION})",
                self.version
            ));
        }
        for task in &self.tasks {
            if let Some(bad) = task.root_frame.filter(|&f| f >= frames) {
                return Err(format!("task {} names frame {bad} of {frames}", task.name));
            }
            for a in &task.awaits {
                if let Some(&bad) = a.frames.iter().find(|&&f| f >= frames) {
                    return Err(format!("task {} names frame {bad} of {frames}", task.name));
                }
            }
        }
        Ok(())
    }

    /// Counts each task's running samples: the stacks under its root frame.
    pub fn count_running(&mut self, stacks: &[StackRecord]) {
        for task in &mut self.tasks {
            task.running = stacks
                .iter()
                .filter(|s| {
                    task.root_frame.is_some() && s.frames.first() == task.root_frame.as_ref()
                })
                .map(|s| s.count)
                .sum();
        }
    }

    /// The task's share of the instants at which any task ran.
    pub fn running_share(&self, index: usize) -> Option<f64> {
        let total: u64 = self.tasks.iter().map(|t| t.running).sum();
        let task = self.tasks.get(index)?;
        (total > 0).then(|| task.running as f64 / total as f64)
    }
}
