//! Which deterministic measurement is on: read by the profile hook
//! ([`crate::hook`]), the measurements themselves and the program's
//! functions' built-ins ([`crate::builtins`]); set by
//! [`crate::hook::set_mode`].

use std::sync::atomic::{AtomicBool, Ordering};

/// `--exact` is recording.
pub static EXACT: AtomicBool = AtomicBool::new(false);
/// The 3.11 line profiler is switching tracing on and off.
pub static LINES: AtomicBool = AtomicBool::new(false);

/// A measurement uses the hook.
pub fn any_mode() -> bool {
    EXACT.load(Ordering::Relaxed) || LINES.load(Ordering::Relaxed)
}
