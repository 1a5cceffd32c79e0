//! What a sampler asks its owner: the in-process agent's own work to leave out.

use snakescope_unwind::CodeInfo;

/// What the sampler leaves out, asked at every tick: the in-process agent
/// leaves out its own work; `record` leaves out nothing ([`NoHooks`]).
pub trait SamplerHooks {
    /// No samples while this holds (the agent's own work in the program's
    /// threads, e.g. a heap census): those instants are neither ticks nor
    /// lost ticks.
    fn paused(&self) -> bool {
        false
    }

    /// Whether `code` is the profiler's own: such frames at the root of a
    /// stack (the bootstrap the program runs inside) are left out, and a
    /// stack whose innermost frame is one is not counted.
    fn is_own_code(&self, code: &CodeInfo) -> bool {
        let _ = code;
        false
    }

    /// Whether `code` is the profiler's own work and never the program's
    /// (an API's start and stop): a stack with such a frame above a frame
    /// of the program is not counted, whatever runs above it (an import's
    /// `_handle_fromlist`, say).
    fn is_agent_code(&self, code: &CodeInfo) -> bool {
        let _ = code;
        false
    }

    /// Whether [`Self::is_agent_code`] can claim any code at all: when not,
    /// no stack is searched for it (`record`'s samples skip that walk).
    fn has_agent_code(&self) -> bool {
        false
    }
}

/// Leaves nothing out.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl SamplerHooks for NoHooks {}
