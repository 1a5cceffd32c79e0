//! The settings' defaults, written once: the command line (`args.rs`), the
//! agent's functions and the Python package (`_native.DEFAULT_*`) use these.
//! Output file names are the format registry's
//! (`snakescope_formats::Format::default_file_name`).

/// Samples per second.
pub const RATE_HZ: f64 = 1000.0;

/// Mean bytes between memory samples (`run --memory sampled`).
pub const MEMORY_INTERVAL_BYTES: u64 = 512 * 1024;
