//! What the in-process agent and the `snakescope run` process that serves
//! the live page (`run --live-web`, `run --live`) exchange, and the names of
//! the files they exchange it through, beside the capture snapshot's path
//! that the command line gives the agent.

use crate::memory::Census;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The live object counts by type: the last censuses, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveObjects {
    pub censuses: Vec<Census>,
    /// A census is queued and waiting for the main thread to run bytecode.
    pub waiting: bool,
    /// Seconds the live censuses have taken so far (the program's time).
    pub spent_s: f64,
}

/// The files beside a live capture snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveFile {
    /// The capture so far, written again every second (the path itself).
    Capture,
    /// [`LiveObjects`], written again every second.
    Objects,
    /// Present when the page asked for a census (removed when seen).
    CensusAsked,
}

impl LiveFile {
    /// This file's path for the snapshot at `capture`.
    pub fn path(self, capture: &Path) -> PathBuf {
        match self {
            LiveFile::Capture => capture.to_path_buf(),
            LiveFile::Objects => capture.with_extension("objects.json"),
            LiveFile::CensusAsked => capture.with_extension("census"),
        }
    }

    /// Where this file is written before it is renamed into place (the
    /// reader never sees half a file).
    pub fn temporary(self, capture: &Path) -> PathBuf {
        let mut path = self.path(capture).into_os_string();
        path.push(".tmp");
        PathBuf::from(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_sit_beside_the_snapshot_and_differ() {
        let capture = Path::new("/tmp/snakescope-live-1-2.json");
        let paths: Vec<PathBuf> = [LiveFile::Capture, LiveFile::Objects, LiveFile::CensusAsked]
            .iter()
            .flat_map(|f| [f.path(capture), f.temporary(capture)])
            .collect();
        for p in &paths {
            assert_eq!(p.parent(), capture.parent());
        }
        let distinct: std::collections::HashSet<_> = paths.iter().collect();
        assert_eq!(distinct.len(), paths.len());
        assert_eq!(
            LiveFile::Capture.temporary(capture),
            Path::new("/tmp/snakescope-live-1-2.json.tmp")
        );
    }
}
