//! What the in-process sampler leaves out: the agent's own frames and the
//! instants the agent works in the program's threads. The sampler (in
//! `snakescope-remote`, shared with `record`) asks through [`SamplerHooks`].

use snakescope_remote::SamplerHooks;
use snakescope_unwind::CodeInfo;
use std::sync::atomic::Ordering;

/// The agent's answers to the sampler, read on the sampling thread (no GIL).
pub(crate) struct AgentHooks {
    /// Files of the bootstrap the program runs inside (`snakescope._run`…).
    pub hide_files: Vec<String>,
    /// Files of the agent's own work, never the program's (the API's).
    pub own_files: Vec<String>,
}

impl SamplerHooks for AgentHooks {
    /// A heap census runs in a program thread: its work is the agent's.
    fn paused(&self) -> bool {
        crate::memory::CENSUS_RUNNING.load(Ordering::Relaxed)
    }

    fn is_own_code(&self, code: &CodeInfo) -> bool {
        self.hide_files.contains(&code.filename)
    }

    fn is_agent_code(&self, code: &CodeInfo) -> bool {
        self.own_files.contains(&code.filename)
    }

    fn has_agent_code(&self) -> bool {
        !self.own_files.is_empty()
    }
}
