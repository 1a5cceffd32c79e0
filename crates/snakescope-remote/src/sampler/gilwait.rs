//! GIL waits without `--native`: with `--idle`, a sample of a thread that
//! neither runs nor holds the GIL is a GIL wait when the thread is blocked
//! in a `futex` call on the GIL's own condition variable or mutex (its
//! `/proc` `syscall` file names the address, [`crate::Tasks::futex_wait`];
//! the walker knows where the GIL lies, [`snakescope_unwind::Walker::gil_span`]).
//! Such a sample ends in the frame `--native` would show there, the
//! interpreter's `take_gil`, so every view classifies it the same way
//! ([`snakescope_model::SampleKind`]).

use crate::Tasks;
use snakescope_model::{Frame, FrameInterner};
use snakescope_unwind::Walker;
use std::path::Path;

/// The function a GIL wait ends in (as `--native` unwinds it).
const WAIT_FUNCTION: &str = "take_gil";

/// The GIL-wait frame for one target.
pub(super) struct GilWaits {
    /// The file holding the interpreter (libpython or the executable).
    binary: String,
    /// The frame's id in the current run's sink.
    frame: Option<usize>,
}

impl GilWaits {
    pub(super) fn new(binary: &Path) -> GilWaits {
        GilWaits {
            binary: binary.display().to_string(),
            frame: None,
        }
    }

    /// Frame ids are the sink's: a new run interns the frame again.
    pub(super) fn forget_ids(&mut self) {
        self.frame = None;
    }

    /// Whether thread `tid`, off a CPU and without the GIL, waits for it.
    pub(super) fn waits(tasks: &mut Tasks, walker: &Walker, tid: u64) -> bool {
        let Some((start, end)) = walker.gil_span() else {
            return false;
        };
        tasks
            .futex_wait(tid)
            .is_some_and(|addr| (start..end).contains(&addr))
    }

    /// `frames` (root first) with the GIL-wait frame as the innermost.
    pub(super) fn ending<S: FrameInterner + ?Sized>(
        &mut self,
        frames: &[usize],
        sink: &mut S,
    ) -> Vec<usize> {
        let id = *self.frame.get_or_insert_with(|| {
            sink.intern_frame(Frame::native(WAIT_FUNCTION.to_owned(), self.binary.clone()))
        });
        let mut out = Vec::with_capacity(frames.len() + 1);
        out.extend_from_slice(frames);
        out.push(id);
        out
    }
}
